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
import uuid
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

    def running(self) -> bool:
        done = subprocess.run([*self._as, self._pg_ctl, "-D", str(self.dir), "status"],
                              capture_output=True, timeout=60)
        return done.returncode == 0

    def remove(self) -> None:
        # Immediate: its files are deleted next, so a fast stop's checkpoint (~3 s on the
        # loaded CI box) would be written for nothing.
        if (self.dir / "postmaster.pid").exists():
            self._run(self._pg_ctl, "-D", str(self.dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str | None = None) -> str:
        """A new database, named uniquely unless `name` is given; the server is started first
        when an earlier test of the module left it down."""
        import psycopg

        if not self.running():
            self.start()
        name = name or f"chat_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL server of the module's own, which its tests crash and start again (one
    initdb per module, not per test: ~2 s each); each test works in a database of its own
    from `create_database()`. Stopped and removed after the module."""
    server = Postgres().init()
    try:
        server.start()
        yield server
    finally:
        server.remove()
