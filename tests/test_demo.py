"""The demo register `make run` loads: every unit kind in every county, cases in every state."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from registry.demo import Papers, ensure_demo_users, load_demo
from registry.runtime import Runtime
from tests.conftest import GraphQLClient


def test_demo_data_covers_every_kind_county_and_state(runtime: Runtime, tmp_path: Path,
                                                       gql: GraphQLClient) -> None:
    tokens = ensure_demo_users(runtime.sessions, tmp_path / "tokens.json")
    assert ensure_demo_users(runtime.sessions, tmp_path / "tokens.json") == tokens  # kept
    papers = Papers.from_runtime(runtime)
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
        files = conn.execute(text(  # scans; the printed certificates are files too
            "SELECT count(*) FROM document_files f WHERE NOT EXISTS"
            " (SELECT 1 FROM printed_papers p WHERE p.file_sha256 = f.sha256)")).scalar_one()
        printed = conn.execute(text("SELECT count(*) FROM printed_papers")).scalar_one()
    assert missing == 0 and files <= 8
    assert printed >= 100  # every certified case's certificates, signed PDFs
    admin = {"Authorization": f"Bearer {tokens['demo-admin']}"}
    assert gql.data("{ me { roles } }", headers=admin)["me"]["roles"] == ["ADMIN"]


def test_the_demo_spreads_its_records_over_the_year(runtime: Runtime, tmp_path: Path) -> None:
    """The trend chart shows a trend: recordings fall in many months, not all in the load's
    minute, and none after the load's time; the same seed gives the same register."""
    ensure_demo_users(runtime.sessions, tmp_path / "tokens.json")
    papers = Papers.from_runtime(runtime)
    now = runtime.clock()
    assert load_demo(runtime.sessions, papers, now, per_kind=8, progress=lambda _: None)
    with runtime.engine.connect() as conn:
        monthly = dict(conn.execute(text(
            "SELECT date_trunc('month', at AT TIME ZONE 'Asia/Shanghai'), count(*)"
            " FROM application_transitions WHERE to_state = 'recorded' GROUP BY 1")).all())
        latest = conn.execute(text("SELECT max(at) FROM application_transitions")).scalar_one()
        unit_days = conn.execute(text(
            "SELECT count(DISTINCT created_at::date) FROM units")).scalar_one()
    assert len(monthly) >= 6, monthly  # spread over the months ...
    assert len(set(monthly.values())) > 1 or len(monthly) >= 10  # ... not one flat block
    assert latest <= now
    assert unit_days > 30  # units are surveyed over the year too, so "due" grows with them


def test_the_demo_registers_natural_resource_units(runtime: Runtime, tmp_path: Path,
                                                   gql: GraphQLClient) -> None:
    """`make run` shows a registered reserve with its natural state, a river reach in its
    notice and a wetland pre-delimited; loading twice adds nothing."""
    from registry.codes.natural_resources import DEFAULT_UNIT_CODE_PATTERN
    from registry.demo_natural_resources import load_natural_demo

    tokens = ensure_demo_users(runtime.sessions, tmp_path / "tokens.json")
    now = runtime.clock()
    papers = Papers.from_runtime(runtime)
    assert load_natural_demo(runtime.sessions, now, DEFAULT_UNIT_CODE_PATTERN, 15,
                             papers.store, papers.config, progress=lambda _: None) == 3
    assert load_natural_demo(runtime.sessions, now, DEFAULT_UNIT_CODE_PATTERN, 15,
                             papers.store, papers.config, progress=lambda _: None) == 0
    clerk = {"Authorization": f"Bearer {tokens['demo-511922-clerk']}"}
    reserve = gql.data("""{ naturalUnit(code: "511922220000001") { name status
        naturalState { naturalTotalHa types { type areaHa } } ownership { agentBody }
        history { entryType } } }""", headers=clerk)["naturalUnit"]
    assert reserve["name"] == "米仓山自然保护区" and reserve["status"] == "REGISTERED"
    assert reserve["ownership"]["agentBody"] == "四川省人民政府"
    assert [e["entryType"] for e in reserve["history"]] == ["nr_first"]
    forest = next(t for t in reserve["naturalState"]["types"] if t["type"] == "FOREST")
    assert float(forest["areaHa"]) > 100
    admin = {"Authorization": f"Bearer {tokens['demo-admin']}"}
    units = gql.data("{ naturalUnits { edges { node { code status } } } }",
                     headers=admin)["naturalUnits"]["edges"]
    assert {(u["node"]["code"], u["node"]["status"]) for u in units} == {
        ("511902310000001", "PREDELIMITED"), ("511922220000001", "REGISTERED"),
        ("511923500000001", "PREDELIMITED")}
    river = gql.data('{ naturalUnit(code: "511902310000001") { cases { state'
                     ' documents { kind naturalCaseNumber } } } }',
                     headers=admin)["naturalUnit"]
    [case] = river["cases"]
    assert case["state"] == "PUBLISHED"  # its survey results scanned first (NRCASE-8)
    assert [d["kind"] for d in case["documents"]] == ["SURVEY_RESULT"]
    assert case["documents"][0]["naturalCaseNumber"].startswith("ZR511902")
