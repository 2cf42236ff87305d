"""`registry verify` for the register: the chains link, and the tables say what the chains say.

A superuser can switch triggers off (`SET session_replication_role = replica`) and rewrite
any table; the hash chains (CHAIN-1..3, REGISTER-2/3) make rewritten register entries
detectable, and these rules carry that to the tables every reader uses:

- VERIFY-1 Each county's chain links (CHAIN-1..2) and the columns beside each entry's payload
  (seq, type, county, units, recorded_at; for payload version 2 also recorded_by and
  application_id) say what the hashed payload says; `register_chain_heads` holds the last
  entry's seq and hash.
- VERIFY-2 Replaying the chain gives every right the register ever recorded: `rights` holds
  exactly those rights, with the unit, kind, right type, co-ownership, certificate number,
  predecessor, burdened right, amount, authority, document number, term, lapse time, begin
  (the entry's time) and the recording case the entry names; its status and end (time and
  case) are those of the entry that ended it, else the created status with no end. Version 2
  entries also fix right_nature and note; entries since migration 0013 also the purpose, the
  easement's dominant unit, the mortgage mode, 最高债权额 and 债权确定期间; since 0014 the
  mortgage's priority time and the seizure type.
- VERIFY-3 `right_holders` holds exactly the holders each right was recorded with, with the
  recorded share; each holder's `parties` row has the recorded name, ID type and ID number
  (PARTY-1: a party's identity never changes).
- VERIFY-4 `certificates` holds exactly one certificate per certificate number the chain
  recorded, with the kind (title → right certificate, restriction → proof), authority, year
  and serial the number spells, the right, the case and the time of recording. Its status is
  `voided` when an entry voided it (换证/补证, CERT-3), else `printed` (with printed_at)
  exactly when the case has a transition to `certified`, else `issued` — certify writes no
  register entry, so this part is checked against the append-only
  `application_transitions`, not against the chain.
- VERIFY-5 A unit's status is that of the last entry deciding it: a first registration
  (registered), a cancellation (cancelled), a split or merge (historic for the old units,
  registered for the new: SPLIT-7), `surveyed` if none names it; every unit an entry names
  exists. `unit_lineage` and `parcel_lineage` hold exactly the links the split and merge
  entries recorded, each with its case. An entry's `application_id` column names the case
  whose number the payload holds.
- VERIFY-6 Heads saved earlier (`--save-heads`) are still there: for each saved county the
  chain reaches at least the saved position and its entry there has the saved hash. This is
  what finds a tail cut together with its head row.
- VERIFY-7 Every natural-resource unit the chain recorded (entries `nr_*`, NRCASE-7) has a
  current version, not pre-delimited, whose status, name, type, level, authority, areas and
  geometry (its digest) are those of the unit's last entry, and whose current ownership is
  that entry's; a registered or cancelled unit no entry recorded is a difference too.

Reads are streamed (a server-side cursor over the entries; the comparisons are set-based SQL
whose differences stream back), in one REPEATABLE READ snapshot, so memory stays flat and what
is compared is one moment of the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.services.chain import GENESIS, link_hash

HEADS_FORMAT = "registry-heads/1"
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Difference:
    """A table that does not say what the register says (VERIFY-2..5)."""

    table: str
    key: str
    column: str
    expected: str | None
    found: str | None

    def __str__(self) -> str:
        return (f"{self.table} {self.key}: {self.column} expected {_show(self.expected)}, "
                f"found {_show(self.found)}")


def _show(value: str | None) -> str:
    return "NULL" if value is None else repr(value)


@dataclass(frozen=True)
class Head:
    """A chain's head: its last position and that entry's hash."""

    county: str
    position: int
    hash: str


@dataclass
class CountyChain:
    """What walking one county's chain found (VERIFY-1)."""

    county: str
    entries: int = 0
    head: Head | None = None
    first_break: tuple[int, str] | None = None  # (position, reason)
    watched: dict[int, str] = field(default_factory=dict)  # position → hash, for VERIFY-6


def _streamed(session: Session, sql: str, batch: int) -> Iterator[Any]:
    """Rows through a server-side cursor, `batch` at a time: memory does not grow with them."""
    connection = session.connection().execution_options(stream_results=True,
                                                        max_row_buffer=batch)
    yield from connection.execute(text(sql))


