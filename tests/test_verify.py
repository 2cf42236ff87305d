"""`registry verify` trusts no derived table (VERIFY-1..6 in registry/services/verify.py).

A clerk's day in 平昌县: a house is first registered to a couple by shares and its certificate
printed, sold to 陈小红, mortgaged to a bank and seized by the court; a second house is only
surveyed; 通江县 registers one house. Then someone with the database superuser's power switches
the triggers off (`session_replication_role = replica`) and rewrites one thing at a time:
`registry verify` must exit 1 and name the table, key, column, expected and found value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from registry.config import Settings
from registry.runtime import Runtime
from registry.services.chain import link_hash
from tests.bureau import Bureau, organisation, person
from tests.conftest import GraphQLClient, Users
from tests.test_cli import run_registry, server_env


@dataclass
class Day:
    """What the clerks did, with the ids the tampering needs."""

    house: str  # the house that was registered, sold, mortgaged and seized
    surveyed: str  # a house only surveyed
    first_title: int  # the couple's title, historic since the sale
    title: int  # 陈小红's current title
    mortgage: int
    seizure: int
    buyer: int  # 陈小红's party id
    husband: int
    first_certificate: str  # printed
    title_certificate: str  # issued, not printed
    first_case: int
    registrar: int  # a user id
    clerk: int


def scalar(runtime: Runtime, sql: str, **params: Any) -> Any:
    with runtime.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.fixture
def day(gql: GraphQLClient, users: Users, runtime: Runtime) -> Day:
    pingchang, tongjiang = Bureau(gql, users, "511923"), Bureau(gql, users, "511921")
    house = pingchang.rural_house()["code"]
    surveyed = pingchang.rural_house()["code"]
    first = pingchang.register("FIRST", [house], coOwnership="SHARES", holders=[
        {"party": person("王大山"), "share": "1/2"}, {"party": person("李秀英"), "share": "1/2"}])
    pingchang.certify(first["number"])
    sale = pingchang.register("TRANSFER", [house], holders=[{"party": person("陈小红")}])
    pingchang.register("MORTGAGE", [house], holders=[{"party": organisation("巴中农村商业银行")}],
                       amount="200000.00", termStart="2026-01-01", termEnd="2031-01-01")
    pingchang.register("SEIZURE", [house], authority="平昌县人民法院",
                       documentNo="(2026)川1923执123号")
    tongjiang.register("FIRST", [tongjiang.rural_house()["code"]],
                       holders=[{"party": person("张德明")}])

    def right(kind: str, status: str = "current") -> int:
        return int(scalar(runtime, "SELECT r.id FROM rights r JOIN units u ON u.id = r.unit_id"
                          " WHERE u.code = :code AND r.kind = :kind AND r.status = :status",
                          code=house, kind=kind, status=status))

    def party(name: str) -> int:
        return int(scalar(runtime, "SELECT id FROM parties WHERE name = :name", name=name))

    def user(name: str) -> int:
        return int(scalar(runtime, "SELECT id FROM users WHERE username = :n", n=name))

    return Day(house=house, surveyed=surveyed, first_title=right("title", "historic"),
               title=right("title"), mortgage=right("mortgage"), seizure=right("seizure"),
               buyer=party("陈小红"), husband=party("王大山"),
               first_certificate=first["certificates"][0]["number"],
               title_certificate=sale["certificates"][0]["number"],
               first_case=int(scalar(runtime, "SELECT id FROM applications WHERE number = :n",
                                     n=first["number"])),
               registrar=user("511923-registrar"), clerk=user("511923-clerk"))


@contextmanager
def superuser(runtime: Runtime) -> Iterator[Connection]:
    """The hostile reviewer's session: database superuser, every trigger off."""
    with runtime.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


