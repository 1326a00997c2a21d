"""PostgreSQL for the tests: a server to create throw-away databases on.

Resolution order: ``AI_TRADER_TEST_DATABASE_URL`` (any database on the server to use), else the local
server at 127.0.0.1:5432 (user postgres), else a private cluster started with the PostgreSQL binaries
found on the machine (``initdb`` + ``pg_ctl``), stopped and deleted afterwards.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ai_trader_assets_tests.support.net import free_port

LOCAL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class PostgresUnavailable(RuntimeError):
    pass


def _admin_url(raw: str) -> URL:
    url = make_url(raw)
    return url.set(drivername="postgresql+psycopg")


def can_connect(url: URL, timeout_seconds: int = 3) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": timeout_seconds})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def find_postgres_bindir() -> Path:
    """The folder holding initdb and pg_ctl (pg_config, then Debian's layout, then PATH)."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb") or "").parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise PostgresUnavailable(
        "no PostgreSQL server reachable and no initdb/pg_ctl found: set AI_TRADER_TEST_DATABASE_URL "
        "or install the PostgreSQL server binaries"
    )


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[URL]:
    """Start a private PostgreSQL cluster on a free port; stop and delete it on exit.

    initdb refuses to run as root, so as root the cluster runs as the ``postgres`` system user.
    """
    bindir = find_postgres_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="ai_trader_pg_"))
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (workdir, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = workdir / "server.log"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        try:
            yield make_url(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[URL]:
    """An admin URL on a server where the tests may create and drop databases."""
    configured = os.environ.get("AI_TRADER_TEST_DATABASE_URL", "").strip()
    if configured:
        url = _admin_url(configured)
        if not can_connect(url):
            shown = url.render_as_string(hide_password=True)
            raise PostgresUnavailable(f"AI_TRADER_TEST_DATABASE_URL={shown} does not accept connections")
        yield url
        return
    local = _admin_url(LOCAL_SERVER)
    if can_connect(local):
        yield local
        return
    with throwaway_cluster() as url:
        yield url


class DatabaseFactory:
    """Creates uniquely named databases on one server and drops them all at the end."""

    def __init__(self, admin_url: URL) -> None:
        self.admin_url = admin_url
        self._engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._created: list[str] = []

    def create(self) -> URL:
        name = f"ai_trader_test_{uuid.uuid4().hex[:12]}"
        with self._engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))  # name is generated, never user input
        self._created.append(name)
        return self.admin_url.set(database=name)

    def drop_all(self) -> None:
        with self._engine.connect() as conn:
            for name in self._created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()
        self._engine.dispose()
