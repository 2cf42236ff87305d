"""Papers of natural-resource registration (NRPAPER-1..12): a nature reserve in 南江县 is
noticed (its 通告 printed), published (its 公告 printed with the map), recorded; then its
自然资源登记簿 and 自然资源所有权证书 are issued. Each paper is read back as text, its fonts
embedded, its signature and digest checked; every refusal leaves the database and the bucket
as they were."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from registry.config import Settings
from registry.db.access import AuditEntry
from registry.db.papers import IssuedPaper
from registry.papers.signing import verify_pdf
from registry.runtime import Runtime
from registry.services.natural_resources.papers import natural_issued_data
from registry.services.papers import record_digest
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_natural_resources import COUNTY, RESERVE, STATE_OWNED, Office, box
from tests.test_papers import text_of, unembedded_fonts
from tests.test_papers_print import download

REGISTER = operation("IssueNaturalRegister")
NOTICE = operation("IssueNaturalNoticePaper")
CERTIFICATE = operation("IssueNaturalCertificate")
OPERATIONS = {"IssueNaturalRegister": REGISTER, "IssueNaturalNoticePaper": NOTICE,
              "IssueNaturalCertificate": CERTIFICATE}
# NRPAPER_PNG_DIR=/some/dir keeps each paper's PDF and its pages as PNG there, to look at.
PNG_DIR = os.environ.get("NRPAPER_PNG_DIR")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """南江县 issues ownership certificates (NRPAPER-11)."""
    return settings.model_copy(update={"natural_resource_certificate_counties": COUNTY})


@pytest.fixture
def office(gql: GraphQLClient, users: Users, runtime: Runtime) -> Office:
    from tests.clock import Clock
    from tests.test_natural_resources import MONDAY

    runtime.clock = Clock(MONDAY)
    return Office(gql, users)


def issue(office: Office, name: str, who: dict[str, str] | None = None,
          **variables: Any) -> dict[str, Any]:
    data = office.gql.data(OPERATIONS[name], variables, who or office.clerk)
    return next(iter(data.values()))


def refused(runtime: Runtime, office: Office, name: str, who: dict[str, str] | None = None,
            **variables: Any) -> list[str]:
    before = snapshot(runtime)
    codes = office.gql.error_codes(OPERATIONS[name], variables, who or office.clerk)
    assert snapshot(runtime) == before, name
    return codes


def pdf_of(client: TestClient, office: Office, paper: dict[str, Any], tmp_path: Path,
           label: str) -> tuple[bytes, str]:
    """The paper's PDF and its whole text (whitespace removed), checked for embedded fonts."""
    pdf = download(client, paper["path"], office.clerk)
    assert hashlib.sha256(pdf).hexdigest() == paper["sha256"]
    assert unembedded_fonts(pdf, tmp_path) == []
    if PNG_DIR and shutil.which("pdftoppm"):
        out = Path(PNG_DIR)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{label}.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "80", "-png", str(out / f"{label}.pdf"),
                        str(out / label)], check=True)
    return pdf, "".join(text_of(pdf))


def checked(runtime: Runtime, pdf: bytes, cert: Path, number: str) -> IssuedPaper:
    """SIGN-2 and NRPAPER-12: signed by the bureau's key, and the register still says it."""
    check = verify_pdf(pdf, cert.read_bytes())
    assert check.valid and check.trusted, check
    with runtime.readers() as session:
        paper = session.scalar(select(IssuedPaper).where(IssuedPaper.number == number))
        assert paper is not None
        assert paper.unit_id is None and paper.purpose
        assert record_digest(natural_issued_data(session, paper)) == paper.record_sha256
        session.expunge(paper)
    return paper


