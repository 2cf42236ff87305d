"""Cases that replace a right with its successor (MORTGAGE-3, ADVANCE-1/2, CERT-2/3): a
mortgage changed and transferred, keeping its rank; an advance notice completed by the full
registration; a damaged certificate replaced and a lost one reissued after its notice ran.
Each is a clerk's day over GraphQL, checked on the register, its history, the papers and
`registry verify`; each refusal changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.config import Settings
from registry.runtime import Runtime
from tests.bureau import Bureau, organisation, person, resident_id
from tests.clock import Clock
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_registration_encumbrances import proof_text, standing, titled
from tests.test_verify import verify

BANK = organisation("巴中农村商业银行")
FUND = organisation("四川资产管理公司")


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    runtime.clock = clock = Clock(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))  # a Monday
    return clock


def refused(bureau: Bureau, runtime: Runtime, kind: str, units: list[str],
            **extra: Any) -> list[str]:
    before = snapshot(runtime)
    codes = bureau.gql.error_codes(operation("SubmitApplication"), {"input": {
        "kind": kind, "unitCodes": units, **extra}}, bureau.clerk)
    assert snapshot(runtime) == before
    return codes


def test_a_mortgage_changed_then_transferred_keeps_its_rank(
        pingchang: Bureau, runtime: Runtime, clock: Clock, settings: Settings) -> None:
    code = titled(pingchang)
    pingchang.register("MORTGAGE", [code], holders=[{"party": BANK}], amount="100000.00",
                       termStart="2026-03-02", termEnd="2031-03-01")
    clock.advance(days=1)
    pingchang.register("MORTGAGE", [code], holders=[{"party": organisation("平昌县信用社")}],
                       amount="50000.00", termStart="2026-03-03", termEnd="2028-03-02")
    first, second = standing(pingchang, code, "MORTGAGE")

    # 变更: the first mortgage's amount and term change; it keeps rank 1.
    clock.advance(days=1)
    change = pingchang.register("MORTGAGE_CHANGE", [code], targetRightId=first["id"],
                                amount="150000.00", termEnd="2032-03-01")
    changed = next(r for r in standing(pingchang, code, "MORTGAGE") if r["id"] != second["id"])
    assert changed["id"] != first["id"] and changed["amount"] == "150000.00"
    assert changed["rank"] == 1 and changed["holders"] == [{"party": {"name": "巴中农村商业银行"}}]
    proof = change["certificates"][0]["number"]
    assert proof != first["certificateNumber"]
    page = proof_text(runtime, proof)
    assert "150,000.00元" in page and "2026-03-02起2032-03-01止" in page and "第1顺位" in page
    rights = pingchang.unit(code)["rights"]
    old = next(r for r in rights if r["id"] == first["id"])
    assert old["status"] == "HISTORIC"
    assert next(r for r in rights if r["id"] == changed["id"])["predecessorId"] == first["id"]

    # 转移: the bank sells the loan; the mortgage follows it to the new holder, rank kept.
    clock.advance(days=1)
    pingchang.register("MORTGAGE_TRANSFER", [code], targetRightId=changed["id"],
                       holders=[{"party": FUND}])
    moved = next(r for r in standing(pingchang, code, "MORTGAGE") if r["id"] != second["id"])
    assert moved["holders"] == [{"party": {"name": "四川资产管理公司"}}]
    assert (moved["amount"], moved["rank"]) == ("150000.00", 1)
    assert next(r for r in standing(pingchang, code, "MORTGAGE")
                if r["id"] == second["id"])["rank"] == 2
    assert [e["entryType"] for e in pingchang.unit(code)["history"]][-2:] == [
        "MORTGAGE_CHANGE", "MORTGAGE_TRANSFER"]
    status, out = verify(settings)
    assert status == 0, out


def test_mortgage_change_and_transfer_refusals(pingchang: Bureau, runtime: Runtime,
                                               clock: Clock) -> None:
    code = titled(pingchang)
    pingchang.register("MORTGAGE", [code], holders=[{"party": BANK}], amount="100.00")
    pingchang.register("RESIDENCE", [code], holders=[{"party": person("王母")}])
    mortgage = standing(pingchang, code, "MORTGAGE")[0]
    residence = standing(pingchang, code, "RESIDENCE")[0]
    assert refused(pingchang, runtime, "MORTGAGE_CHANGE", [code],
                   targetRightId=mortgage["id"]) == ["NOTHING_TO_CHANGE"]
    assert refused(pingchang, runtime, "MORTGAGE_CHANGE", [code], amount="10.00") == [
        "TARGET_REQUIRED"]
    assert refused(pingchang, runtime, "MORTGAGE_TRANSFER", [code],
                   targetRightId=mortgage["id"]) == ["HOLDERS_REQUIRED"]
    # RESIDENCE-2: a right of residence is not transferred.
    assert refused(pingchang, runtime, "MORTGAGE_TRANSFER", [code],
                   targetRightId=residence["id"],
                   holders=[{"party": person("李四")}]) == ["RESIDENCE_NOT_TRANSFERABLE"]
    assert refused(pingchang, runtime, "MORTGAGE_CHANGE", [code],
                   targetRightId=residence["id"], amount="1.00") == ["TARGET_NOT_CURRENT"]


def test_an_advance_notice_is_completed_by_its_holders_transfer(
        pingchang: Bureau, runtime: Runtime, clock: Clock, settings: Settings) -> None:
    code = titled(pingchang)
    buyer = person("陈小红", resident_id("511923", "19900303", 41))
    notice_case = pingchang.register("ADVANCE_NOTICE", [code], holders=[{"party": buyer}])
    (notice,) = standing(pingchang, code, "ADVANCE_NOTICE")
    # ADVANCE-2: nobody else may buy it or take a mortgage on it meanwhile.
    assert refused(pingchang, runtime, "TRANSFER", [code],
                   holders=[{"party": person("李四")}]) == ["UNIT_UNDER_ADVANCE_NOTICE"]
    assert refused(pingchang, runtime, "MORTGAGE", [code], holders=[{"party": BANK}],
                   amount="1.00") == ["UNIT_UNDER_ADVANCE_NOTICE"]
    assert refused(pingchang, runtime, "TRANSFER", [code], targetRightId=notice["id"],
                   holders=[{"party": person("李四")}]) == ["NOTICE_HOLDERS_MISMATCH"]
    clock.advance(days=30)
    sale = pingchang.register("TRANSFER", [code], targetRightId=notice["id"],
                              holders=[{"party": buyer}])
    unit = pingchang.unit(code)
    assert unit["currentTitle"]["holders"][0]["party"]["name"] == "陈小红"
    assert standing(pingchang, code, "ADVANCE_NOTICE") == []
    ended = next(r for r in unit["rights"] if r["id"] == notice["id"])
    assert ended["status"] == "TERMINATED" and ended["endedAt"] == sale["recordedAt"]
    assert notice_case["number"] != sale["number"]
    status, out = verify(settings)
    assert status == 0, out


def test_a_damaged_certificate_is_replaced_and_a_lost_one_reissued(
        pingchang: Bureau, runtime: Runtime, clock: Clock, settings: Settings) -> None:
    code = pingchang.rural_house()["code"]
    first = pingchang.register("FIRST", [code], holders=[
        {"party": person("王建国"), "share": "1/2"}, {"party": person("李秀英"), "share": "1/2"}],
        coOwnership="SHARES", rightType=6, rightNature=203)
    pingchang.certify(first["number"])
    old_number = first["certificates"][0]["number"]

    # 换证: the damaged booklet comes back; a new number, the old voided, the right the same.
    swap = pingchang.register("CERTIFICATE_REPLACEMENT", [code], certificateNumber=old_number)
    new_number = swap["certificates"][0]["number"]
    assert new_number != old_number
    title = pingchang.unit(code)["currentTitle"]
    assert title["certificateNumber"] == new_number
    assert sorted((h["party"]["name"], h["share"]) for h in title["holders"]) == [
        ("李秀英", "1/2"), ("王建国", "1/2")]
    old_case = pingchang.gql.data(operation("Application"), {"number": first["number"]},
                                  pingchang.registrar)["application"]
    assert old_case["certificates"][0]["status"] == "VOIDED"
    assert old_case["certificates"][0]["print"] is None  # its print voided with it
    page = proof_text(runtime, new_number)
    assert f"换发，原证书{old_number}作废" in page
    pingchang.certify(swap["number"])
    # A replacement for the voided certificate is refused.
    assert refused(pingchang, runtime, "CERTIFICATE_REPLACEMENT", [code],
                   certificateNumber=old_number) == ["CERTIFICATE_VOIDED"]

    # 补证: lost; the notice was published on Monday 2026-03-02. Fifteen working days are
    # over on Monday 2026-03-23, not before.
    notice = {"lossNoticeOn": "2026-03-02", "lossNoticeMedium": "巴中日报"}
    clock.advance(days=20)  # Sunday 2026-03-22: 14 working days
    assert refused(pingchang, runtime, "CERTIFICATE_REISSUE", [code],
                   certificateNumber=new_number, **notice) == ["LOSS_NOTICE_PENDING"]
    assert refused(pingchang, runtime, "CERTIFICATE_REISSUE", [code],
                   certificateNumber=new_number) == ["LOSS_NOTICE_REQUIRED"]
    clock.advance(days=1)
    reissue = pingchang.register("CERTIFICATE_REISSUE", [code], certificateNumber=new_number,
                                 **notice)
    third = reissue["certificates"][0]["number"]
    assert pingchang.unit(code)["currentTitle"]["certificateNumber"] == third
    assert "补发，原证书" in proof_text(runtime, third)
    assert [e["entryType"] for e in pingchang.unit(code)["history"]] == [
        "FIRST", "CERTIFICATE_REPLACEMENT", "CERTIFICATE_REISSUE"]
    status, out = verify(settings)
    assert status == 0, out
