"""The tree's layering: the database layer (registry/db/) knows nothing of the services or the
API built on it, so models and migrations can be read and run alone."""

from __future__ import annotations

import ast
from pathlib import Path

DB = Path(__file__).resolve().parent.parent / "registry" / "db"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_the_database_layer_imports_no_service_and_no_api() -> None:
    offenders = {path.name: sorted(m for m in imported_modules(path)
                                   if m.startswith(("registry.services", "registry.api")))
                 for path in sorted(DB.glob("*.py"))}
    assert {name: mods for name, mods in offenders.items() if mods} == {}
