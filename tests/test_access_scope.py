"""County scope: a 通江县 clerk gets FORBIDDEN and no data for 南江县's files, in queries and
mutations; roles limit what each user may do."""

from __future__ import annotations

import pytest

from registry.runtime import Runtime
from tests.bureau import Bureau, person, square
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot


@pytest.fixture
def counties(gql: GraphQLClient, users: Users) -> dict[str, object]:
    nanjiang, tongjiang = Bureau(gql, users, "511922"), Bureau(gql, users, "511921")
    house = nanjiang.rural_house()
    case = nanjiang.register("FIRST", [house["code"]], holders=[{"party": person("何家福")}])
    open_case = nanjiang.submit("FIRST", [nanjiang.rural_house()["code"]],
                                holders=[{"party": person("何家贵")}])
    return {"nanjiang": nanjiang, "tongjiang": tongjiang, "house": house, "case": case,
            "open_case": open_case}


def forbidden(gql: GraphQLClient, name: str, variables: dict, headers: dict) -> None:
    body = gql(operation(name), variables, headers)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["data"] is None or all(v is None for v in body["data"].values())
    text = str(body)
    assert "何家" not in text  # no names leak in the error


def test_another_countys_unit_parcel_and_case_are_forbidden(counties: dict,
                                                            gql: GraphQLClient) -> None:
    tj = counties["tongjiang"].clerk
    house, case = counties["house"], counties["case"]
    forbidden(gql, "Unit", {"code": house["code"]}, tj)
    forbidden(gql, "Application", {"number": case["number"]}, tj)
    body = gql("query($c: String!) { parcel(code: $c) { parcel { code } } }",
               {"c": house["parcel"]["code"]}, tj)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    forbidden(gql, "Units", {"filter": {"countyCode": "511922"}}, tj)
    forbidden(gql, "Applications", {"filter": {"countyCode": "511922"}}, tj)


def test_lists_show_only_your_county(counties: dict, gql: GraphQLClient) -> None:
    tj = counties["tongjiang"].clerk
    assert gql.data(operation("Units"), {}, tj)["units"]["edges"] == []
    assert gql.data(operation("Applications"), {}, tj)["applications"]["edges"] == []
    holder = gql.data(operation("Party"), {"idType": "RESIDENT_ID",
                                          "idNumber": "x"}, tj)["party"]
    assert holder is None


def test_another_countys_files_cannot_be_changed(counties: dict, gql: GraphQLClient,
                                                 runtime: Runtime, users: Users) -> None:
    tongjiang = counties["tongjiang"]
    nanjiang_parcel = counties["nanjiang"].parcel_code("JC")
    before = snapshot(runtime)
    for name, variables, headers in [
        ("CreateParcel", {"input": {"code": nanjiang_parcel, "geometry": square("511922", 99),
                                    "crs": 4545}}, tongjiang.clerk),
        ("CreateUnit", {"input": {"parcelCode": counties["house"]["parcel"]["code"],
                                  "kind": "RURAL_HOUSE", "buildingNo": 2, "unitNo": 1,
                                  "house": {"floors": 1, "structure": "木", "floorArea": "50"}}},
         tongjiang.clerk),
        ("SubmitApplication", {"input": {"kind": "SEIZURE", "unitCodes": [
            counties["house"]["code"]], "authority": "通江县法院", "documentNo": "1"}},
         tongjiang.clerk),
        ("AcceptApplication", {"number": counties["open_case"]["number"]}, tongjiang.clerk),
        ("WithdrawApplication", {"number": counties["open_case"]["number"], "reason": "x"},
         tongjiang.clerk),
    ]:
        body = gql(operation(name), variables, headers)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], name
    assert snapshot(runtime) == before