@contextmanager
def rewritten(runtime: Runtime, table: str, key: dict[str, Any], **values: Any) -> Iterator[None]:
    """Rewrite columns of the row with this key, triggers off; put them back afterwards."""

    def where(k: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return (" AND ".join(f"{c} = :k_{c}" for c in k), {f"k_{c}": v for c, v in k.items()})

    sets = ", ".join(f"{c} = :{c}" for c in values)
    clause, params = where(key)
    with superuser(runtime) as conn:
        [old] = [dict(r._mapping) for r in conn.execute(
            text(f"SELECT {', '.join(values)} FROM {table} WHERE {clause}"), params)]
        conn.execute(text(f"UPDATE {table} SET {sets} WHERE {clause}"), {**params, **values})
    try:
        yield
    finally:
        clause, params = where({c: values.get(c, v) for c, v in key.items()})
        with superuser(runtime) as conn:
            conn.execute(text(f"UPDATE {table} SET {sets} WHERE {clause}"), {**params, **old})


def verify(settings: Settings, *args: str) -> tuple[int, str]:
    result = run_registry("verify", "--quiet", *args, env=server_env(settings))
    return result.returncode, result.stdout + result.stderr


def test_an_untouched_register_verifies_and_prints_each_head(day: Day,
                                                             settings: Settings) -> None:
    code, out = verify(settings)
    assert code == 0, out
    assert "register 511923: 4 entries, chain intact" in out
    assert "register 511921: 1 entries, chain intact" in out
    assert "head 511923: position 4 hash " in out and "head 511921: position 1 hash " in out
    assert ("register tables: rights, holders, parties, certificates, units, lineage and "
            "natural-resource units agree") in out


def test_the_reviewers_update_of_right_holders_is_found(day: Day, runtime: Runtime,
                                                        settings: Settings) -> None:
    """The review's attack: one UPDATE, triggers off, makes someone else own the house."""
    with superuser(runtime) as conn:
        conn.execute(text("UPDATE right_holders SET party_id = :husband WHERE right_id = :title"),
                     {"husband": day.husband, "title": day.title})
    code, out = verify(settings)
    assert code == 1
    assert (f"differs: right_holders right {day.title} party {day.buyer}: row expected "
            "'present', found 'absent'") in out
    assert (f"differs: right_holders right {day.title} party {day.husband}: row expected "
            "'absent (the register has no such holder)', found 'present'") in out
    assert "register 511923: 4 entries, chain intact" in out  # the chain itself is fine
    assert "register tables: right_holders 2 differences from what the chain says" in out


def cases(d: Day) -> list[tuple[str, dict[str, Any], dict[str, Any], str]]:
    """(table, key, rewritten columns, what verify must say) for every derived table."""
    rights = {"id": d.title}
    return [
        ("rights", rights, {"status": "historic", "ended_at": "2026-01-01 00:00+08"},
         f"rights id {d.title}: status expected 'current', found 'historic'"),
        ("rights", rights, {"status": "historic", "ended_at": "2026-01-01 00:00+08"},
         f"rights id {d.title}: ended_at expected NULL, found '2026-01-01 00:00:00+08'"),
        ("rights", rights, {"co_ownership": "joint"},
         f"rights id {d.title}: co_ownership expected 'sole', found 'joint'"),
        ("rights", rights, {"certificate_number": "川(2026)平昌县不动产权第9999999号"},
         f"rights id {d.title}: certificate_number expected '{d.title_certificate}', found "
         "'川(2026)平昌县不动产权第9999999号'"),
        ("rights", rights, {"predecessor_id": None},
         f"rights id {d.title}: predecessor_id expected '{d.first_title}', found NULL"),
        ("rights", rights, {"right_type": 9}, f"rights id {d.title}: right_type expected"),
        ("rights", rights, {"right_nature": 102}, f"rights id {d.title}: right_nature expected"),
        ("rights", rights, {"note": "改过"}, f"rights id {d.title}: note expected"),
        ("rights", rights, {"begun_at": "2020-01-01 00:00+08"},
         f"rights id {d.title}: begun_at expected"),
        ("rights", rights, {"application_id": d.first_case},
         f"rights id {d.title}: application expected"),
        ("rights", {"id": d.first_title}, {"ended_by_application_id": d.first_case},
         f"rights id {d.first_title}: ended_by_application expected"),
        ("rights", {"id": d.first_title}, {"ended_at": "2020-01-01 00:00+08"},
         f"rights id {d.first_title}: ended_at expected"),
        ("rights", {"id": d.mortgage}, {"amount": "1.00"},
         f"rights id {d.mortgage}: amount expected '200000.00', found '1.00'"),
        ("rights", {"id": d.mortgage}, {"term_end": "2099-01-01"},
         f"rights id {d.mortgage}: term_end expected '2031-01-01', found '2099-01-01'"),
        ("rights", {"id": d.mortgage}, {"term_start": None},
         f"rights id {d.mortgage}: term_start expected '2026-01-01', found NULL"),
        ("rights", {"id": d.mortgage}, {"burdened_right_id": d.first_title},
         f"rights id {d.mortgage}: burdened_right_id expected '{d.title}'"),
        ("rights", {"id": d.seizure}, {"authority": "某人"},
         f"rights id {d.seizure}: authority expected '平昌县人民法院', found '某人'"),
        ("rights", {"id": d.seizure}, {"document_no": "无"},
         f"rights id {d.seizure}: document_no expected '(2026)川1923执123号', found '无'"),
        ("rights", {"id": d.seizure}, {"lapses_at": "2030-01-01 00:00+08"},
         f"rights id {d.seizure}: lapses_at expected NULL, found '2030-01-01 00:00:00+08'"),
        ("rights", {"id": d.seizure}, {"kind": "objection", "seizure_type": None},
         f"rights id {d.seizure}: kind expected 'seizure', found 'objection'"),
        ("rights", {"id": d.seizure}, {"seizure_type": 5},
         f"rights id {d.seizure}: seizure_type expected '1', found '5'"),
        ("rights", {"id": d.mortgage}, {"priority_at": "2020-01-01 00:00+08"},
         f"rights id {d.mortgage}: priority_at expected"),
        ("right_holders", {"right_id": d.first_title, "party_id": d.husband},
         {"share_numerator": 2, "share_denominator": 3},
         f"right_holders right {d.first_title} party {d.husband}: share expected '1/2', "
         "found '2/3'"),
        ("parties", {"id": d.buyer}, {"name": "李四"},
         f"parties id {d.buyer}: name expected '陈小红', found '李四'"),
        ("parties", {"id": d.buyer}, {"id_number": "110101199003077777"},
         f"parties id {d.buyer}: id_number expected"),
        ("certificates", {"number": d.first_certificate}, {"status": "issued", "printed_at": None},
         f"certificates number {d.first_certificate}: status expected 'printed', found 'issued'"),
        ("certificates", {"number": d.title_certificate}, {"status": "voided"},
         f"certificates number {d.title_certificate}: status expected 'issued', found 'voided'"),
        ("certificates", {"number": d.title_certificate}, {"right_id": d.first_title},
         f"certificates number {d.title_certificate}: right_id expected '{d.title}', found "
         f"'{d.first_title}'"),
        ("certificates", {"number": d.title_certificate}, {"serial": 77},
         f"certificates number {d.title_certificate}: serial expected"),
        ("certificates", {"number": d.title_certificate}, {"application_id": d.first_case},
         f"certificates number {d.title_certificate}: application expected"),
        ("units", {"code": d.surveyed}, {"status": "registered"},
         f"units code {d.surveyed}: status expected 'surveyed', found 'registered'"),
        ("units", {"code": d.house}, {"status": "cancelled"},
         f"units code {d.house}: status expected 'registered', found 'cancelled'"),
    ]


def test_every_rewritten_column_of_a_derived_table_is_named(day: Day, runtime: Runtime,
                                                            settings: Settings) -> None:
    for table, key, values, said in cases(day):
        with rewritten(runtime, table, key, **values):
            code, out = verify(settings)
        assert code == 1, (table, values, out)
        assert f"differs: {said}" in out, (table, values, out)
        assert "chain intact" in out and "BROKEN" not in out
    assert verify(settings)[0] == 0  # everything put back: the register agrees again


@pytest.mark.parametrize(("column", "value_of"), [
    ("recorded_by", lambda d: d.clerk),
    ("application_id", lambda d: d.first_case),
])
def test_a_rewritten_hashed_column_of_an_entry_breaks_the_chain_there(
        day: Day, runtime: Runtime, settings: Settings, column: str,
        value_of: Any) -> None:
    with rewritten(runtime, "register_entries", {"county_code": "511923", "seq": 2},
                   **{column: value_of(day)}):
        code, out = verify(settings)
    assert code == 1
    assert (f"register 511923: BROKEN at entry 2: column {column} is {value_of(day)}, "
            "the hashed payload says ") in out


def test_deleted_and_invented_rows_are_named(day: Day, runtime: Runtime,
                                             settings: Settings) -> None:
    with superuser(runtime) as conn:
        conn.execute(text("DELETE FROM certificates WHERE number = :n"),
                     {"n": day.title_certificate})
        conn.execute(text("DELETE FROM right_holders WHERE right_id = :r"), {"r": day.mortgage})
        conn.execute(text(
            "INSERT INTO rights (unit_id, kind, status, co_ownership, begun_at, application_id,"
            " burdened_right_id, note, seizure_type) SELECT unit_id, 'seizure', 'current',"
            " 'none', now(), application_id, id, '', 1 FROM rights WHERE id = :title"),
            {"title": day.title})
        invented = conn.execute(text("SELECT max(id) FROM rights")).scalar_one()
    code, out = verify(settings)
    assert code == 1
    assert (f"differs: certificates number {day.title_certificate}: row expected 'present', "
            "found 'absent'") in out
    assert f"differs: right_holders right {day.mortgage} party " in out
    assert (f"differs: rights id {invented}: row expected 'absent (the register has no such "
            "right)', found 'present'") in out


def test_old_entries_without_a_payload_version_still_verify(day: Day, runtime: Runtime,
                                                            settings: Settings) -> None:
    """REGISTER-3: an entry written before version 2 (no `v`, recorded_by, application_id)
    keeps verifying; its recorded_by is then not covered, its application_id still is (the
    payload names the case's number)."""
    with superuser(runtime) as conn:
        payload, prev = conn.execute(text(
            "SELECT payload, prev_hash FROM register_entries WHERE county_code = '511921'"
            " AND seq = 1")).one()
        old = {k: v for k, v in payload.items() if k not in ("v", "recorded_by",
                                                             "application_id")}
        old["body"]["created"][0] = {k: v for k, v in old["body"]["created"][0].items()
                                     if k not in ("right_nature", "note")}
        digest = link_hash(prev, old)
        conn.execute(text("UPDATE register_entries SET payload = :p, hash = :h"
                          " WHERE county_code = '511921' AND seq = 1"),
                     {"p": json.dumps(old, ensure_ascii=False), "h": digest})
        conn.execute(text("UPDATE register_chain_heads SET hash = :h WHERE county_code = '511921'"),
                     {"h": digest})
    code, out = verify(settings)
    assert code == 0, out
    with rewritten(runtime, "register_entries", {"county_code": "511921", "seq": 1},
                   recorded_by=day.clerk):
        assert verify(settings)[0] == 0  # not covered by a version 1 entry
    with rewritten(runtime, "register_entries", {"county_code": "511921", "seq": 1},
                   application_id=day.first_case):
        code, out = verify(settings)
    assert code == 1
    assert "differs: register_entries county 511921 seq 1: application_id expected " in out


def test_expect_heads_finds_a_tail_cut_together_with_its_head_row(
        day: Day, runtime: Runtime, settings: Settings, tmp_path: Path) -> None:
    heads = tmp_path / "heads.json"
    code, out = verify(settings, "--save-heads", str(heads))
    assert code == 0, out
    saved = json.loads(heads.read_text(encoding="utf-8"))["heads"]
    assert {(h["county"], h["position"]) for h in saved} == {("511921", 1), ("511923", 4)}
    assert verify(settings, "--expect-heads", str(heads))[0] == 0
    # The last entry of 平昌县 goes, and the head row is set back to match: the chain that is
    # left links, and its rights (the seizure) ... are cut too, so only the saved head tells.
    with superuser(runtime) as conn:
        conn.execute(text("DELETE FROM register_entries WHERE county_code = '511923'"
                          " AND seq = 4"))
        conn.execute(text("DELETE FROM rights WHERE id = :id"), {"id": day.seizure})
        conn.execute(text("UPDATE register_chain_heads h SET seq = 3, hash = e.hash"
                          " FROM register_entries e WHERE e.county_code = h.county_code"
                          " AND e.seq = 3 AND h.county_code = '511923'"))
    code, out = verify(settings)
    assert code == 0, out  # without the saved heads, nothing is wrong to see
    code, out = verify(settings, "--expect-heads", str(heads))
    assert code == 1
    assert "head 511923: moved backwards from position 4 to 3" in out
    # A county whose whole chain went:
    with superuser(runtime) as conn:
        conn.execute(text("DELETE FROM register_entries WHERE county_code = '511921'"))
        conn.execute(text("DELETE FROM register_chain_heads WHERE county_code = '511921'"))
    code, out = verify(settings, "--expect-heads", str(heads))
    assert code == 1
    assert "head 511921: saved at position 1, the county has no entries now (missing)" in out


def test_expect_heads_finds_a_rewritten_chain_of_the_same_length(
        day: Day, runtime: Runtime, settings: Settings, tmp_path: Path) -> None:
    heads = tmp_path / "heads.json"
    heads.write_text(json.dumps({"format": "registry-heads/1", "heads": [
        {"county": "511921", "position": 1, "hash": "f" * 64}]}), encoding="utf-8")
    code, out = verify(settings, "--expect-heads", str(heads))
    assert code == 1
    assert f"head 511921: entry 1 differs from the saved head (saved {'f' * 64}, found " in out
