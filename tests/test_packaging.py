"""Installing the package: a wheel builds without a deprecation warning (issue 12: setuptools'
licence-table warning, then the vendored GraphiQL folders that were package data outside any
listed package), and the wheel carries what the service serves from the package."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_builds_without_deprecation_warnings_and_carries_the_vendored_ide(
        tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path),
         str(REPO)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    output = built.stdout + built.stderr
    assert "Deprecat" not in output, output
    assert "is absent from the `packages` configuration" not in output, output

    (wheel,) = tmp_path.glob("registry-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for served in ("registry/api/graphiql.html", "registry/api/static/ide.js",
                   "registry/api/static/graphiql/graphiql.min.js",
                   "registry/api/static/graphiql/LICENSE.graphiql", "registry/py.typed",
                   "registry/papers/templates/certificate.typ",
                   "registry/papers/templates/common.typ",
                   "registry/services/exchange/exchange.xsd",
                   "registry/services/exchange/mapping.toml"):
        assert served in names
    assert not any(name.startswith(("graphql/", "tests/", "alembic/")) for name in names)


def test_every_python_package_is_listed_for_the_wheel() -> None:
    """The packages are listed explicitly (a top-level `graphql/` must never become one), so
    a new package must be added to the list, or the wheel ships without it."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {".".join(init.parent.relative_to(REPO).parts)
             for top in ("registry", "storage") for init in (REPO / top).rglob("__init__.py")}
    assert found - listed == set()
