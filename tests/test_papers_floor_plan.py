"""The 房产分户图 on the certificate's 附图 (FLOOR-1/2 in registry/papers/floor_plan.py): the
clerk scans a house's floor plan with its case, the registrar prints the certificate, and the
paper carries the plan on a 附图 page after the 宗地图; a house without one prints the 宗地图
alone; a parking space's plan, replaced or removed, follows the register. The pages are read
back as a person would: text (pypdf), images (poppler's pdfimages), fonts (pdffonts), pixels
(pypdfium2)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from pypdf import PdfWriter
from starlette.testclient import TestClient

from registry.db.papers import PrintMode
from registry.papers.render import PrintInfo, render_paper
from registry.runtime import Runtime, utc_now
from registry.services.papers import check_paper
from tests.bureau import Bureau, person
from tests.operations import operation
from tests.test_papers import ink_share, text_of, unembedded_fonts
from tests.test_papers_print import download, print_on

# Where the plan is drawn on its 附图 page (fractions of the page: left, top, right, bottom).
PLAN_AREA = (0.2, 0.2, 0.8, 0.7)


def floor_plan(size: tuple[int, int] = (1200, 900), fmt: str = "PNG") -> bytes:
    """A drawn floor plan: outer walls and rooms, black lines on white."""
    width, height = size
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((40, 40, width - 40, height - 40), outline=0, width=12)
    draw.line((width // 2, 40, width // 2, height - 40), fill=0, width=8)
    draw.line((40, height // 2, width // 2, height // 2), fill=0, width=8)
    draw.rectangle((width // 2 + 60, 100, width - 100, height // 3), fill=90)
    out = io.BytesIO()
    page.save(out, format=fmt)
    return out.getvalue()


def page_images(pdf: bytes, tmp_path: Path) -> list[tuple[int, int, int]]:
    """(page, width, height) of every image in the PDF, forms included (pdfimages -list)."""
    path = tmp_path / "images.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True,
                             text=True, check=True).stdout.splitlines()[2:]
    return [(int(cols[0]), int(cols[3]), int(cols[4])) for cols in map(str.split, listing)]


def printed(client: TestClient, bureau: Bureau, number: str, **extra: Any) -> bytes:
    return download(client, print_on(bureau, number, **extra)["path"], bureau.registrar)


def test_a_house_prints_its_floor_plan_after_the_parcel_map(
        client: TestClient, pingchang: Bureau, runtime: Runtime,
        signing_key_files: tuple[Path, Path], tmp_path: Path) -> None:
    house = pingchang.rural_house()
    case = pingchang.submit("FIRST", [house["code"]], holders=[{"party": person("王建国")}],
                            rightType=6, rightNature=203)["number"]
    plan = pingchang.upload("FLOOR_PLAN", floor_plan(), name="分户图.png",
                            applicationNumber=case, unitCode=house["code"])
    assert plan["kind"] == "FLOOR_PLAN"
    pingchang.accept(case)
    pingchang.review(case)
    number = pingchang.record(case)["certificates"][0]["number"]

    pdf = printed(client, pingchang, number)
    record, parcel_map, figure = text_of(pdf)
    assert number in record and "房产分户图" not in record
    assert "宗地图" in parcel_map and "J1" in parcel_map
    assert "附图：房产分户图" in figure and house["code"] in figure
    assert (3, 1200, 900) in page_images(pdf, tmp_path)  # the scan, at its own size
    assert ink_share(pdf, 2, PLAN_AREA) > 0.02
    assert unembedded_fonts(pdf, tmp_path) == []
    # The picture is drawn, not recorded: the register still says what the paper says.
    with runtime.sessions() as session:
        check = check_paper(session, pdf, signing_key_files[1].read_bytes())
    assert (check.status, check.matches_register) == ("VALID", True)


def test_a_house_without_a_floor_plan_prints_the_parcel_map_alone(
        client: TestClient, pingchang: Bureau, tmp_path: Path) -> None:
    house = pingchang.rural_house()
    # Another kind of scan of the house is no floor plan.
    pingchang.upload("SITE_PHOTO", floor_plan(), unitCode=house["code"])
    case = pingchang.register("FIRST", [house["code"]], holders=[{"party": person("李秀英")}],
                              rightType=6, rightNature=203)
    pdf = printed(client, pingchang, case["certificates"][0]["number"])
    pages = text_of(pdf)
    assert len(pages) == 2 and "宗地图" in pages[1]
    assert not any("房产分户图" in page for page in pages)
    assert page_images(pdf, tmp_path) == []


def test_a_parking_spaces_floor_plan_follows_replacement_and_removal(
        client: TestClient, pingchang: Bureau, runtime: Runtime, tmp_path: Path) -> None:
    space = pingchang.parking_space()
    case = pingchang.register("FIRST", [space["code"]], holders=[{"party": person("张伟")}])
    number = case["certificates"][0]["number"]
    # Scanned after recording, linked to the unit: a photo of the plan, as JPEG.
    first = pingchang.upload("FLOOR_PLAN", floor_plan((800, 600), "JPEG"), name="b1.jpg",
                             unitCode=space["code"])
    pdf = printed(client, pingchang, number)
    assert "附图：房产分户图" in text_of(pdf)[2] and "车位面积" in text_of(pdf)[0]
    assert (3, 800, 600) in page_images(pdf, tmp_path)
    assert ink_share(pdf, 2, PLAN_AREA) > 0.02
    # 套打: the values go onto the form, the 附图 pages follow on blank paper as in full.
    with runtime.sessions() as session:
        overlay = render_paper(session, number, utc_now(), PrintInfo(
            mode=PrintMode.OVERLAY, serial="5119230000001"), store=runtime.store).pdf
    assert "附图：房产分户图" in text_of(overlay)[2]
    assert (3, 800, 600) in page_images(overlay, tmp_path)

    # A better scan replaces it: the reprint shows the new one.
    body = pingchang.gql.upload(operation("ReplaceDocument"), {"id": first["id"]},
                                {"file": ("b1-new.png", floor_plan((600, 800)))},
                                pingchang.clerk)
    assert "errors" not in body, body
    pdf = printed(client, pingchang, number, reprintReason="分户图更正")
    assert [(w, h) for page, w, h in page_images(pdf, tmp_path) if page == 3] == [(600, 800)]

    # Removed (it was of another space): the next print has no floor plan page.
    replacement = body["data"]["replaceDocument"]["id"]
    pingchang.gql.data(operation("RemoveDocument"), {"id": replacement, "reason": "非本车位"},
                       pingchang.clerk)
    pdf = printed(client, pingchang, number, reprintReason="分户图有误")
    assert len(text_of(pdf)) == 2 and page_images(pdf, tmp_path) == []


def test_a_floor_plan_without_a_scanned_image_refuses_the_print(
        pingchang: Bureau, tmp_path: Path) -> None:
    space = pingchang.parking_space()
    case = pingchang.register("FIRST", [space["code"]], holders=[{"party": person("赵敏")}])
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)  # drawn with vectors only (here: nothing)
    out = io.BytesIO()
    writer.write(out)
    pingchang.upload("FLOOR_PLAN", out.getvalue(), name="plan.pdf", unitCode=space["code"])
    number = case["certificates"][0]["number"]
    assert pingchang.gql.error_codes(operation("PrintPaper"), {"input": {"number": number}},
                                     pingchang.registrar) == ["FLOOR_PLAN_UNREADABLE"]