def _same_instant(text_value: object, value: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(text_value)) == value
    except ValueError:
        return False


def _column_disagreement(row: Any, payload: dict[str, Any]) -> str | None:
    """Which column beside the payload says something else than the hashed payload."""
    checks: list[tuple[str, object, object]] = [
        ("seq", row.seq, payload.get("seq")),
        ("entry_type", row.entry_type, payload.get("type")),
        ("county_code", row.county_code, payload.get("county")),
        ("unit_codes", list(row.unit_codes), payload.get("units")),
    ]
    if payload.get("v", 1) >= 2:
        checks += [("recorded_by", row.recorded_by, payload.get("recorded_by")),
                   ("application_id", row.application_id, payload.get("application_id"))]
    for column, found, said in checks:
        if found != said:
            return f"column {column} is {found!r}, the hashed payload says {said!r}"
    if not _same_instant(payload.get("recorded_at"), row.recorded_at):
        return (f"column recorded_at is {row.recorded_at.isoformat()}, the hashed payload says "
                f"{payload.get('recorded_at')!r}")
    return None


def walk_chains(session: Session, watch: dict[str, set[int]] | None = None,
                progress: Progress | None = None, batch: int = 5000) -> list[CountyChain]:
    """VERIFY-1 over every county, streaming the entries in (county, seq) order."""
    watch = watch or {}
    total = session.execute(text("SELECT count(*) FROM register_entries")).scalar_one()
    rows = _streamed(session, "SELECT county_code, seq, prev_hash, hash, payload, entry_type,"
                     " unit_codes, recorded_at, recorded_by, application_id"
                     " FROM register_entries ORDER BY county_code, seq", batch)
    chains: dict[str, CountyChain] = {}
    chain: CountyChain | None = None
    expected_previous = GENESIS
    done = 0
    for row in rows:
        if chain is None or chain.county != row.county_code:
            chain = chains[row.county_code] = CountyChain(row.county_code)
            expected_previous = GENESIS
        chain.entries += 1
        if chain.first_break is None:
            payload = row.payload if isinstance(row.payload, dict) else {}
            reason = None
            if row.prev_hash != expected_previous:
                reason = "prev_hash does not match the previous entry"
            elif link_hash(row.prev_hash, row.payload) != row.hash:
                reason = "content does not match its hash"
            else:
                reason = _column_disagreement(row, payload)
            if reason is not None:
                chain.first_break = (row.seq, reason)
        expected_previous = row.hash
        chain.head = Head(row.county_code, row.seq, row.hash)
        if row.seq in watch.get(row.county_code, ()):
            chain.watched[row.seq] = row.hash
        done += 1
        if progress is not None and done % batch == 0:
            progress("chain", done, total)
    if progress is not None:
        progress("chain", done, total)
    for county, seq, digest in session.execute(
            text("SELECT county_code, seq, hash FROM register_chain_heads ORDER BY 1")):
        found = chains.get(county)
        if found is None:
            if seq != 0:
                chains[county] = CountyChain(county, first_break=(
                    1, f"chain head says {seq} entries, 0 found"))
            continue
        if found.first_break is None and found.head is not None and (
                seq != found.head.position or digest != found.head.hash):
            found.first_break = (found.entries + 1 if seq > found.head.position
                                 else found.head.position,
                                 f"chain head says {seq} entries (hash {digest[:12]}…), "
                                 f"{found.entries} found (last hash {found.head.hash[:12]}…)")
    return [chains[c] for c in sorted(chains)]


# ---------------------------------------------------------------------------- VERIFY-6 heads

def heads_document(chains: list[CountyChain]) -> dict[str, Any]:
    """The heads as `--save-heads` writes them (and `--expect-heads` reads them)."""
    return {"format": HEADS_FORMAT,
            "heads": [{"county": c.head.county, "position": c.head.position,
                       "hash": c.head.hash} for c in chains if c.head is not None]}


