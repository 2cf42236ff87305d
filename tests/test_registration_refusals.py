"""Every bad input gets its own code and changes nothing: neither rows nor bucket."""

from __future__ import annotations

from typing import Any

import pytest

from registry.runtime import Runtime
from tests.bureau import Bureau, person, resident_id, square
from tests.conftest import Users
from tests.operations import operation
from tests.snapshot import snapshot


def refused(bureau: Bureau, runtime: Runtime, name: str, variables: dict[str, Any],
            as_: dict[str, str] | None = None) -> list[str]:
    """Send an operation that must fail; assert it changed nothing; return its error codes."""
    before = snapshot(runtime)
    codes = bureau.gql.error_codes(operation(name), variables, as_ or bureau.clerk)
    assert snapshot(runtime) == before, f"{name} refused with {codes} but changed data"
    return codes


def parcel_input(bureau: Bureau, **overrides: Any) -> dict[str, Any]:
    data = {"code": bureau.parcel_code("JC"), "geometry": square("511923", 40), "crs": 4545,
            "landUseCode": "0702", "location": "平昌县江口镇某村"}
    return {"input": {**data, **overrides}}


# ------------------------------------------------------------------ parcels


@pytest.mark.parametrize(("overrides", "code"), [
    ({"code": "511923101003JC0001"}, "INVALID_PARCEL_CODE"),  # 18 characters
    ({"code": "511923101003QC00001"}, "INVALID_PARCEL_CODE"),  # no such ownership letter
    ({"code": "511923101003GC00001"}, "INVALID_PARCEL_CODE"),  # homestead on state land
    ({"code": "110105101003JC00001"}, "INVALID_PARCEL_CODE"),  # a county not ours
    ({"geometry": {"type": "Polygon", "coordinates": [[[414600, 3493400], [414620, 3493420],
                                                       [414620, 3493400], [414600, 3493420],
                                                       [414600, 3493400]]]}},
     "INVALID_GEOMETRY"),  # a bow tie: self-intersecting
    ({"geometry": {"type": "Polygon", "coordinates": []}}, "INVALID_GEOMETRY"),  # empty
    ({"geometry": {"type": "Point", "coordinates": [414600, 3493400]}}, "INVALID_GEOMETRY"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[1, 2], [3]]]}}, "INVALID_GEOMETRY"),
    ({"crs": 4326}, "WRONG_CRS"),  # WGS 84: not CGCS2000
    ({"crs": 4490}, "WRONG_CRS"),  # metres read as degrees
    ({"crs": 4544}, "WRONG_CRS"),  # the neighbouring zone puts it outside the city
    ({"landUseCode": "9999"}, "UNKNOWN_LAND_USE"),
    ({"layer": "UNDERGROUND", "elevationBottom": "-6", "elevationTop": "-1"},
     "LAYER_MISMATCH"),  # JC is a surface right
    ({"declaredArea": "-5"}, "INVALID_AREA"),
])
def test_a_bad_parcel_is_refused_with_its_code(pingchang: Bureau, runtime: Runtime,
                                               overrides: dict[str, Any], code: str) -> None:
    assert refused(pingchang, runtime, "CreateParcel", parcel_input(pingchang, **overrides)) == [
        code]


def test_a_self_intersection_says_where(pingchang: Bureau) -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[414600, 3493400], [414620, 3493420],
                                                   [414620, 3493400], [414600, 3493420],
                                                   [414600, 3493400]]]}
    body = pingchang.gql(operation("CreateParcel"), parcel_input(pingchang, geometry=bow_tie),
                         pingchang.clerk)
    details = body["errors"][0]["extensions"]["details"]
    assert details["reason"].startswith("Self-intersection")
    assert details["location"] == "414610 3493410"


def test_a_layer_mismatch_names_the_layers_in_chinese_and_the_enum_in_details(
        pingchang: Bureau) -> None:
    body = pingchang.gql(operation("CreateParcel"), parcel_input(
        pingchang, layer="UNDERGROUND", elevationBottom="-6", elevationTop="-1"), pingchang.clerk)
    [error] = body["errors"]
    assert "对应地表层" in error["extensions"]["messageZh"]
    assert "地下" in error["extensions"]["messageZh"]
    assert error["extensions"]["details"]["expected"] == "SURFACE"


