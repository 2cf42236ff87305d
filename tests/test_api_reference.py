"""The division tree a front end uses for its county and township pickers."""

from __future__ import annotations

from tests.conftest import GraphQLClient
from tests.operations import operation


def test_divisions_is_bazhong_with_its_five_counties(gql: GraphQLClient) -> None:
    data = gql.data(operation("Divisions"))
    [city] = data["divisions"]
    assert (city["code"], city["name"], city["level"]) == ("511900", "巴中市", "CITY")
    assert [c["name"] for c in city["children"]] == ["巴州区", "恩阳区", "通江县", "南江县",
                                                    "平昌县"]
    pingchang = city["children"][4]
    assert {"code": "511923101", "name": "响滩镇", "level": "TOWNSHIP"} in pingchang["children"]


def test_divisions_below_a_county_and_a_single_division(gql: GraphQLClient) -> None:
    data = gql.data("""{
        divisions(parentCode: "511921") { code name }
        division(code: "511922") { name parent { name } }
        nowhere: division(code: "999999") { name }
    }""")
    assert {d["code"][:6] for d in data["divisions"]} == {"511921"}
    assert "诺江镇" in {d["name"] for d in data["divisions"]}
    assert data["division"] == {"name": "南江县", "parent": {"name": "巴中市"}}
    assert data["nowhere"] is None


def test_land_uses_carry_their_classification_system(gql: GraphQLClient) -> None:
    data = gql.data('{ landUses(system: "用地用海分类2023") { system code name } }')
    assert {"system": "用地用海分类2023", "code": "0703", "name": "农村宅基地"} in data["landUses"]
    assert all(item["system"] == "用地用海分类2023" for item in data["landUses"])