def read_heads(path: Path) -> list[Head]:
    """Heads saved by `--save-heads` (a JSON document; `format` is checked when present)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format", HEADS_FORMAT) != HEADS_FORMAT:
        raise ValueError(f"{path}: not a heads file ({document.get('format')!r})")
    return [Head(str(h["county"]), int(h["position"]), str(h["hash"]))
            for h in document["heads"]]


def head_problems(saved: list[Head], chains: list[CountyChain]) -> list[str]:
    """VERIFY-6: each saved head is still in its chain (walk with watch=watch_of(saved))."""
    by_county = {c.county: c for c in chains}
    problems = []
    for head in saved:
        chain = by_county.get(head.county)
        if chain is None or chain.head is None:
            problems.append(f"head {head.county}: saved at position {head.position}, "
                            "the county has no entries now (missing)")
        elif chain.head.position < head.position:
            problems.append(f"head {head.county}: moved backwards from position "
                            f"{head.position} to {chain.head.position}")
        elif chain.watched.get(head.position) != head.hash:
            problems.append(f"head {head.county}: entry {head.position} differs from the saved "
                            f"head (saved {head.hash}, found "
                            f"{chain.watched.get(head.position, 'no entry')})")
    return problems


def watch_of(saved: list[Head]) -> dict[str, set[int]]:
    watch: dict[str, set[int]] = {}
    for head in saved:
        watch.setdefault(head.county, set()).add(head.position)
    return watch


# ---------------------------------------------------------------------------- VERIFY-2..5

_ELEMENTS = """
WITH entries AS (
    SELECT e.county_code, e.seq, e.entry_type, e.recorded_at, e.payload->>'application' AS app,
           e.payload->'body' AS body
      FROM register_entries e
), created AS (
    SELECT (c->>'right')::bigint AS right_id, c, x.recorded_at, x.app, x.county_code, x.seq
      FROM entries x
     CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(x.body->'created') = 'array'
                                             THEN x.body->'created' ELSE '[]' END) c
), ended AS (
    SELECT DISTINCT ON ((d->>'right')::bigint)
           (d->>'right')::bigint AS right_id, d->>'status' AS status,
           CASE WHEN x.entry_type = 'lapse' THEN (x.body->>'effective_at')::timestamptz
                ELSE x.recorded_at END AS ended_at,
           CASE WHEN x.entry_type = 'lapse' THEN NULL ELSE x.app END AS app
      FROM entries x
     CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(x.body->'ended') = 'array'
                                             THEN x.body->'ended' ELSE '[]' END) d
     ORDER BY (d->>'right')::bigint, x.county_code DESC, x.seq DESC
)"""

# (column, expected from the replayed register, found in the table, SQL type compared as)
_RIGHT_COLUMNS: list[tuple[str, str, str, str]] = [
    ("unit", "x.c->>'unit'", "u.code", "text"),
    ("kind", "x.c->>'kind'", "r.kind::text", "text"),
    ("status", "COALESCE(x.ended_status, x.c->>'status')", "r.status::text", "text"),
    ("right_type", "x.c->>'right_type'", "r.right_type::text", "int"),
    ("right_nature", "CASE WHEN x.c ? 'right_nature' THEN x.c->>'right_nature'"
                     " ELSE r.right_nature::text END", "r.right_nature::text", "int"),
    ("co_ownership", "x.c->>'co_ownership'", "r.co_ownership::text", "text"),
    ("certificate_number", "x.c->>'certificate'", "r.certificate_number", "text"),
    ("predecessor_id", "x.c->>'predecessor'", "r.predecessor_id::text", "bigint"),
    ("burdened_right_id", "x.c->>'burdens'", "r.burdened_right_id::text", "bigint"),
    ("amount", "x.c->>'amount'", "r.amount::text", "numeric"),
    ("authority", "x.c->>'authority'", "r.authority", "text"),
    ("document_no", "x.c->>'document_no'", "r.document_no", "text"),
    ("term_start", "x.c->'term'->>0", "r.term_start::text", "date"),
    ("term_end", "x.c->'term'->>1", "r.term_end::text", "date"),
    ("lapses_at", "x.c->>'lapses_at'", "r.lapses_at::text", "timestamptz"),
    ("begun_at", "x.recorded_at::text", "r.begun_at::text", "timestamptz"),
    ("application", "x.app", "a.number", "text"),
    ("ended_at", "x.ended_at::text", "r.ended_at::text", "timestamptz"),
    ("ended_by_application", "x.ended_app", "ea.number", "text"),
    ("note", "CASE WHEN x.c ? 'note' THEN x.c->>'note' ELSE r.note END", "r.note", "text"),
    # Entries since the right of residence, easement and maximum-amount mortgage (0013).
    *((name, f"CASE WHEN x.c ? '{key}' THEN x.c{path} ELSE {found} END", found, kind)
      for name, key, path, found, kind in (
          ("purpose", "purpose", "->>'purpose'", "r.purpose", "text"),
          ("dominant_unit", "dominant_unit", "->>'dominant_unit'", "du.code", "text"),
          ("mortgage_mode", "mortgage_mode", "->>'mortgage_mode'", "r.mortgage_mode::text",
           "text"),
          ("max_amount", "max_amount", "->>'max_amount'", "r.max_amount::text", "numeric"),
          ("claims_start", "claims", "->'claims'->>0", "r.claims_start::text", "date"),
          ("claims_end", "claims", "->'claims'->>1", "r.claims_end::text", "date"),
          ("priority_at", "priority_at", "->>'priority_at'", "r.priority_at::text",
           "timestamptz"),
          ("seizure_type", "seizure_type", "->>'seizure_type'", "r.seizure_type::text",
           "int"))),
]


def _values(columns: list[tuple[str, str, str, str]]) -> str:
    return ",\n".join(
        f"('{name}', ({e})::text, ({f})::text, ({e})::{t} IS DISTINCT FROM ({f})::{t})"
        for name, e, f, t in columns)


_PRESENCE = """
    SELECT 'row', CASE WHEN {expected} THEN 'present' ELSE 'absent (the register has no such'
                       || ' {noun})' END,
           CASE WHEN {found} THEN 'present' ELSE 'absent' END, ({expected}) <> ({found})
