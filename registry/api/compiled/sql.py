"""The SQL that builds a selection's response JSON, type by type (Unit, Parcel, Right, Holder,
Party, the unit connection).

Each `*_object` function turns the fields a query selects on one type into one
`json_build_object(...)` over the row of that type, with nested objects and lists as scalar
subqueries, so a whole response is one statement. Every value is written exactly as the
field-by-field path serializes it (COMPILE-3):

- enums by their GraphQL name, from the schema's own enum values;
- `ID` as text, `Decimal` as the numeric's text (every stored numeric has scale 2, so text and
  `str(Decimal)` agree), dates as ISO dates;
- date-times as Python's `isoformat()` writes them: microseconds only when not zero;
- ID numbers masked by `registry.services.pii.mask_id_sql` (PII-2), the SQL form of the rule;
- a restriction whose lapse time has passed reads as terminated (RESTRICT-1), as in
  registry/services/reads.py, whose row expressions this mirrors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLEnumType, GraphQLSchema

from registry.api.compiled.selection import NotCompilable, Selected
from registry.services.pii import case_id_number_sql, mask_id_sql
from registry.services.reads import PARTY_HOLDINGS_WHERE, RIGHT_ENDED_SQL, RIGHT_STATUS_SQL
from registry.services.registration.encumbrances import RANK_SQL

# json_build_object takes at most 100 arguments.
MAX_KEYS = 50


@dataclass
class Builder:
    """What one compilation collects: the schema (for enum names), and the field arguments
    that become statement parameters when the plan runs."""

    schema: GraphQLSchema
    arguments: list[tuple[str, Selected, Callable[[dict[str, Any]], Any]]] = field(
        default_factory=list)

    def argument(self, selected: Selected, value: Callable[[dict[str, Any]], Any]) -> str:
        """A parameter for `selected`'s arguments, computed by `value(arguments)` at run
        time; returns its `:name`."""
        name = f"arg{len(self.arguments)}"
        self.arguments.append((name, selected, value))
        return f":{name}"

    def enum(self, type_name: str, expression: str) -> str:
        """The GraphQL name of a stored enum value."""
        enum = self.schema.get_type(type_name)
        assert isinstance(enum, GraphQLEnumType)
        cases = " ".join(f"WHEN {_literal(str(getattr(v.value, 'value', v.value)))}"
                         f" THEN {_literal(name)}" for name, v in enum.values.items())
        return f"(CASE ({expression})::text {cases} END)"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def iso(expression: str) -> str:
    """A timestamptz as `datetime.isoformat()` writes it (microseconds only when not 0)."""
    return (f"(to_char({expression}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN"
            f" date_part('microseconds', {expression})::bigint % 1000000 = 0 THEN ''"
            f" ELSE to_char({expression}, '.US') END || to_char({expression}, 'TZH:TZM'))")


def json_object(pairs: Sequence[tuple[str, str]]) -> str:
    if len(pairs) > MAX_KEYS:
        raise NotCompilable("too many fields for one json_build_object")
    if not pairs:
        raise NotCompilable("empty selection")
    return "json_build_object(" + ", ".join(f"{_literal(k)}, {v}" for k, v in pairs) + ")"


def _object(builder: Builder, type_name: str, fields: Sequence[Selected],
            columns: dict[str, str],
            nested: dict[str, Callable[[Builder, Selected], str]]) -> str:
    pairs: list[tuple[str, str]] = []
    for f in fields:
        if f.name == "__typename":
            pairs.append((f.key, _literal(type_name)))
        elif f.name in columns:
            if f.node.arguments:
                raise NotCompilable(f"{type_name}.{f.name} with arguments")
            pairs.append((f.key, columns[f.name]))
        elif f.name in nested:
            pairs.append((f.key, nested[f.name](builder, f)))
        else:
            raise NotCompilable(f"{type_name}.{f.name} is resolved in Python")
    return json_object(pairs)


def _list(expression: str, source: str, order: str) -> str:
    return f"COALESCE((SELECT json_agg({expression} ORDER BY {order}) FROM {source}), '[]'::json)"


def _decimal(column: str) -> str:
    return f"({column})::text"


# --------------------------------------------------------------------------- parties


def party_object(builder: Builder, fields: Sequence[Selected],
                 id_number: str = mask_id_sql("pa.id_type", "pa.id_number")) -> str:
    """A party (alias `pa`); as a register read shows it unless told otherwise: ID number
    masked (PII-2)."""
    return _object(builder, "Party", fields, {
        "id": "pa.id::text", "kind": builder.enum("PartyKind", "pa.kind"), "name": "pa.name",
        "idType": builder.enum("IdType", "pa.id_type"), "idNumber": id_number,
    }, {})


def holders_list(builder: Builder, selected: Selected) -> str:
    """The holders of right `r`, by party id."""
    holder = _object(builder, "Holder", selected.children, {
        "share": "CASE WHEN h.share_numerator IS NOT NULL"
                 " THEN h.share_numerator || '/' || h.share_denominator END",
    }, {"party": lambda b, s: party_object(b, s.children)})
    return _list(holder, "right_holders h JOIN parties pa ON pa.id = h.party_id"
                         " WHERE h.right_id = r.id", "pa.id")


# --------------------------------------------------------------------------- rights

RIGHTS_ORDER = "r.begun_at, r.id"


def right_object(builder: Builder, fields: Sequence[Selected]) -> str:
    """A right or restriction (alias `r`) with what the query selects of it."""
    return _object(builder, "Right", fields, {
        "id": "r.id::text", "kind": builder.enum("RightKind", "r.kind"),
        "status": builder.enum("RightStatus", RIGHT_STATUS_SQL),
        "rightType": "r.right_type", "rightNature": "r.right_nature",
        "coOwnership": builder.enum("CoOwnership", "r.co_ownership"),
        "begunAt": iso("r.begun_at"), "endedAt": iso(RIGHT_ENDED_SQL),
        "termStart": "r.term_start", "termEnd": "r.term_end", "lapsesAt": iso("r.lapses_at"),
        "amount": _decimal("r.amount"), "authority": "r.authority",
        "documentNo": "r.document_no", "certificateNumber": "r.certificate_number",
        "burdenedRightId": "r.burdened_right_id::text",
        "predecessorId": "r.predecessor_id::text",
        "applicationNumber": "(SELECT a.number FROM applications a"
                             " WHERE a.id = r.application_id)",
        "purpose": "r.purpose",
        "dominantUnitCode": "(SELECT du.code FROM units du WHERE du.id = r.dominant_unit_id)",
        "servientUnitCode": "(SELECT su.code FROM units su WHERE su.id = r.unit_id)",
        "mortgageMode": builder.enum("MortgageMode", "r.mortgage_mode"),
        "maxAmount": _decimal("r.max_amount"), "claimsStart": "r.claims_start",
        "claimsEnd": "r.claims_end", "rank": RANK_SQL, "seizureType": "r.seizure_type",
    }, {"holders": holders_list})


def _rights(builder: Builder, selected: Selected, where: str) -> str:
    return _list(right_object(builder, selected.children), f"rights r WHERE {where}",
                 RIGHTS_ORDER)


def _first_right(builder: Builder, selected: Selected, where: str) -> str:
    return (f"(SELECT {right_object(builder, selected.children)} FROM rights r"
            f" WHERE {where} ORDER BY {RIGHTS_ORDER} LIMIT 1)")


RESTRICTION = f"r.unit_id = u.id AND r.kind <> 'title' AND {RIGHT_STATUS_SQL} = 'current'"


def _statuses(arguments: dict[str, Any]) -> list[str] | None:
    wanted = arguments.get("status")
    return [str(getattr(s, "value", s)) for s in wanted] if wanted else None


def unit_rights(builder: Builder, selected: Selected) -> str:
    """`Unit.rights(status)`: all of them, oldest first, or those in the given statuses."""
    statuses = builder.argument(selected, _statuses)
    return _rights(builder, selected, f"r.unit_id = u.id AND (CAST({statuses} AS text[]) IS NULL"
                                      f" OR {RIGHT_STATUS_SQL} = ANY(CAST({statuses} AS text[])))")


# --------------------------------------------------------------------------- parcels


def parcel_object(builder: Builder, fields: Sequence[Selected]) -> str:
    """A parcel (alias `p`)."""
    return _object(builder, "Parcel", fields, {
        "id": "p.id::text", "code": "p.code", "countyCode": "p.county_code",
        "layer": builder.enum("Layer", "p.layer"),
        "elevationBottom": _decimal("p.elevation_bottom"),
        "elevationTop": _decimal("p.elevation_top"), "area": _decimal("p.area"),
        "declaredArea": _decimal("p.declared_area"), "location": "p.location",
        "current": "(p.ended_at IS NULL)",
    }, {"landUse": lambda b, s: _object(b, "LandUseRef", s.children, {
        "system": "p.land_use_system", "code": "p.land_use_code",
        "name": "(SELECT lu.name FROM land_use_codes lu WHERE lu.system = p.land_use_system"
                " AND lu.code = p.land_use_code)"}, {})})


# --------------------------------------------------------------------------- units


def _when_kind(kind: str, builder: Builder, type_name: str, selected: Selected,
               columns: dict[str, str]) -> str:
    return (f"CASE WHEN u.kind = '{kind}' THEN "
            f"{_object(builder, type_name, selected.children, columns, {})} END")


def unit_object(builder: Builder, fields: Sequence[Selected]) -> str:
    """A unit (alias `u`, its parcel joined as `p`) with what the query selects of it."""
    return _object(builder, "Unit", fields, {
        "id": "u.id::text", "code": "u.code", "kind": builder.enum("UnitKind", "u.kind"),
        "status": builder.enum("UnitStatus", "u.status"), "countyCode": "u.county_code",
        "townshipCode": "u.township_code", "location": "u.location",
        "seized": f"EXISTS (SELECT 1 FROM rights r WHERE {RESTRICTION} AND r.kind = 'seizure')",
        "mortgaged": f"EXISTS (SELECT 1 FROM rights r WHERE {RESTRICTION}"
                     " AND r.kind = 'mortgage')",
    }, {
        "parcel": lambda b, s: parcel_object(b, s.children),
        "house": lambda b, s: _when_kind("rural_house", b, "RuralHouse", s, {
            "buildingNo": "u.building_no::int", "floors": "u.floors",
            "structure": "u.structure", "floorArea": _decimal("u.floor_area")}),
        "infrastructure": lambda b, s: _when_kind("infrastructure", b, "Infrastructure", s, {
            "category": b.enum("InfrastructureCategory", "u.category"),
            "managingBody": "u.managing_body", "lengthM": _decimal("u.length_m"),
            "capacity": "u.capacity", "bookValue": _decimal("u.book_value"),
            "completionYear": "u.completion_year"}),
        "parkingSpace": lambda b, s: _when_kind("parking_space", b, "ParkingSpace", s, {
            "garage": "u.garage", "level": "u.level", "spaceNo": "u.space_no",
            "area": _decimal("u.space_area"), "civilDefence": "u.civil_defence"}),
        "rights": unit_rights,
        "currentTitle": lambda b, s: _first_right(
            b, s, f"r.unit_id = u.id AND r.kind = 'title' AND {RIGHT_STATUS_SQL} = 'current'"),
        "restrictions": lambda b, s: _rights(b, s, RESTRICTION),
        "waitingSeizures": lambda b, s: _rights(
            b, s, f"r.unit_id = u.id AND r.kind = 'seizure'"
                  f" AND {RIGHT_STATUS_SQL} = 'provisional'"),
        "dominantEasements": lambda b, s: _rights(b, s, "r.dominant_unit_id = u.id"),
    })


def cursor_of(key: str, value: str) -> str:
    """`registry.services.reads.encode_cursor({key: value})` in SQL (base64url, unpadded;
    PostgreSQL's base64 breaks lines every 76 characters, removed here)."""
    return (f"rtrim(translate(encode(convert_to('{{\"{key}\":' || to_json({value})::text"
            " || '}', 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')")


UNIT_ROW = "units u JOIN parcels p ON p.id = u.parcel_id"


# Where the filter's conditions go when the plan runs (with and without the cursor's).
COUNT_WHERE = "/*count where*/"
PAGE_WHERE = "/*page where*/"


@dataclass(frozen=True)
class ConnectionShape:
    """How one connection pages: its rows, their keyset key, their order, its type names."""

    name: str  # "Unit" → UnitConnection, UnitEdge
    rows: str  # FROM …, the row aliased as the node functions expect
    alias: str  # the row's alias (u, a)
    key: str  # the cursor's key and the column it is ("code", "id")
    descending: bool
    node: Callable[[Builder, Sequence[Selected]], str]


def connection(builder: Builder, selected: Selected, shape: ConnectionShape) -> str:
    """A page after the cursor, as one expression over the CTE `page` (ids and keys of up to
    first + 1 rows, in page order). The conditions are filled in at run time, at COUNT_WHERE
    and PAGE_WHERE."""
    a, key = shape.alias, shape.key
    order = f"{a}.{key}{' DESC' if shape.descending else ''}"
    last = f"{'min' if shape.descending else 'max'}(e.k)"
    pairs: list[tuple[str, str]] = []
    for f in selected.children:
        if f.name == "__typename":
            pairs.append((f.key, _literal(f"{shape.name}Connection")))
        elif f.name == "edges":
            edge: list[tuple[str, str]] = []
            for e in f.children:
                if e.name == "__typename":
                    edge.append((e.key, _literal(f"{shape.name}Edge")))
                elif e.name == "cursor":
                    edge.append((e.key, cursor_of(key, "e.k")))
                elif e.name == "node":
                    edge.append((e.key, f"(SELECT {shape.node(builder, e.children)}"
                                        f" FROM {shape.rows} WHERE {a}.id = e.id)"))
                else:
                    raise NotCompilable(f"{shape.name}Edge.{e.name}")
            pairs.append((f.key, "COALESCE((SELECT json_agg(" + json_object(edge)
                          + " ORDER BY e.n) FROM page e WHERE e.n <= :first), '[]'::json)"))
        elif f.name == "pageInfo":
            info: list[tuple[str, str]] = []
            for i in f.children:
                if i.name == "__typename":
                    info.append((i.key, "'PageInfo'"))
                elif i.name == "hasNextPage":
                    info.append((i.key, "(SELECT count(*) FROM page) > :first"))
                elif i.name == "endCursor":
                    info.append((i.key, f"(SELECT {cursor_of(key, last)}"
                                        " FROM page e WHERE e.n <= :first)"))
                else:
                    raise NotCompilable(f"PageInfo.{i.name}")
            pairs.append((f.key, json_object(info)))
        elif f.name == "totalCount" and shape.name == "Unit":
            pairs.append((f.key, f"(SELECT count(*) FROM {shape.rows}{COUNT_WHERE})"))
        else:
            raise NotCompilable(f"{shape.name}Connection.{f.name}")
    return (f"(WITH page AS (SELECT {a}.id, {a}.{key} AS k,"
            f" row_number() OVER (ORDER BY {order}) AS n"
            f" FROM {shape.rows}{PAGE_WHERE} ORDER BY {order} LIMIT :limit)"
            f" SELECT {json_object(pairs)})")


UNITS = ConnectionShape("Unit", UNIT_ROW, "u", "code", False, lambda b, f: unit_object(b, f))


# --------------------------------------------------------------------------- applications

CASE_ID_COUNTIES = ":full_id_counties"  # PII-1's counties (registry.services.pii)


def application_object(builder: Builder, fields: Sequence[Selected]) -> str:
    """A case (alias `a`): its parties' ID numbers in full only as PII-1 allows."""
    state = "ApplicationState"
    number = case_id_number_sql("pa.id_type", "pa.id_number", "a.county_code",
                                CASE_ID_COUNTIES)
    return _object(builder, "Application", fields, {
        "id": "a.id::text", "number": "a.number",
        "kind": builder.enum("ApplicationKind", "a.kind"),
        "registrationType": "a.registration_type", "state": builder.enum(state, "a.state"),
        "countyCode": "a.county_code", "terms": "a.terms",
        "targetRightId": "a.target_right_id::text", "submittedAt": iso("a.submitted_at"),
        "recordedAt": iso("a.recorded_at"), "note": "a.note",
        "unitCodes": "COALESCE((SELECT json_agg(u.code ORDER BY u.code)"
                     " FROM application_units au JOIN units u ON u.id = au.unit_id"
                     " WHERE au.application_id = a.id), '[]'::json)",
    }, {
        "parties": lambda b, s: _list(_object(b, "CaseParty", s.children, {
            "role": b.enum("PartyRole", "ap.role"),
            "share": "CASE WHEN ap.share_numerator IS NOT NULL"
                     " THEN ap.share_numerator || '/' || ap.share_denominator END",
        }, {"party": lambda b2, s2: party_object(b2, s2.children, number)}),
            "application_parties ap JOIN parties pa ON pa.id = ap.party_id"
            " WHERE ap.application_id = a.id", "ap.role, pa.id"),
        "transitions": lambda b, s: _list(_object(b, "Transition", s.children, {
            "fromState": b.enum(state, "t.from_state"), "toState": b.enum(state, "t.to_state"),
            "actor": "t.actor_name", "at": iso("t.at"), "reason": "t.reason",
            "requestId": "t.request_id"}, {}),
            "application_transitions t WHERE t.application_id = a.id", "t.id"),
        "certificates": lambda b, s: _list(_object(b, "Certificate", s.children, {
            "number": "c.number", "kind": "upper(c.kind::text)",
            "status": b.enum("CertificateStatus", "c.status"),
            "issuedAt": iso("c.issued_at"), "printedAt": iso("c.printed_at"),
            "rightId": "c.right_id::text",
        }, {"print": lambda b2, s2: "(SELECT " + _object(b2, "StandingPrint", s2.children, {
            "id": "pp.id::text", "serial": "pp.serial", "verificationCode":
            "pp.verification_code", "sha256": "pp.file_sha256", "size": "f.size",
            "printedAt": iso("pp.printed_at"), "path": "'/papers/' || pp.id || '.pdf'",
        }, {}) + " FROM printed_papers pp JOIN document_files f ON f.sha256 = pp.file_sha256"
                 " WHERE pp.certificate_id = c.id AND pp.voided_at IS NULL)"}),
            "certificates c WHERE c.application_id = a.id", "c.serial"),
    })


APPLICATIONS = ConnectionShape("Application", "applications a", "a", "id", True,
                               lambda b, f: application_object(b, f))


# --------------------------------------------------------------------------- parcel detail


def parcel_detail(builder: Builder, fields: Sequence[Selected]) -> str:
    """`parcel(code)`'s answer over its parcel `p`: the parcel and the codes of its units."""
    return _object(builder, "ParcelDetail", fields, {
        "unitCodes": "COALESCE((SELECT json_agg(u.code ORDER BY u.code) FROM units u"
                     " WHERE u.parcel_id = p.id), '[]'::json)",
    }, {"parcel": lambda b, s: parcel_object(b, s.children)})


# --------------------------------------------------------------------------- a party's holdings


def party_with_holdings(builder: Builder, fields: Sequence[Selected]) -> str:
    """`party(idType, idNumber)`'s answer over the party `pa`: the rights it holds now, in
    the caller's counties (registry.services.reads.party_tree)."""
    def holdings(b: Builder, s: Selected) -> str:
        holding = _object(b, "Holding", s.children, {
            "unitCode": "u.code", "countyCode": "u.county_code",
        }, {"right": lambda b2, s2: right_object(b2, s2.children)})
        return _list(holding, "right_holders hh JOIN rights r ON r.id = hh.right_id"
                              f" JOIN units u ON u.id = r.unit_id WHERE {PARTY_HOLDINGS_WHERE}",
                     "u.code, r.id")
    return _object(builder, "PartyWithHoldings", fields, {}, {
        "party": lambda b, s: party_object(b, s.children), "holdings": holdings})
