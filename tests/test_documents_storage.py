"""The bucket and the rows agree: S3 failing mid-upload or down leaves no half record, a client
going away mid-upload stores nothing, and `registry storage check` finds orphans, missing and
corrupted objects (and removes old orphans with --repair)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from PIL import Image
from starlette.testclient import TestClient

from registry.config import Settings
from registry.devstack import S3Server
from registry.runtime import Runtime
from storage import S3Store, S3StoreConfig, StorageUnavailable
from tests.bureau import Bureau, scan
from tests.conftest import GraphQLClient
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_cli import run_registry, server_env


def tiff(pages: int) -> bytes:
    frames = [Image.new("L", (62, 88), 30 * i) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def rows_only(state: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in state.items() if k != "bucket"}


# ------------------------------------------------------------------ S3 failing


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[S3Server]:
    """A private weed for this test alone, so stopping it harms no other test."""
    server = S3Server(tmp_path / "s3")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def kill(server: S3Server) -> None:
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)


def test_s3_failing_mid_upload_or_down_leaves_no_half_record(
        pingchang: Bureau, runtime: Runtime, number: str, own_s3: S3Server) -> None:
    assert own_s3.credentials is not None
    store = S3Store(S3StoreConfig(own_s3.endpoint, own_s3.credentials.access_key,
                                  own_s3.credentials.secret_key, "registry"), timeout=3.0)
    deadline = time.monotonic() + 20
    while True:  # weed answers signed requests a moment after its port opens
        try:
            store.ensure_bucket()
            break
        except StorageUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    puts: list[str] = []
    real_put = store.put

    def put_then_lose_the_server(key: str, *args: Any, **kwargs: Any) -> None:
        real_put(key, *args, **kwargs)
        puts.append(key)
        if len(puts) == 1:  # the original landed; the thumbnails will not
            kill(own_s3)

    store.put = put_then_lose_the_server  # type: ignore[method-assign]
    from registry.app import create_app

    with TestClient(create_app(runtime=replace(runtime, store=store))) as http:
        client = GraphQLClient(http)
        before = rows_only(snapshot(runtime))
        variables = {"kind": "TITLE_SOURCE", "target": {"applicationNumber": number}}
        body = client.upload(operation("UploadDocument"), variables,
                             {"file": ("title.tif", tiff(3))}, pingchang.clerk)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["STORAGE_UNAVAILABLE"]
        assert len(puts) == 1 and rows_only(snapshot(runtime)) == before
        # S3 down from the start: refused at once, nothing recorded, by either path.
        started = time.monotonic()
        body = client.upload(operation("UploadDocument"), variables,
                             {"file": ("form.png", scan("表"))}, pingchang.clerk)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["STORAGE_UNAVAILABLE"]
        assert time.monotonic() - started < 10
        assert rows_only(snapshot(runtime)) == before
        content = scan("大")
        ticket = client.data(operation("RequestUpload"), {"input": {
            **variables, "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest()}}, pingchang.clerk)["requestUpload"]
        after_request = rows_only(snapshot(runtime))
        assert client.error_codes(operation("CompleteUpload"), {"uploadId": ticket["uploadId"]},
                                  pingchang.clerk) == ["STORAGE_UNAVAILABLE"]
        assert rows_only(snapshot(runtime)) == after_request


def multipart_body(query: str, variables: dict[str, Any], content: bytes,
                   boundary: str = "registry-test-boundary") -> bytes:
    operations = json.dumps({"query": query, "variables": {**variables, "file": None}})
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{operations}\r\n".encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        f'{{"0": ["variables.file"]}}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.tif"\r\n'
        f"Content-Type: image/tiff\r\n\r\n".encode() + content + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts)


def test_a_client_that_goes_away_mid_upload_stores_nothing(
        pingchang: Bureau, runtime: Runtime, number: str) -> None:
    from registry.app import create_app

    app = create_app(runtime=runtime)
    body = multipart_body(operation("UploadDocument"),
                          {"kind": "TITLE_SOURCE", "target": {"applicationNumber": number}},
                          tiff(20))
    token = pingchang.clerk["Authorization"].encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
             "root_path": "", "query_string": b"", "server": ("testserver", 80),
             "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"testserver"),
                         (b"content-type",
                          b"multipart/form-data; boundary=registry-test-boundary"),
                         (b"content-length", str(len(body)).encode()),
                         (b"authorization", token), (b"x-registry-csrf", b"1")]}
    chunks = [{"type": "http.request", "body": body[:len(body) // 2], "more_body": True},
              {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    before = snapshot(runtime)
    anyio.run(app, scope, receive, send)  # type: ignore[arg-type]
    assert snapshot(runtime) == before
    assert not any(m.get("status") == 200 for m in sent)


def test_every_put_carries_its_checksum_and_the_server_refuses_other_bytes(
        runtime: Runtime) -> None:
    content = scan()
    wrong = hashlib.sha256(content + b"x").digest()
    import base64

    with pytest.raises(StorageUnavailable, match="BadDigest"):
        runtime.store.put("documents/probe", io.BytesIO(content), len(content),
                          sha256_b64=base64.b64encode(wrong).decode())
    assert runtime.store.stat("documents/probe") is None


# ------------------------------------------------------------------ registry storage check


def storage_check(settings: Settings, *args: str) -> tuple[int, str]:
    result = run_registry("storage", "check", *args, env=server_env(settings))
    return result.returncode, result.stdout + result.stderr


def test_the_checker_finds_orphans_missing_and_corrupted_objects(
        pingchang: Bureau, runtime: Runtime, settings: Settings, number: str) -> None:
    form = pingchang.upload("APPLICATION_FORM", scan("表"), applicationNumber=number)
    photo = pingchang.upload("ID_PROOF", tiff(2), name="id.tif", applicationNumber=number)
    code, out = storage_check(settings)
    assert code == 0, out
    assert "5 objects verified, 0 missing, 0 corrupted, 0 orphans" in out

    client, bucket = runtime.store._client, runtime.store.bucket
    # Corrupted: the same key, other bytes of the same length (no checksum sent).
    form_key = f"documents/originals/{form['sha256'][:2]}/{form['sha256']}"
    original = httpx.get(form["url"]).content
    tampered = original[:-1] + bytes([original[-1] ^ 0xFF])
    client.put_object(bucket, form_key, io.BytesIO(tampered), len(tampered))
    # Missing: a thumbnail gone.
    thumbnail_key = f"documents/thumbnails/{photo['sha256']}/p00002.jpg"
    client.remove_object(bucket, thumbnail_key)
    # Orphans: an object no row names, and a presigned PUT never completed (expired).
    stray = "documents/originals/ab/" + "ab" * 32
    client.put_object(bucket, stray, io.BytesIO(b"left behind"), 11)
    content = scan("未完成")
    ticket = pingchang.gql.data(operation("RequestUpload"), {"input": {
        "kind": "OTHER", "target": {"applicationNumber": number}, "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest()}}, pingchang.clerk)["requestUpload"]
    assert httpx.put(ticket["url"], content=content).status_code == 200

    code, out = storage_check(settings)
    assert code == 1
    assert f"corrupted  {form_key}" in out and f"missing    {thumbnail_key}" in out
    assert f"orphan     {stray}" in out
    assert ticket["key"] not in out  # in flight until it expires: not an orphan
    assert "1 missing, 1 corrupted, 1 orphans" in out

    code, out = storage_check(settings, "--repair", "--grace", "3600")  # too young to go
    assert "kept (within grace)" in out and runtime.store.stat(stray) is not None
    code, out = storage_check(settings, "--repair", "--grace", "0")
    assert f"orphan     {stray} 11 bytes removed" in out and "1 removed" in out
    assert runtime.store.stat(stray) is None
    # Repair never touches what rows name: the corrupted original is kept as evidence.
    assert runtime.store.stat(form_key) is not None and code == 1


def test_repair_leaves_content_that_a_row_names_in_the_meantime(
        pingchang: Bureau, runtime: Runtime, number: str) -> None:
    """An upload that links content while the repair runs keeps its object (DOC-2)."""
    from datetime import timedelta

    from registry.services.documents import DocumentConfig
    from registry.services.storage_check import check_storage

    document = pingchang.upload("APPLICATION_FORM", scan("表"), applicationNumber=number)
    config = DocumentConfig.from_settings(runtime.settings)
    later = runtime.clock() + timedelta(days=2)
    report = check_storage(runtime.sessions, runtime.store, config, later, repair=True,
                           grace=timedelta(0))
    assert report.healthy and report.orphans == [] and report.checked == 2
    assert runtime.store.stat(config.original_key(document["sha256"])) is not None



def test_the_checker_reads_back_several_at_a_time_and_shows_its_progress(
        pingchang: Bureau, runtime: Runtime, number: str) -> None:
    from registry.services.documents import DocumentConfig
    from registry.services.storage_check import check_storage

    sent = [pingchang.upload("APPLICATION_FORM", scan(f"表{i}"), applicationNumber=number)
            for i in range(4)]
    key = f"documents/originals/{sent[2]['sha256'][:2]}/{sent[2]['sha256']}"
    original = httpx.get(sent[2]["url"]).content
    tampered = original[:-1] + bytes([original[-1] ^ 0xFF])
    runtime.store._client.put_object(runtime.store.bucket, key, io.BytesIO(tampered),
                                     len(tampered))
    config = DocumentConfig.from_settings(runtime.settings)
    calls: list[tuple[int, int, int, int]] = []
    alone = check_storage(runtime.sessions, runtime.store, config, runtime.clock(), jobs=1)
    together = check_storage(runtime.sessions, runtime.store, config, runtime.clock(), jobs=4,
                             progress=lambda *figures: calls.append(figures))
    assert together == alone and together.corrupted == [key] and together.checked == 8
    objects, bytes_ = [c[0] for c in calls], [c[2] for c in calls]
    assert objects == list(range(1, 9)) and bytes_ == sorted(bytes_)
    assert calls[-1][1] == 8 and calls[-1][2] == calls[-1][3] > 0
