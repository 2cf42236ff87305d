"""Asset audit (清产核资): holdings by holder, kind, county and land use with their restrictions,
CSV and XLSX exports whose totals are right, ID numbers masked; the auditor reads every county
and can change nothing."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from starlette.testclient import TestClient

from registry.api.schema import build_schema
from registry.config import Settings
from registry.runtime import Runtime
from tests.bureau import Bureau, organisation, person, square
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_cli import run_registry, server_env


@pytest.fixture
def assets(gql: GraphQLClient, users: Users) -> dict[str, Any]:
    """平昌县: a road and a bridge of the transport bureau, a mortgaged and seized house;
    通江县: a house held jointly."""
    pingchang = Bureau(gql, users, "511923")
    tongjiang = Bureau(gql, users, "511921")
    body = organisation("平昌县交通运输局", "GOVERNMENT")
    road = pingchang.road()["code"]
    pingchang.register("FIRST", [road], holders=[{"party": body}], rightType=3,
                       rightNature=101)
    bridge_parcel = pingchang.create_parcel("GB", "1003")["parcel"]["code"]
    bridge = pingchang.create_unit(bridge_parcel, "INFRASTRUCTURE", buildingNo=1, unitNo=1,
                                   infrastructure={"category": "BRIDGE",
                                                   "managingBody": "平昌县交通运输局",
                                                   "bookValue": "1200000.50"})["code"]
    pingchang.register("FIRST", [bridge], holders=[{"party": body}])
    owner = person("王大山")
    house = pingchang.rural_house()["code"]
    pingchang.register("FIRST", [house], holders=[{"party": owner}])
    pingchang.register("MORTGAGE", [house], holders=[{"party": organisation("农商银行")}],
                       amount="50000")
    pingchang.register("SEIZURE", [house], authority="平昌县人民法院", documentNo="(2026)执1号")
    tj_house = tongjiang.create_unit(
        tongjiang.create_parcel(geometry=square("511921", 3))["parcel"]["code"], "RURAL_HOUSE",
        buildingNo=1, unitNo=1,
        house={"floors": 1, "structure": "土木", "floorArea": "80.25"})["code"]
    tongjiang.register("FIRST", [tj_house], holders=[{"party": person("刘一")},
                                                     {"party": person("周二")}],
                       coOwnership="JOINT")
    return {"road": road, "bridge": bridge, "house": house, "tj_house": tj_house,
            "owner": owner, "body": body, "auditor": users.add("auditor", "auditor"),
            "pingchang": pingchang}


def test_an_auditor_lists_holdings_of_every_county_with_restrictions(
        gql: GraphQLClient, assets: dict[str, Any]) -> None:
    page = gql.data(operation("AuditedHoldings"), {"first": 50},
                    assets["auditor"])["auditedHoldings"]
    rows = [e["node"] for e in page["edges"]]
    assert [(r["unitCode"], r["holder"]["name"]) for r in rows] == sorted(
        [(assets["road"], "平昌县交通运输局"), (assets["bridge"], "平昌县交通运输局"),
         (assets["house"], "王大山"), (assets["tj_house"], "刘一"),
         (assets["tj_house"], "周二")])
    house = next(r for r in rows if r["unitCode"] == assets["house"])
    assert house["mortgaged"] is True and house["seized"] is True
    number = assets["owner"]["idNumber"]
    assert house["holder"]["idNumber"] == number[:6] + "*" * 8 + number[-4:]
    assert house["landArea"] == "400.00" and house["floorArea"] == "126.50"
    road = next(r for r in rows if r["unitCode"] == assets["road"])
    assert road["bookValue"] == "3800000.00" and road["mortgaged"] is False
    assert road["holder"]["kind"] == "GOVERNMENT"

    restricted = gql.data(operation("AuditedHoldings"), {"filter": {"restricted": "SEIZED"}},
                          assets["auditor"])["auditedHoldings"]["edges"]
    assert [e["node"]["unitCode"] for e in restricted] == [assets["house"]]
    # pages: two at a time, no row lost or repeated
    seen, after = [], None
    while True:
        page = gql.data(operation("AuditedHoldings"), {"first": 2, "after": after},
                        assets["auditor"])["auditedHoldings"]
        seen += [(e["node"]["unitCode"], e["node"]["holder"]["name"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [(r["unitCode"], r["holder"]["name"]) for r in rows]
    # one county, paged: its holdings only (its codes' range, AUDIT-4's keyset), none lost
    for county, expected in (("511921", [assets["tj_house"]] * 2),
                             ("511923", sorted([assets["road"], assets["bridge"],
                                                assets["house"]]))):
        seen, after = [], None
        while True:
            page = gql.data(operation("AuditedHoldings"),
                            {"first": 1, "after": after, "filter": {"countyCode": county}},
                            assets["auditor"])["auditedHoldings"]
            seen += [e["node"]["unitCode"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == expected


def test_holder_summaries_group_by_county_kind_and_land_use(
        gql: GraphQLClient, assets: dict[str, Any]) -> None:
    summaries = gql.data(operation("HolderSummaries"),
                         {"filter": {"holderKinds": ["GOVERNMENT", "PUBLIC_INSTITUTION"]}},
                         assets["auditor"])["holderSummaries"]["edges"]
    [body] = [e["node"] for e in summaries]
    assert body["holder"]["name"] == "平昌县交通运输局" and "*" in body["holder"]["idNumber"]
    assert body["totalUnits"] == 2
    [group] = body["groups"]
    assert (group["countyCode"], group["unitKind"], group["landUseCode"], group["units"]) == (
        "511923", "INFRASTRUCTURE", "1003", 2)
    assert group["landArea"] == "800.00" and Decimal(group["bookValue"]) == Decimal(
        "5000000.50")


def test_exports_have_masked_ids_and_right_totals(client: TestClient,
                                                  assets: dict[str, Any]) -> None:
    headers = assets["auditor"]
    response = client.get("/exports/holdings.xlsx?countyCode=511923", headers=headers)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[0] == "不动产单元号" and len(body) == 3
    column = {name: i for i, name in enumerate(header)}
    for name in ("分摊土地面积(m²)", "建筑/车位面积(m²)", "账面价值(元)"):
        values = [Decimal(str(r[column[name]])) for r in body if r[column[name]] is not None]
        assert Decimal(str(total[column[name]])) == sum(values), name
    assert Decimal(str(total[column["账面价值(元)"]])) == Decimal("5000000.5")
    assert total[0] == "合计 3" and total[column["查封"]] == 1
    # coded values are written as their Chinese labels, the API's enum name beside them
    kinds = {(r[column["单元类型"]], r[column["单元类型代码"]]) for r in body}
    assert ("公共基础设施", "INFRASTRUCTURE") in kinds
    assert all(label != code.lower() for label, code in kinds)
    holders = {(r[column["权利人类型"]], r[column["权利人类型代码"]]) for r in body}
    assert ("国家机关", "GOVERNMENT") in holders
    assert assets["owner"]["idNumber"] not in response.content.decode("latin-1")

    text = client.get("/exports/holdings.csv", headers=headers).content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert len(lines) == 1 + 5 + 1 and lines[-1][0] == "合计 5"
    assert assets["owner"]["idNumber"] not in text
    assert any("********" in cell for line in lines for cell in line)
    at = lines[0].index("单元类型")
    labels = {"农房（房地一体）", "公共基础设施", "车位", "土地"}
    assert {line[at] for line in lines[1:-1]} <= labels
    assert "rural_house" not in text and "person" not in text


@pytest.mark.parametrize("who, status, code", [("anonymous", 401, "UNAUTHENTICATED"),
                                               ("clerk", 403, "FORBIDDEN"),
                                               ("statistician", 403, "FORBIDDEN")])
def test_exports_are_for_auditors(client: TestClient, users: Users, assets: dict[str, Any],
                                  who: str, status: int, code: str) -> None:
    headers = {"anonymous": {}, "clerk": assets["pingchang"].clerk,
               "statistician": users.add("s", "statistician")}[who]
    response = client.get("/exports/holdings.csv", headers=headers)
    assert response.status_code == status and response.json()["code"] == code


def test_cli_export(settings: Settings, tmp_path: Path, assets: dict[str, Any]) -> None:
    out = tmp_path / "holdings.xlsx"
    result = run_registry("audit", "holdings", "--format", "xlsx", "--output", str(out),
                          "--user", "auditor", "--holder-kind", "government",
                          env=server_env(settings))
    assert result.returncode == 0, result.stderr
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 2 + 1 and rows[-1][0] == "合计 2"


# Every mutation of the schema, with arguments that reach its permission check.
UUID0 = "00000000-0000-4000-8000-000000000000"
# Each mutation with an operation file's name (or the text of an inline mutation) and variables.
MUTATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "createParcel": ("CreateParcel", {"input": {
        "code": "511923101003JC09999", "geometry": square("511923", 700), "crs": 4545,
        "landUseCode": "0702", "location": "x"}}),
    "createUnit": ("CreateUnit", {"input": {"parcelCode": "511923101003JC09999",
                                            "kind": "LAND"}}),
    "submitApplication": ("SubmitApplication", {"input": {
        "kind": "FIRST", "unitCodes": ["511923101003JC00001F00010001"],
        "holders": [{"party": person("某人")}]}}),
    "acceptApplication": ("AcceptApplication", {"number": "X"}),
    "refuseApplication": ("RefuseApplication", {"number": "X", "reason": "r"}),
    "reviewApplication": ("ReviewApplication", {"number": "X", "comment": "c"}),
    "rejectApplication": ("RejectApplication", {"number": "X", "reason": "r"}),
    "recordApplication": ("RecordApplication", {"number": "X"}),
    "certifyApplication": ("CertifyApplication", {"number": "X"}),
    "withdrawApplication": ("WithdrawApplication", {"number": "X", "reason": "r"}),
    "setCompletionTarget": ("SetCompletionTarget", {"countyCode": "511923", "year": 2026,
                                                    "target": "0.5"}),
    "importSurvey": ("ImportSurvey", {"input": {"geometry": {"name": "a.geojson",
                                                             "contentBase64": "e30="}}}),
    # the quota ledger
    "postTransfers": ("PostTransfers", {"transfers": [{
        "id": "00000000-0000-4000-8000-000000000001", "debitAccountId": 1,
        "creditAccountId": 2, "amount": "1", "code": "CORRECTION"}]}),
    "openLedgerAccounts": (
        'mutation { openLedgerAccounts(holder: {kind: COUNTY, id: "511923", name: "平昌县"},'
        " quotaType: LINKAGE_SURPLUS) { id } }", {}),
    "issueLot": (
        'mutation { issueLot(input: {lotId: "00000000-0000-4000-8000-000000000002",'
        ' quotaType: LINKAGE_SURPLUS, projectName: "p", acceptanceDocNo: "d", vintageYear: 2026,'
        ' countyCode: "511923", sourceParcels: [], area: "1"}) { id } }', {}),
    "listLot": (f"mutation {{ listLot(operationId: \"{UUID0}\", lotId: \"{UUID0}\") {{ id }} }}",
                {}),
    "delistLot": (f"mutation {{ delistLot(operationId: \"{UUID0}\", lotId: \"{UUID0}\")"
                  " { id } }", {}),
    "tradeLot": (
        f'mutation {{ tradeLot(input: {{tradeId: "{UUID0}", lotId: "{UUID0}", buyer: '
        '{kind: COUNTY, id: "511902", name: "巴州区"}, pricePerMuFen: "1"}) { id } }', {}),
    "settleTrade": (f'mutation {{ settleTrade(operationId: "{UUID0}", tradeId: "{UUID0}",'
                    " post: true) { id } }", {}),
    "writeOffLot": (
        f'mutation {{ writeOffLot(input: {{operationId: "{UUID0}", lotId: "{UUID0}",'
        ' consumerKind: PROJECT, consumerName: "n", consumerReference: "r", parcels: []})'
        " { id } }", {}),
    "revokeLot": (f'mutation {{ revokeLot(operationId: "{UUID0}", lotId: "{UUID0}",'
                  ' reason: "r") { id } }', {}),
    "expirePendingTransfers": ("mutation { expirePendingTransfers { id } }", {}),
    # scanned documents (uploads are multipart: see UPLOADS)
    "uploadDocument": ("UploadDocument", {"kind": "ID_PROOF",
                                          "target": {"unitCode": "511923101003JC00001F00010001"}}),
    "replaceDocument": ("ReplaceDocument", {"id": "1"}),
    "removeDocument": ("RemoveDocument", {"id": "1", "reason": "r"}),
    "requestUpload": ("RequestUpload", {"input": {
        "kind": "ID_PROOF", "target": {"unitCode": "511923101003JC00001F00010001"},
        "size": 10, "sha256": "0" * 64}}),
    "completeUpload": ("CompleteUpload", {"uploadId": "x"}),
    "setDocumentRequirements": ("SetDocumentRequirements", {"applicationKind": "FIRST",
                                                            "documentKinds": []}),
    "retrySurveyImport": ("RetrySurveyImport", {"id": "1"}),
    # papers
    "printPaper": ("PrintPaper", {"input": {"number": "川(2026)平昌县不动产权第0000001号"}}),
    "receiveForms": ("ReceiveForms", {"input": {"kind": "RIGHT", "firstSerial": "5119230000001",
                                                "count": 5}}),
    "voidFormSerial": ("VoidFormSerial", {"serial": "5119230000001", "reason": "r"}),
    "printRegisterExtract": ("PrintRegisterExtract",
                             {"unitCode": "511923101003JC00001F00010001"}),
    "printQueryResult": ("PrintQueryResult", {"input": {
        "unitCode": "511923101003JC00001F00010001", "purpose": "购房查询", "requester": {
            "name": "李四", "idType": "RESIDENT_ID", "idNumber": "11010519491231002X",
            "kind": "INTERESTED"}}}),
    # natural-resource registration
    "predelimitNaturalUnit": ("PredelimitNaturalUnit", {"code": "511922220000001", "input": {
        "name": "n", "unitType": "22", "countyCode": "511922", "authority": "a",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}}),
    "issueNaturalNotice": ("IssueNaturalNotice", {"number": "ZR1", "noticeNo": "n"}),
    "recordNaturalSurvey": ("RecordNaturalSurvey", {"number": "ZR1"}),
    "reviewNaturalCase": ("ReviewNaturalCase", {"number": "ZR1"}),
    "publishNaturalCase": ("PublishNaturalCase", {"number": "ZR1"}),
    "receiveNaturalObjection": ("ReceiveNaturalObjection", {"number": "ZR1", "objector": "o",
                                                            "content": "c"}),
    "answerNaturalObjection": ("AnswerNaturalObjection", {"id": "1", "answer": "a",
                                                          "upheld": False}),
    "recordNaturalCase": ("RecordNaturalCase", {"number": "ZR1"}),
    "openNaturalCase": ("OpenNaturalCase", {"unitCode": "511922220000001",
                                            "kind": "CANCELLATION", "reason": "r"}),
    "addNaturalLicence": ('mutation { addNaturalLicence(unitCode: "511922220000001", input: '
                          '{kind: "mining", licenceNo: "C1", holder: "h"}) { id } }', {}),
    "endNaturalLicence": ('mutation { endNaturalLicence(id: "1") { id } }', {}),
    "setNaturalAttributes": ('mutation { setNaturalAttributes(unitCode: "511922220000001", '
                             'resourceType: "forest", values: {}) { resourceType } }', {}),
    "issueNaturalRegister": ("IssueNaturalRegister", {"unitCode": "511922220000001",
                                                      "purpose": "查询"}),
    "issueNaturalNoticePaper": ("IssueNaturalNoticePaper", {"number": "ZR1"}),
    "issueNaturalCertificate": ("IssueNaturalCertificate", {"unitCode": "511922220000001"}),
}
# Mutations that take a file, sent as GraphQL multipart requests.
UPLOADS = {"uploadDocument", "replaceDocument"}


def test_every_mutation_is_listed_here() -> None:
    mutation = build_schema()._schema.mutation_type
    assert mutation is not None
    assert set(mutation.fields) == set(MUTATIONS)


def test_an_auditor_cannot_change_anything(gql: GraphQLClient, runtime: Runtime,
                                           assets: dict[str, Any]) -> None:
    state = snapshot(runtime)
    for name, (op, variables) in MUTATIONS.items():
        text = op if op.startswith("mutation") else operation(op)
        if name in UPLOADS:
            body = gql.upload(text, variables, {"file": ("scan.png", b"\x89PNG")},
                              assets["auditor"])
            codes = [e["extensions"]["code"] for e in body["errors"]]
        else:
            codes = gql.error_codes(text, variables, assets["auditor"])
        assert codes == ["FORBIDDEN"], name
    assert snapshot(runtime) == state
