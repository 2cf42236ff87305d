"""Every bad upload gets its own code and changes nothing: neither rows nor bucket."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from typing import Any

import httpx2 as httpx
import pytest
from PIL import Image

from registry.runtime import Runtime
from tests.bureau import Bureau, person, scan
from tests.clock import Clock
from tests.conftest import Users
from tests.operations import operation
from tests.snapshot import snapshot


@pytest.fixture
def case(pingchang: Bureau) -> dict[str, str]:
    code = pingchang.rural_house()["code"]
    number = pingchang.submit("FIRST", [code], holders=[{"party": person("王大山")}])["number"]
    # One stored document, so "changes nothing" is checked against a bucket that has objects.
    pingchang.upload("APPLICATION_FORM", scan("表"), applicationNumber=number)
    return {"unit": code, "number": number}


def refused_upload(bureau: Bureau, runtime: Runtime, content: bytes, name: str = "scan.jpg",
                   kind: str = "ID_PROOF", as_: dict[str, str] | None = None,
                   **target: str) -> list[str]:
    """A multipart upload that must fail; asserts it changed nothing; returns its codes."""
    before = snapshot(runtime)
    body = bureau.gql.upload(operation("UploadDocument"), {"kind": kind, "target": target},
                             {"file": (name, content)},
                             as_ if as_ is not None else bureau.clerk)
    assert snapshot(runtime) == before, f"refused with {body.get('errors')} but changed data"
    assert body.get("errors"), body
    return [e["extensions"]["code"] for e in body["errors"]]


def html() -> bytes:
    return b"<!DOCTYPE html><html><head><title>scan</title></head><body></body></html>"


def zipped() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("page1.jpg", scan())
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def tiff_pages(count: int) -> bytes:
    frames = [Image.new("L", (40, 50)) for _ in range(count)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


# ------------------------------------------------------------------ what the file is


@pytest.mark.parametrize(("content", "code"), [
    (html(), "UNSUPPORTED_TYPE"),  # scan.jpg that is really a web page
    (zipped(), "UNSUPPORTED_TYPE"),  # scan.jpg that is really a ZIP archive
    (b"GIF89a" + b"\x00" * 40, "UNSUPPORTED_TYPE"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "DAMAGED_FILE"),  # a JPEG's first bytes only
    (scan(fmt="JPEG")[:200], "DAMAGED_FILE"),  # a JPEG cut short
    (b"", "DAMAGED_FILE"),
    (png_claiming(60_000, 60_000), "IMAGE_TOO_LARGE"),  # a decompression bomb's header
], ids=["html", "zip", "gif", "jpeg-header", "jpeg-truncated", "empty", "bomb"])
def test_a_file_that_is_not_an_acceptable_scan_is_refused(
        pingchang: Bureau, runtime: Runtime, case: dict[str, str], content: bytes,
        code: str) -> None:
    assert refused_upload(pingchang, runtime, content,
                          applicationNumber=case["number"]) == [code]


def test_configured_limits_refuse_pixels_pages_and_bytes(
        pingchang: Bureau, runtime: Runtime, case: dict[str, str]) -> None:
    runtime.settings.document_max_pixels = 1_000_000
    assert refused_upload(pingchang, runtime, png_claiming(2_000, 1_000),
                          applicationNumber=case["number"]) == ["IMAGE_TOO_LARGE"]
    runtime.settings.document_max_pages = 2
    assert refused_upload(pingchang, runtime, tiff_pages(3), name="p.tif",
                          applicationNumber=case["number"]) == ["TOO_MANY_PAGES"]
    runtime.settings.document_max_bytes = 4096
    noisy = Image.frombytes("L", (100, 100), bytes(range(256)) * 39 + bytes(16))
    out = io.BytesIO()
    noisy.save(out, format="TIFF")
    big = out.getvalue()
    assert len(big) > 4096
    assert refused_upload(pingchang, runtime, big,
                          applicationNumber=case["number"]) == ["FILE_TOO_LARGE"]


def test_a_body_far_over_the_limit_is_cut_off_while_it_streams(
        pingchang: Bureau, runtime: Runtime, case: dict[str, str]) -> None:
    runtime.settings.document_max_bytes = 4096
    before = snapshot(runtime)
    body = pingchang.gql.upload(operation("UploadDocument"),
                                {"kind": "ID_PROOF",
                                 "target": {"applicationNumber": case["number"]}},
                                {"file": ("huge.png", b"\x89PNG" + b"\x00" * (3 << 20))},
                                pingchang.clerk, status=413)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FILE_TOO_LARGE"]
    assert snapshot(runtime) == before


# ------------------------------------------------------------------ where it goes


def test_bad_targets_are_refused(pingchang: Bureau, runtime: Runtime, users: Users,
                                 case: dict[str, str]) -> None:
    other = pingchang.rural_house()["code"]
    parcel = pingchang.unit(case["unit"])["parcel"]["code"]

    def upload(**target: str) -> list[str]:
        return refused_upload(pingchang, runtime, scan("证"), name="id.png", **target)

    assert upload() == ["DOCUMENT_TARGET_REQUIRED"]
    assert upload(unitCode=case["unit"], parcelCode=parcel) == ["UNIT_OR_PARCEL"]
    assert upload(applicationNumber="511923-2026-999999") == ["NOT_FOUND"]
    assert upload(unitCode="511923101003JC00001F0001000X") == ["INVALID_UNIT_CODE"]
    assert upload(parcelCode="511923101003JC99999") == ["NOT_FOUND"]
    assert upload(applicationNumber=case["number"], unitCode=other) == ["LINK_MISMATCH"]
    tongjiang = users.add("tj-clerk", "clerk", county="511921")
    assert refused_upload(pingchang, runtime, scan(), as_=tongjiang,
                          applicationNumber=case["number"]) == ["FORBIDDEN"]
    assert refused_upload(pingchang, runtime, scan(), as_=pingchang.reviewer,
                          applicationNumber=case["number"]) == ["FORBIDDEN"]
    assert refused_upload(pingchang, runtime, scan(), as_={},
                          applicationNumber=case["number"]) == ["UNAUTHENTICATED"]
    pingchang.gql.data(operation("WithdrawApplication"),
                       {"number": case["number"], "reason": "申请人撤回"}, pingchang.clerk)
    assert upload(applicationNumber=case["number"]) == ["CASE_CLOSED"]


def test_bad_removals_and_replacements(pingchang: Bureau, runtime: Runtime,
                                       case: dict[str, str]) -> None:
    document = pingchang.upload("ID_PROOF", scan("证"), applicationNumber=case["number"])

    def remove(id_: str, reason: str) -> list[str]:
        before = snapshot(runtime)
        codes = pingchang.gql.error_codes(operation("RemoveDocument"),
                                          {"id": id_, "reason": reason}, pingchang.clerk)
        assert snapshot(runtime) == before
        return codes

    assert remove(document["id"], "  ") == ["REASON_REQUIRED"]
    assert remove("999999", "x") == ["NOT_FOUND"]
    assert remove("abc", "x") == ["BAD_ID"]
    pingchang.gql.data(operation("RemoveDocument"), {"id": document["id"], "reason": "错"},
                       pingchang.clerk)
    assert remove(document["id"], "again") == ["DOCUMENT_REMOVED"]
    before = snapshot(runtime)
    body = pingchang.gql.upload(operation("ReplaceDocument"), {"id": document["id"]},
                                {"file": ("new.png", scan("新"))}, pingchang.clerk)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DOCUMENT_REMOVED"]
    assert snapshot(runtime) == before


# ------------------------------------------------------------------ the presigned path


def request(bureau: Bureau, number: str, content: bytes, **overrides: Any) -> dict[str, Any]:
    data = {"kind": "TITLE_SOURCE", "target": {"applicationNumber": number},
            "size": len(content), "sha256": hashlib.sha256(content).hexdigest(), **overrides}
    return bureau.gql.data(operation("RequestUpload"), {"input": data},
                           bureau.clerk)["requestUpload"]


def refused_request(bureau: Bureau, runtime: Runtime, number: str,
                    **overrides: Any) -> list[str]:
    content = scan()
    data = {"kind": "TITLE_SOURCE", "target": {"applicationNumber": number},
            "size": len(content), "sha256": hashlib.sha256(content).hexdigest(), **overrides}
    before = snapshot(runtime)
    codes = bureau.gql.error_codes(operation("RequestUpload"), {"input": data}, bureau.clerk)
    assert snapshot(runtime) == before
    return codes


def refused_completion(bureau: Bureau, runtime: Runtime, upload_id: str,
                       as_: dict[str, str] | None = None) -> list[str]:
    before = snapshot(runtime)
    codes = bureau.gql.error_codes(operation("CompleteUpload"), {"uploadId": upload_id},
                                   as_ or bureau.clerk)
    assert snapshot(runtime) == before
    return codes


def test_bad_upload_requests_are_refused(pingchang: Bureau, runtime: Runtime,
                                         case: dict[str, str]) -> None:
    number = case["number"]
    assert refused_request(pingchang, runtime, number, sha256="abc") == ["INVALID_CHECKSUM"]
    assert refused_request(pingchang, runtime, number, size=0) == ["INVALID_SIZE"]
    assert refused_request(pingchang, runtime, number,
                           size=runtime.settings.document_max_bytes + 1) == ["FILE_TOO_LARGE"]
    assert refused_request(pingchang, runtime, number, target=None) == [
        "DOCUMENT_TARGET_REQUIRED"]
    assert refused_request(pingchang, runtime, "511923-2026-999999") == ["NOT_FOUND"]


def test_what_landed_is_checked_before_it_is_linked(pingchang: Bureau, runtime: Runtime,
                                                    users: Users,
                                                    case: dict[str, str]) -> None:
    number = case["number"]
    content = scan("大")
    ticket = request(pingchang, number, content)
    assert refused_completion(pingchang, runtime, ticket["uploadId"]) == ["UPLOAD_NOT_RECEIVED"]
    assert refused_completion(pingchang, runtime, "0" * 32) == ["NOT_FOUND"]
    # A store that ignored the signed checksum could hold other bytes: they are caught here.
    client, bucket = runtime.store._client, runtime.store.bucket
    client.put_object(bucket, ticket["key"], io.BytesIO(content + b"!"), len(content) + 1)
    assert refused_completion(pingchang, runtime, ticket["uploadId"]) == ["SIZE_MISMATCH"]
    forged = bytes([content[0] ^ 1]) + content[1:]
    client.put_object(bucket, ticket["key"], io.BytesIO(forged), len(forged))
    assert refused_completion(pingchang, runtime, ticket["uploadId"]) == ["CHECKSUM_MISMATCH"]
    # Someone else may not complete it.
    assert httpx.put(ticket["url"], content=content).status_code == 200
    colleague = users.add("pc-clerk2", "clerk", county="511923")
    assert refused_completion(pingchang, runtime, ticket["uploadId"], colleague) == [
        "FORBIDDEN"]


def test_a_web_page_put_as_a_large_scan_is_refused(pingchang: Bureau, runtime: Runtime,
                                                   case: dict[str, str]) -> None:
    page = html()
    ticket = request(pingchang, case["number"], page, fileName="scan.jpg")
    assert httpx.put(ticket["url"], content=page).status_code == 200
    assert refused_completion(pingchang, runtime, ticket["uploadId"]) == ["UNSUPPORTED_TYPE"]


def test_an_expired_upload_cannot_be_completed(pingchang: Bureau, runtime: Runtime,
                                               case: dict[str, str]) -> None:
    content = scan("迟")
    clock = Clock(runtime.clock())
    runtime.clock = clock
    ticket = request(pingchang, case["number"], content)
    assert httpx.put(ticket["url"], content=content).status_code == 200
    clock.advance(seconds=runtime.settings.upload_url_expiry_seconds + 1)
    assert refused_completion(pingchang, runtime, ticket["uploadId"]) == ["UPLOAD_EXPIRED"]