def test_the_papers_of_a_reserve_from_notice_to_certificate(
        client: TestClient, office: Office, runtime: Runtime,
        signing_key_files: tuple[Path, Path], tmp_path: Path) -> None:
    cert = signing_key_files[1]
    case = office.predelimit(stateAreaHa="280.00", collectiveAreaHa="15.00",
                             disputedAreaHa="5.00")
    number = case["number"]
    # Nothing to print before the 通告, and no register before the 登簿.
    assert refused(runtime, office, "IssueNaturalNoticePaper", number=number) == [
        "NR_NOTICE_NOT_ISSUED"]
    assert refused(runtime, office, "IssueNaturalRegister", unitCode=RESERVE,
                   purpose="存档") == ["NR_UNIT_NOT_RECORDED"]
    assert refused(runtime, office, "IssueNaturalCertificate", unitCode=RESERVE) == [
        "NR_UNIT_NOT_RECORDED"]

    # 首次登记通告
    office.step("IssueNaturalNotice", office.clerk, number=number, noticeNo="南府通〔2026〕3号")
    notice = issue(office, "IssueNaturalNoticePaper", number=number)
    assert notice["kind"] == "NATURAL_NOTICE" and notice["unitCode"] is None
    assert notice["number"] == "川(2026)南江县自然资源首次登记通告第0000001号"
    assert notice["purpose"] == "首次登记通告"
    pdf, whole = pdf_of(client, office, notice, tmp_path, "notice")
    for value in ("自然资源首次登记通告", "根据《自然资源统一确权登记暂行办法》",
                  "拟对下列自然资源登记单元开展首次登记", RESERVE, "米仓山自然保护区",
                  "自然保护区（22）", "南江县光雾山镇", "300.00", "南府通〔2026〕3号",
                  "南江县自然资源局", number):
        assert value in whole, value
    assert "公告期" not in whole
    checked(runtime, pdf, cert, notice["number"])

    # 登记公告, with the map
    office.survey(number, ownership=STATE_OWNED, note="地籍调查成果已入库")
    office.step("ReviewNaturalCase", office.reviewer, number=number)
    office.step("PublishNaturalCase", office.clerk, number=number)
    announced = issue(office, "IssueNaturalNoticePaper", office.registrar, number=number)
    assert announced["number"] == "川(2026)南江县自然资源登记公告第0000002号"
    pdf, whole = pdf_of(client, office, announced, tmp_path, "announcement")
    pages = text_of(pdf)
    for value in ("自然资源登记公告", "经初步审核，拟对下列自然资源登记单元予以登记",
                  "现予公告", "如有异议，请在公告期内（2026年3月2日至2026年3月20日）",
                  "向受理登记机构递交书面异议材料及其证明材料", "自然状况", "权属状况", "全民",
                  "自然资源部", "委托代理行使", "四川省人民政府",
                  "300.00公顷（国有280.00公顷，集体15.00公顷，争议区5.00公顷）",
                  "东至光雾山镇界，南至桃园林场，西至陕西省界，北至米仓山脊"):
        assert value in whole, value
    assert "附件：登记单元图" in pages[-1] and "制图日期2026年3月2日" in pages[-1]
    checked(runtime, pdf, cert, announced["number"])

    # 登簿, then the register and the certificate
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=number)
    assert refused(runtime, office, "IssueNaturalRegister", unitCode=RESERVE,
                   purpose=" ") == ["PURPOSE_REQUIRED"]
    register = issue(office, "IssueNaturalRegister", unitCode=RESERVE.lower(),
                     purpose="档案查阅")
    assert register["kind"] == "NATURAL_REGISTER" and register["purpose"] == "档案查阅"
    assert register["number"] == "川(2026)南江县自然资源登记簿第0000001号"
    pdf, whole = pdf_of(client, office, register, tmp_path, "register")
    pages = text_of(pdf)
    for value in ("权属状况", "登记单元内全民所有自然资源权属状况", "自然状况", "各类自然资源",
                  "关联信息", "不动产权利", "公共管制", "登记簿记载"):
        assert value in whole, value
    assert "自然资源登记簿" in pages[0] and RESERVE in pages[0]
    for value in ("米仓山自然保护区", "自然保护区（22）", "南江县自然资源局", "全民", "自然资源部",
                  "委托代理行使", "四川省人民政府", "代理履行所有者职责", "自然资源首次登记",
                  "nr-registrar-511922", number, "国有280.00公顷", "集体15.00公顷",
                  "争议区5.00公顷", "东至光雾山镇界", "档案查阅"):
        assert value in whole, value
    assert "附图：登记单元图" in pages[-1] and "制图日期" in pages[-1]
    with runtime.readers() as session:
        from registry.papers.natural_register import natural_entries

        [entry] = natural_entries(session, RESERVE)
        body = entry.payload["body"]["natural_resource"]
    if body.get("areas"):  # the lead adds the areas to the entry body
        assert "森林" in whole
    else:  # NRPAPER-2: what the entry does not hold prints 无
        assert "单元内自然资源总面积无" in whole
    if not body.get("real_estate_links"):
        assert "不动产权利无" in whole
    paper = checked(runtime, pdf, cert, register["number"])
    assert paper.request["natural_unit_code"] == RESERVE and paper.request["case"] == number

    certificate = issue(office, "IssueNaturalCertificate", unitCode=RESERVE)
    assert certificate["number"] == "川(2026)南江县自然资源所有权第0000001号"
    pdf, whole = pdf_of(client, office, certificate, tmp_path, "certificate")
    for value in ("自然资源所有权证书", "中华人民共和国自然资源部监制", "登记单元名称",
                  "米仓山自然保护区", "自然保护区（22）", RESERVE, "所有权人全民",
                  "代表行使主体自然资源部", "权利行使方式委托代理行使",
                  "代理行使主体四川省人民政府", "行使内容所有者职责；代理履行所有者职责",
                  "300.00公顷（国有280.00公顷", number):
        assert value in whole, value
    checked(runtime, pdf, cert, certificate["number"])

    # NRPAPER-7: each issue is audited, with the unit and the case.
    with runtime.readers() as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.operation.like("issue:natural_%")).order_by(AuditEntry.id)).all()
    assert [e.target for e in entries] == [f"paper:{p['number']}" for p in (
        notice, announced, register, certificate)]
    # (PII-3's scrub masks the 15-digit unit code in audit details as it would an old ID.)
    assert all(e.details["case"] == number and e.details["naturalUnit"][:6] == COUNTY
               for e in entries)


