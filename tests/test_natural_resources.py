"""Natural-resource registration as a bureau runs it over GraphQL (NRUNIT-*, NRCASE-* in
registry/db/natural_resources.py and services/natural_resources/): a nature reserve in 南江县
is pre-delimited, noticed, surveyed, reviewed, published with an objection received and
answered, and recorded after the notice; then changed and cancelled. The survey's results
are scanned onto the case before its survey step (NRCASE-8, DOC-8). Every refusal asserts its
code and an unchanged database and bucket."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from registry.config import Settings
from registry.runtime import Runtime
from tests.bureau import SEATS, scan
from tests.clock import Clock
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_verify import superuser, verify

COUNTY = "511922"  # 南江县
RESERVE = "511922220000001"  # 6-digit division, type 22 自然保护区, sequence
MONDAY = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in 巴中


def box(x: float, y: float, width: float, height: float) -> dict[str, Any]:
    """A rectangle (EPSG:4545) `x`, `y` metres east and north of a point 10 km south of the
    county seat, away from the squares tests/bureau.py lays out."""
    x0, y0 = SEATS[COUNTY]
    x0, y0 = x0 + x, y0 - 10_000 + y
    ring = [[x0, y0], [x0 + width, y0], [x0 + width, y0 + height], [x0, y0 + height],
            [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


# The front end's operations (graphql/operations/), each named once so the contract test sees
# which behaviour test runs it.
OPERATIONS = {
    "PredelimitNaturalUnit": operation("PredelimitNaturalUnit"),
    "IssueNaturalNotice": operation("IssueNaturalNotice"),
    "RecordNaturalSurvey": operation("RecordNaturalSurvey"),
    "ReviewNaturalCase": operation("ReviewNaturalCase"),
    "PublishNaturalCase": operation("PublishNaturalCase"),
    "ReceiveNaturalObjection": operation("ReceiveNaturalObjection"),
    "AnswerNaturalObjection": operation("AnswerNaturalObjection"),
    "RecordNaturalCase": operation("RecordNaturalCase"),
    "OpenNaturalCase": operation("OpenNaturalCase"),
    "NaturalUnit": operation("NaturalUnit"),
    "NaturalUnits": operation("NaturalUnits"),
    "NaturalCase": operation("NaturalCase"),
    "UploadDocument": operation("UploadDocument"),
    "RemoveDocument": operation("RemoveDocument"),
    "RequestUpload": operation("RequestUpload"),
    "CompleteUpload": operation("CompleteUpload"),
}


class Office:
    """南江县's natural-resource registration staff."""

    def __init__(self, gql: GraphQLClient, users: Users, county: str = COUNTY) -> None:
        self.gql = gql
        self.clerk = users.add(f"nr-clerk-{county}", "clerk", county=county)
        self.reviewer = users.add(f"nr-reviewer-{county}", "reviewer", county=county)
        self.registrar = users.add(f"nr-registrar-{county}", "registrar", county=county)

    def step(self, name: str, who: dict[str, str], **variables: Any) -> dict[str, Any]:
        data = self.gql.data(OPERATIONS[name], variables, who)
        return next(iter(data.values()))

    def predelimit(self, code: str = RESERVE, **unit: Any) -> dict[str, Any]:
        data = {"name": "米仓山自然保护区", "unitType": "22", "countyCode": COUNTY,
                "level": "CITY_COUNTY", "authority": "南江县自然资源局",
                "geometry": box(0, 0, 2000, 1500), "crs": 4545,
                "location": "南江县光雾山镇", "east": "光雾山镇界", "south": "桃园林场",
                "west": "陕西省界", "north": "米仓山脊", **unit}
        return self.step("PredelimitNaturalUnit", self.clerk, code=code, input=data)

    def upload_body(self, number: str, kind: str = "SURVEY_RESULT",
                    who: dict[str, str] | None = None, **target: str) -> dict[str, Any]:
        """A scan sent to the case as the front end sends it (multipart UploadDocument)."""
        return self.gql.upload(OPERATIONS["UploadDocument"], {
            "kind": kind, "target": {"naturalCaseNumber": number, **target}},
            {"file": ("调查成果.png", scan(f"{kind}{number}"))}, who or self.clerk)

    def scan_survey(self, number: str, who: dict[str, str] | None = None) -> dict[str, Any]:
        """地籍调查成果 scanned onto the case, which its survey step requires (NRCASE-8)."""
        body = self.upload_body(number, who=who)
        assert "errors" not in body, body["errors"]
        return body["data"]["uploadDocument"]

    def survey(self, number: str, who: dict[str, str] | None = None,
               **variables: Any) -> dict[str, Any]:
        """The survey's results scanned, then the survey step."""
        self.scan_survey(number, who)
        return self.step("RecordNaturalSurvey", who or self.clerk, number=number, **variables)

    def to_publication(self, number: str) -> dict[str, Any]:
        self.step("IssueNaturalNotice", self.clerk, number=number, noticeNo="南府通〔2026〕3号")
        self.survey(number, ownership=STATE_OWNED, note="地籍调查成果已入库")
        self.step("ReviewNaturalCase", self.reviewer, number=number)
        return self.step("PublishNaturalCase", self.clerk, number=number)


