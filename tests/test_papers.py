"""Papers (issue 14): a clerk's day ends with the certificate or proof in hand. Each paper is
rendered from the register and read back as a person would: its text (pypdf), its fonts
(poppler's pdffonts: all embedded), its pages drawn (pypdfium2: the 附图 carries the map)."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader

from registry.db.register import Certificate, CertificateStatus
from registry.db.session import transaction
from registry.papers.render import render_paper
from registry.papers.typeset import Typesetter
from registry.runtime import Runtime, utc_now
from registry.services.errors import DomainError
from tests.bureau import Bureau, organisation, person
from tests.test_cli import run_registry, server_env


def text_of(pdf: bytes) -> list[str]:
    """Each page's text, whitespace removed (typst may break a long value across lines)."""
    return [re.sub(r"\s+", "", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def paper(runtime: Runtime, number: str) -> bytes:
    with runtime.sessions() as session:
        return render_paper(session, number, utc_now()).pdf


def unembedded_fonts(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "paper.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    assert listing, "the paper uses no font at all"
    return [line for line in listing if line.split()[-5] != "yes"]  # the `emb` column


def ink_share(pdf: bytes, page: int, box: tuple[float, float, float, float]) -> float:
    """The share of non-white pixels in `box` (fractions of the page: left, top, right,
    bottom) of page `page`, drawn at 50 dpi."""
    document = pdfium.PdfDocument(pdf)
    image = document[page].render(scale=50 / 72).to_pil().convert("L")
    width, height = image.size
    region = image.crop((int(box[0] * width), int(box[1] * height), int(box[2] * width),
                         int(box[3] * height)))
    histogram = region.histogram()
    return 1 - sum(histogram[245:]) / max(1, sum(histogram))


@pytest.fixture
def titled_house(pingchang: Bureau) -> dict[str, Any]:
    house = pingchang.rural_house()
    owners = [{"party": person("王建国"), "share": "2/3"},
              {"party": person("李秀英"), "share": "1/3"}]
    case = pingchang.register("FIRST", [house["code"]], holders=owners, coOwnership="SHARES",
                              rightType=6, rightNature=203)
    return {"unit": house, "case": case, "number": case["certificates"][0]["number"]}


def test_a_title_certificate_prints_every_field_of_the_register(
        runtime: Runtime, titled_house: dict[str, Any], tmp_path: Path) -> None:
    pdf = paper(runtime, titled_house["number"])
    record, figure = text_of(pdf)
    unit = titled_house["unit"]
    for value in ("不动产权证书", titled_house["number"], "王建国（2/3）", "李秀英（1/3）",
                  "按份共有", "巴中市某村", unit["code"], "宅基地使用权/房屋（构筑物）所有权",
                  "批准拨用", "农村宅基地/住宅", "房屋建筑面积126.50㎡", "长期", "总层数：2",
                  "房屋结构：砖混", "平昌县不动产登记机构"):
        assert value in record, value
    for label in ("权利人", "共有情况", "坐落", "不动产单元号", "权利类型", "权利性质", "用途",
                  "面积", "使用期限", "权利其他状况", "附记"):
        assert label in record, label
    assert "宗地图" in figure and unit["code"][:19] in figure and "J1" in figure
    assert unembedded_fonts(pdf, tmp_path) == []
    # The 附图 page: the map is drawn in its upper half, the record page has no picture there.
    assert ink_share(pdf, 1, (0.15, 0.12, 0.85, 0.55)) > 0.02
    assert ink_share(pdf, 0, (0.15, 0.8, 0.6, 0.9)) < 0.01


def test_a_mortgage_proof_names_holder_and_obligor(
        runtime: Runtime, pingchang: Bureau, titled_house: dict[str, Any],
        tmp_path: Path) -> None:
    mortgage = pingchang.register("MORTGAGE", [titled_house["unit"]["code"]],
                                  holders=[{"party": organisation("巴中农村商业银行")}],
                                  amount="200000.00", termStart="2026-01-01",
                                  termEnd="2031-01-01")
    number = mortgage["certificates"][0]["number"]
    pdf = paper(runtime, number)
    (page,) = text_of(pdf)
    for value in ("不动产登记证明", number, "抵押权", "巴中农村商业银行", "王建国、李秀英",
                  titled_house["unit"]["code"], "被担保债权数额：200,000.00元",
                  "债务履行期限：2026-01-01起2031-01-01止"):
        assert value in page, value
    for label in ("证明权利或事项", "权利人（申请人）", "义务人", "坐落", "不动产单元号", "其他"):
        assert label in page, label
    assert unembedded_fonts(pdf, tmp_path) == []


def test_a_voided_or_unknown_certificate_is_not_printed(
        runtime: Runtime, titled_house: dict[str, Any]) -> None:
    with pytest.raises(DomainError) as unknown:
        paper(runtime, "川(2026)平昌县不动产权第9999999号")
    assert unknown.value.code == "NOT_FOUND"
    with transaction(runtime.sessions) as session:
        certificate = session.query(Certificate).filter_by(
            number=titled_house["number"]).one()
        certificate.status, certificate.void_reason = CertificateStatus.VOIDED, "test"
    with pytest.raises(DomainError) as voided:
        paper(runtime, titled_house["number"])
    assert voided.value.code == "NOT_PRINTABLE"


def test_no_cjk_font_is_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as refused:
        Typesetter(font_dirs=(tmp_path,))
    assert refused.value.code == "NO_CJK_FONT"


def test_the_demo_sample_writes_one_paper_of_each_kind(
        settings: Any, runtime: Runtime, pingchang: Bureau, titled_house: dict[str, Any],
        tmp_path: Path) -> None:
    pingchang.register("FIRST", [pingchang.road()["code"]],
                       holders=[{"party": organisation("平昌县交通运输局", "GOVERNMENT")}],
                       rightType=3, rightNature=101)
    pingchang.register("MORTGAGE", [titled_house["unit"]["code"]],
                       holders=[{"party": organisation("巴中农村商业银行")}],
                       amount="1000.00", termStart="2026-01-01", termEnd="2027-01-01")
    out = tmp_path / "papers"
    result = run_registry("papers", "print", "--demo-sample", "--output", str(out), "--quiet",
                          env=server_env(settings))
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in out.glob("*.pdf"))
    # the house's and the road's certificates, the mortgage proof, and the first unit's
    # register extract and query result
    assert len(written) == 5
    assert sum("不动产证明" in name for name in written) == 1
    titles = sorted(text_of(path.read_bytes())[0][:6] for path in out.glob("*.pdf"))
    assert titles == ["不动产权证书", "不动产权证书", "不动产登记查", "不动产登记簿",
                      "不动产登记证"]
