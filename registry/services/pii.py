"""Personal data (个人信息): who sees a party's ID number (证件号码) in full. Stated once, here.

Rules enforced here (and only here; every read path, export, history body, audit entry and
error detail calls this module):

- PII-1 A party's full ID number is shown only inside the application (case) that carries it,
  via `application.parties`, and only to a caller holding the clerk, reviewer or registrar role
  whose county scope covers the case's county (`Principal.may_see_county`). Admin counts as
  those roles (ACCESS-3: admin may run every step of a case, so it sees what the step needs).
- PII-2 Everywhere else the number is masked with `mask_id_number` (resident IDs keep the
  first 6 and last 4, ``511923********1234``; other kinds see registry.codes.mask_id): register
  reads (units, rights, holders, party look-ups), holdings lists and CSV/XLSX exports,
  statistics, register history entries, and for every other role in every place — auditor,
  statistician, trading center, and a clerk/reviewer/registrar outside the case's county.
- PII-3 Audit-log details and error details never carry a full ID number: they pass through
  `scrub`, which masks every `id_number`/`idNumber` value and every ID-number-shaped token in
  strings. SQL parameters are hidden from SQLAlchemy's error messages (`hide_parameters=True`
  in registry.db.session), and the JSON log formatter (registry.logs) scrubs every line, since
  PostgreSQL's own messages may quote a value ("value \"5119…\" is out of range").

Services and SQL read models return numbers in full; masking is decided at the edge by
`party_id_number` (it knows who is looking, and from which case).
"""

from __future__ import annotations

import re
from typing import Any

from registry.codes import IdType, mask_id
from registry.db.access import Role
from registry.services.access import Principal

# PII-1: the roles that work a case and so must check the parties' identities.
CASE_ROLES = (Role.CLERK, Role.REVIEWER, Role.REGISTRAR)
_ID_KEYS = frozenset({"id_number", "idNumber"})
# 18-char resident IDs and credit codes, 15-digit legacy IDs, as whole tokens (not inside a
# longer code such as a 28-char unit code).
_ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|[0-9A-HJ-NP-RTUW-Y]{2}\d{6}"
                        r"[0-9A-HJ-NP-RTUW-Y]{10}|\d{15})(?![0-9A-Za-z])")


def mask_id_number(id_type: IdType | str | None, number: str) -> str:
    """PII-2: the number as shown outside its case (脱敏)."""
    if id_type is None:
        id_type = IdType.RESIDENT_ID if len(number) in (15, 18) else IdType.OTHER
    try:
        kind = IdType(str(id_type).upper())
    except ValueError:
        kind = IdType.OTHER
    return mask_id(kind, number)


def may_see_ids(principal: Principal | None, case_county_code: str | None) -> bool:
    """PII-1: may this caller see full ID numbers in a case of this county?"""
    if principal is None or case_county_code is None:
        return False
    return principal.has_any(CASE_ROLES) and principal.may_see_county(case_county_code)


def party_id_number(principal: Principal | None, party: dict[str, Any],
                    case_county_code: str | None = None) -> str:
    """The number of `party` (a row with `id_type` and `id_number`) as this caller sees it.

    `case_county_code` is the county of the case the party is shown in; None outside a case
    (then the number is always masked, PII-2)."""
    number = party["id_number"]
    if may_see_ids(principal, case_county_code):
        return str(number)
    return mask_id_number(party.get("id_type"), number)


def _scrub_text(text: str) -> str:
    return _ID_SHAPED.sub(lambda m: mask_id_number(None if m.group(0).isdigit()
                                                   or m.group(0)[:-1].isdigit()
                                                   else IdType.CREDIT_CODE, m.group(0)), text)


def scrub(value: Any) -> Any:
    """PII-3 (and PII-2 for history bodies): `value` with every ID number masked."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if k in _ID_KEYS and isinstance(v, str):
                out[k] = mask_id_number(value.get("id_type", value.get("idType")), v)
            else:
                out[k] = scrub(v)
        return out
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


# PII-2 in SQL, for read models that build their JSON in PostgreSQL (registry/api/compiled):
# the same masking as `mask_id_number` over a stored number, as one SQL expression. Both forms
# are kept equal by a property test (tests/test_compiled_reads.py).
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_FROM = "".join(map(chr, range(0xFF01, 0xFF5F))) + "abcdefghijklmnopqrstuvwxyz"
_TO = "".join(chr(cp - 0xFEE0 - (0x20 if 0xFF41 <= cp <= 0xFF5A else 0))
              for cp in range(0xFF01, 0xFF5F)) + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mask_id_sql(id_type_sql: str, number_sql: str) -> str:
    """PII-2 as an SQL expression over the columns `id_type_sql` and `number_sql`: the value
    `mask_id_number(id_type, number)` would return (registry.codes.mask_id after normalize)."""
    normalized = (f"translate(btrim({number_sql}, {_sql_literal(_WHITESPACE)}),"
                  f" {_sql_literal(_FROM)}, {_sql_literal(_TO)})")
    resident = f"coalesce({id_type_sql}::text = 'RESIDENT_ID', true)"
    return f"""(SELECT CASE
        WHEN {resident} AND char_length(m.s) = 18
            THEN left(m.s, 6) || '********' || right(m.s, 4)
        WHEN {resident} AND char_length(m.s) = 15
            THEN left(m.s, 6) || '******' || right(m.s, 3)
        WHEN char_length(m.s) < 4 THEN repeat('*', char_length(m.s))
        ELSE left(m.s, least(2, char_length(m.s) / 4))
             || repeat('*', char_length(m.s) - 2 * least(2, char_length(m.s) / 4))
             || right(m.s, least(2, char_length(m.s) / 4)) END
      FROM (SELECT {normalized} AS s) m)"""


def full_id_counties(principal: Principal | None) -> list[str] | None:
    """PII-1 for SQL: the counties whose cases show this caller full ID numbers (None: every
    county; []: none), the same answer `may_see_ids` gives case by case."""
    if principal is None or not principal.has_any(CASE_ROLES):
        return []
    return None if principal.county_code is None else [principal.county_code]


def case_id_number_sql(id_type_sql: str, number_sql: str, case_county_sql: str,
                       counties_param: str) -> str:
    """PII-1 and PII-2 as an SQL expression: the number in full in a case of one of the
    counties `counties_param` names (`full_id_counties`, NULL: every county), masked
    otherwise."""
    return (f"(CASE WHEN CAST({counties_param} AS text[]) IS NULL"
            f" OR {case_county_sql} = ANY(CAST({counties_param} AS text[]))"
            f" THEN {number_sql} ELSE {mask_id_sql(id_type_sql, number_sql)} END)")