def test_refused_papers_change_nothing(client: TestClient, office: Office, runtime: Runtime,
                                       users: Users, monkeypatch: pytest.MonkeyPatch) -> None:
    number = office.predelimit()["number"]
    office.to_publication(number)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=number)
    other = Office(office.gql, users, "511923")
    auditor = users.add("nr-auditor", "auditor")

    assert refused(runtime, office, "IssueNaturalRegister", unitCode="511922220000009",
                   purpose="存档") == ["NOT_FOUND"]
    assert refused(runtime, office, "IssueNaturalNoticePaper", number="ZR5119222026999999") == [
        "NR_CASE_NOT_FOUND"]
    assert refused(runtime, office, "IssueNaturalRegister", other.clerk, unitCode=RESERVE,
                   purpose="存档") == ["FORBIDDEN"]
    assert refused(runtime, office, "IssueNaturalNoticePaper", other.registrar,
                   number=number) == ["FORBIDDEN"]
    assert refused(runtime, office, "IssueNaturalRegister", office.reviewer, unitCode=RESERVE,
                   purpose="存档") == ["FORBIDDEN"]
    assert refused(runtime, office, "IssueNaturalCertificate", auditor, unitCode=RESERVE) == [
        "FORBIDDEN"]
    # A change case just opened has neither a 通告 nor a 公告.
    change = office.step("OpenNaturalCase", office.clerk, unitCode=RESERVE, kind="CHANGE",
                         reason="保护区范围调整批复", unit={
                             "name": "米仓山自然保护区", "unitType": "22", "countyCode": COUNTY,
                             "authority": "南江县自然资源局", "geometry": box(0, 0, 2500, 1500),
                             "crs": 4545})
    assert refused(runtime, office, "IssueNaturalNoticePaper", number=change["number"]) == [
        "NR_NOTICE_NOT_ISSUED"]
    # NRPAPER-11: a county not listed issues no certificate.
    monkeypatch.setattr(runtime.settings, "natural_resource_certificate_counties", "511923")
    assert refused(runtime, office, "IssueNaturalCertificate", unitCode=RESERVE) == [
        "NR_CERTIFICATE_NOT_ISSUED"]


def test_a_change_is_announced_with_its_proposed_unit_and_a_cancelled_unit_has_no_certificate(
        client: TestClient, office: Office, runtime: Runtime, tmp_path: Path) -> None:
    number = office.predelimit()["number"]
    office.to_publication(number)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=number)
    change = office.step("OpenNaturalCase", office.clerk, unitCode=RESERVE, kind="CHANGE",
                         reason="保护区范围调整批复", unit={
                             "name": "米仓山自然保护区", "unitType": "22", "countyCode": COUNTY,
                             "authority": "南江县自然资源局", "geometry": box(0, 0, 2500, 1500),
                             "crs": 4545})["number"]
    office.survey(change, note="补充调查")
    office.step("ReviewNaturalCase", office.reviewer, number=change)
    office.step("PublishNaturalCase", office.clerk, number=change)
    announced = issue(office, "IssueNaturalNoticePaper", number=change)
    _, whole = pdf_of(client, office, announced, tmp_path, "change-announcement")
    assert "变更登记" in whole and "375.00" in whole and "四川省人民政府" in whole
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=change)

    cancel = office.step("OpenNaturalCase", office.clerk, unitCode=RESERVE,
                         kind="CANCELLATION", reason="保护区撤销")["number"]
    office.step("ReviewNaturalCase", office.reviewer, number=cancel)
    office.step("PublishNaturalCase", office.clerk, number=cancel)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=cancel)
    assert refused(runtime, office, "IssueNaturalCertificate", unitCode=RESERVE) == [
        "NR_UNIT_NOT_REGISTERED"]
    # The register of a cancelled unit still prints, with its whole history.
    register = issue(office, "IssueNaturalRegister", unitCode=RESERVE, purpose="档案查阅")
    _, whole = pdf_of(client, office, register, tmp_path, "cancelled-register")
    for value in ("自然资源首次登记", "自然资源变更登记", "自然资源注销登记", "已注销", number,
                  change, cancel, "375.00"):
        assert value in whole, value