"""

RIGHTS_SQL = _ELEMENTS + f"""
SELECT 'rights', 'id ' || COALESCE(x.right_id, r.id), d.col, d.expected, d.found
  FROM (SELECT COALESCE(c.right_id, n.right_id) AS right_id, c.c, c.recorded_at, c.app,
               n.status AS ended_status, n.ended_at, n.app AS ended_app
          FROM created c FULL JOIN ended n USING (right_id)) x
  FULL JOIN rights r ON r.id = x.right_id
  LEFT JOIN units u ON u.id = r.unit_id
  LEFT JOIN units du ON du.id = r.dominant_unit_id
  LEFT JOIN applications a ON a.id = r.application_id
  LEFT JOIN applications ea ON ea.id = r.ended_by_application_id
 CROSS JOIN LATERAL (
    {_PRESENCE.format(expected="x.c IS NOT NULL", found="r.id IS NOT NULL", noun="right")}
    UNION ALL
    SELECT * FROM (VALUES {_values(_RIGHT_COLUMNS)}) v(col, expected, found, differs)
     WHERE x.c IS NOT NULL AND r.id IS NOT NULL
 ) d(col, expected, found, differs)
 WHERE d.differs
 ORDER BY COALESCE(x.right_id, r.id), d.col
"""

HOLDERS_SQL = _ELEMENTS + f"""
, holders AS (
    SELECT c.right_id, (h->>'party')::bigint AS party_id, h->>'share' AS share
      FROM created c CROSS JOIN LATERAL jsonb_array_elements(
           CASE WHEN jsonb_typeof(c.c->'holders') = 'array' THEN c.c->'holders'
                ELSE '[]' END) h
)
SELECT 'right_holders', 'right ' || COALESCE(x.right_id, rh.right_id) || ' party '
       || COALESCE(x.party_id, rh.party_id), d.col, d.expected, d.found
  FROM holders x
  FULL JOIN right_holders rh ON rh.right_id = x.right_id AND rh.party_id = x.party_id
 CROSS JOIN LATERAL (
    {_PRESENCE.format(expected="x.right_id IS NOT NULL", found="rh.right_id IS NOT NULL",
                      noun="holder")}
    UNION ALL
    SELECT 'share', x.share, rh.share_numerator || '/' || rh.share_denominator,
           x.share IS DISTINCT FROM (rh.share_numerator || '/' || rh.share_denominator)
     WHERE x.right_id IS NOT NULL AND rh.right_id IS NOT NULL
 ) d(col, expected, found, differs)
 WHERE d.differs
 ORDER BY COALESCE(x.right_id, rh.right_id), COALESCE(x.party_id, rh.party_id), d.col
