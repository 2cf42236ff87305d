"""The README's clerk's day runs as written: its shell blocks, in order, against a served
register holding the demo data, with the demo tokens `make run` writes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.demo import Papers, ensure_demo_users, load_demo
from registry.runtime import Runtime
from tests.conftest import serving

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## A clerk's day, with curl"


def clerks_day() -> str:
    """The section's ```sh blocks, joined in order: what a reader pastes into a terminal."""
    readme = README.read_text(encoding="utf-8")
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    blocks = re.findall(r"```sh\n(.*?)```", readme[start:end], re.S)
    assert len(blocks) >= 6, "the clerk's day lost its steps"
    return "\n".join(blocks)


@pytest.fixture
def served(runtime: Runtime) -> Iterator[tuple[str, Path]]:
    """`registry serve` on this test's database and bucket, with a small demo register loaded
    as `make run` loads it, and VAR_DIR holding its tokens; yields (base URL, VAR_DIR)."""
    var_dir = Path(tempfile.mkdtemp(prefix="registry-readme-")) / "var"
    ensure_demo_users(runtime.sessions, var_dir / "demo-tokens.json")
    papers = Papers.from_runtime(runtime)
    load_demo(runtime.sessions, papers, runtime.clock(), per_kind=8, progress=lambda _: None)
    with serving(runtime, var_dir) as url:
        yield url, var_dir


def test_the_readme_clerks_day_runs_as_written(served: tuple[str, Path], runtime: Runtime,
                                               tmp_path: Path) -> None:
    url, var_dir = served
    # The reader's clone: the operations and the virtualenv where the README expects them.
    (tmp_path / "graphql").symlink_to(ROOT / "graphql")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", clerks_day()], cwd=tmp_path,
                         env={**os.environ, "REGISTRY_URL": url, "VAR_DIR": str(var_dir)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert '{"code":"511923101003JC00777F00010001","status":"SURVEYED"}' in out
    for state in ("ACCEPTED", "REVIEWED", "CERTIFIED"):
        assert f'"{state}"' in out
    certificate = re.search(r"川\(\d{4}\)平昌县不动产权第\d{7}号", out)
    assert certificate, out
    assert '"status":"REGISTERED"' in out and '"holders":["王大山"]' in out
    assert '"history":["FIRST"]' in out  # entry types are enum names, as the README shows
    assert "%PDF-" in out  # the certificate, printed and downloaded
    assert "ILLEGAL_TRANSITION" in run.stderr  # the step out of turn was refused ...
    with runtime.engine.connect() as conn:  # ... and the four scans are the case's
        kinds = conn.execute(text(
            "SELECT d.kind FROM documents d JOIN applications a ON a.id = d.application_id"
            " JOIN application_units au ON au.application_id = a.id"
            " JOIN units u ON u.id = au.unit_id WHERE u.code = :code ORDER BY 1"),
            {"code": "511923101003JC00777F00010001"}).scalars().all()
        state = conn.execute(text(
            "SELECT a.state FROM applications a JOIN application_units au"
            " ON au.application_id = a.id JOIN units u ON u.id = au.unit_id"
            " WHERE u.code = :code"), {"code": "511923101003JC00777F00010001"}).scalar_one()
    assert sorted(kinds) == ["application_form", "id_proof", "survey_result", "title_source"]
    assert state == "certified"
