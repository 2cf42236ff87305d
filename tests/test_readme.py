"""The README's clerk's day works as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bureau import Bureau
from tests.conftest import GraphQLClient, Users

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_mutations_run_in_order(gql: GraphQLClient, users: Users) -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    mutations = [m.strip() for m in re.split(r"\n(?=mutation )", blocks[0])]
    assert len(mutations) == 3
    clerk = Bureau(gql, users, "511923").clerk
    parcel = gql.data(mutations[0], headers=clerk)["createParcel"]["parcel"]
    assert parcel["code"] == "511923101003JC00777" and float(parcel["area"]) > 300
    unit = gql.data(mutations[1], headers=clerk)["createUnit"]
    assert unit["code"] == "511923101003JC00777F00010001"
    case = gql.data(mutations[2], headers=clerk)["submitApplication"]
    assert case["state"] == "SUBMITTED"
