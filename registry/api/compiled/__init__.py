"""Compiled reads: a query on the register's hot types answered by one SQL statement that
builds the response JSON in PostgreSQL (as PostGraphile does), with no field-by-field Python.

A page of 50 units is about 500 resolved fields; graphql-core spends ~5 µs on each, which made
the page Python-bound (bench/results/registry.md). Here a query text is compiled once into a
`Plan`: the SQL for its selection (registry/api/compiled/sql.py) plus the checks its root
fields' resolvers make. Running a plan is: coerce the variables, make the same checks, fill in
the parameters, run the statement, and pass PostgreSQL's JSON text through to the response
untouched (`orjson.Fragment`).

Invariants, each enforced here:

- COMPILE-1 Same answer. A compiled query answers exactly what field-by-field execution
  answers for it: same keys in the same order, same values (tests/test_compiled_reads.py runs
  both on the same register and compares the bytes' meaning).
- COMPILE-2 Anything else runs as before. Only queries whose every field the compiler knows
  are compiled: root fields `unit`, `units`, `parcel`, `party`, `application` and
  `applications`, over Unit, Parcel, Right, Holder, Party (with its holdings), Application
  (its parties, steps and certificates) and their connections, without the fields resolved
  in Python (history, lineage, documents, missing document kinds, geometry). Directives,
  fragments on other types, mutations, subscriptions and invalid documents are not
  compiled. A query that is not compiled is executed by strawberry unchanged.
- COMPILE-3 Same checks. Before any data is read, a plan makes its root resolvers' checks with
  the same functions (REGISTER_READERS, the unit code, ACCESS-2's county scope, the page size,
  the cursor). If one refuses, or the variables do not coerce, the plan steps aside and the
  request runs field by field, so every refusal is the resolver's own coded error, word for
  word. `parcel` and `application` check the county of what they find: their plans read
  only inside the caller's counties and step aside when they find nothing (the resolver then
  answers null, or FORBIDDEN). The document was validated with the schema's own rules (cost
  limits: depth, aliases, tokens; introspection off outside development) before it was
  compiled.
- COMPILE-4 One statement per request, whatever the page size or the number of root fields
  (tests/test_query_cost.py).
- COMPILE-5 A compiled query POSTed as JSON is answered past strawberry's request handling,
  with the response the view would send (registry/api/compiled/http.py).
- PII-1/PII-2 ID numbers are shown in SQL by `registry.services.pii` too: `mask_id_sql`
  everywhere, `case_id_number_sql` in a case's own parties.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.validation import ASTValidationRule
from strawberry.schema.schema import validate_document
from strawberry.utils.str_converters import to_camel_case

from registry.api.applications import ApplicationFilterInput, application_filter
from registry.api.compiled.selection import NotCompilable, Selected, selections
from registry.api.compiled.sql import (
    APPLICATIONS,
    COUNT_WHERE,
    PAGE_WHERE,
    UNIT_ROW,
    UNITS,
    Builder,
    application_object,
    connection,
    json_object,
    parcel_detail,
    party_with_holdings,
    unit_object,
)
from registry.api.context import RequestContext
from registry.api.pagination import page_size_of
from registry.api.request_limits import CACHEABLE_QUERY_CHARS
from registry.api.units import UnitFilterInput, unit_filter
from registry.codes import normalize
from registry.db.reader import Statement
from registry.services.access import (
    REGISTER_READERS,
    Principal,
    counties_to_read,
    require_county,
    visible_counties,
)
from registry.services.codes import parse_unit_code
from registry.services.errors import DomainError
from registry.services.pii import full_id_counties
from registry.services.reads import (
    PARTY_VISIBLE,
    application_conditions,
    decode_cursor,
    unit_conditions,
)

Parse = Callable[[str], DocumentNode]


@dataclass(frozen=True)
class Root:
    """One root field of a plan: its response key, its selection, and the SQL of its value
    (before the run-time parts are filled in)."""

    key: str
    selected: Selected
    sql: str
    kind: str  # "unit" | "units"


@dataclass(frozen=True)
class Plan:
    operation: OperationDefinitionNode
    roots: tuple[Root, ...]
    arguments: tuple[tuple[str, Selected, Callable[[dict[str, Any]], Any]], ...]


class Compiler:
    """Plans per (query text, operation name), compiled on first sight (None: not compiled)."""

    MAX_ENTRIES = 512

    def __init__(self, schema: GraphQLSchema, rules: tuple[type[ASTValidationRule], ...],
                 parse: Parse) -> None:
        self.schema = schema
        self.rules = rules
        self.parse = parse
        self._plans: dict[tuple[str, str | None], Plan | None] = {}

    def plan(self, query: str | None, operation_name: str | None) -> Plan | None:
        if not query or len(query) > CACHEABLE_QUERY_CHARS:  # REQ-3: short texts only
            return None
        key = (query, operation_name)
        try:
            return self._plans[key]
        except KeyError:
            pass
        plan = self._compile(query, operation_name)
        if len(self._plans) >= self.MAX_ENTRIES:
            self._plans.clear()
        self._plans[key] = plan
        return plan

    def _compile(self, query: str, operation_name: str | None) -> Plan | None:
        try:
            document = self.parse(query)
        except GraphQLError:
            return None
        if validate_document(self.schema, document, self.rules):
            return None  # answered with its errors by the normal path
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [o for o in operations if operation_name is None
                  or (o.name is not None and o.name.value == operation_name)]
        if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY:
            return None
        operation = chosen[0]
        fragments = {d.name.value: d for d in document.definitions
                     if isinstance(d, FragmentDefinitionNode)}
        builder = Builder(self.schema)
        try:
            if operation.directives:
                raise NotCompilable("directives on the operation")
            assert self.schema.query_type is not None
            roots = tuple(self._root(builder, selected) for selected in selections(
                self.schema.query_type, operation.selection_set, fragments))
        except NotCompilable:
            return None
        return Plan(operation, roots, tuple(builder.arguments))

    def _root(self, builder: Builder, selected: Selected) -> Root:
        inner = selected.children
        if selected.name == "unit":
            sql = f"(SELECT {unit_object(builder, inner)} FROM {UNIT_ROW} WHERE u.code = :code)"
        elif selected.name == "units":
            sql = connection(builder, selected, UNITS)
        elif selected.name == "applications":
            sql = connection(builder, selected, APPLICATIONS)
        elif selected.name == "application":
            sql = (f"(SELECT {application_object(builder, inner)} FROM applications a"
                   " WHERE a.number = :number AND (CAST(:counties AS text[]) IS NULL"
                   " OR a.county_code = ANY(CAST(:counties AS text[]))))")
        elif selected.name == "parcel":
            sql = (f"(SELECT {parcel_detail(builder, inner)} FROM (SELECT * FROM parcels p"
                   " WHERE p.code = :code ORDER BY p.ended_at IS NULL DESC, p.id DESC LIMIT 1) p"
                   " WHERE CAST(:counties AS text[]) IS NULL"
                   " OR p.county_code = ANY(CAST(:counties AS text[])))")
        elif selected.name == "party":
            sql = (f"(SELECT {party_with_holdings(builder, inner)} FROM parties pa"
                   " WHERE pa.id_type = CAST(:id_type AS id_type)"
                   f" AND pa.id_number = :id_number AND {PARTY_VISIBLE})")
        else:
            raise NotCompilable(f"root field {selected.name}")
        return Root(selected.key, selected, sql, selected.name)


# Roots whose resolvers check the county on what they read: a plan reads them only inside the
# caller's counties, and when it finds nothing it steps aside, so the resolver answers (null,
# or FORBIDDEN for a case or parcel of another county).
GUARDED = frozenset({"application", "parcel"})


class Declined(Exception):
    """The plan steps aside (COMPILE-3): the request runs field by field."""


async def execute(plan: Plan, ctx: RequestContext, schema: GraphQLSchema,
                  variables: dict[str, Any] | None) -> str | None:
    """The response's `data` as JSON text, or None when the plan steps aside (COMPILE-3)."""
    coerced = get_variable_values(schema, plan.operation.variable_definitions or (),
                                  variables or {})
    if isinstance(coerced, list):
        return None
    params: dict[str, Any] = {"now": ctx.runtime.clock()}
    try:
        parts = [(root.key, _fill(root, ctx, coerced, params, index))
                 for index, root in enumerate(plan.roots)]
        for name, selected, value in plan.arguments:
            assert selected.definition is not None
            params[name] = value(get_argument_values(selected.definition, selected.node,
                                                     coerced))
    except (DomainError, Declined, GraphQLError):
        return None
    data = json_object(parts)
    guards = [f"({sql}) IS NULL" for (_, sql), root in zip(parts, plan.roots, strict=True)
              if root.kind in GUARDED]
    if guards:  # still one statement: NULL when a guarded root found nothing
        data = f"CASE WHEN {' OR '.join(guards)} THEN NULL ELSE {data} END"
    rows = await ctx.values(Statement(f"SELECT ({data})::text", params))
    return None if rows[0] is None else str(rows[0])


