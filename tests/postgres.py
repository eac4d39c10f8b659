"""A throwaway PostgreSQL server from Debian's binaries, for the records store tests.

``postgres_server`` (session) runs one server for the whole run; ``postgres_url`` gives each test
a fresh database on it; ``records_url`` parametrises a test over SQLite and PostgreSQL (the
PostgreSQL case is marked ``postgres`` and ``slow``); ``postgres_process`` is a server of the
test's own, for fault tests that stop and restart it. Without the binaries the tests skip, except
in CI, where they fail: scripts/setup.sh test installs Debian's ``postgresql``.

initdb refuses to run as root, so as root the server runs as the ``postgres`` user (or
``nobody``) in a folder of its own under the system temp dir (pytest's tmp dirs are root-only).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import psycopg
import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
ADMIN_USER = "bordergate"
StopMode = Literal["smart", "fast", "immediate"]
_STOP_SIGNALS: dict[StopMode, signal.Signals] = {
    "smart": signal.SIGTERM,
    "fast": signal.SIGINT,  # rolls back open transactions, disconnects clients
    "immediate": signal.SIGQUIT,  # as a crash: recovery from the WAL at the next start
}


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (``BORDERGATE_PG_BIN`` overrides)."""
    override = os.environ.get("BORDERGATE_PG_BIN")
    candidates = [override] if override else glob.glob(PG_BIN_GLOB)

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    for path in sorted(candidates, key=version, reverse=True):
        if (Path(path) / "initdb").is_file() and (Path(path) / "postgres").is_file():
            return Path(path)
    return None


def require_pg_bin() -> Path:
    found = pg_bin_dir()
    if found is None:
        where = os.environ.get("BORDERGATE_PG_BIN") or PG_BIN_GLOB
        message = (
            f"PostgreSQL's initdb and postgres not found in {where}: "
            "scripts/setup.sh test installs Debian's postgresql"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _server_user() -> str | None:
    """Whom to run as: None (ourselves) unless we are root, whom initdb refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    pytest.fail("running as root and neither a postgres nor a nobody user exists")


class PostgresServer:
    """One PostgreSQL cluster in a temp folder, on a loopback port, stopped by its PID."""

    def __init__(self, bin_dir: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.port = port
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="bordergate-pg-"))
        if self.user is not None:
            shutil.chown(self.root, self.user)
        self.data_dir = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._initialised = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{ADMIN_USER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={ADMIN_USER} dbname={database}"

    def init(self) -> None:
        result = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", ADMIN_USER,
             "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
            capture_output=True, text=True, check=False, timeout=120,
            user=self.user, group=self.user,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr[-2000:]}")
        self._initialised = True

    def start(self, timeout_s: float = 30.0) -> None:
        if not self._initialised:
            self.init()
        # fsync off: a killed server still keeps every commit (the WAL is in the page cache);
        # only an OS crash could lose it, and this server lives for one test run.
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                 "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
                stdout=subprocess.DEVNULL, stderr=log, user=self.user, group=self.user,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(self.conninfo(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop("immediate")
                    raise RuntimeError(f"postgres did not start: {self.log_tail()}") from None
                time.sleep(0.05)

    def stop(self, mode: StopMode = "fast", timeout_s: float = 30.0) -> None:
        """Shut the server down (by its PID) and wait until it has exited."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                self.resume()  # a paused server would never act on the signal
            proc.send_signal(_STOP_SIGNALS[mode])
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.proc = None

    def _children(self, pid: int) -> list[int]:
        """The postmaster's children: connection backends, checkpointer, WAL writer, ..."""
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def pause(self) -> None:
        """SIGSTOP the server and every process of it: connections stay open, nothing answers
        (a hung database, not a down one). The postmaster first, so it forks nothing new."""
        if self.proc is None:
            return
        os.kill(self.proc.pid, signal.SIGSTOP)
        for child in self._children(self.proc.pid):
            os.kill(child, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is None:
            return
        for child in self._children(self.proc.pid):
            os.kill(child, signal.SIGCONT)
        os.kill(self.proc.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.encode())

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)


def new_server() -> PostgresServer:
    from tests.conftest import free_port

    return PostgresServer(require_pg_bin(), free_port())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; each test takes a database of its own."""
    server = new_server()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server (dropped after the test)."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        if postgres_server.running:
            with contextlib.suppress(psycopg.Error):
                postgres_server.drop_database(name)


@pytest.fixture
def postgres_process() -> Iterator[PostgresServer]:
    """A server of this test's own (not started), for tests that stop and restart it."""
    server = new_server()
    try:
        yield server
    finally:
        server.close()


POSTGRES_PARAM = pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def records_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty records database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records' / 'bordergate.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