STATE_OWNED = {"owner": "STATE", "dutyBody": "自然资源部", "exercise": "ENTRUSTED",
               "dutyContent": "所有者职责", "agentBody": "四川省人民政府",
               "agentContent": "代理履行所有者职责"}


@pytest.fixture
def office(gql: GraphQLClient, users: Users, runtime: Runtime) -> Office:
    runtime.clock = Clock(MONDAY)
    return Office(gql, users)


def refused(runtime: Runtime, gql: GraphQLClient, name: str, who: dict[str, str],
            **variables: Any) -> list[str]:
    before = snapshot(runtime)
    codes = gql.error_codes(OPERATIONS[name], variables, who)
    assert snapshot(runtime) == before
    return codes


def test_a_reserve_is_registered_after_its_notice(office: Office, runtime: Runtime,
                                                  settings: Settings) -> None:
    case = office.predelimit(stateAreaHa="280.00", collectiveAreaHa="15.00",
                             disputedAreaHa="5.00")
    assert (case["kind"], case["state"], case["unitCode"]) == ("FIRST", "PREDELIMITED", RESERVE)
    number = case["number"]
    unit = office.step("NaturalUnit", office.clerk, code=RESERVE)
    assert unit["status"] == "PREDELIMITED" and unit["areaHa"] == "300.00"
    assert unit["unitType"] == {"code": "22", "name": "自然保护区", "parentCode": "20"}

    published = office.to_publication(number)
    assert published["state"] == "PUBLISHED"
    # 15 working days from Monday 2 March: 2–6, 9–13, 16–20 March.
    assert (published["noticePublishedOn"], published["noticeEndsOn"]) == (
        "2026-03-02", "2026-03-20")

    # An objection on the notice's third day, answered (not upheld) by the reviewer.
    runtime.clock.advance(days=2)  # type: ignore[attr-defined]
    objected = office.step("ReceiveNaturalObjection", office.clerk, number=number,
                           objector="光雾山镇某村村民委员会", content="西界应以河道中心线为界")
    [objection] = objected["objections"]
    assert objection["receivedOn"] == "2026-03-04" and objection["answer"] is None

    # Recording waits for the notice to end and for the objection's answer.
    runtime.clock.advance(days=16)  # type: ignore[attr-defined]  # Friday 20 March
    assert refused(runtime, office.gql, "RecordNaturalCase", office.registrar,
                   number=number) == ["NR_NOTICE_PERIOD_RUNNING"]
    runtime.clock.advance(days=3)  # type: ignore[attr-defined]  # Monday 23 March
    assert refused(runtime, office.gql, "RecordNaturalCase", office.registrar,
                   number=number) == ["NR_OBJECTION_UNANSWERED"]
    assert refused(runtime, office.gql, "ReceiveNaturalObjection", office.clerk, number=number,
                   objector="某人", content="迟到的异议") == ["NR_OBJECTION_OUTSIDE_PERIOD"]
    office.step("AnswerNaturalObjection", office.reviewer, id=objection["id"],
                answer="西界依保护区批复范围线，异议不成立", upheld=False)

    recorded = office.step("RecordNaturalCase", office.registrar, number=number)
    assert recorded["state"] == "RECORDED"
    assert [s["toState"] for s in recorded["steps"]] == [
        "PREDELIMITED", "NOTICED", "SURVEYED", "REVIEWED", "PUBLISHED", "RECORDED"]

    unit = office.step("NaturalUnit", office.clerk, code=RESERVE)
    assert unit["status"] == "REGISTERED"
    assert unit["ownership"] == {**STATE_OWNED, "caseNumber": number}
    [entry] = unit["history"]
    assert entry["entryType"] == "nr_first" and entry["entryTypeZh"] == "自然资源首次登记"
    assert entry["body"]["unit"]["area_ha"] == "300.00"
    assert entry["body"]["ownership"]["agent_body"] == "四川省人民政府"
    code, out = verify(settings)
    assert code == 0, out


