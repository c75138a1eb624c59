"""A PostgreSQL server of a test's own: initdb in the test's folder, a free port, so a test can
crash it (`pg_ctl stop -m immediate`, what a power cut or an OOM kill does to it) and start it
again without touching the machine's shared server.

As root (CI), the server runs as the `postgres` system user, which initdb requires."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .harness import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Postgres:
    def __init__(self) -> None:
        # Not under pytest's folder: that is private to root, and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="chat-test-pg-"))
        self.dir = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed "
                        "(Debian: apt-get install postgresql)")
        self._initdb, self._pg_ctl = initdb, pg_ctl
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> Postgres:
        if self._as:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(self._initdb, "-D", str(self.dir), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir}"
        self._run(self._pg_ctl, "-D", str(self.dir), "-o", options, "-l", str(self.log),
                  "-w", "-t", "30", "start")

    def crash(self) -> None:
        """Stop at once, as a crash would: no checkpoint, recovery from the WAL at start."""
        self._run(self._pg_ctl, "-D", str(self.dir), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        if (self.dir / "postmaster.pid").exists():
            self._run(self._pg_ctl, "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str = "chat") -> str:
        import psycopg

        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(self.url(), autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
                return self.url(name)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.fixture
def own_postgres():
    """A PostgreSQL server for this test alone, stopped and removed afterwards."""
    server = Postgres().init()
    try:
        server.start()
        yield server
    finally:
        server.remove()