def test_an_overlapping_parcel_is_refused_naming_the_other(pingchang: Bureau,
                                                           runtime: Runtime) -> None:
    first = pingchang.create_parcel(geometry=square("511923", 60))["parcel"]
    shifted = square("511923", 60, dx=5.0)  # 15 × 20 m shared
    codes = refused(pingchang, runtime, "CreateParcel", parcel_input(pingchang, geometry=shifted))
    assert codes == ["PARCEL_OVERLAP"]
    body = pingchang.gql(operation("CreateParcel"), parcel_input(pingchang, geometry=shifted),
                         pingchang.clerk)
    details = body["errors"][0]["extensions"]["details"]
    assert details["other_parcel"] == first["code"] and details["overlap_m2"] == "300.00"


def test_touching_parcels_and_a_sliver_within_tolerance_are_accepted(pingchang: Bureau) -> None:
    pingchang.create_parcel(geometry=square("511923", 70))
    pingchang.create_parcel(geometry=square("511923", 70, dx=20.0))  # shares an edge
    pingchang.create_parcel(geometry=square("511923", 70, dx=39.998))  # 0.04 m² overlap


def test_underground_parcels_clash_only_where_depths_meet(pingchang: Bureau,
                                                         runtime: Runtime) -> None:
    ground = square("511923", 80)
    pingchang.create_parcel("JC", geometry=ground)  # the surface above
    garage = {"layer": "UNDERGROUND", "elevationBottom": "-9.00", "elevationTop": "-3.00"}
    pingchang.create_parcel("GX", "0701", geometry=ground, **garage)  # under the surface: fine
    # A second level directly below the first, sharing only the plane at -9 m: fine.
    pingchang.create_parcel("GX", "0701", geometry=ground, layer="UNDERGROUND",
                            elevationBottom="-15.00", elevationTop="-9.00")
    # One whose depth overlaps the first garage's: refused.
    clash = parcel_input(pingchang, code=pingchang.parcel_code("GX"), landUseCode="0701",
                         geometry=ground, layer="UNDERGROUND", elevationBottom="-5.00",
                         elevationTop="-1.00")
    assert refused(pingchang, runtime, "CreateParcel", clash) == ["PARCEL_OVERLAP"]


