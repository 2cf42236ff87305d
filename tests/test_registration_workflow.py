"""A clerk's day, end to end, for each asset kind: parcel and unit, first registration through
accept, review (another person) and record (a third), the certificate; then the life of a
rural house: transfer, mortgage, seizure, a transfer refused while seized, release."""

from __future__ import annotations

import re

from tests.bureau import Bureau, organisation, person, resident_id
from tests.conftest import GraphQLClient
from tests.operations import operation

CERTIFICATE = re.compile(r"^川\(\d{4}\)(巴中市|通江县|南江县|平昌县)不动产权第\d{7}号$")
PROOF = re.compile(r"^川\(\d{4}\)(巴中市|通江县|南江县|平昌县)不动产证明第\d{7}号$")


def test_first_registration_of_a_rural_house(pingchang: Bureau) -> None:
    house = pingchang.rural_house()
    assert house["code"].startswith(house["parcel"]["code"])
    assert house["code"][19:] == "F00010001" and house["status"] == "SURVEYED"
    assert house["parcel"]["area"] == "400.00"  # a 20 m square
    assert house["house"]["buildingNo"] == 1  # an Int, as UnitInput takes it

    owner = person("王大山", resident_id("511923", "19650304"))
    case = pingchang.submit("FIRST", [house["code"]], holders=[{"party": owner}])
    assert case["state"] == "SUBMITTED" and case["registrationType"] == 100
    assert case["number"].startswith("511923-")
    assert case["parties"][0]["party"]["idNumber"] == owner["idNumber"]  # in full, own case

    assert pingchang.accept(case["number"])["state"] == "ACCEPTED"
    assert pingchang.review(case["number"])["state"] == "REVIEWED"
    recorded = pingchang.record(case["number"])
    assert recorded["state"] == "RECORDED"
    [certificate] = recorded["certificates"]
    assert (certificate["kind"], certificate["status"]) == ("RIGHT", "ISSUED")
    assert CERTIFICATE.match(certificate["number"]) and certificate["number"].startswith(
        "川(2026)平昌县")
    assert pingchang.certify(case["number"])["certificates"][0]["status"] == "PRINTED"

    unit = pingchang.unit(house["code"])
    assert unit["status"] == "REGISTERED"
    title = unit["currentTitle"]
    assert title["certificateNumber"] == certificate["number"]
    assert title["coOwnership"] == "SOLE"
    [holder] = title["holders"]
    assert holder["party"]["name"] == "王大山"
    assert holder["party"]["idNumber"] == owner["idNumber"][:6] + "********" + owner[
        "idNumber"][-4:]
    assert [e["entryType"] for e in unit["history"]] == ["FIRST"]


def test_building_number_is_one_type_in_and_out(pingchang: Bureau) -> None:
    house = pingchang.rural_house(building_no=12)
    assert house["code"][19:] == "F00120001"  # zero-padded in the code only
    assert house["house"]["buildingNo"] == 12
    assert pingchang.unit(house["code"])["house"]["buildingNo"] == 12


def test_first_registration_of_a_road_held_by_a_government_body(pingchang: Bureau) -> None:
    road = pingchang.road()
    assert road["code"].endswith("W00000000")
    assert road["infrastructure"]["bookValue"] == "3800000.00"
    body = organisation("平昌县交通运输局", "GOVERNMENT")
    case = pingchang.register("FIRST", [road["code"]], holders=[{"party": body}],
                              rightType=3, rightNature=101)
    unit = pingchang.unit(road["code"])
    assert unit["currentTitle"]["certificateNumber"] == case["certificates"][0]["number"]
    assert unit["infrastructure"]["managingBody"] == "平昌县交通运输局"


def test_first_registration_of_an_underground_parking_space(pingchang: Bureau) -> None:
    space = pingchang.parking_space(12)
    assert space["code"][12:14] == "GX" and space["code"].endswith("F00010012")
    assert space["parkingSpace"]["spaceNo"] == "B1-012"
    buyers = [{"party": person("李明"), "share": "1/2"}, {"party": person("张芳"), "share": "1/2"}]
    pingchang.register("FIRST", [space["code"]], holders=buyers, coOwnership="SHARES")
    title = pingchang.unit(space["code"])["currentTitle"]
    assert sorted(h["share"] for h in title["holders"]) == ["1/2", "1/2"]