def test_a_change_ends_the_version_and_keeps_the_history(office: Office, runtime: Runtime,
                                                         settings: Settings) -> None:
    number = office.predelimit()["number"]
    office.to_publication(number)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=number)

    # 变更: the reserve grows east by 500 m; ownership passes to direct exercise.
    change = office.step("OpenNaturalCase", office.clerk, unitCode=RESERVE, kind="CHANGE",
                         reason="保护区范围调整批复", unit={
                             "name": "米仓山自然保护区", "unitType": "22", "countyCode": COUNTY,
                             "authority": "南江县自然资源局", "geometry": box(0, 0, 2500, 1500),
                             "crs": 4545},
                         ownership={**STATE_OWNED, "exercise": "DIRECT", "agentBody": None,
                                    "agentContent": ""})
    assert change["state"] == "OPENED"
    number = change["number"]
    assert refused(runtime, office.gql, "OpenNaturalCase", office.clerk, unitCode=RESERVE,
                   kind="CANCELLATION", reason="重复") == ["NR_CASE_OPEN"]
    assert refused(runtime, office.gql, "IssueNaturalNotice", office.clerk, number=number,
                   noticeNo="x") == ["ILLEGAL_TRANSITION"]
    assert refused(runtime, office.gql, "RecordNaturalSurvey", office.clerk, number=number,
                   note="补充调查") == ["MISSING_DOCUMENTS"]  # NRCASE-8 for a change too
    office.survey(number, note="补充调查")
    assert refused(runtime, office.gql, "ReviewNaturalCase", office.clerk, number=number) == [
        "FORBIDDEN"]
    office.step("ReviewNaturalCase", office.reviewer, number=number)
    office.step("PublishNaturalCase", office.clerk, number=number)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=number)

    unit = office.step("NaturalUnit", office.clerk, code=RESERVE)
    assert unit["areaHa"] == "375.00" and unit["status"] == "REGISTERED"
    assert unit["ownership"]["exercise"] == "DIRECT" and unit["ownership"]["agentBody"] is None
    assert [o["exercise"] for o in unit["ownershipHistory"]] == ["DIRECT", "ENTRUSTED"]
    assert [e["entryType"] for e in unit["history"]] == ["nr_first", "nr_change"]
    with runtime.engine.connect() as conn:
        versions = conn.execute(text(
            "SELECT area_ha::text, ended_at IS NULL FROM nr_units WHERE code = :c ORDER BY id"),
            {"c": RESERVE}).all()
    assert [tuple(v) for v in versions] == [("300.00", False), ("375.00", True)]

    # 注销: no survey, no notice of registration; reviewed, published, recorded.
    number = office.step("OpenNaturalCase", office.clerk, unitCode=RESERVE,
                         kind="CANCELLATION", reason="保护区撤销")["number"]
    office.step("ReviewNaturalCase", office.reviewer, number=number)
    office.step("PublishNaturalCase", office.clerk, number=number)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=number)
    unit = office.step("NaturalUnit", office.clerk, code=RESERVE)
    assert unit["status"] == "CANCELLED" and unit["ownership"] is None
    code, out = verify(settings)
    assert code == 0, out


def test_an_upheld_objection_sends_the_case_back_to_the_survey(office: Office,
                                                               runtime: Runtime) -> None:
    number = office.predelimit()["number"]
    office.to_publication(number)
    [objection] = office.step("ReceiveNaturalObjection", office.clerk, number=number,
                              objector="某林场", content="东界有误")["objections"]
    back = office.step("AnswerNaturalObjection", office.reviewer, id=objection["id"],
                       answer="异议成立，重新调查", upheld=True)
    assert back["state"] == "SURVEYED" and back["noticeEndsOn"] is None
    runtime.clock.advance(days=30)  # type: ignore[attr-defined]
    assert refused(runtime, office.gql, "RecordNaturalCase", office.registrar,
                   number=number) == ["ILLEGAL_TRANSITION"]


