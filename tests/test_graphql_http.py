"""The GraphQL-over-HTTP spec audit: graphql-http's `auditServer` (pinned in
tests/http_audit/package.json) against `registry serve` on this test's database and bucket.
Every MUST and every SHOULD passes (MAY are reported, not required)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parent / "http_audit"


def audit_installed() -> None:
    """`npm ci` once; node_modules stays (gitignored) until the lock file changes."""
    stamp = AUDIT / "node_modules" / ".package-lock.json"
    lock = AUDIT / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=AUDIT, check=True,
                   capture_output=True, text=True)


def test_the_graphql_over_http_audit_passes_every_must_and_should(served_url: str) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed (scripts/system-deps.sh installs them)")
    audit_installed()
    run = subprocess.run(["node", "audit.mjs", served_url], cwd=AUDIT, check=True,
                         capture_output=True, text=True, timeout=300)
    results = json.loads(run.stdout)
    assert len(results) > 50, "the audit ran fewer checks than graphql-http has"
    required = [r for r in results if r["name"].startswith(("MUST", "SHOULD"))]
    failed = [r for r in required if r["status"] != "ok"]
    for level in ("MUST", "SHOULD", "MAY"):
        of_level = [r for r in results if r["name"].startswith(level)]
        passed = sum(r["status"] == "ok" for r in of_level)
        print(f"graphql-http audit {level}: {passed} passed, {len(of_level) - passed} failed")
    assert not failed, "\n".join(
        f"{r['id']} {r['name']}: {r.get('reason')} (HTTP {r.get('httpStatus')}) "
        f"{r.get('body', '')[:200]}" for r in failed)
