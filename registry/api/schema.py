"""The GraphQL schema: every query and mutation module merged, with the cost limits on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import strawberry
from graphql import DocumentNode
from graphql.error import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
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
from registry.api.parcels import ParcelMutation, ParcelQuery
from registry.api.reference import ReferenceQuery
from registry.api.statistics import StatisticsMutation, StatisticsQuery
from registry.api.survey_import import SurveyImportMutation, SurveyImportQuery
from registry.api.units import UnitMutation, UnitQuery
from registry.api.validation import ValidationQuery
from registry.config import Settings


@strawberry.type(description="不动产统一登记 The register's queries.")
class Query(AccessQuery, ReferenceQuery, ValidationQuery, ParcelQuery, UnitQuery,
            HoldingsQuery, ApplicationQuery, StatisticsQuery, SurveyImportQuery,
            HoldingsAuditQuery, LedgerQuery, DocumentQuery):
    pass


@strawberry.type(description="Changes to the register; each one is audited.")
class Mutation(ParcelMutation, UnitMutation, ApplicationMutation, StatisticsMutation,
               SurveyImportMutation, LedgerMutation,
               DocumentMutation):
    pass


class ValidateOnce(SchemaExtension):
    """Validation results kept per parsed document.

    The parser cache hands out the same DocumentNode for the same query text, so the document's
    identity is the key. (Strawberry's ValidationCache keys on the document's value, and hashing
    a whole AST on every request costs about as much as validating it.) The cached entry holds
    the document itself, so an id is never reused while its entry lives; the rules are the same
    for every request of a schema (built once in `build_schema`).
    """

    MAX_ENTRIES = 512
    _results: ClassVar[dict[int, tuple[DocumentNode, tuple[object, ...], list[GraphQLError]]]] = {}

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
            if len(self._results) >= self.MAX_ENTRIES:
                self._results.clear()
            self._results[id(document)] = (document, rules, errors)
        context.pre_execution_errors = errors
        yield


class RegistrySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        # Client mistakes are answered, not logged; only unexpected errors reach the log.
        log_unexpected(errors)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # The limit rules are built once: the validation cache is keyed by the rule classes, so
    # rules made afresh per request would never hit it. Extensions themselves are created per
    # request (they hold the request's execution context).
    limit_rules = [max_depth_rule(settings.max_query_depth, should_ignore=None),
                   max_aliases_rule(settings.max_aliases)]
    return RegistrySchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map={**LEDGER_SCALARS}),
        extensions=[
            lambda: AddValidationRules(limit_rules),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            # Repeated queries skip parsing and validation (≈3 ms of CPU each, recipes.md).
            lambda: ParserCache(maxsize=512),
            ValidateOnce,
        ],
    )


def schema_sdl() -> str:
    """The schema in SDL, as committed in graphql/schema.graphql."""
    return build_schema().as_str() + "\n"