def test_bad_units_are_refused_and_change_nothing(office: Office, runtime: Runtime) -> None:
    office.predelimit()

    def refused_unit(code: str = "511922220000002", **unit: Any) -> list[str]:
        data = {"name": "某湿地", "unitType": "50", "countyCode": COUNTY,
                "authority": "南江县自然资源局", "geometry": box(5000, 0, 500, 500), "crs": 4545,
                **unit}
        return refused(runtime, office.gql, "PredelimitNaturalUnit", office.clerk, code=code,
                       input=data)

    # Overlapping the reserve (NRUNIT-2), already used code, bad code, type mismatch.
    assert refused_unit(unitType="22", geometry=box(1900, 0, 500, 500)) == ["NR_UNIT_OVERLAP"]
    assert refused_unit(code=RESERVE, unitType="22") == ["NR_UNIT_EXISTS"]
    assert refused_unit(code="51192250000") == ["INVALID_NR_UNIT_CODE"]
    assert refused_unit(code="511922220000002") == ["INVALID_NR_UNIT_CODE"]  # type 22 ≠ 50
    assert refused_unit(code="999999500000002") == ["INVALID_NR_UNIT_CODE"]  # no such division
    assert refused_unit(code="511922980000002", unitType="98") == ["UNKNOWN_NR_UNIT_TYPE"]
    # Geometry: a bow-tie, metres sent as degrees.
    bow_tie = {"type": "Polygon", "coordinates": [[
        [395_000, 3_571_300], [395_500, 3_571_800], [395_500, 3_571_300],
        [395_000, 3_571_800], [395_000, 3_571_300]]]}
    assert refused_unit(geometry=bow_tie) == ["INVALID_GEOMETRY"]
    assert refused_unit(crs=4490) == ["WRONG_CRS"]
    # 国有 + 集体 + 争议区 must be the unit's 25 ha.
    assert refused_unit(stateAreaHa="20", collectiveAreaHa="4", disputedAreaHa="0") == [
        "NR_AREAS_DO_NOT_SUM"]
    assert refused_unit(stateAreaHa="25") == ["NR_AREAS_INCOMPLETE"]
    # Another county's clerk, and a county boundary the unit leaves.
    other = Office(office.gql, Users(runtime), "511923")
    assert refused(runtime, office.gql, "PredelimitNaturalUnit", other.clerk,
                   code="511922500000002", input={
                       "name": "某湿地", "unitType": "50", "countyCode": COUNTY,
                       "authority": "南江县自然资源局", "geometry": box(5000, 0, 500, 500),
                       "crs": 4545}) == ["FORBIDDEN"]
    with runtime.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO division_boundaries (code, geom, source, loaded_at) VALUES (:c,"
            " ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4545)), 'synthetic (test)', now())"),
            {"c": COUNTY, "x0": SEATS[COUNTY][0] - 1000, "y0": SEATS[COUNTY][1] - 20_000,
             "x1": SEATS[COUNTY][0] + 5200, "y1": SEATS[COUNTY][1]})
    assert refused_unit(code="511922500000002") == ["NR_UNIT_OUTSIDE_COUNTY"]
    inside = office.predelimit(code="511922500000002", name="某湿地", unitType="50",
                               geometry=box(4000, 0, 500, 500))
    assert inside["state"] == "PREDELIMITED"


def test_separation_of_duties_and_the_survey_needs_ownership(office: Office, runtime: Runtime,
                                                             users: Users) -> None:
    number = office.predelimit()["number"]
    office.step("IssueNaturalNotice", office.clerk, number=number, noticeNo="南府通〔2026〕3号")
    office.scan_survey(number)
    assert refused(runtime, office.gql, "RecordNaturalSurvey", office.clerk,
                   number=number) == ["NR_OWNERSHIP_REQUIRED"]
    assert refused(runtime, office.gql, "RecordNaturalSurvey", office.clerk, number=number,
                   ownership={**STATE_OWNED, "agentBody": None}) == ["NR_AGENT_MISMATCH"]
    office.step("RecordNaturalSurvey", office.clerk, number=number, ownership=STATE_OWNED)
    both = users.add("nr-both", "clerk", "reviewer", county=COUNTY)
    own = office.step("PredelimitNaturalUnit", both, code="511922500000003", input={
        "name": "某湿地", "unitType": "50", "countyCode": COUNTY, "authority": "南江县自然资源局",
        "geometry": box(6000, 0, 300, 300), "crs": 4545})["number"]
    office.step("IssueNaturalNotice", both, number=own, noticeNo="南府通〔2026〕4号")
    office.survey(own, both, ownership=STATE_OWNED)
    assert refused(runtime, office.gql, "ReviewNaturalCase", both, number=own) == [
        "SEPARATION_OF_DUTIES"]
    assert refused(runtime, office.gql, "ReviewNaturalCase", office.reviewer, number=number,
                   passed=False) == ["REASON_REQUIRED"]
    back = office.step("ReviewNaturalCase", office.reviewer, number=number, passed=False,
                       opinion="四至描述不全")
    assert back["state"] == "NOTICED"