"""

PARTIES_SQL = _ELEMENTS + """
, named AS (
    SELECT DISTINCT ON ((h->>'party')::bigint) (h->>'party')::bigint AS party_id,
           h->>'name' AS name, h->>'id_type' AS id_type, h->>'id_number' AS id_number
      FROM created c CROSS JOIN LATERAL jsonb_array_elements(
           CASE WHEN jsonb_typeof(c.c->'holders') = 'array' THEN c.c->'holders'
                ELSE '[]' END) h
     ORDER BY (h->>'party')::bigint, c.county_code DESC, c.seq DESC
)
SELECT 'parties', 'id ' || x.party_id, d.col, d.expected, d.found
  FROM named x LEFT JOIN parties p ON p.id = x.party_id
 CROSS JOIN LATERAL (VALUES
    ('row', 'present', CASE WHEN p.id IS NULL THEN 'absent' ELSE 'present' END, p.id IS NULL),
    ('name', x.name, p.name, p.id IS NOT NULL AND x.name IS DISTINCT FROM p.name),
    ('id_type', x.id_type, p.id_type::text,
     p.id IS NOT NULL AND x.id_type IS DISTINCT FROM p.id_type::text),
    ('id_number', x.id_number, p.id_number,
     p.id IS NOT NULL AND x.id_number IS DISTINCT FROM p.id_number)
 ) d(col, expected, found, differs)
 WHERE d.differs
 ORDER BY x.party_id, d.col
"""

_CERTIFICATE_COLUMNS: list[tuple[str, str, str, str]] = [
    ("kind", "CASE WHEN x.c->>'kind' = 'title' THEN 'right' ELSE 'proof' END",
     "k.kind::text", "text"),
    ("authority", "x.parts[3]", "k.authority", "text"),
    ("year", "x.parts[2]", "k.year::text", "int"),
    ("serial", "x.parts[5]", "k.serial::text", "bigint"),
    ("right_id", "x.right_id::text", "k.right_id::text", "bigint"),
    ("application", "x.app", "a.number", "text"),
    ("issued_at", "x.recorded_at::text", "k.issued_at::text", "timestamptz"),
    ("status", "CASE WHEN x.voided THEN 'voided' WHEN x.certified_at IS NULL THEN 'issued'"
               " ELSE 'printed' END", "k.status::text", "text"),
    ("printed_at", "x.certified_at::text", "k.printed_at::text", "timestamptz"),
]

CERTIFICATES_SQL = _ELEMENTS + f"""
, issued AS MATERIALIZED (
    SELECT c.right_id, c.c, c.app, c.recorded_at, c.c->>'certificate' AS number,
           regexp_match(c.c->>'certificate',
                        '^(.)\\((\\d{{4}})\\)(.+)(不动产权|不动产证明)第(\\d+)号$') AS parts,
           p.certified_at, v.number IS NOT NULL AS voided
      FROM created c
      LEFT JOIN (SELECT DISTINCT d->>'certificate' AS number FROM entries x
                  CROSS JOIN LATERAL jsonb_array_elements(
                        CASE WHEN jsonb_typeof(x.body->'voided') = 'array'
                             THEN x.body->'voided' ELSE '[]' END) d) v
             ON v.number = c.c->>'certificate'
      LEFT JOIN (SELECT ca.number, min(t.at) AS certified_at
                   FROM applications ca JOIN application_transitions t
                     ON t.application_id = ca.id AND t.to_state = 'certified'
                  GROUP BY ca.number) p ON p.number = c.app
     WHERE c.c->>'certificate' IS NOT NULL
)
SELECT 'certificates', 'number ' || COALESCE(x.number, k.number), d.col, d.expected, d.found
  FROM issued x
  FULL JOIN certificates k ON k.number = x.number
  LEFT JOIN applications a ON a.id = k.application_id
 CROSS JOIN LATERAL (
    {_PRESENCE.format(expected="x.number IS NOT NULL", found="k.id IS NOT NULL",
                      noun="certificate number")}
    UNION ALL
    SELECT * FROM (VALUES {_values(_CERTIFICATE_COLUMNS)}) v(col, expected, found, differs)
     WHERE x.number IS NOT NULL AND k.id IS NOT NULL
 ) d(col, expected, found, differs)
 WHERE d.differs
 ORDER BY COALESCE(x.number, k.number), d.col
