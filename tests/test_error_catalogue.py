"""Error codes are the contract with front ends: every code the server can answer with is
listed, with its meaning, in docs/errors.md (and nothing listed there is dead)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "docs" / "errors.md"
# Calls that name a code, and at which argument: errors raised by services and scans, ledger
# refusals, and the HTTP-level refusals of the ASGI app.
CODE_POSITION = {"DomainError": 0, "InvalidInput": 0, "Refusal": 0, "ScanRefused": 0,
                 "_refuse": 2, "RequestRefused": 1}
# Subclasses and API-level codes that carry their code implicitly.
IMPLICIT = {"NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED", "INTERNAL", "QUERY_TOO_COMPLEX",
            "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}


def _code_argument(node: ast.AST) -> str | None:
    """The literal code a call raises: `DomainError("CODE", …)`, `_refuse(send, 400, "CODE", …)`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    position = CODE_POSITION.get(node.func.id)
    if position is None or len(node.args) <= position:
        return None
    argument = node.args[position]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    return None


# An error code is upper snake case; {"code": "p.code"} (the compiled reads' columns) is not.
ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]*")


def codes_in_python() -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "registry").rglob("*.py"), *(ROOT / "storage").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            code = _code_argument(node)
            if code is not None:
                found.add(code)
            if isinstance(node, ast.Dict):  # an error built as {"code": "CODE", …}
                found |= {value.value for key, value in zip(node.keys, node.values, strict=True)
                          if isinstance(key, ast.Constant) and key.value == "code"
                          and isinstance(value, ast.Constant) and isinstance(value.value, str)
                          and ERROR_CODE.fullmatch(value.value)}
    return found


def codes_in_triggers() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "alembic" / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"RAISE EXCEPTION '([A-Z0-9_]+):", text))
    return found


def documented() -> set[str]:
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", CATALOGUE.read_text(encoding="utf-8"), re.M))


def test_every_code_the_server_raises_is_documented() -> None:
    raised = codes_in_python() | codes_in_triggers() | IMPLICIT
    missing = sorted(raised - documented())
    assert not missing, f"add these to docs/errors.md: {missing}"


def test_the_catalogue_lists_no_code_that_nothing_raises() -> None:
    raised = codes_in_python() | codes_in_triggers() | IMPLICIT
    assert sorted(documented() - raised) == []
