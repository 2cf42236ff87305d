"""Scanned documents (要件) through GraphQL, as a front end uses them: both upload paths, one
stored copy per content, acceptance needing the required kinds, frozen after recording, and
short-lived links only for those who may see the case."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import timedelta

import httpx2 as httpx
import pytest
from PIL import Image
from sqlalchemy import text

from registry.runtime import Runtime, utc_now
from tests.bureau import Bureau, person, scan
from tests.clock import Clock
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot


def submitted(bureau: Bureau, kind: str = "FIRST") -> tuple[str, str]:
    """A house and a first-registration case for it, not yet accepted: (unit code, number)."""
    code = bureau.rural_house()["code"]
    number = bureau.submit(kind, [code], holders=[{"party": person("王大山")}])["number"]
    return code, number


def keys(runtime: Runtime, part: str = "") -> list[str]:
    return sorted(k for k in runtime.store.list_keys() if part in k)


def fetch(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10)


def multipage_tiff(pages: int) -> bytes:
    frames = [Image.new("L", (62, 88), 40 * i) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def scanned_pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (62, 88), "white").save(out, format="PDF")
    return out.getvalue()


# ------------------------------------------------------------------ uploading and serving


def test_a_clerk_scans_a_paper_into_a_case_and_a_reader_downloads_it(
        pingchang: Bureau, runtime: Runtime) -> None:
    _, number = submitted(pingchang)
    content = scan("申请书")
    document = pingchang.upload("APPLICATION_FORM", content, name="C:\\扫描\\申请书.png",
                                applicationNumber=number)
    assert document["kind"] == "APPLICATION_FORM" and document["mediaType"] == "image/png"
    assert document["fileName"] == "申请书.png"  # no directories kept
    assert document["size"] == len(content)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert document["pageCount"] == 1 and document["applicationNumber"] == number
    assert document["uploadedBy"] == "511923-clerk" and document["frozen"] is False

    # The original, byte for byte, through its short-lived URL ...
    original = fetch(document["url"])
    assert original.status_code == 200 and original.content == content
    # ... and an upright thumbnail per page.
    [page] = document["pages"]
    assert (page["width"], page["height"]) == (62, 88)
    thumbnail = fetch(page["thumbnailUrl"])
    assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"

    # Keys come from the configured prefix and the content hash only.
    sha = document["sha256"]
    assert keys(runtime) == [f"documents/originals/{sha[:2]}/{sha}",
                             f"documents/thumbnails/{sha}/p00001.jpg"]
    with runtime.engine.connect() as conn:
        audit = conn.execute(text("SELECT operation, target, details FROM audit_log"
                                  " WHERE operation = 'uploadDocument'")).one()
    assert audit.target == f"document:{document['id']}" and audit.details["sha256"] == sha
    assert "申请书" not in str(audit.details)  # file names stay out of the audit details


def test_identical_content_is_stored_once_and_linked_twice(
        pingchang: Bureau, runtime: Runtime) -> None:
    code, number = submitted(pingchang)
    content = scan("身份证")
    first = pingchang.upload("ID_PROOF", content, applicationNumber=number)
    before = keys(runtime)
    second = pingchang.upload("SITE_PHOTO", content, name="photo.png", unitCode=code)
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert keys(runtime) == before  # nothing new in the bucket
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM document_files")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar_one() == 2


def test_a_multi_page_tiff_and_a_pdf_named_like_a_png(pingchang: Bureau) -> None:
    _, number = submitted(pingchang)
    tiff = pingchang.upload("TITLE_SOURCE", multipage_tiff(3), name="title.tif",
                            applicationNumber=number)
    assert tiff["mediaType"] == "image/tiff" and tiff["pageCount"] == 3
    assert [p["number"] for p in tiff["pages"]] == [1, 2, 3]
    assert all(fetch(p["thumbnailUrl"]).status_code == 200 for p in tiff["pages"])
    pdf = pingchang.upload("SURVEY_RESULT", scanned_pdf(), name="survey.png",
                           applicationNumber=number)
    assert pdf["mediaType"] == "application/pdf" and pdf["pageCount"] == 1
    assert pdf["pages"][0]["thumbnailUrl"] is not None


def test_multipart_uploads_need_the_csrf_header(pingchang: Bureau, runtime: Runtime) -> None:
    _, number = submitted(pingchang)
    variables = {"kind": "ID_PROOF", "target": {"applicationNumber": number}}
    before = snapshot(runtime)
    body = pingchang.gql.upload(operation("UploadDocument"), variables,
                                {"file": ("id.png", scan())}, pingchang.clerk, csrf=False,
                                status=400)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["CSRF_HEADER_REQUIRED"]
    assert snapshot(runtime) == before
    # Apollo's header is accepted as well.
    body = pingchang.gql.upload(operation("UploadDocument"), variables,
                                {"file": ("id.png", scan())},
                                {**pingchang.clerk, "Apollo-Require-Preflight": "true"},
                                csrf=False)
    assert body["data"]["uploadDocument"]["kind"] == "ID_PROOF"


def test_the_presigned_path_ends_in_the_same_document(pingchang: Bureau,
                                                      runtime: Runtime) -> None:
    _, number = submitted(pingchang)
    content = multipage_tiff(2)
    sha = hashlib.sha256(content).hexdigest()
    ticket = pingchang.gql.data(operation("RequestUpload"), {"input": {
        "kind": "TITLE_SOURCE", "target": {"applicationNumber": number},
        "size": len(content), "sha256": sha, "fileName": "large.tif"}},
        pingchang.clerk)["requestUpload"]
    assert ticket["method"] == "PUT" and ticket["key"].startswith("documents/incoming/")
    # The URL takes exactly the declared bytes: others are refused by the store itself.
    assert httpx.put(ticket["url"], content=content + b"x").status_code == 400
    assert httpx.put(ticket["url"], content=content).status_code == 200
    document = pingchang.gql.data(operation("CompleteUpload"), {"uploadId": ticket["uploadId"]},
                                  pingchang.clerk)["completeUpload"]
    assert document["sha256"] == sha and document["pageCount"] == 2
    assert document["mediaType"] == "image/tiff" and document["applicationNumber"] == number
    assert fetch(document["url"]).content == content
    assert not keys(runtime, "incoming/")  # the staging copy is gone
    # Completing again answers the same document; uploading the same bytes by the other path
    # links the same stored file.
    again = pingchang.gql.data(operation("CompleteUpload"), {"uploadId": ticket["uploadId"]},
                               pingchang.clerk)["completeUpload"]
    assert again["id"] == document["id"]
    before = keys(runtime)
    other = pingchang.upload("TITLE_SOURCE", content, applicationNumber=number)
    assert other["sha256"] == sha and keys(runtime) == before


def test_units_and_parcels_carry_documents_too(pingchang: Bureau) -> None:
    code, number = submitted(pingchang)
    parcel = pingchang.unit(code)["parcel"]["code"]
    form = pingchang.upload("APPLICATION_FORM", scan("表"), applicationNumber=number)
    photo = pingchang.upload("SITE_PHOTO", scan("照片"), unitCode=code)
    survey = pingchang.upload("SURVEY_RESULT", scan("测绘"), parcelCode=parcel)
    unit = pingchang.gql.data(operation("UnitDocuments"), {"code": code}, pingchang.clerk)["unit"]
    assert [d["id"] for d in unit["documents"]] == [form["id"], photo["id"]]  # own and case's
    assert [d["id"] for d in unit["parcel"]["documents"]] == [survey["id"]]
    assert unit["parcel"]["documents"][0]["parcelCode"] == parcel


# ------------------------------------------------------------------ access to the bytes


def test_only_readers_of_the_county_get_urls(pingchang: Bureau, gql: GraphQLClient,
                                             users: Users) -> None:
    _, number = submitted(pingchang)
    document = pingchang.upload("ID_PROOF", scan(), applicationNumber=number)
    variables = {"id": document["id"]}
    tongjiang = users.add("tj-clerk", "clerk", county="511921")
    statistician = users.add("stats", "statistician")
    auditor = users.add("audit", "auditor")
    for headers, code in [(tongjiang, "FORBIDDEN"), (statistician, "FORBIDDEN"),
                          ({}, "UNAUTHENTICATED")]:
        for name, values in [("Document", variables), ("ApplicationDocuments",
                                                       {"number": number})]:
            body = gql(operation(name), values, headers)
            assert [e["extensions"]["code"] for e in body["errors"]] == [code]
            assert "X-Amz-Signature" not in str(body)
            assert body["data"] is None or set(body["data"].values()) == {None}
    # The city's auditor reads every county.
    read = gql.data(operation("Document"), variables, auditor)["document"]
    assert fetch(read["url"]).status_code == 200


def test_links_expire(pingchang: Bureau, runtime: Runtime) -> None:
    _, number = submitted(pingchang)
    document = pingchang.upload("ID_PROOF", scan(), applicationNumber=number)
    # Signed ten minutes ago with the default five-minute expiry: already dead.
    runtime.clock = Clock(utc_now() - timedelta(minutes=10))
    stale = pingchang.gql.data(operation("Document"), {"id": document["id"]},
                               pingchang.clerk)["document"]
    assert fetch(stale["url"]).status_code == 403
    assert fetch(stale["pages"][0]["thumbnailUrl"]).status_code == 403
    # Links name the host clients reach, when it is not the one the registry talks to.
    from storage import S3Store, S3StoreConfig

    public = S3Store(S3StoreConfig("http://127.0.0.1:9", "key", "secret", "registry",
                                   public_endpoint="https://files.example.org"))
    assert public.presigned_get_url("documents/x", timedelta(minutes=5)).startswith(
        "https://files.example.org/registry/documents/x?")
    # A three-second expiry, by the real clock: works now, not four seconds later. (The
    # signing time is in whole seconds, so a link lives up to a second less than its expiry:
    # a one-second link could be dead before the first fetch.)
    runtime.clock = utc_now
    runtime.settings.document_url_expiry_seconds = 3
    fresh = pingchang.gql.data(operation("Document"), {"id": document["id"]},
                               pingchang.clerk)["document"]
    assert "X-Amz-Expires=3&" in fresh["url"]
    assert fetch(fresh["url"]).status_code == 200
    time.sleep(4.1)
    assert fetch(fresh["url"]).status_code == 403


# ------------------------------------------------------------------ rules of the case


def test_a_case_is_accepted_only_with_the_kinds_it_requires(pingchang: Bureau,
                                                             runtime: Runtime) -> None:
    _, number = submitted(pingchang)
    assert pingchang.documents(number)["missingDocumentKinds"] == [
        "APPLICATION_FORM", "ID_PROOF", "TITLE_SOURCE", "SURVEY_RESULT"]
    pingchang.upload("APPLICATION_FORM", scan("表"), applicationNumber=number)
    pingchang.upload("ID_PROOF", scan("证"), applicationNumber=number)
    before = snapshot(runtime)
    body = pingchang.gql(operation("AcceptApplication"), {"number": number}, pingchang.clerk)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "MISSING_DOCUMENTS"
    # details name the API's enum values; the Chinese message names the kinds in Chinese
    assert error["extensions"]["details"]["missing"] == ["TITLE_SOURCE", "SURVEY_RESULT"]
    assert "权属来源证明材料、不动产权籍调查成果" in error["extensions"]["messageZh"]
    assert "title_source" not in error["extensions"]["messageZh"]
    assert snapshot(runtime) == before
    # A removed document no longer counts.
    survey = pingchang.upload("SURVEY_RESULT", scan("测"), applicationNumber=number)
    pingchang.upload("TITLE_SOURCE", scan("源"), applicationNumber=number)
    pingchang.gql.data(operation("RemoveDocument"), {"id": survey["id"], "reason": "扫错了"},
                       pingchang.clerk)
    assert pingchang.documents(number)["missingDocumentKinds"] == ["SURVEY_RESULT"]
    assert pingchang.accept(number)["state"] == "ACCEPTED"  # scans what is missing first


def test_the_database_refuses_acceptance_without_documents(pingchang: Bureau,
                                                           runtime: Runtime) -> None:
    """DOC-5 holds for a writer that skips the service."""
    from sqlalchemy.exc import DBAPIError

    _, number = submitted(pingchang)
    with pytest.raises(DBAPIError) as raised, runtime.engine.begin() as conn:
        conn.execute(text("UPDATE applications SET state = 'accepted' WHERE number = :n"),
                     {"n": number})
    assert "MISSING_DOCUMENTS" in str(raised.value)


def test_requirements_are_data_an_admin_edits(pingchang: Bureau, users: Users,
                                              runtime: Runtime) -> None:
    table = pingchang.gql.data(operation("DocumentRequirements"), {},
                               pingchang.clerk)["documentRequirements"]
    as_dict = {row["applicationKind"]: row["documentKinds"] for row in table}
    assert as_dict["SEIZURE"] == ["COURT_ORDER"]
    assert "CONTRACT" in as_dict["MORTGAGE"]
    change = {"applicationKind": "FIRST", "documentKinds": ["APPLICATION_FORM", "ID_PROOF"]}
    before = snapshot(runtime)
    assert pingchang.gql.error_codes(operation("SetDocumentRequirements"), change,
                                     pingchang.clerk) == ["FORBIDDEN"]
    assert snapshot(runtime) == before
    admin = users.add("admin", "admin")
    result = pingchang.gql.data(operation("SetDocumentRequirements"), change,
                                admin)["setDocumentRequirements"]
    assert result["documentKinds"] == ["APPLICATION_FORM", "ID_PROOF"]
    _, number = submitted(pingchang)
    assert pingchang.documents(number)["missingDocumentKinds"] == ["APPLICATION_FORM",
                                                                   "ID_PROOF"]
    with runtime.engine.connect() as conn:
        details = conn.execute(text("SELECT details FROM audit_log"
                                    " WHERE operation = 'setDocumentRequirements'")).scalar_one()
    assert details["after"] == ["application_form", "id_proof"]
    assert "survey_result" in details["before"]


def test_replacing_keeps_the_old_document_marked(pingchang: Bureau) -> None:
    _, number = submitted(pingchang)
    old = pingchang.upload("ID_PROOF", scan("模糊"), applicationNumber=number)
    body = pingchang.gql.upload(operation("ReplaceDocument"), {"id": old["id"]},
                                {"file": ("clear.png", scan("清晰"))}, pingchang.clerk)
    new = body["data"]["replaceDocument"]
    assert new["kind"] == "ID_PROOF" and new["applicationNumber"] == number
    listed = pingchang.gql.data(operation("ApplicationDocuments"),
                                {"number": number, "includeRemoved": True},
                                pingchang.clerk)["application"]["documents"]
    assert [(d["id"], d["replacedById"]) for d in listed] == [(old["id"], new["id"]),
                                                              (new["id"], None)]
    assert [d["id"] for d in pingchang.documents(number)["documents"]] == [new["id"]]


def test_documents_of_a_recorded_case_are_frozen(pingchang: Bureau, runtime: Runtime) -> None:
    code = pingchang.rural_house()["code"]
    case = pingchang.register("FIRST", [code], holders=[{"party": person("王大山")}])
    number = case["number"]
    [first, *_] = pingchang.documents(number)["documents"]
    assert first["frozen"] is True
    before = snapshot(runtime)
    assert pingchang.gql.error_codes(operation("RemoveDocument"),
                                     {"id": first["id"], "reason": "x"},
                                     pingchang.clerk) == ["DOCUMENT_FROZEN"]
    body = pingchang.gql.upload(operation("ReplaceDocument"), {"id": first["id"]},
                                {"file": ("new.png", scan("新"))}, pingchang.clerk)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DOCUMENT_FROZEN"]
    body = pingchang.gql.upload(operation("UploadDocument"),
                                {"kind": "OTHER", "target": {"applicationNumber": number}},
                                {"file": ("late.png", scan("迟"))}, pingchang.clerk)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DOCUMENT_FROZEN"]
    assert snapshot(runtime) == before
    # The database refuses too, for any writer.
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as raised, runtime.engine.begin() as conn:
        conn.execute(text("UPDATE documents SET removed_at = now(), removed_by = uploaded_by"
                          " WHERE id = :id"), {"id": int(first["id"])})
    assert "DOCUMENT_FROZEN" in str(raised.value)
    with pytest.raises(DBAPIError) as raised, runtime.engine.begin() as conn:
        conn.execute(text("DELETE FROM documents WHERE id = :id"), {"id": int(first["id"])})
    assert "APPEND_ONLY" in str(raised.value)


def test_documents_of_a_whole_page_cost_one_statement(pingchang: Bureau, users: Users,
                                                      runtime: Runtime) -> None:
    """Loaders batch: documents and missing kinds of every case of a page at once."""
    from tests.test_query_cost import counted

    for i in range(6):
        _, number = submitted(pingchang)
        pingchang.upload("APPLICATION_FORM", scan(f"表{i}"), applicationNumber=number)
    reader = users.add("reader", "auditor")
    query = """query($first: Int) { applications(first: $first) { edges { node {
        number missingDocumentKinds documents { kind url pages { thumbnailUrl } } } } } }"""
    pingchang.gql.data(query, {"first": 1}, reader)  # the token, looked up once
    with counted(runtime) as small:
        two = pingchang.gql.data(query, {"first": 2}, reader)["applications"]["edges"]
    with counted(runtime) as all_six:
        six = pingchang.gql.data(query, {"first": 6}, reader)["applications"]["edges"]
    assert len(two) == 2 and len(six) == 6
    assert all(len(e["node"]["documents"]) == 1 for e in six)
    assert all(e["node"]["missingDocumentKinds"] == ["ID_PROOF", "TITLE_SOURCE",
                                                     "SURVEY_RESULT"] for e in six)
    assert len(small) == len(all_six) == 3  # the page, its documents, its missing kinds
