"""EXCHANGE-1/4/5/7: every recording queues one valid message, in the same transaction."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from sqlalchemy import select

from registry.db.exchange import OutboxMessage, OutboxState
from registry.runtime import Runtime
from registry.services.exchange.mapping import XSD_FILE, render_xsd
from registry.services.exchange.messages import validate
from tests.bureau import Bureau, person


def outbox(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return rows


def test_the_committed_xsd_is_the_mapping_s() -> None:
    assert XSD_FILE.read_text(encoding="utf-8") == render_xsd()


def test_a_first_registration_queues_its_message(pingchang: Bureau, runtime: Runtime) -> None:
    code = pingchang.rural_house()["code"]
    case = pingchang.register("FIRST", [code], holders=[{"party": person("王大山")}])
    [message] = outbox(runtime)
    assert message.application_number == case["number"]
    assert message.state is OutboxState.PENDING
    assert message.message_id.startswith("511923") and len(message.message_id) == 18
    assert validate(message.body) == []
    root = etree.fromstring(message.body.encode())
    head = {e.tag: e.text for e in root.find("Head")}
    assert head["RecFlowID"] == case["number"] and head["EstateNum"] == code
    assert head["RegType"] == "100" and head["RightType"] == "6"
    assert head["CertCount"] == "1" and head["ProofCount"] == "0"
    tables = [e.tag for e in root.find("Data")]
    for table in ("KTT_ZDJBXX", "KTT_FW_ZRZ", "KTT_FW_H", "QLT_FW_FDCQ_YZ", "ZTT_GY_QLR",
                  "DJT_DJ_SL", "DJF_DJ_SQR", "DJF_DJ_SJ", "DJF_DJ_SH"):
        assert table in tables, tables
    holder = root.find("Data/ZTT_GY_QLR")
    assert holder.get("QLRMC") == "王大山" and holder.get("GYFS") == "0"
    assert holder.get("ZJZL") == "1" and holder.get("QSZT") == "1"
    assert message.row_counts["ZTT_GY_QLR"] == 1


def test_the_unsure_codes_come_from_the_mapping_file(tmp_path: Path) -> None:
    import pytest

    from registry.services.exchange.mapping import (
        DEFAULT_MAPPING_FILE,
        MappingError,
        load_mapping,
    )

    shipped = DEFAULT_MAPPING_FILE.read_text(encoding="utf-8")
    other = tmp_path / "province.toml"
    other.write_text(shipped.replace('RESIDENT_ID = "1"', 'RESIDENT_ID = "10"'),
                     encoding="utf-8")
    assert load_mapping(str(other)).code("ZJZL", "RESIDENT_ID") == "10"
    assert load_mapping(str(other)).code("QSZT", "historic") == "2"  # sure: in code
    broken = tmp_path / "broken.toml"
    broken.write_text(shipped.replace('merge = "3000202"\n', ""), encoding="utf-8")
    with pytest.raises(MappingError, match="no RecType for merge"):
        load_mapping(str(broken))
    no_default = tmp_path / "no-default.toml"
    no_default.write_text(shipped, encoding="utf-8")
    with pytest.raises(MappingError, match="no code for 'garage'"):
        load_mapping(str(no_default)).code("DYBDCLX", "garage")


def test_a_message_never_changes_and_reconcile_sees_a_forced_change(
        pingchang: Bureau, runtime: Runtime) -> None:
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from registry.services.exchange.reconcile import reconcile

    code = pingchang.rural_house()["code"]
    pingchang.register("FIRST", [code], holders=[{"party": person("王大山")}])
    with pytest.raises(DBAPIError, match="APPEND_ONLY"), runtime.engine.begin() as conn:
        conn.execute(text("UPDATE exchange_outbox SET body = body || ' '"))
    with pytest.raises(DBAPIError, match="APPEND_ONLY"), runtime.engine.begin() as conn:
        conn.execute(text("DELETE FROM exchange_outbox"))
    with runtime.engine.begin() as conn:  # a superuser going round the trigger
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE exchange_outbox SET body = replace(body, '王大山', '王小山'),"
                          " state = 'acknowledged', sent_sha256 = body_sha256,"
                          " receipt = 'R1'"))
    with runtime.sessions() as session:
        found = reconcile(session)
    assert [d.kind for d in found] == ["changed"]