def test_the_database_itself_refuses_an_overlap(runtime: Runtime, pingchang: Bureau) -> None:
    """PARCEL-2 holds even for a writer that skips the service (e.g. a bulk import)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    pingchang.create_parcel(geometry=square("511923", 90))
    x, y = (c for c in square("511923", 90)["coordinates"][0][0])
    with pytest.raises(DBAPIError) as raised, runtime.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO parcels (code, county_code, layer, geom, land_use_system,"
            " land_use_code, location) VALUES ('511923101003JC09999', '511923', 'surface',"
            " ST_Multi(ST_MakeEnvelope(:x, :y, :x + 10, :y + 10, 4545)), 'GB/T 21010-2017',"
            " '0702', '')"), {"x": x, "y": y})
    assert "PARCEL_OVERLAP" in str(raised.value)


# ------------------------------------------------------------------ units


def test_bad_units_are_refused(pingchang: Bureau, runtime: Runtime) -> None:
    homestead = pingchang.create_parcel("JC")["parcel"]["code"]
    road = pingchang.create_parcel("GB", "1003")["parcel"]["code"]
    house = {"floors": 2, "structure": "砖混", "floorArea": "100"}

    def unit(**data: Any) -> list[str]:
        return refused(pingchang, runtime, "CreateUnit", {"input": data})

    assert unit(parcelCode=road, kind="RURAL_HOUSE", buildingNo=1, unitNo=1,
                house=house) == ["KIND_MISMATCH"]  # a rural house on state road land
    assert unit(parcelCode=homestead, kind="RURAL_HOUSE", buildingNo=0, unitNo=1,
                house=house) == ["INVALID_UNIT_CODE"]  # building number 0000
    assert unit(parcelCode=homestead, kind="RURAL_HOUSE", buildingNo=1, unitNo=1,
                house={**house, "floorArea": "0"}) == ["INVALID_ATTRIBUTE"]
    assert unit(parcelCode=homestead, kind="PARKING_SPACE", buildingNo=1, unitNo=1,
                parkingSpace={"garage": "g", "level": -1, "spaceNo": "1", "area": "12"}) == [
        "KIND_MISMATCH"]  # a parking space on homestead land
    assert unit(parcelCode="511923101003JC99999", kind="LAND") == ["NOT_FOUND"]
    pingchang.create_unit(homestead, "RURAL_HOUSE", buildingNo=1, unitNo=1, house=house)
    assert unit(parcelCode=homestead, kind="RURAL_HOUSE", buildingNo=1, unitNo=1,
                house=house) == ["UNIT_EXISTS"]


# ------------------------------------------------------------------ applications


def test_bad_applications_are_refused(pingchang: Bureau, runtime: Runtime) -> None:
    code = pingchang.rural_house()["code"]
    owner = person("王大山")

    def submit(**data: Any) -> list[str]:
        return refused(pingchang, runtime, "SubmitApplication",
                       {"input": {"kind": "FIRST", "unitCodes": [code], **data}})

    assert submit(unitCodes=["511923101003JC00001F0001000X"]) == ["INVALID_UNIT_CODE"]
    assert submit(holders=[]) == ["HOLDERS_REQUIRED"]
    wrong = dict(owner, idNumber=owner["idNumber"][:-1] + ("0" if owner["idNumber"][-1] != "0"
                                                           else "1"))
    assert submit(holders=[{"party": wrong}]) == ["INVALID_ID_NUMBER"]
    two = [{"party": person("甲"), "share": "1/3"}, {"party": person("乙"), "share": "1/2"}]
    assert submit(holders=two, coOwnership="SHARES") == ["SHARES_NOT_ONE"]
    assert submit(holders=two[:1], coOwnership="SHARES") == ["SHARES_NOT_ONE"]
    assert submit(holders=[{"party": person("甲"), "share": "x/y"}],
                  coOwnership="SHARES") == ["INVALID_SHARE"]
    assert submit(holders=[{"party": person("甲")}, {"party": person("乙")}]) == [
        "CO_OWNERSHIP_REQUIRED"]
    assert submit(holders=[{"party": owner}, {"party": owner}], coOwnership="JOINT") == [
        "DUPLICATE_HOLDER"]
    assert submit(kind="TRANSFER", holders=[{"party": owner}]) == ["NO_CURRENT_TITLE"]
    assert submit(kind="MORTGAGE", holders=[{"party": owner}]) == ["INVALID_AMOUNT"]
    assert submit(kind="SEIZURE") == ["SEIZURE_ORDER_REQUIRED"]
    assert submit(kind="SEIZURE_RELEASE") == ["TARGET_REQUIRED"]
    pingchang.register("FIRST", [code], holders=[{"party": owner}])
    assert submit(holders=[{"party": owner}]) == ["ALREADY_REGISTERED"]
    renamed = dict(owner, name="王小山")
    assert submit(kind="TRANSFER", holders=[{"party": renamed}]) == ["PARTY_NAME_MISMATCH"]


def test_one_open_title_case_per_unit(pingchang: Bureau, runtime: Runtime) -> None:
    code = pingchang.rural_house()["code"]
    pingchang.submit("FIRST", [code], holders=[{"party": person("甲")}])
    assert refused(pingchang, runtime, "SubmitApplication",
                   {"input": {"kind": "FIRST", "unitCodes": [code],
                              "holders": [{"party": person("乙")}]}}) == ["UNIT_HAS_OPEN_CASE"]


def test_illegal_transitions_and_separation_of_duties(pingchang: Bureau, users: Users,
                                                       runtime: Runtime) -> None:
    code = pingchang.rural_house()["code"]
    number = pingchang.submit("FIRST", [code], holders=[{"party": person("王大山")}])["number"]
    step = {"number": number}
    # Not yet accepted: cannot be reviewed or recorded.
    assert refused(pingchang, runtime, "ReviewApplication", step, pingchang.reviewer) == [
        "ILLEGAL_TRANSITION"]
    assert refused(pingchang, runtime, "RecordApplication", step, pingchang.registrar) == [
        "ILLEGAL_TRANSITION"]
    # The refusal names the state and the step in Chinese, the state's enum name in details.
    [error] = pingchang.gql(operation("ReviewApplication"), step, pingchang.reviewer)["errors"]
    assert error["extensions"]["messageZh"] == "业务当前状态为“已申请”，不能审核"
    assert error["extensions"]["details"] == {"state": "SUBMITTED", "action": "review"}
    # A reviewer cannot accept (wrong role).
    assert refused(pingchang, runtime, "AcceptApplication", step, pingchang.reviewer) == [
        "FORBIDDEN"]
    # Whoever accepted may not review: a clerk who is also a reviewer.
    both = users.add("pc-both", "clerk", "reviewer", county="511923")
    pingchang.attach_required(number)
    pingchang.gql.data(operation("AcceptApplication"), step, both)
    assert refused(pingchang, runtime, "ReviewApplication", step, both) == [
        "SEPARATION_OF_DUTIES"]
    # Whoever reviewed may not record.
    both2 = users.add("pc-both2", "reviewer", "registrar", county="511923")
    pingchang.gql.data(operation("ReviewApplication"), step, both2)
    assert refused(pingchang, runtime, "RecordApplication", step, both2) == [
        "SEPARATION_OF_DUTIES"]
    # A refusal needs a reason; a recorded case cannot be withdrawn.
    assert refused(pingchang, runtime, "RejectApplication", {**step, "reason": " "},
                   pingchang.reviewer) == ["REASON_REQUIRED"]
    pingchang.record(number)
    assert refused(pingchang, runtime, "WithdrawApplication", {**step, "reason": "不办了"}) == [
        "ILLEGAL_TRANSITION"]


def test_refused_rejected_and_withdrawn_cases_keep_their_history(pingchang: Bureau) -> None:
    gql = pingchang.gql
    owner = [{"party": person("王大山")}]
    refused_case = pingchang.submit("FIRST", [pingchang.rural_house()["code"]], holders=owner)
    result = gql.data(operation("RefuseApplication"),
                      {"number": refused_case["number"], "reason": "材料不全"}, pingchang.clerk)
    assert result["refuseApplication"]["state"] == "REFUSED"

    rejected_case = pingchang.submit("FIRST", [pingchang.rural_house()["code"]], holders=owner)
    pingchang.accept(rejected_case["number"])
    result = gql.data(operation("RejectApplication"),
                      {"number": rejected_case["number"], "reason": "权属争议"},
                      pingchang.reviewer)
    assert result["rejectApplication"]["state"] == "REJECTED"

    withdrawn = pingchang.submit("FIRST", [pingchang.rural_house()["code"]], holders=owner)
    result = gql.data(operation("WithdrawApplication"),
                      {"number": withdrawn["number"], "reason": "申请人撤回"}, pingchang.clerk)
    assert result["withdrawApplication"]["state"] == "WITHDRAWN"

    case = gql.data(operation("Application"), {"number": rejected_case["number"]},
                    pingchang.clerk)["application"]
    assert [(t["fromState"], t["toState"], t["actor"]) for t in case["transitions"]] == [
        (None, "SUBMITTED", "511923-clerk"), ("SUBMITTED", "ACCEPTED", "511923-clerk"),
        ("ACCEPTED", "REJECTED", "511923-reviewer")]
    assert case["transitions"][-1]["reason"] == "权属争议"
    assert all(t["requestId"] for t in case["transitions"])

    listed = gql.data(operation("Applications"), {"filter": {"state": "REJECTED"}},
                      pingchang.clerk)["applications"]
    assert [e["node"]["number"] for e in listed["edges"]] == [rejected_case["number"]]


def test_a_resident_id_is_masked_everywhere_but_its_case(pingchang: Bureau) -> None:
    number = resident_id("511923", "19700101")
    code = pingchang.rural_house()["code"]
    case = pingchang.register("FIRST", [code], holders=[{"party": person("王大山", number)}])
    units = pingchang.gql.data(operation("Units"), {"first": 5}, pingchang.clerk)["units"]
    listed = units["edges"][0]["node"]["currentTitle"]["holders"][0]["party"]["idNumber"]
    assert listed == number[:6] + "********" + number[-4:]
    in_case = pingchang.gql.data(operation("Application"), {"number": case["number"]},
                                 pingchang.clerk)["application"]["parties"][0]["party"]
    assert in_case["idNumber"] == number