def test_roles_limit_what_a_user_may_do(counties: dict, gql: GraphQLClient, users: Users,
                                        runtime: Runtime) -> None:
    statistician = users.add("stats", "statistician")
    auditor = users.add("audit", "auditor")
    house = counties["house"]["code"]
    assert gql.error_codes(operation("Unit"), {"code": house}, statistician) == ["FORBIDDEN"]
    # The auditor reads every county ...
    assert gql.data(operation("Unit"), {"code": house}, auditor)["unit"]["code"] == house
    # ... and writes nothing.
    before = snapshot(runtime)
    assert gql.error_codes(operation("AcceptApplication"),
                           {"number": counties["open_case"]["number"]}, auditor) == ["FORBIDDEN"]
    assert snapshot(runtime) == before
    # Without a token nothing of the register is visible.
    assert gql.error_codes(operation("Unit"), {"code": house}) == ["UNAUTHENTICATED"]


def test_every_change_is_audited_with_who_and_request_id(counties: dict,
                                                         runtime: Runtime) -> None:
    from sqlalchemy import text

    with runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT username, operation, target, request_id"
                                 " FROM audit_log ORDER BY id")).all()
    operations = [r.operation for r in rows]
    assert operations[:2] == ["createParcel", "createUnit"]
    assert {"submitApplication", "acceptApplication", "reviewApplication",
            "recordApplication"} <= set(operations)
    assert all(r.request_id for r in rows)
    recorded = next(r for r in rows if r.operation == "recordApplication")
    assert recorded.username == "511922-registrar"
    assert recorded.target == counties["case"]["number"]


def test_the_party_query_is_no_oracle_for_other_countys_people(gql: GraphQLClient, users: Users,
                                                               runtime: Runtime) -> None:
    """ACCESS-6 (registry/services/reads.py party_tree): a 通江县 clerk asking for someone who
    holds nothing and has no case in 通江县 gets null, exactly as for an ID nobody has; people
    with a right or a case there stay visible; unscoped readers find everyone."""
    nanjiang, tongjiang = Bureau(gql, users, "511922"), Bureau(gql, users, "511921")
    owner, applicant, both = person("何家福"), person("何家贵"), person("何家兴")
    house = nanjiang.rural_house()["code"]
    nanjiang.register("FIRST", [house], holders=[{"party": owner}, {"party": both}],
                      coOwnership="JOINT")
    nanjiang.submit("FIRST", [nanjiang.rural_house()["code"]], holders=[{"party": applicant}])
    tongjiang.submit("FIRST", [tongjiang.rural_house()["code"]], holders=[{"party": both}])
    nobody = person("无此人")["idNumber"]
    auditor, admin = users.add("audit", "auditor"), users.add("boss", "admin")

    def ask(who: dict, headers: dict[str, str]) -> dict:
        return gql(operation("Party"), {"idType": "RESIDENT_ID", "idNumber": who["idNumber"]},
                   headers)

    before = snapshot(runtime)
    unknown = gql(operation("Party"), {"idType": "RESIDENT_ID", "idNumber": nobody},
                  tongjiang.clerk)
    assert unknown == {"data": {"party": None}}
    for someone in (owner, applicant):  # a right, a case — both in 南江县 only
        answer = ask(someone, tongjiang.clerk)
        assert answer == unknown, someone["name"]
        assert "何家" not in str(answer)
    # A case in 通江县 makes 何家兴 visible there; the holding in 南江县 stays out of sight.
    seen = ask(both, tongjiang.clerk)["data"]["party"]
    assert seen["party"]["name"] == "何家兴" and seen["holdings"] == []
    # In 南江县 all three are visible as before, with what they hold there.
    for someone, holdings in ((owner, [house]), (applicant, []), (both, [house])):
        found = ask(someone, nanjiang.clerk)["data"]["party"]
        assert found["party"]["name"] == someone["name"]
        assert [h["unitCode"] for h in found["holdings"]] == holdings
    # Readers without a county scope find every party, wherever it holds.
    for headers in (auditor, admin):
        found = ask(owner, headers)["data"]["party"]
        assert [h["unitCode"] for h in found["holdings"]] == [house]
        assert ask(applicant, headers)["data"]["party"]["party"]["name"] == "何家贵"
    assert snapshot(runtime) == before  # reading changes nothing
