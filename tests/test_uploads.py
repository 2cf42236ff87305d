"""Receiving multipart uploads (registry/api/uploads.py) and the scratch files they go to."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from registry.api.uploads import STATE_KEY, ReceivedFile, close_received
from registry.runtime import Runtime
from storage.spool import IN_MEMORY_MAX, scratch_file, spool
from tests.bureau import Bureau, scan
from tests.conftest import Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_documents_storage import multipart_body


def spool_files() -> list[str]:
    """This process's open scratch files (memory or disk), by what their descriptors name."""
    found = []
    for entry in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue  # closed meanwhile
        if "registry-spool" in target:
            found.append(target)
    return found


def test_an_upload_is_hashed_as_it_arrives_and_leaves_no_scratch_file(
        pingchang: Bureau, number: str) -> None:
    before = spool_files()
    content = scan("收件单")
    document = pingchang.upload("APPLICATION_FORM", content, applicationNumber=number)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert document["size"] == len(content)
    assert spool_files() == before  # UPLOAD-3: closed when the request ended


def test_the_request_deletes_what_it_received_whatever_became_of_it() -> None:
    received = ReceivedFile(filename="scan.jpg", expected_size=100)
    received.write(b"\xff\xd8\xff and the rest", limit=100)
    received.finish()
    spooled = received.spooled()
    assert spooled.sha256 == hashlib.sha256(b"\xff\xd8\xff and the rest").hexdigest()
    scope: dict[str, Any] = {"state": {STATE_KEY: [received]}}
    close_received(scope)  # UPLOAD-3, called by the app when the request ends
    assert spooled.file.closed
    assert STATE_KEY not in scope["state"]


def post_raw(client: TestClient, pingchang: Bureau, body: bytes,
             content_type: str = "multipart/form-data; boundary=registry-test-boundary",
             ) -> tuple[int, str]:
    response = client.post("/graphql", content=body, headers={
        **pingchang.clerk, "X-Registry-CSRF": "1", "Content-Type": content_type})
    return response.status_code, response.json()["errors"][0]["extensions"]["messageEn"]


UNPARSEABLE = (400, "Unable to parse the multipart body")  # HTTP 400 whatever the Accept


def test_bodies_that_are_not_well_formed_multipart_are_refused_and_change_nothing(
        client: TestClient, pingchang: Bureau, runtime: Runtime, number: str) -> None:
    before = snapshot(runtime)
    files_before = spool_files()
    upload = {"kind": "ID_PROOF", "target": {"applicationNumber": number}}
    good = multipart_body(operation("UploadDocument"), upload, scan("身份证"))
    # No boundary to split on.
    assert post_raw(client, pingchang, good, "multipart/form-data") == UNPARSEABLE
    # Not multipart at all behind the boundary.
    assert post_raw(client, pingchang, b"\x00garbage" * 100) == UNPARSEABLE
    # A well-formed upload followed by more parts than any upload needs.
    extra = b"".join(b'--registry-test-boundary\r\nContent-Disposition: form-data; '
                     b'name="f%d"\r\n\r\nx\r\n' % i for i in range(40))
    assert post_raw(client, pingchang, extra + good) == UNPARSEABLE
    # Operations padded past any real request's size (still valid JSON).
    padded = multipart_body(operation("UploadDocument") + " " * (2 << 20), upload,
                            scan("身份证"))
    assert post_raw(client, pingchang, padded) == UNPARSEABLE
    assert snapshot(runtime) == before
    assert spool_files() == files_before


def test_a_file_over_the_limit_is_measured_not_kept(
        pingchang: Bureau, runtime: Runtime, number: str) -> None:
    runtime.settings.document_max_bytes = 10_000
    before = snapshot(runtime)
    body = pingchang.gql.upload(operation("UploadDocument"),
                                {"kind": "ID_PROOF", "target": {"applicationNumber": number}},
                                {"file": ("big.png", scan("大", size=(600, 800)) + bytes(50_000))},
                                pingchang.clerk)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FILE_TOO_LARGE"]
    assert snapshot(runtime) == before


def test_small_files_are_spooled_in_memory_and_large_or_unknown_ones_on_disk() -> None:
    def where(size: int | None) -> str:
        with scratch_file(size) as file:
            return os.readlink(f"/proc/self/fd/{file.fileno()}")

    assert where(2_000_000).startswith("/memfd:registry-spool")
    assert where(IN_MEMORY_MAX).startswith("/memfd:")
    assert not where(IN_MEMORY_MAX + 1).startswith("/memfd:")
    assert not where(None).startswith("/memfd:")
    with spool([b"abc", b"def"], limit=10, expected_size=6) as spooled:
        assert spooled.file.read() == b"abcdef"
        assert spooled.sha256 == hashlib.sha256(b"abcdef").hexdigest()


def test_a_clerks_jpeg_is_decoded_while_it_arrives_a_tiff_after(
        pingchang: Bureau, users: Users, number: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import registry.app
    from storage.scans import ScanAhead

    started: list[ScanAhead] = []

    class Recorded(ScanAhead):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            started.append(self)

    monkeypatch.setattr(registry.app, "ScanAhead", Recorded)
    photo = pingchang.upload("SITE_PHOTO", scan("现场", fmt="JPEG"), name="site.jpg",
                             applicationNumber=number)
    assert photo["mediaType"] == "image/jpeg" and len(started) == 1  # UPLOAD-5
    assert started[0].scan().page_count == 1
    pingchang.upload("SURVEY_RESULT", scan("测绘", fmt="TIFF"), name="survey.tif",
                     applicationNumber=number)
    assert len(started) == 1  # a TIFF's directory may be at its end: decoded once it is in
    auditor = users.add("auditor-uploads", "auditor")
    body = pingchang.gql.upload(operation("UploadDocument"),
                                {"kind": "OTHER", "target": {"applicationNumber": number}},
                                {"file": ("x.jpg", scan("审计", fmt="JPEG"))}, auditor)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert len(started) == 1  # no decoding for who may not upload
