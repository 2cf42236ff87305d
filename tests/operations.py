"""The operations in graphql/operations/, as a front end sends them."""

from __future__ import annotations

from pathlib import Path

OPERATIONS_DIR = Path(__file__).resolve().parent.parent / "graphql" / "operations"


def operation(name: str) -> str:
    """The text of graphql/operations/<name>.graphql."""
    return (OPERATIONS_DIR / f"{name}.graphql").read_text(encoding="utf-8")


def all_operations() -> list[Path]:
    return sorted(OPERATIONS_DIR.glob("*.graphql"))