def test_verify_finds_a_unit_or_its_ownership_rewritten(office: Office, runtime: Runtime,
                                                        settings: Settings) -> None:
    """VERIFY-7: the tables say what the natural-resource entries say."""
    number = office.predelimit()["number"]
    office.to_publication(number)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    office.step("RecordNaturalCase", office.registrar, number=number)
    with superuser(runtime) as conn:
        conn.execute(text("UPDATE nr_ownership SET duty_body = '某县政府' WHERE unit_code = :c"),
                     {"c": RESERVE})
        conn.execute(text("UPDATE nr_units SET geom = ST_Multi(ST_Buffer(geom, 10, 1))"
                          " WHERE code = :c"), {"c": RESERVE})
    code, out = verify(settings)
    assert code == 1
    assert (f"differs: nr_units code {RESERVE}: duty_body expected '自然资源部', "
            "found '某县政府'") in out
    assert f"differs: nr_units code {RESERVE}: area_ha expected '300.00'" in out
    assert f"differs: nr_units code {RESERVE}: geometry expected" in out


def test_units_are_found_by_type_county_level_and_geometry(office: Office, users: Users,
                                                          runtime: Runtime) -> None:
    number = office.predelimit()["number"]
    office.predelimit(code="511922500000002", name="某湿地", unitType="50",
                      geometry=box(5000, 0, 500, 500))
    office.predelimit(code="511922310000003", name="某河段", unitType="31",
                      geometry=box(7000, 0, 2000, 60))

    def codes(who: dict[str, str] | None = None, **filters: Any) -> list[str]:
        page = office.step("NaturalUnits", who or office.clerk, **filters)
        return [edge["node"]["code"] for edge in page["edges"]]

    assert codes() == ["511922220000001", "511922310000003", "511922500000002"]
    assert codes(unitType="20") == ["511922220000001"]  # 22 自然保护区 is part of 20
    assert codes(unitType="30") == ["511922310000003"]
    assert codes(countyCode=COUNTY, level="CITY_COUNTY", status="PREDELIMITED", first=2) == [
        "511922220000001", "511922310000003"]
    page = office.step("NaturalUnits", office.clerk, first=2)
    assert page["pageInfo"]["hasNextPage"] is True
    assert codes(after=page["pageInfo"]["endCursor"]) == ["511922500000002"]
    assert codes(intersects=box(4900, 100, 200, 200), crs=4545) == ["511922500000002"]
    assert codes(status="REGISTERED") == []
    other = users.add("pc-nr-clerk", "clerk", county="511923")
    assert codes(other) == []  # another county's clerk sees none of 南江县's units
    assert refused(runtime, office.gql, "NaturalUnits", other, countyCode=COUNTY) == [
        "FORBIDDEN"]
    assert refused(runtime, office.gql, "NaturalUnits", office.clerk, first=1000) == [
        "BAD_PAGE_SIZE"]
    case = office.step("NaturalCase", office.clerk, number=number)
    assert case["unit"] == {"code": "511922220000001", "status": "PREDELIMITED"}
    assert office.step("NaturalCase", office.clerk, number="ZR0000000000000000") is None
    assert refused(runtime, office.gql, "NaturalCase", other, number=number) == ["FORBIDDEN"]


