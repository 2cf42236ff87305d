"""The per-recording message (接入报文): `Message` with `Head` and `Data`, as XML.

- EXCHANGE-7 Every message is validated against the XSD kept beside the mapping
  (`exchange.xsd`) before it is stored; one that does not validate refuses the recording
  (`EXCHANGE_MESSAGE_INVALID`): a message the platform cannot read is never queued.
- BizMsgID is 18 digits: the county's code (6), the recording's local date (8) and a gapless
  4-digit sequence per county and day (row-locked counter, registry/services/numbers.py).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from lxml import etree

from registry.db.applications import Application
from registry.db.register import RegisterEntry
from registry.db.rights import RightKind
from registry.services.errors import DomainError
from registry.services.exchange.facts import CaseFacts
from registry.services.exchange.mapping import (
    DJLX,
    TABLES,
    XSD_FILE,
    Mapping,
    row_of,
)
from registry.services.numbers import next_number
from registry.services.timezone import local_date

MAX_DAILY_SEQUENCE = 9999


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The message XSD (registry/services/exchange/exchange.xsd)."""
    return etree.XMLSchema(etree.parse(str(XSD_FILE)))


def validate(body: bytes | str) -> list[str]:
    """The XSD's complaints about a message (none: it is valid)."""
    data = body.encode() if isinstance(body, str) else body
    try:
        document = etree.fromstring(data)
    except etree.XMLSyntaxError as exc:
        return [f"not XML: {exc}"]
    checker = schema()
    if checker.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in checker.error_log]


@dataclass(frozen=True)
class Built:
    message_id: str
    rec_type: str
    body: str
    body_sha256: str
    cert_count: int
    proof_count: int
    row_counts: dict[str, int]


def message_id(session: Any, county: str, moment: datetime) -> str:
    day = local_date(moment).strftime("%Y%m%d")
    seq = next_number(session, f"exchange:{county}:{day}")
    if seq > MAX_DAILY_SEQUENCE:
        raise DomainError("EXCHANGE_SEQUENCE_EXHAUSTED",
                          f"今日汇交报文序号已用尽（{county}，{day}）",
                          f"the exchange message numbers of {county} for {day} are used up")
    return f"{county[:6]}{day}{seq:04d}"


def build(session: Any, mapping: Mapping, application: Application, now: datetime,
          entry: RegisterEntry) -> Built:
    """The message for a case just recorded (`entry`: its register entry), validated
    (EXCHANGE-7)."""
    facts = CaseFacts(session, application, entry)
    data = etree.Element("Data")
    counts: Counter[str] = Counter()
    for table_name, row_facts in facts.rows():
        row = row_of(mapping, TABLES[table_name], row_facts)
        etree.SubElement(data, table_name, row)
        counts[table_name] += 1
    data_bytes = etree.tostring(data, method="c14n")
    main = facts.created[0] if facts.created else (facts.ended[0] if facts.ended else None)
    right_type = (main.right_type if main is not None and main.kind is RightKind.TITLE
                  else mapping.code("QLLX_KIND", main.kind) if main is not None else None)
    first_unit = next(iter(facts.units.values()), None)
    predecessor = (facts.session.get(type(main), main.predecessor_id)
                   if main is not None and main.predecessor_id else None)
    cert_count = sum(1 for r in facts.created
                     if r.certificate_number and r.kind is RightKind.TITLE)
    proof_count = sum(1 for r in facts.created
                      if r.certificate_number and r.kind is not RightKind.TITLE)
    ident = message_id(session, application.county_code, now)
    head_values: list[tuple[str, str | None]] = [
        ("BizMsgID", ident), ("ASID", mapping.asid), ("AreaCode", application.county_code[:6]),
        ("RecType", mapping.rec_type[application.kind.value]),
        ("RightType", str(right_type or "99")),
        ("RegType", str(DJLX[application.kind])),
        ("CreateDate", now.isoformat(timespec="seconds")),
        ("RecFlowID", application.number),
        ("RegOrgID", mapping.reg_org.get(application.county_code, application.county_code)),
        ("ParcelID", first_unit.code[:19] if first_unit else None),
        ("EstateNum", first_unit.code if first_unit else None),
        ("PreEstateNum", facts.predecessors[0] if facts.predecessors else None),
        ("PreCertID", predecessor.certificate_number if predecessor else None),
        ("CertCount", str(cert_count)), ("ProofCount", str(proof_count)),
        ("DigitalSign", hashlib.sha256(data_bytes).hexdigest()
         if mapping.digital_sign == "sha256" else ""),
    ]
    message = etree.Element("Message")
    head = etree.SubElement(message, "Head")
    for name, value in head_values:
        if value is not None:
            etree.SubElement(head, name).text = value
    message.append(data)
    body = etree.tostring(message, encoding="UTF-8", xml_declaration=True).decode()
    problems = validate(body)
    if problems:
        raise DomainError("EXCHANGE_MESSAGE_INVALID",
                          f"汇交报文不符合XSD：{problems[0]}",
                          f"the exchange message does not validate: {problems[0]}")
    return Built(ident, mapping.rec_type[application.kind.value], body,
                 hashlib.sha256(body.encode()).hexdigest(), cert_count, proof_count,
                 dict(sorted(counts.items())))