def test_the_life_of_a_rural_house(pingchang: Bureau, gql: GraphQLClient) -> None:
    house = pingchang.rural_house()
    code = house["code"]
    seller, buyer = person("王大山"), person("陈小红")
    pingchang.register("FIRST", [code], holders=[{"party": seller}])
    first_title = pingchang.unit(code)["currentTitle"]

    # 转移: the house is sold within the collective; the old title becomes historic.
    transfer = pingchang.register("TRANSFER", [code], holders=[{"party": buyer}])
    unit = pingchang.unit(code)
    assert unit["currentTitle"]["holders"][0]["party"]["name"] == "陈小红"
    assert unit["currentTitle"]["certificateNumber"] == transfer["certificates"][0]["number"]
    old = next(r for r in unit["rights"] if r["id"] == first_title["id"])
    assert old["status"] == "HISTORIC" and old["endedAt"] is not None

    # 抵押: the buyer borrows against it; a proof number is issued.
    bank = organisation("巴中农村商业银行")
    mortgage = pingchang.register("MORTGAGE", [code], holders=[{"party": bank}],
                                  amount="200000.00", termStart="2026-01-01",
                                  termEnd="2031-01-01")
    assert PROOF.match(mortgage["certificates"][0]["number"])
    unit = pingchang.unit(code)
    assert unit["mortgaged"] is True and unit["seized"] is False

    # 查封: a court seizes it.
    pingchang.register("SEIZURE", [code], authority="平昌县人民法院",
                       documentNo="(2026)川1923执123号")
    unit = pingchang.unit(code)
    assert unit["seized"] is True
    seizure = next(r for r in unit["restrictions"] if r["kind"] == "SEIZURE")

    # A transfer while seized is refused, at submission already.
    codes = pingchang.gql.error_codes(
        operation("SubmitApplication"),
        {"input": {"kind": "TRANSFER", "unitCodes": [code],
                   "holders": [{"party": person("赵四")}]}}, pingchang.clerk)
    assert codes == ["UNIT_SEIZED"]
    # ... and so is another mortgage.
    codes = pingchang.gql.error_codes(
        operation("SubmitApplication"),
        {"input": {"kind": "MORTGAGE", "unitCodes": [code], "amount": "1000.00",
                   "holders": [{"party": bank}]}}, pingchang.clerk)
    assert codes == ["UNIT_SEIZED"]

    # 解封: the court lifts the seizure.
    pingchang.register("SEIZURE_RELEASE", [code], targetRightId=seizure["id"])
    unit = pingchang.unit(code)
    assert unit["seized"] is False and unit["mortgaged"] is True

    # The unit shows its full history, in order, and every right it ever had.
    assert [e["entryType"] for e in unit["history"]] == [
        "FIRST", "TRANSFER", "MORTGAGE", "SEIZURE", "SEIZURE_RELEASE"]
    assert [e["seq"] for e in unit["history"]] == sorted(e["seq"] for e in unit["history"])
    kinds = [(r["kind"], r["status"]) for r in unit["rights"]]
    assert kinds == [("TITLE", "HISTORIC"), ("TITLE", "CURRENT"), ("MORTGAGE", "CURRENT"),
                     ("SEIZURE", "TERMINATED")]


def test_a_seizure_recorded_after_submission_stops_the_transfer_at_recording(
        pingchang: Bureau) -> None:
    code = pingchang.rural_house()["code"]
    pingchang.register("FIRST", [code], holders=[{"party": person("王大山")}])
    sale = pingchang.submit("TRANSFER", [code], holders=[{"party": person("陈小红")}])["number"]
    pingchang.accept(sale)
    pingchang.review(sale)
    pingchang.register("SEIZURE", [code], authority="平昌县人民法院", documentNo="(2026)执9号")
    codes = pingchang.gql.error_codes(operation("RecordApplication"), {"number": sale},
                                      pingchang.registrar)
    assert codes == ["UNIT_SEIZED"]
    application = pingchang.gql.data(operation("Application"), {"number": sale},
                                     pingchang.clerk)["application"]
    assert application["state"] == "REVIEWED"  # nothing changed


def test_joint_owners_and_the_party_query(pingchang: Bureau, gql: GraphQLClient) -> None:
    code = pingchang.rural_house()["code"]
    husband, wife = person("刘建国"), person("周桂英")
    pingchang.register("FIRST", [code], holders=[{"party": husband}, {"party": wife}],
                       coOwnership="JOINT")
    found = gql.data(operation("Party"), {"idType": "RESIDENT_ID",
                                          "idNumber": wife["idNumber"]}, pingchang.clerk)["party"]
    assert found["party"]["name"] == "周桂英"
    assert "*" in found["party"]["idNumber"]
    assert [h["unitCode"] for h in found["holdings"]] == [code]


def test_change_correction_mortgage_release_and_cancellation(pingchang: Bureau) -> None:
    code = pingchang.rural_house()["code"]
    owner = person("王大山")
    pingchang.register("FIRST", [code], holders=[{"party": owner}])
    # 变更: same holder, new certificate; a different holder is refused at recording.
    change = pingchang.register("CHANGE", [code], holders=[{"party": owner}],
                                note="门牌号变更")
    assert change["certificates"][0]["kind"] == "RIGHT"
    wrong = pingchang.submit("CHANGE", [code], holders=[{"party": person("别人")}])["number"]
    pingchang.accept(wrong)
    pingchang.review(wrong)
    assert pingchang.gql.error_codes(operation("RecordApplication"), {"number": wrong},
                                     pingchang.registrar) == ["HOLDERS_MUST_MATCH"]
    pingchang.gql.data(operation("RejectApplication"), {"number": wrong, "reason": "应办转移"},
                       pingchang.registrar)
    # 更正: the register named the wrong co-owners; corrected to two joint holders.
    pingchang.register("CORRECTION", [code],
                       holders=[{"party": owner}, {"party": person("王大山之妻")}],
                       coOwnership="JOINT")
    assert len(pingchang.unit(code)["currentTitle"]["holders"]) == 2
    # 抵押 then 抵押注销
    pingchang.register("MORTGAGE", [code], holders=[{"party": organisation("某银行")}],
                       amount="80000")
    mortgage = pingchang.unit(code)["restrictions"][0]
    pingchang.register("MORTGAGE_CANCELLATION", [code], targetRightId=mortgage["id"])
    assert pingchang.unit(code)["mortgaged"] is False
    # 注销: the house is demolished.
    pingchang.register("CANCELLATION", [code])
    unit = pingchang.unit(code)
    assert unit["status"] == "CANCELLED" and unit["currentTitle"] is None
    # first → change → correction → cancelled
    assert [r["status"] for r in unit["rights"] if r["kind"] == "TITLE"] == [
        "HISTORIC", "HISTORIC", "TERMINATED"]
