"""Column types shared by the models."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def enum_column(enum: type[StrEnum], name: str) -> Enum:
    """A PostgreSQL enum type that stores the members' values (not their Python names)."""
    return Enum(enum, name=name, values_callable=lambda members: [m.value for m in members],
                validate_strings=True)
