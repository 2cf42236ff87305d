"""The operations in graphql/operations/, as a front end sends them."""

from __future__ import annotations

import json
from pathlib import Path

OPERATIONS_DIR = Path(__file__).resolve().parent.parent / "graphql" / "operations"


def operation(name: str) -> str:
    """The text of graphql/operations/<name>.graphql."""
    return (OPERATIONS_DIR / f"{name}.graphql").read_text(encoding="utf-8")


def example_variables(text: str) -> dict[str, object]:
    """The `# variables: {...}` line every operation file carries."""
    for line in text.splitlines():
        if line.startswith("# variables:"):
            return json.loads(line.removeprefix("# variables:"))
    raise AssertionError("operation file has no '# variables:' line")


def all_operations() -> list[Path]:
    return sorted(OPERATIONS_DIR.glob("*.graphql"))
