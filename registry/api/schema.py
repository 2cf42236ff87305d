"""The GraphQL schema: every query and mutation module merged, with the cost limits on."""

from __future__ import annotations

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.types import ExecutionContext

from registry.api.access import AccessQuery
from registry.api.applications import ApplicationMutation, ApplicationQuery
from registry.api.documents import DocumentMutation, DocumentQuery
from registry.api.errors import log_unexpected
from registry.api.holdings import HoldingsQuery
from registry.api.parcels import ParcelMutation, ParcelQuery
from registry.api.reference import ReferenceQuery
from registry.api.units import UnitMutation, UnitQuery
from registry.api.validation import ValidationQuery
from registry.config import Settings


@strawberry.type(description="不动产统一登记 The register's queries.")
class Query(AccessQuery, ReferenceQuery, ValidationQuery, ParcelQuery, UnitQuery,
            HoldingsQuery, ApplicationQuery, DocumentQuery):
    pass


@strawberry.type(description="Changes to the register; each one is audited.")
class Mutation(ParcelMutation, UnitMutation, ApplicationMutation, DocumentMutation):
    pass


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
        extensions=[
            lambda: AddValidationRules(limit_rules),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            # Repeated queries skip parsing and validation (≈3 ms of CPU each, recipes.md).
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )


def schema_sdl() -> str:
    """The schema in SDL, as committed in graphql/schema.graphql."""
    return build_schema().as_str() + "\n"
