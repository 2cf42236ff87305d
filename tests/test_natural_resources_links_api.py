"""关联信息 and per-type attributes over GraphQL (NRLINK-4, NRATTR-1..3): a clerk links a
取水许可 and a 采矿权 to the reserve, ends one, enters the forest's 蓄积量 and the water's 水质;
the unit shows them, the recording keeps them, and every refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from registry.runtime import Runtime
from tests.clock import Clock
from tests.conftest import GraphQLClient, Users
from tests.test_natural_resources import MONDAY, RESERVE, Office

ADD = """mutation($unitCode: String!, $input: LicenceInput!) {
  addNaturalLicence(unitCode: $unitCode, input: $input) { id kind labelZh licenceNo endedAt } }"""
END = """mutation($id: ID!) { endNaturalLicence(id: $id) { id endedAt } }"""
SET = """mutation($unitCode: String!, $resourceType: String!, $values: JSON!) {
  setNaturalAttributes(unitCode: $unitCode, resourceType: $resourceType, values: $values) {
    resourceType values } }"""
UNIT = """query($code: String!) { naturalUnit(code: $code) {
  licences(includeEnded: true) { licenceNo kind endedAt }
  current: licences { licenceNo }
  attributes { resourceType values }
  controlZones { blockNo } } }"""


@pytest.fixture
def reserve(gql: GraphQLClient, users: Users, runtime: Runtime) -> Office:
    """南江县's office, its reserve pre-delimited."""
    runtime.clock = Clock(MONDAY)
    office = Office(gql, users)
    office.predelimit()
    return office


def water_licence(**extra: Any) -> dict[str, Any]:
    return {"kind": "water_abstraction", "licenceNo": "取水(川南)字[2024]第001号",
            "holder": "南江县自来水公司", "location": "某河取水口", "validFrom": "2024-01-01",
            "validTo": "2029-12-31", "authority": "南江县水利局", **extra}


def test_licences_and_attributes_are_linked_ended_and_kept(reserve: Office, runtime: Runtime,
                                                           gql: GraphQLClient) -> None:
    clerk = reserve.clerk
    water = gql.data(ADD, {"unitCode": RESERVE, "input": water_licence()},
                     clerk)["addNaturalLicence"]
    assert (water["kind"], water["labelZh"], water["endedAt"]) == (
        "water_abstraction", "取水许可", None)
    mining = gql.data(ADD, {"unitCode": RESERVE, "input": {
        "kind": "mining", "licenceNo": "C5100002010000001", "holder": "某矿业公司"}},
        clerk)["addNaturalLicence"]
    assert gql.data(END, {"id": mining["id"]}, clerk)["endNaturalLicence"]["endedAt"]
    gql.data(SET, {"unitCode": RESERVE, "resourceType": "forest",
                   "values": {"stock_m3": "125000.5", "main_species": "巴山冷杉"}}, clerk)
    gql.data(SET, {"unitCode": RESERVE, "resourceType": "water",
                   "values": {"water_quality": "Ⅱ"}}, clerk)
    unit = gql.data(UNIT, {"code": RESERVE}, clerk)["naturalUnit"]
    assert [(link["kind"], link["endedAt"] is None) for link in unit["licences"]] == [
        ("mining", False), ("water_abstraction", True)]
    assert unit["current"] == [{"licenceNo": water["licenceNo"]}]
    assert {a["resourceType"]: a["values"] for a in unit["attributes"]} == {
        "water": {"water_quality": "Ⅱ"},
        "forest": {"stock_m3": "125000.5", "main_species": "巴山冷杉"}}
    assert unit["controlZones"] == []

    number = reserve.step("NaturalUnit", clerk, code=RESERVE)["cases"][0]["number"]
    reserve.to_publication(number)
    runtime.clock.advance(days=21)  # type: ignore[attr-defined]
    reserve.step("RecordNaturalCase", reserve.registrar, number=number)
    [entry] = reserve.step("NaturalUnit", clerk, code=RESERVE)["history"]
    assert [link["licence_no"] for link in entry["body"]["licences"]] == [water["licenceNo"]]
    assert entry["body"]["attributes"]["forest"]["stock_m3"] == "125000.5"


def test_bad_links_and_attributes_are_refused_and_change_nothing(
        reserve: Office, runtime: Runtime, gql: GraphQLClient, users: Users) -> None:
    clerk = reserve.clerk
    gql.data(ADD, {"unitCode": RESERVE, "input": water_licence()}, clerk)

    def refused_with(query: str, variables: dict[str, Any],
                     who: dict[str, str] | None = None) -> list[str]:
        return refused_raw(runtime, gql, query, variables, who or clerk)

    assert refused_with(ADD, {"unitCode": "511922229999999", "input": water_licence()}) == [
        "NR_UNIT_NOT_FOUND"]
    assert refused_with(ADD, {"unitCode": RESERVE, "input": water_licence()}) == ["LINK_EXISTS"]
    assert refused_with(ADD, {"unitCode": RESERVE, "input": water_licence(
        licenceNo="x2", validFrom="2030-01-01")}) == ["INVALID_PERIOD"]
    assert refused_with(ADD, {"unitCode": RESERVE, "input": water_licence(
        kind="fishing")}) == ["UNKNOWN_LICENCE_KIND"]
    assert refused_with(ADD, {"unitCode": RESERVE, "input": water_licence(licenceNo=" ")}) == [
        "LICENCE_NO_REQUIRED"]
    assert refused_with(END, {"id": "abc"}) == ["BAD_ID"]
    assert refused_with(SET, {"unitCode": RESERVE, "resourceType": "forest",
                              "values": {"colour": "green"}}) == ["UNKNOWN_ATTRIBUTE"]
    assert refused_with(SET, {"unitCode": RESERVE, "resourceType": "forest",
                              "values": {"stock_m3": "-3"}}) == ["INVALID_ATTRIBUTE"]
    assert refused_with(SET, {"unitCode": RESERVE, "resourceType": "sea",
                              "values": {}}) == ["UNKNOWN_RESOURCE_TYPE"]
    assert refused_with(SET, {"unitCode": RESERVE, "resourceType": "forest",
                              "values": [1, 2]}) == ["INVALID_ATTRIBUTE"]
    other = users.add("pc-links-clerk", "clerk", county="511923")
    assert refused_with(ADD, {"unitCode": RESERVE, "input": water_licence(licenceNo="x3")},
                        other) == ["FORBIDDEN"]


def refused_raw(runtime: Runtime, gql: GraphQLClient, query: str, variables: dict[str, Any],
                who: dict[str, str]) -> list[str]:
    from tests.snapshot import snapshot

    before = snapshot(runtime)
    codes = gql.error_codes(query, variables, who)
    assert snapshot(runtime) == before
    return codes


def test_the_attribute_catalogue_tells_a_front_end_what_to_ask(reserve: Office,
                                                               gql: GraphQLClient) -> None:
    groups = gql.data("""{ naturalAttributeFields { resourceType labelZh
        fields { name labelZh type values unit } } }""", None,
        reserve.clerk)["naturalAttributeFields"]
    by_type = {g["resourceType"]: g for g in groups}
    assert {"water", "wetland", "forest", "grassland", "wasteland", "mineral"} <= set(by_type)
    quality = next(f for f in by_type["water"]["fields"] if f["name"] == "water_quality")
    assert quality["type"] == "enum" and "劣Ⅴ" in quality["values"]
    stock = next(f for f in by_type["forest"]["fields"] if f["name"] == "stock_m3")
    assert stock["type"] == "decimal" and stock["labelZh"] == "总蓄积量"
