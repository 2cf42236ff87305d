"""The demo register `make run` loads: every unit kind in every county, cases in every state."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from registry.demo import ensure_demo_users, load_demo
from registry.runtime import Runtime
from tests.conftest import GraphQLClient


def test_demo_data_covers_every_kind_county_and_state(runtime: Runtime, tmp_path: Path,
                                                       gql: GraphQLClient) -> None:
    tokens = ensure_demo_users(runtime.sessions, tmp_path / "tokens.json")
    assert ensure_demo_users(runtime.sessions, tmp_path / "tokens.json") == tokens  # kept
    assert load_demo(runtime.sessions, runtime.clock(), per_kind=16, progress=lambda _: None)
    assert load_demo(runtime.sessions, runtime.clock(), per_kind=16,
                     progress=lambda _: None) == 0  # only into an empty register
    with runtime.engine.connect() as conn:
        kinds = conn.execute(text("SELECT county_code, kind, count(*) FROM units"
                                  " GROUP BY 1, 2")).all()
        states = set(conn.execute(text("SELECT DISTINCT state FROM applications")).scalars())
    assert {(c, k) for c, k, _ in kinds} == {
        (c, k) for c in ("511902", "511903", "511921", "511922", "511923")
        for k in ("rural_house", "infrastructure", "parking_space")}
    assert all(n == 16 for _, _, n in kinds)
    assert states == {"submitted", "accepted", "reviewed", "recorded", "certified", "refused",
                      "rejected", "withdrawn"}
    admin = {"Authorization": f"Bearer {tokens['demo-admin']}"}
    assert gql.data("{ me { roles } }", headers=admin)["me"]["roles"] == ["admin"]
