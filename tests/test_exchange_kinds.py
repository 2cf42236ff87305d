"""EXCHANGE-7: the message of every common kind of case validates against the XSD and names
the tables that case touched."""

from __future__ import annotations

from lxml import etree
from sqlalchemy import select

from registry.db.exchange import OutboxMessage
from registry.db.units import UnitKind
from registry.runtime import Runtime
from registry.services.exchange.messages import validate
from tests.exchange_support import Office


def messages(runtime: Runtime) -> dict[str, OutboxMessage]:
    with runtime.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage)))
        session.expunge_all()
    return {row.application_number: row for row in rows}


def tables(message: OutboxMessage) -> set[str]:
    return {e.tag for e in etree.fromstring(message.body.encode()).find("Data")}


def test_every_kind_of_message_validates(runtime: Runtime) -> None:
    office = Office(runtime, counties=("511923",))
    county = "511923"
    house, first = office.first(county)
    road, road_first = office.first(county, UnitKind.INFRASTRUCTURE)
    space, space_first = office.first(county, UnitKind.PARKING_SPACE)
    mortgage = office.mortgage(county, house)
    transfer = office.transfer(county, space)
    objection = office.objection(county, road)
    seizure = office.seizure(county, house)
    cancellation = office.cancellation(county, road)
    sent = messages(runtime)
    assert len(sent) == 8
    for message in sent.values():
        assert validate(message.body) == [], message.application_number
    assert {"KTT_ZDJBXX", "KTT_FW_ZRZ", "KTT_FW_H", "QLT_FW_FDCQ_YZ", "ZTT_GY_QLR",
            "DJT_DJ_SL", "DJF_DJ_SQR", "DJF_DJ_SJ", "DJF_DJ_SH"} <= tables(sent[first])
    assert "QLF_QL_JSYDSYQ" in tables(sent[road_first])  # a road as land only
    assert "KTT_FW_H" in tables(sent[space_first])
    assert {"QLF_QL_DYAQ", "ZTT_GY_QLR"} <= tables(sent[mortgage])
    assert sent[mortgage].proof_count == 1 and sent[mortgage].cert_count == 0
    assert "QLT_FW_FDCQ_YZ" in tables(sent[transfer])  # old title historic, new one current
    root = etree.fromstring(sent[transfer].body.encode())
    states = sorted(e.get("QSZT") for e in root.iterfind("Data/QLT_FW_FDCQ_YZ"))
    assert states == ["1", "2"]
    assert root.findtext("Head/PreCertID")  # the certificate it replaces
    assert "QLF_QL_YYDJ" in tables(sent[objection])
    cf = etree.fromstring(sent[seizure].body.encode()).find("Data/QLF_QL_CFDJ")
    assert cf.get("CFJG") == "平昌县人民法院" and cf.get("CFLX") == "1"
    assert "QLF_QL_ZXDJ" in tables(sent[cancellation])
    dy = etree.fromstring(sent[mortgage].body.encode()).find("Data/QLF_QL_DYAQ")
    assert dy.get("DYFS") == "1" and dy.get("BDBZZQSE") == "300000.00"
    ids = sorted(m.message_id for m in sent.values())
    assert ids == [f"51192320260105{n:04d}" for n in range(1, 9)] or len(set(ids)) == 8


def test_releases_and_cancellations_of_restrictions_report_their_end(runtime: Runtime) -> None:
    from registry.db.applications import ApplicationKind
    from registry.db.rights import Right, RightKind
    from registry.services.registration.applications import ApplicationInput

    office = Office(runtime, counties=("511923",))
    county = "511923"
    house, _ = office.first(county)
    office.mortgage(county, house)
    office.seizure(county, house)
    with runtime.sessions() as session:
        ids = {r.kind: r.id for r in session.scalars(select(Right))}
    release = office.case(county, ApplicationInput(
        ApplicationKind.SEIZURE_RELEASE, [house], target_right_id=ids[RightKind.SEIZURE],
        authority="平昌县人民法院", document_no="(2026)川1923执100号之一"))
    discharge = office.case(county, ApplicationInput(
        ApplicationKind.MORTGAGE_CANCELLATION, [house],
        target_right_id=ids[RightKind.MORTGAGE]))
    sent = messages(runtime)
    for number in (release, discharge):
        assert validate(sent[number].body) == []
        root = etree.fromstring(sent[number].body.encode())
        [ended] = root.findall("Data/QLF_QL_ZXDJ")
        assert ended.get("ZXYWH") != number  # names the case that created the right
    assert {e.get("QSZT") for e in etree.fromstring(sent[discharge].body.encode())
            .iterfind("Data/QLF_QL_DYAQ")} == {"3"}