def _fill(root: Root, ctx: RequestContext, variables: dict[str, Any],
          params: dict[str, Any], index: int) -> str:
    """The root's SQL with its parameters, after its resolver's checks (COMPILE-3)."""
    assert root.selected.definition is not None
    arguments = get_argument_values(root.selected.definition, root.selected.node, variables)
    actor = ctx.require(*REGISTER_READERS)
    if root.kind == "unit":
        parsed = parse_unit_code(None, arguments["code"], ctx.runtime.reference.county_codes)
        require_county(actor, parsed.parcel.county)
        return _named(root.sql, index, params, {"code": parsed.code})
    if root.kind == "units":
        return _unit_page(root, ctx, actor, arguments, params, index)
    if root.kind == "party":  # HoldingsQuery.party (registry/api/holdings.py)
        return _named(root.sql, index, params, {
            "id_type": str(getattr(arguments["idType"], "value", arguments["idType"])),
            "id_number": normalize(arguments["idNumber"])[:64],
            "counties": visible_counties(actor)})
    params["full_id_counties"] = full_id_counties(actor)  # PII-1
    if root.kind == "applications":
        return _application_page(root, ctx, actor, arguments, params, index)
    counties = visible_counties(actor)
    if root.kind == "application":
        return _named(root.sql, index, params, {"number": arguments["number"].strip()[:32],
                                                "counties": counties})
    return _named(root.sql, index, params, {"code": arguments["code"].strip().upper()[:19],
                                            "counties": counties})


