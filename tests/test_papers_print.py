"""Printing papers (PRINT-1..5, STOCK-1..3, SIGN-1/2): a registrar receives blank forms, prints
a recorded title onto one (套打), hands it over (certify), reprints a spoilt one; every serial is
accounted for, every refusal changes nothing, the PDF is signed and checks against the register,
and the public check answers from the QR code's address without a token."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import update
from starlette.testclient import TestClient

from registry.app import create_app
from registry.db.papers import PrintMode
from registry.db.register import Certificate, CertificateStatus
from registry.db.session import transaction
from registry.papers.signing import verify_pdf
from registry.runtime import Runtime
from registry.services.access import authenticate
from registry.services.errors import DomainError
from registry.services.papers import PrintRequest, PrintSetup, print_paper, stock_report
from tests.bureau import Bureau, organisation, person
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_cli import run_registry, server_env
from tests.test_papers import text_of


def recorded_title(bureau: Bureau, name: str = "王建国") -> str:
    return titled(bureau, name)[0]


def titled(bureau: Bureau, name: str = "王建国") -> tuple[str, str, str]:
    """A house recorded for `name`: its certificate number, case number and unit code."""
    house = bureau.rural_house()
    case = bureau.register("FIRST", [house["code"]], holders=[{"party": person(name)}],
                           rightType=6, rightNature=203)
    return case["certificates"][0]["number"], case["number"], house["code"]


def receive(bureau: Bureau, first: str, count: int, kind: str = "RIGHT") -> dict[str, Any]:
    return bureau.gql.data(operation("ReceiveForms"), {"input": {
        "kind": kind, "firstSerial": first, "count": count}}, bureau.registrar)["receiveForms"]


def print_on(bureau: Bureau, number: str, **extra: Any) -> dict[str, Any]:
    return bureau.gql.data(operation("PrintPaper"), {"input": {"number": number, **extra}},
                           bureau.registrar)["printPaper"]


def stock(bureau: Bureau) -> list[dict[str, Any]]:
    return bureau.gql.data(operation("FormStock"), {}, bureau.registrar)["formStock"]


def download(client: TestClient, path: str, headers: dict[str, str]) -> bytes:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def test_a_registrars_day_with_the_form_stock(
        client: TestClient, gql: GraphQLClient, pingchang: Bureau, runtime: Runtime,
        signing_key_files: tuple[Path, Path]) -> None:
    number, case_number, _ = titled(pingchang)
    assert pingchang.gql.error_codes(operation("CertifyApplication"), {
        "number": case_number}, pingchang.registrar) == ["NOT_PRINTED"]

    batch = receive(pingchang, "5119230000001", 10)
    assert (batch["received"], batch["inStock"], batch["balanced"]) == (10, 10, True)
    printed = print_on(pingchang, number, mode="OVERLAY", serial="5119230000003",
                       offsetXMm=1.5, offsetYMm=-0.5)
    assert printed["serial"] == "5119230000003" and printed["mode"] == "OVERLAY"

    pdf = download(client, printed["path"], pingchang.registrar)
    assert hashlib.sha256(pdf).hexdigest() == printed["sha256"]
    check = verify_pdf(pdf, signing_key_files[1].read_bytes())
    assert check.valid and check.trusted, check
    values = text_of(pdf)[0]
    assert number in values and "王建国" in values and "宅基地使用权" in values
    assert "共有情况" not in values  # 套打: the form carries the labels, the print only values
    assert pingchang.gql.data(operation("CertifyApplication"), {"number": case_number},
                              pingchang.registrar)["certifyApplication"]["state"] == "CERTIFIED"

    # A spoilt print: the registrar prints it again on the next form, with the reason.
    again = print_on(pingchang, number, mode="OVERLAY", serial="5119230000004",
                     reprintReason="卡纸")
    (report,) = stock(pingchang)
    assert (report["inStock"], report["issued"], report["voided"]) == (8, 1, 1)
    assert report["balanced"] is True
    assert again["verificationCode"] != printed["verificationCode"]
    # The case carries its standing print: the reprint, stored like a scan.
    case = pingchang.gql.data(operation("Application"), {"number": case_number},
                              pingchang.registrar)["application"]
    (standing,) = [c["print"] for c in case["certificates"]]
    assert standing == {"id": again["id"], "serial": "5119230000004", "sha256": again["sha256"],
                        "size": again["size"], "path": again["path"]}

    # The public check, as the QR code names it: the reprint is valid, the first replaced.
    public = TestClient(create_app(runtime=runtime))
    for paper, status in ((again, "VALID"), (printed, "REPLACED")):
        answer = public.get(f"/verify/{quote(number, safe='')}",
                            params={"code": paper["verificationCode"]})
        assert answer.status_code == 200 and answer.json()["status"] == status
        assert answer.json()["holders"] == ["王建国"] and "idNumber" not in answer.text
    wrong = public.get(f"/verify/{quote(number, safe='')}", params={"code": "A" * 12})
    assert wrong.status_code == 404 and wrong.json()["code"] == "NOT_FOUND"
    html = public.get(f"/verify/{quote(number, safe='')}", headers={"Accept": "text/html"},
                      params={"code": again["verificationCode"]})
    assert "有效" in html.text and "<script" not in html.text


def test_print_refusals_consume_nothing_and_store_nothing(
        gql: GraphQLClient, pingchang: Bureau, users: Users, runtime: Runtime) -> None:
    number = recorded_title(pingchang)
    receive(pingchang, "5119230000001", 3)
    receive(pingchang, "5119239900001", 2, kind="PROOF")
    bazhou = Bureau(gql, users, "511902", prefix="bz")
    receive(bazhou, "5119020000001", 2)
    print_on(pingchang, number, mode="OVERLAY", serial="5119230000001")
    other = recorded_title(pingchang, "李秀英")
    gql.data(operation("VoidFormSerial"), {"serial": "5119230000002", "reason": "污损"},
             pingchang.registrar)
    auditor = users.add("auditor", "auditor")
    voided = recorded_title(pingchang, "张三")
    with transaction(runtime.sessions) as session:
        session.execute(update(Certificate).where(Certificate.number == voided).values(
            status=CertificateStatus.VOIDED, void_reason="登记错误"))
    before = snapshot(runtime)

    def refused(variables: dict[str, Any], headers: dict[str, str] | None = None) -> list[str]:
        codes = gql.error_codes(operation("PrintPaper"), {"input": variables},
                                headers or pingchang.registrar)
        assert snapshot(runtime) == before
        return codes

    assert refused({"number": other, "mode": "OVERLAY"}) == ["SERIAL_REQUIRED"]
    assert refused({"number": "川(2026)平昌县不动产权第9999999号"}) == ["NOT_FOUND"]
    assert refused({"number": other, "mode": "OVERLAY", "serial": "5119230000002"}) == [
        "SERIAL_NOT_IN_STOCK"]  # voided
    assert refused({"number": other, "mode": "OVERLAY", "serial": "5119230000001"}) == [
        "SERIAL_NOT_IN_STOCK"]  # used
    assert refused({"number": other, "mode": "OVERLAY", "serial": "5119020000001"}) == [
        "SERIAL_OTHER_COUNTY"]
    assert refused({"number": other, "mode": "OVERLAY", "serial": "5119239900001"}) == [
        "SERIAL_WRONG_KIND"]
    assert refused({"number": other, "mode": "OVERLAY", "serial": "0000000000009"}) == [
        "NOT_FOUND"]
    assert refused({"number": voided, "mode": "OVERLAY", "serial": "5119230000003"}) == [
        "NOT_PRINTABLE"]  # and the serial stays in stock
    assert refused({"number": number}) == ["ALREADY_PRINTED"]
    assert refused({"number": number, "reprintReason": "  "}) == ["REASON_REQUIRED"]
    assert refused({"number": other, "offsetXMm": 50}) == ["BAD_OFFSET"]
    assert refused({"number": other}, bazhou.registrar) == ["FORBIDDEN"]
    assert refused({"number": other}, auditor) == ["FORBIDDEN"]
    assert gql.error_codes(operation("ReceiveForms"), {"input": {
        "kind": "RIGHT", "firstSerial": "5119230000003", "count": 5}},
        pingchang.registrar) == ["SERIAL_EXISTS"]
    assert snapshot(runtime) == before

    # Without a signing key nothing is printed either.
    unkeyed = replace(runtime, settings=runtime.settings.model_copy(
        update={"papers_signing_key": None, "papers_signing_cert": None}))
    with TestClient(create_app(runtime=unkeyed)) as http:
        codes = GraphQLClient(http).error_codes(operation("PrintPaper"), {"input": {
            "number": other, "mode": "OVERLAY", "serial": "5119230000003"}},
            pingchang.registrar)
    assert codes == ["NO_SIGNING_KEY"]
    assert snapshot(runtime) == before


def test_eight_clients_racing_for_serials_use_each_once_and_the_stock_balances(
        pingchang: Bureau, runtime: Runtime) -> None:
    numbers = [recorded_title(pingchang, f"户主{i}") for i in range(8)]
    receive(pingchang, "5119230000001", 12)
    serials = [f"51192300000{i:02d}" for i in range(1, 13)]
    token = pingchang.registrar["Authorization"].removeprefix("Bearer ")
    setup = PrintSetup.from_settings(runtime.settings, runtime.store)
    used: dict[str, str] = {}
    lock = threading.Lock()
    start = threading.Barrier(8)

    def client(number: str) -> None:
        start.wait()
        for serial in serials:  # every client wants the lowest serial still in stock
            try:
                with transaction(runtime.sessions) as session:
                    printed = print_paper(session, authenticate(session, token), setup,
                                          PrintRequest(number, PrintMode.OVERLAY, serial),
                                          runtime.clock())
                    taken = printed.serial
            except DomainError as exc:
                assert exc.code in ("SERIAL_NOT_IN_STOCK", "CONCURRENT_UPDATE"), exc.code
                continue
            with lock:
                assert taken not in used
                used[taken] = number
            return
        raise AssertionError(f"{number} found no serial")

    threads = [threading.Thread(target=client, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(used.values()) == sorted(numbers) and len(used) == 8
    with transaction(runtime.sessions) as session:
        (report,) = stock_report(session, authenticate(session, token))
    assert (report.issued, report.in_stock, report.voided) == (8, 4, 0) and report.balanced


def test_registry_papers_verify_checks_signature_print_and_register(
        client: TestClient, pingchang: Bureau, settings: Any, tmp_path: Path) -> None:
    number, _, unit_code = titled(pingchang)
    printed = print_on(pingchang, number)
    pdf = download(client, printed["path"], pingchang.registrar)
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    result = run_registry("papers", "verify", str(good), env=server_env(settings))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "signature: valid" in result.stdout and "VALID" in result.stdout
    assert "matches" in result.stdout

    # One byte changed inside the signed content: refused.
    reader_offset = pdf.index(b"stream", len(pdf) // 3) + 20
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(pdf[:reader_offset] + bytes([pdf[reader_offset] ^ 1]) + pdf[reader_offset + 1:])
    result = run_registry("papers", "verify", str(bad), env=server_env(settings))
    assert result.returncode == 1 and "INVALID" in result.stdout

    # The register moves on (the house is sold): the paper is still the bureau's, signed and
    # unchanged, but the register no longer says what it says.
    pingchang.register("TRANSFER", [unit_code], holders=[{"party": person("赵六")}])
    result = run_registry("papers", "verify", str(good), env=server_env(settings))
    assert result.returncode == 1 and "DIFFERS" in result.stdout


def test_the_calibration_page_names_its_crosses(tmp_path: Path, settings: Any) -> None:
    out = tmp_path / "calibration.pdf"
    result = run_registry("papers", "calibration", "--output", str(out), env=server_env(settings))
    assert result.returncode == 0, result.stderr
    text = text_of(out.read_bytes())[0]
    assert "套打校准页" in text and "(20,30)" in text and "(180,270)" in text


def test_a_proof_prints_on_a_proof_form(pingchang: Bureau, client: TestClient) -> None:
    _, _, house_code = titled(pingchang)
    mortgage = pingchang.register("MORTGAGE", [house_code],
                                  holders=[{"party": organisation("巴中农村商业银行")}],
                                  amount="1000.00", termStart="2026-01-01", termEnd="2027-01-01")
    receive(pingchang, "5119239900001", 2, kind="PROOF")
    printed = print_on(pingchang, mortgage["certificates"][0]["number"], mode="OVERLAY",
                       serial="5119239900001")
    text = text_of(download(client, printed["path"], pingchang.registrar))[0]
    assert "巴中农村商业银行" in text and "被担保债权数额：1,000.00元" in text


def test_a_batch_of_certificates_printed_onto_the_forms_in_stock(
        settings: Any, pingchang: Bureau, runtime: Runtime) -> None:
    """`registry papers print-batch`: the county's unprinted certificates, oldest first, each
    onto the next form in stock; out of forms, the batch stops and says where."""
    numbers = [titled(pingchang, name)[0] for name in ("张一", "张二", "张三")]
    receive(pingchang, "5119230000001", 2)
    registrar = next(iter(pingchang.registrar.values())).split()[-1]
    with runtime.sessions() as session:
        username = authenticate(session, registrar).username  # type: ignore[union-attr]
    result = run_registry("papers", "print-batch", "--as", username, "--overlay", "--quiet",
                          env=server_env(settings))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [f"{numbers[0]} printed on 5119230000001",
                                          f"{numbers[1]} printed on 5119230000002"]
    assert f"{numbers[2]}: OUT_OF_FORMS" in result.stderr  # the batch stops there
    (report,) = stock(pingchang)
    assert (report["inStock"], report["issued"], report["voided"]) == (0, 2, 0)
    # More forms arrive; the batch goes on where it stopped, on blank paper this time.
    again = run_registry("papers", "print-batch", "--as", username, "--quiet",
                         env=server_env(settings))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"{numbers[2]} printed", "1 printed, 0 not printed"]