"""

UNITS_SQL = """
WITH named AS (
    SELECT DISTINCT ON (code) code, status FROM (
        SELECT code, e.county_code, e.seq,
               CASE WHEN e.entry_type = 'cancellation' THEN 'cancelled'
                    ELSE 'registered' END AS status
          FROM register_entries e CROSS JOIN LATERAL unnest(e.unit_codes) code
         WHERE e.entry_type IN ('first', 'cancellation')
        UNION ALL  -- a split or merge: the old units historic, the new ones registered
        SELECT side.code, e.county_code, e.seq, side.status
          FROM register_entries e
         CROSS JOIN LATERAL jsonb_array_elements(e.payload->'body'->'lineage'->'units') l
         CROSS JOIN LATERAL (VALUES (l->>0, 'historic'), (l->>1, 'registered')) side(code, status)
         WHERE e.entry_type IN ('split', 'merge')
    ) s
     ORDER BY code, county_code DESC, seq DESC
), mentioned AS (
    SELECT DISTINCT code FROM register_entries e CROSS JOIN LATERAL unnest(e.unit_codes) code
)
SELECT 'units', 'code ' || COALESCE(u.code, m.code), d.col, d.expected, d.found
  FROM units u
  FULL JOIN mentioned m ON m.code = u.code
  LEFT JOIN named n ON n.code = COALESCE(u.code, m.code)
 CROSS JOIN LATERAL (VALUES
    ('row', 'present', CASE WHEN u.id IS NULL THEN 'absent' ELSE 'present' END, u.id IS NULL),
    ('status', COALESCE(n.status, 'surveyed'), u.status::text,
     u.id IS NOT NULL AND COALESCE(n.status, 'surveyed') IS DISTINCT FROM u.status::text)
 ) d(col, expected, found, differs)
 WHERE d.differs
 ORDER BY COALESCE(u.code, m.code), d.col
"""

ENTRY_CASES_SQL = """
SELECT 'register_entries', 'county ' || e.county_code || ' seq ' || e.seq, 'application_id',
       e.payload->>'application', a.number
  FROM register_entries e LEFT JOIN applications a ON a.id = e.application_id
 WHERE (e.payload->>'application') IS DISTINCT FROM a.number
 ORDER BY e.county_code, e.seq
"""

LINEAGE_SQL = """
WITH recorded AS (
    SELECT t.name, l->>0 AS old, l->>1 AS new, e.payload->>'application' AS app
      FROM register_entries e
     CROSS JOIN LATERAL (VALUES ('unit_lineage', 'units'),
                                ('parcel_lineage', 'parcels')) t(name, key)
     CROSS JOIN LATERAL jsonb_array_elements(e.payload->'body'->'lineage'->t.key) l
     WHERE e.entry_type IN ('split', 'merge')
), stored AS (
    SELECT 'unit_lineage' AS name, o.code AS old, n.code AS new, a.number AS app
      FROM unit_lineage x JOIN units o ON o.id = x.predecessor_id
      JOIN units n ON n.id = x.successor_id JOIN applications a ON a.id = x.application_id
    UNION ALL
    SELECT 'parcel_lineage', o.code, n.code, a.number
      FROM parcel_lineage x JOIN parcels o ON o.id = x.predecessor_id
      JOIN parcels n ON n.id = x.successor_id JOIN applications a ON a.id = x.application_id
)
SELECT COALESCE(r.name, s.name), COALESCE(r.old, s.old) || ' -> ' || COALESCE(r.new, s.new),
       'row', CASE WHEN r.name IS NULL THEN 'absent (the register has no such link)'
                   ELSE 'present (case ' || r.app || ')' END,
       CASE WHEN s.name IS NULL THEN 'absent' ELSE 'present (case ' || s.app || ')' END
  FROM recorded r
  FULL JOIN stored s ON s.name = r.name AND s.old = r.old AND s.new = r.new AND s.app = r.app
 WHERE r.name IS NULL OR s.name IS NULL
 ORDER BY 1, 2