def _unit_page(root: Root, ctx: RequestContext, actor: Principal, arguments: dict[str, Any],
               params: dict[str, Any], index: int) -> str:
    """UnitQuery.units's checks and filter (registry/api/units.py)."""
    size = page_size_of(ctx.runtime.settings, arguments.get("first"))
    f = _input(UnitFilterInput, arguments.get("filter"))
    counties = counties_to_read(actor, f.county_code)
    if f.intersecting is not None:
        raise Declined()  # the area is made in Python (registry.services.geometry)
    own: dict[str, Any] = {"first": size, "limit": size + 1}
    where = unit_conditions(unit_filter(f, counties, None), own)
    return _named(_keyset(root.sql, where, arguments.get("after"), "code", own),
                  index, params, own)


def _application_page(root: Root, ctx: RequestContext, actor: Principal,
                      arguments: dict[str, Any], params: dict[str, Any], index: int) -> str:
    """ApplicationQuery.applications's checks and filter (registry/api/applications.py)."""
    size = page_size_of(ctx.runtime.settings, arguments.get("first"))
    f = _input(ApplicationFilterInput, arguments.get("filter"))
    own: dict[str, Any] = {"first": size, "limit": size + 1}
    where = application_conditions(
        application_filter(f, counties_to_read(actor, f.county_code)), own)
    return _named(_keyset(root.sql, where, arguments.get("after"), "id", own),
                  index, params, own)


T = TypeVar("T")


def _input(kind: type[T], value: dict[str, Any] | None) -> T:
    """A coerced input object (GraphQL names) as the resolver receives it."""
    names = {f.graphql_name or to_camel_case(f.python_name): f.python_name
             for f in kind.__strawberry_definition__.fields}  # type: ignore[attr-defined]
    return kind(**{names[key]: item for key, item in (value or {}).items()})


def _keyset(sql: str, where: list[str], after: str | None, key: str,
            own: dict[str, Any]) -> str:
    """The connection's SQL with its filter, and the page's after the cursor (reads.py's
    keyset: codes ascending, ids descending); the count has no cursor condition."""
    cursor = decode_cursor(after, [key])
    page = list(where)
    if cursor is not None:
        page.append("u.code > :after" if key == "code" else "a.id < :after")
        own["after"] = str(cursor["code"]) if key == "code" else int(cursor["id"])
    return _where(sql, where, page)


def _where(sql: str, count: list[str], page: list[str]) -> str:
    return (sql.replace(COUNT_WHERE, " WHERE " + " AND ".join(count) if count else "")
            .replace(PAGE_WHERE, " WHERE " + " AND ".join(page) if page else ""))


def _named(sql: str, index: int, params: dict[str, Any], own: dict[str, Any]) -> str:
    """`own` parameters, renamed for every root after the first, so that two roots never
    share a name (the first, the usual case, keeps the SQL text as compiled)."""
    if index == 0:
        params.update(own)
        return sql
    for name in own:
        renamed = f"r{index}_{name}"
        sql = re.sub(rf"(?<![:\w]):{name}\b", f":{renamed}", sql)
        params[renamed] = own[name]
    return sql