def test_the_survey_needs_its_results_scanned_onto_the_case(office: Office,
                                                           runtime: Runtime) -> None:
    """NRCASE-8 and DOC-8: the survey step waits for a current survey-result document linked
    to the case; the case's documents are its county's, and frozen once it is recorded."""
    # The store checks a presigned URL's date against its own clock: the test runs on today.
    runtime.clock = Clock(datetime.now(UTC))
    number = office.predelimit()["number"]
    office.step("IssueNaturalNotice", office.clerk, number=number, noticeNo="南府通〔2026〕3号")

    def survey_refused() -> list[dict[str, Any]]:
        before = snapshot(runtime)
        body = office.gql(OPERATIONS["RecordNaturalSurvey"], {
            "number": number, "ownership": STATE_OWNED}, office.clerk)
        assert snapshot(runtime) == before
        return body["errors"]

    [error] = survey_refused()
    assert error["extensions"]["code"] == "MISSING_DOCUMENTS"
    assert error["extensions"]["details"]["missing"] == ["SURVEY_RESULT"]

    def upload_refused(who: dict[str, str] | None = None, case: str = number,
                       **target: str) -> list[str]:
        before = snapshot(runtime)
        body = office.upload_body(case, who=who, **target)
        assert snapshot(runtime) == before
        return [e["extensions"]["code"] for e in body["errors"]]

    other = Office(office.gql, Users(runtime), "511923")
    assert upload_refused(other.clerk) == ["FORBIDDEN"]  # another county's clerk (ACCESS-2)
    assert upload_refused(office.reviewer) == ["FORBIDDEN"]  # clerks upload
    assert upload_refused(case="ZR5119222026999999") == ["NR_CASE_NOT_FOUND"]
    assert upload_refused(parcelCode="511922001001GB00001") == ["LINK_MISMATCH"]

    # A scan of another kind does not count, nor one removed since.
    photo = office.upload_body(number, "SITE_PHOTO")["data"]["uploadDocument"]
    wrong = office.scan_survey(number)
    office.gql.data(OPERATIONS["RemoveDocument"], {"id": wrong["id"], "reason": "扫错了"},
                    office.clerk)
    [error] = survey_refused()
    assert error["extensions"]["code"] == "MISSING_DOCUMENTS"

    # The presigned path links to the case the same way.
    content = scan(f"大幅调查图{number}")
    ticket = office.gql.data(OPERATIONS["RequestUpload"], {"input": {
        "kind": "SURVEY_RESULT", "target": {"naturalCaseNumber": number},
        "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
        "fileName": "调查成果.png"}}, office.clerk)["requestUpload"]
    assert httpx.put(ticket["url"], content=content).status_code == 200
    survey = office.gql.data(OPERATIONS["CompleteUpload"], {"uploadId": ticket["uploadId"]},
                             office.clerk)["completeUpload"]
    surveyed = office.step("RecordNaturalSurvey", office.clerk, number=number,
                           ownership=STATE_OWNED)
    assert surveyed["state"] == "SURVEYED"
    listed = office.step("NaturalCase", office.clerk, number=number)  # the current ones
    assert [(d["id"], d["kind"], d["frozen"]) for d in listed["documents"]] == [
        (photo["id"], "SITE_PHOTO", False), (survey["id"], "SURVEY_RESULT", False)]
    assert refused(runtime, office.gql, "NaturalCase", other.clerk, number=number) == [
        "FORBIDDEN"]

    # Recorded: nothing is added, removed or replaced (DOC-6).
    office.step("ReviewNaturalCase", office.reviewer, number=number)
    office.step("PublishNaturalCase", office.clerk, number=number)
    runtime.clock.advance(days=40)  # type: ignore[attr-defined]  # 15 working days, holidays
    office.step("RecordNaturalCase", office.registrar, number=number)
    assert upload_refused() == ["DOCUMENT_FROZEN"]
    before = snapshot(runtime)
    assert office.gql.error_codes(OPERATIONS["RemoveDocument"], {
        "id": survey["id"], "reason": "不要了"}, office.clerk) == ["DOCUMENT_FROZEN"]
    assert snapshot(runtime) == before
    listed = office.step("NaturalCase", office.clerk, number=number)
    assert [d["frozen"] for d in listed["documents"]] == [True, True]
    # The database refuses it too, whoever writes (DOC-6's trigger, migration 0017).
    with pytest.raises(DBAPIError, match="DOCUMENT_FROZEN"), runtime.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO documents (file_sha256, kind, county_code, nr_case_id, file_name,"
            " uploaded_by, uploaded_at, removal_reason) SELECT file_sha256, kind, county_code,"
            " nr_case_id, '', uploaded_by, now(), '' FROM documents WHERE id = :id"),
            {"id": int(survey["id"])})
