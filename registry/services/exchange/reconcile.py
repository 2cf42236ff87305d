"""What was sent and acknowledged, against the register (`registry exchange reconcile`).

- EXCHANGE-10 Every recording (a register entry made by a case's recording, i.e. of the case's
  own entry type) has exactly one message, acknowledged once, whose content is what was
  acknowledged and whose counts are the register's. Each departure is listed:
  `missing` (a recording without a message), `not_acknowledged` (pending or refused),
  `sent_twice` (the platform gave more than one receipt for one message, or several messages
  name one 业务号), `changed` (the body's hash is not the one written or acknowledged, or the
  register entry's hash is not the one the message was built after), `counts` (certificates
  or proofs numbered for the case ≠ the message's CertCount / ProofCount).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.applications import ApplicationKind
from registry.services.timezone import end_of_day

RECORDING_TYPES = tuple(kind.value for kind in ApplicationKind)


@dataclass(frozen=True)
class Difference:
    kind: str  # missing | not_acknowledged | sent_twice | changed | counts
    county: str
    number: str  # 业务号
    detail: str


def reconcile(session: Session, county: str | None = None,
              as_of: date | None = None) -> list[Difference]:
    """Every difference, in county and register order."""
    params = {"county": county, "types": list(RECORDING_TYPES),
              "until": end_of_day(as_of) if as_of else None}
    rows = session.execute(text("""
        SELECT e.county_code, e.seq, e.hash, e.application_id, a.number,
               o.id, o.state, o.message_id, o.body, o.body_sha256, o.sent_sha256,
               o.entry_seq, o.entry_hash, o.cert_count, o.proof_count, o.answer,
               (SELECT count(*) FROM certificates c WHERE c.application_id = a.id
                  AND c.kind = 'right') AS certs,
               (SELECT count(*) FROM certificates c WHERE c.application_id = a.id
                  AND c.kind = 'proof') AS proofs,
               (SELECT count(DISTINCT t.receipt) FROM exchange_attempts t
                 WHERE t.outbox_id = o.id AND t.outcome = 'acknowledged') AS receipts
          FROM register_entries e
          JOIN applications a ON a.id = e.application_id
          LEFT JOIN exchange_outbox o ON o.application_id = e.application_id
         WHERE e.entry_type = ANY(:types) AND e.entry_type = a.kind::text
           AND (CAST(:county AS text) IS NULL OR e.county_code = :county)
           AND (CAST(:until AS timestamptz) IS NULL OR e.recorded_at <= :until)
         ORDER BY e.county_code, e.seq
    """), params).all()
    out: list[Difference] = []
    for (county_code, seq, entry_hash, _app, number, outbox_id, state, message_id, body,
         body_sha, sent_sha, o_seq, o_hash, cert_count, proof_count, answer, certs, proofs,
         receipts) in rows:
        def add(kind: str, detail: str, county_code: str = county_code,
                number: str = number) -> None:
            out.append(Difference(kind, county_code, number, detail))

        if outbox_id is None:
            add("missing", f"register entry {seq} has no message")
            continue
        if state != "acknowledged":
            add("not_acknowledged", f"{message_id} {state}"
                + (f": {answer[:120]}" if answer and state == "refused" else ""))
        if receipts > 1:
            add("sent_twice", f"{message_id}: {receipts} receipts from the platform")
        actual = hashlib.sha256(body.encode()).hexdigest()
        if actual != body_sha or (sent_sha is not None and sent_sha != body_sha):
            add("changed", f"{message_id}: body differs from what was written or sent")
        if o_seq != seq or o_hash != entry_hash:
            add("changed", f"{message_id}: built after entry {o_seq}, the register has {seq}")
        if (certs, proofs) != (cert_count, proof_count):
            add("counts", f"{message_id}: {cert_count} certificates / {proof_count} proofs "
                          f"sent, the register has {certs} / {proofs}")
    for number, county_code, count in session.execute(text("""
        SELECT application_number, county_code, count(*) FROM exchange_outbox
         WHERE CAST(:county AS text) IS NULL OR county_code = :county
         GROUP BY application_number, county_code HAVING count(*) > 1
    """), params).all():
        out.append(Difference("sent_twice", county_code, number, f"{count} messages"))
    return out
