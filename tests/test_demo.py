"""The demo register `make run` loads: every unit kind in every county, cases in every state."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from registry.demo import Papers, ensure_demo_users, load_demo
from registry.runtime import Runtime
from registry.services.documents import DocumentConfig
from tests.conftest import GraphQLClient


def test_demo_data_covers_every_kind_county_and_state(runtime: Runtime, tmp_path: Path,
                                                       gql: GraphQLClient) -> None:
    tokens = ensure_demo_users(runtime.sessions, tmp_path / "tokens.json")
    assert ensure_demo_users(runtime.sessions, tmp_path / "tokens.json") == tokens  # kept
    papers = Papers(runtime.store, DocumentConfig.from_settings(runtime.settings))
    assert load_demo(runtime.sessions, papers, runtime.clock(), per_kind=16,
                     progress=lambda _: None)
    assert load_demo(runtime.sessions, papers, runtime.clock(), per_kind=16,
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
    # Accepted cases carry their papers; identical placeholder scans are stored once per kind.
    with runtime.engine.connect() as conn:
        missing = conn.execute(text(
            "SELECT count(*) FROM applications a JOIN document_requirements r"
            " ON r.application_kind = a.kind WHERE a.state NOT IN"
            " ('submitted', 'refused', 'withdrawn') AND NOT EXISTS (SELECT 1 FROM documents d"
            " WHERE d.application_id = a.id AND d.kind = r.document_kind)")).scalar_one()
        files = conn.execute(text("SELECT count(*) FROM document_files")).scalar_one()
    assert missing == 0 and files <= 8
    admin = {"Authorization": f"Bearer {tokens['demo-admin']}"}
    assert gql.data("{ me { roles } }", headers=admin)["me"]["roles"] == ["ADMIN"]