"""

NR_UNITS_SQL = """
WITH recorded AS (
    SELECT DISTINCT ON (n->'unit'->>'code') n->'unit'->>'code' AS code, n->'unit' AS unit,
           n->'ownership' AS ownership
      FROM register_entries e CROSS JOIN LATERAL (SELECT e.payload->'body'->'natural_resource') x(n)
     WHERE e.entry_type LIKE 'nr\\_%'
     ORDER BY n->'unit'->>'code', e.county_code DESC, e.seq DESC
), stored AS (
    SELECT u.code, u.name, u.unit_type, u.level::text AS level, u.authority,
           u.status::text AS status, u.area_ha::text AS area_ha,
           u.state_area_ha::text AS state_area_ha,
           u.collective_area_ha::text AS collective_area_ha,
           u.disputed_area_ha::text AS disputed_area_ha, md5(ST_AsBinary(u.geom)) AS geometry_md5,
           o.owner::text AS owner, o.duty_body, o.exercise::text AS exercise, o.agent_body
      FROM nr_units u
      LEFT JOIN nr_ownership o ON o.unit_code = u.code AND o.ended_at IS NULL
     WHERE u.ended_at IS NULL AND u.status <> 'predelimited'
)
SELECT 'nr_units', 'code ' || COALESCE(r.code, s.code), d.col, d.expected, d.found
  FROM recorded r
  FULL JOIN stored s ON s.code = r.code
 CROSS JOIN LATERAL (VALUES
    ('row', CASE WHEN r.code IS NULL THEN 'absent' ELSE 'present' END,
     CASE WHEN s.code IS NULL THEN 'absent' ELSE 'present' END),
    ('status', r.unit->>'status', s.status),
    ('name', r.unit->>'name', s.name),
    ('unit_type', r.unit->>'unit_type', s.unit_type),
    ('level', r.unit->>'level', s.level),
    ('authority', r.unit->>'authority', s.authority),
    ('area_ha', r.unit->>'area_ha', s.area_ha),
    ('state_area_ha', r.unit->>'state_area_ha', s.state_area_ha),
    ('collective_area_ha', r.unit->>'collective_area_ha', s.collective_area_ha),
    ('disputed_area_ha', r.unit->>'disputed_area_ha', s.disputed_area_ha),
    ('geometry', r.unit->>'geometry_md5', s.geometry_md5),
    ('owner', r.ownership->>'owner', s.owner),
    ('duty_body', r.ownership->>'duty_body', s.duty_body),
    ('exercise', r.ownership->>'exercise', s.exercise),
    ('agent_body', r.ownership->>'agent_body', s.agent_body)
 ) d(col, expected, found)
 WHERE r.code IS NOT NULL AND s.code IS NOT NULL AND d.expected IS DISTINCT FROM d.found
    OR d.col = 'row' AND (r.code IS NULL OR s.code IS NULL)
 ORDER BY 2, 3
"""

DERIVED_CHECKS: list[tuple[str, str]] = [
    ("rights", RIGHTS_SQL),
    ("right_holders", HOLDERS_SQL),
    ("parties", PARTIES_SQL),
    ("certificates", CERTIFICATES_SQL),
    ("units", UNITS_SQL),
    ("lineage", LINEAGE_SQL),
    ("register_entries", ENTRY_CASES_SQL),
    ("nr_units", NR_UNITS_SQL),
]


def derived_differences(session: Session, progress: Progress | None = None,
                        batch: int = 1000) -> Iterator[Difference]:
    """VERIFY-2..5: every way the tables differ from the replayed register, table by table
    (streamed; each check is one set-based statement)."""
    for step, (name, sql) in enumerate(DERIVED_CHECKS):
        if progress is not None:
            progress(f"compare {name}", step, len(DERIVED_CHECKS))
        rows = _streamed(session, sql, batch)
        for table, key, column, expected, found in rows:
            yield Difference(table, key, column, expected, found)
    if progress is not None:
        progress("compare done", len(DERIVED_CHECKS), len(DERIVED_CHECKS))


def begin_snapshot(session: Session) -> None:
    """One read-only REPEATABLE READ snapshot for the whole verify (call first); times are
    shown in China Standard Time whatever the server's default."""
    session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    session.execute(text("SET LOCAL TIME ZONE 'Asia/Shanghai'"))
    # The comparisons are long scans whose row estimates (jsonb arrays) are guesses; JIT
    # compiling them costs more than it saves (measured by bench/verify.py).
    session.execute(text("SET LOCAL jit = off"))
