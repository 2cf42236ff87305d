"""The GraphQL schema: every query and mutation module merged, with the cost limits on."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import ClassVar

import strawberry
from graphql import ASTValidationRule, DocumentNode, parse
from graphql.error import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from registry.api.access import AccessQuery
from registry.api.applications import ApplicationMutation, ApplicationQuery
from registry.api.documents import DocumentMutation, DocumentQuery
from registry.api.errors import log_unexpected
from registry.api.holdings import HoldingsQuery
from registry.api.holdings_audit import HoldingsAuditQuery
from registry.api.ledger import SCALARS as LEDGER_SCALARS
from registry.api.ledger import LedgerMutation, LedgerQuery
from registry.api.natural_papers import NaturalPapersMutation
from registry.api.natural_resources import NaturalResourceMutation, NaturalResourceQuery
from registry.api.papers import PapersMutation, PapersQuery
from registry.api.parcels import ParcelMutation, ParcelQuery
from registry.api.reference import ReferenceQuery
from registry.api.register_papers import RegisterPapersMutation
from registry.api.request_limits import CACHEABLE_QUERY_CHARS
from registry.api.statistics import StatisticsMutation, StatisticsQuery
from registry.api.survey_import import SurveyImportMutation, SurveyImportQuery
from registry.api.units import UnitMutation, UnitQuery
from registry.api.validation import ValidationQuery
from registry.config import Settings


@strawberry.type(description="不动产统一登记 The register's queries.")
class Query(AccessQuery, ReferenceQuery, ValidationQuery, ParcelQuery, UnitQuery,
            HoldingsQuery, ApplicationQuery, StatisticsQuery, SurveyImportQuery,
            HoldingsAuditQuery, LedgerQuery, DocumentQuery, PapersQuery, NaturalResourceQuery):
    pass


@strawberry.type(description="Changes to the register; each one is audited.")
class Mutation(ParcelMutation, UnitMutation, ApplicationMutation, StatisticsMutation,
               SurveyImportMutation, LedgerMutation,
               DocumentMutation, PapersMutation, RegisterPapersMutation,
               NaturalResourceMutation, NaturalPapersMutation):
    pass


@lru_cache(maxsize=512)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    """Parsed once per distinct query text (failures are not cached: they raise)."""
    return parse(query, max_tokens=max_tokens)


def parse_query(query: str, max_tokens: int) -> DocumentNode:
    """The parsed query; kept in the parse cache only when short (REQ-3)."""
    if len(query) <= CACHEABLE_QUERY_CHARS:
        return _parse(query, max_tokens)
    return parse(query, max_tokens=max_tokens)


class BoundedQueries(SchemaExtension):
    """Every query bounded (depth, aliases, tokens), parsed and validated once per text.

    - The bounds are validation rules and a parser option, the same for every request.
    - Parsing: a query text seen before reuses its DocumentNode (≈3 ms of CPU each otherwise,
      recipes.md).
    - Validation results are kept per parsed document, keyed by the document's identity: the
      parse cache hands out the same DocumentNode for the same text, and the entry holds the
      document, so an id is never reused while its entry lives. (Strawberry's ValidationCache
      keys on the document's value, and hashing a whole AST costs about as much as validating.)

    One extension instead of four: each costs its hooks on every request.
    """

    MAX_ENTRIES = 512
    _results: ClassVar[dict[int, tuple[DocumentNode, tuple[object, ...], list[GraphQLError]]]] = {}

    def __init__(self, rules: tuple[type[ASTValidationRule], ...], max_tokens: int) -> None:
        self.rules = rules
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules
        context.parse_options["max_tokens"] = self.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None
        context.graphql_document = parse_query(context.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        rules = context.validation_rules
        found = self._results.get(id(document))
        if found is not None and found[0] is document and found[1] == rules:
            errors = found[2]
        else:
            errors = validate_document(context.schema._schema, document, rules)
            if len(context.query or "") <= CACHEABLE_QUERY_CHARS:  # REQ-3: short texts only
                if len(self._results) >= self.MAX_ENTRIES:
                    self._results.clear()
                self._results[id(document)] = (document, rules, errors)
        context.pre_execution_errors = errors
        yield


class RegistrySchema(strawberry.Schema):
    # Every rule a query is validated with (graphql's own and the cost limits), as
    # BoundedQueries applies them; set by build_schema, read by the compiled reads.
    validation_rules: tuple[type[ASTValidationRule], ...] = tuple(specified_rules)
    max_tokens: int = 0

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are answered, not logged; only unexpected errors reach the log.
        log_unexpected(errors)


def build_schema(settings: Settings | None = None) -> RegistrySchema:
    settings = settings or Settings()
    # The limit rules are built once: the validation cache is keyed by the rule classes, so
    # rules made afresh per request would never hit it. Extensions themselves are created per
    # request (they hold the request's execution context).
    limit_rules: tuple[type[ASTValidationRule], ...] = (
        max_depth_rule(settings.max_query_depth, should_ignore=None),
        max_aliases_rule(settings.max_aliases))
    if not settings.is_development:  # the schema is published in graphql/schema.graphql
        limit_rules += (NoSchemaIntrospectionCustomRule,)
    schema = RegistrySchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map={**LEDGER_SCALARS}),
        extensions=[lambda: BoundedQueries(limit_rules, settings.max_tokens)],
    )
    schema.validation_rules = (*specified_rules, *limit_rules)
    schema.max_tokens = settings.max_tokens
    return schema


def schema_sdl() -> str:
    """The schema in SDL, as committed in graphql/schema.graphql."""
    return build_schema().as_str() + "\n"
