"""A real PostgreSQL server for the session: ``postgres_server``.

The suite starts it itself — once per session, on first use, in a temporary folder, on 127.0.0.1
at a free port — and stops it at the end; each user creates its own database in it (the
``db_url`` fixture, tests/plugins/stores.py). Set ``LOOPML_SKIP_POSTGRES=1`` to skip what needs
it on machines without PostgreSQL; otherwise a missing PostgreSQL fails loudly, so CI never goes
green on SQLite alone by accident.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.support.servers import free_port


def _postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, else the one on PATH."""

    def major(path: str) -> int:
        version = Path(path).parent.name
        return int(version) if version.isdigit() else 0

    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True):
        if all(os.access(Path(folder, tool), os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster: trust auth, no fsync, gone at the end of the session."""

    bin_dir: Path
    root: Path
    port: int
    user: str | None  # run the server binaries as this user (when the tests run as root)
    admin: Engine | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        # Trust auth ignores the password; it is there so tests can check it is masked.
        return f"postgresql+psycopg://postgres:pg-test-secret@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / tool), *args]
        if self.user:
            runuser = shutil.which("runuser")
            command = (
                [runuser, "-u", self.user, "--", *command]
                if runuser
                else ["su", self.user, "-s", "/bin/sh", "-c", shlex.join(command)]
            )
        return subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        initdb = self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "--no-sync", "-U", "postgres",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        if initdb.returncode:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
        for _attempt in range(3):
            self.port = free_port()
            options = (
                f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
            )
            log = self.root / "postgres.log"
            started = self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-w", "-t", "30",
                "-o", options, "start",
            )  # fmt: skip
            if started.returncode == 0:
                self.admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
                return
        raise RuntimeError(f"pg_ctl start failed:\n{started.stderr}\n{log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.admin is not None:
            self.admin.dispose()
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        assert self.admin is not None
        name = f"loopml_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        assert self.admin is not None
        name = url.rsplit("/", 1)[1]
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (started on first use, stopped at the end)."""
    if os.environ.get("LOOPML_SKIP_POSTGRES") == "1":
        pytest.skip("LOOPML_SKIP_POSTGRES=1")
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
            "or on PATH; install PostgreSQL (e.g. apt-get install postgresql) or set "
            "LOOPML_SKIP_POSTGRES=1 to skip the PostgreSQL half of the store tests",
            pytrace=False,
        )
    root = Path(tempfile.mkdtemp(prefix="loopml-pg-"))
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the postgres user
        try:
            shutil.chown(root, user="postgres")
        except LookupError:
            shutil.rmtree(root)
            pytest.fail(
                "running as root and there is no 'postgres' user to run PostgreSQL as; "
                "create one (useradd postgres) or run the tests as another user",
                pytrace=False,
            )
        user = "postgres"
    server = PostgresServer(bin_dir=bin_dir, root=root, port=0, user=user)
    try:
        server.start()
        yield server
    finally:
        server.stop()
