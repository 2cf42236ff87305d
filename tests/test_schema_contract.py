"""graphql/ is the contract with front ends: the committed schema is the served one, and every
operation a front end sends is valid against it and run by a behaviour test."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema as parse_sdl
from graphql import parse, validate

from registry.api.schema import schema_sdl
from tests.operations import all_operations

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "graphql" / "schema.graphql"


def test_committed_schema_is_the_served_schema() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_sdl(), (
        "graphql/schema.graphql is stale: run `registry export-schema` (make schema)")


def test_there_are_operations() -> None:
    assert len(all_operations()) >= 3


@pytest.mark.parametrize("path", all_operations(), ids=lambda p: p.stem)
def test_operation_is_valid_against_the_committed_schema(path: Path) -> None:
    schema = parse_sdl(SCHEMA_FILE.read_text(encoding="utf-8"))
    errors = validate(schema, parse(path.read_text(encoding="utf-8")))
    assert errors == []


@pytest.mark.parametrize("path", all_operations(), ids=lambda p: p.stem)
def test_operation_is_executed_by_a_behaviour_test(path: Path) -> None:
    """Every operation a front end sends is run by some test through `operation("Name")`."""
    tests_dir = Path(__file__).resolve().parent
    callers = [f.name for f in tests_dir.glob("*.py")
               if f'operation("{path.stem}")' in f.read_text(encoding="utf-8")]
    assert callers, f"no test runs graphql/operations/{path.stem}.graphql"
