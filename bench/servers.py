"""The servers under test, each a child process on loopback, and what /proc says about them.

`ChatServer` is `python -m chatserver serve` on a fresh SQLite file (or a `PostgresDatabase`
of the run's own) with the rate limits raised for load; `EchoServer` is the baseline
(bench/echo_server.py) under the same uvicorn settings. CPU is utime+stime of the whole process
(every thread, the store writer included); on PostgreSQL the database's share is the CPU of the
backend processes serving the bench database (found in pg_stat_activity).
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from chatserver.passwords import hash_password

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("chatserver", "bot", "knowledge_base")  # what the server imports from the tree
_source: Path | None = None  # a frozen copy of the server code, ahead of the live tree
SECRET = "bench-secret-key-long-enough-for-production-use-0123456789abcdef"
PASSWORD = "bench password 1"
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
# Per-connection limits far above what a scenario offers (1 message/s per side, typing at
# 2/s), so the benchmark measures the server, not its flood protection.
LOAD_LIMITS = {
    "CHATSERVER_LIMITS_FRAMES_PER_SECOND": "100",
    "CHATSERVER_LIMITS_FRAME_BURST": "200",
    "CHATSERVER_LIMITS_SEND_QUEUE": "1024",
    "CHATSERVER_LIMITS_HELLO_TIMEOUT_SECONDS": "60",
}


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (10,000+ sockets each side)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def freeze_source(source: Path | None = None) -> Path:
    """Run every server of this run from one copy of the code: others may be editing the tree.

    `source` is a tree to use as it is (e.g. a `git archive` export); by default the working
    tree's packages are copied now, so an edit made mid-run cannot mix two versions.
    The copy is compiled once here: with PYTHONDONTWRITEBYTECODE set (which stops writing
    bytecode, not reading it) every server child compiled the whole copy again, ~0.3 s of CPU
    a start and 7 chat starts at the tiny scale.
    """
    global _source
    if source is None:
        source = Path(tempfile.mkdtemp(prefix="bench-source-"))
        for package in PACKAGES:
            shutil.copytree(ROOT / package, source / package,
                            ignore=shutil.ignore_patterns("__pycache__"))
        compileall.compile_dir(source, quiet=1)
    _source = source.resolve()
    return _source


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def thread_cpu_seconds(pid: int, name: str) -> float:
    """utime + stime of the threads of `pid` the kernel knows as `name` (0 when none): the
    store's writer names itself "store-writer" (store_writer.py)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() != name:
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def main_thread_cpu_seconds(pid: int) -> float:
    """utime + stime of the main thread of `pid` alone (its event loop: the sockets)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """VmRSS of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Child:
    """A server child process on a free loopback port; `stop()` always reaps it."""

    name = "server"

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.tmp / "server.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        path = [str(_source)] if _source is not None else []
        return {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(ROOT)])}

    def start(self, timeout: float = 30.0) -> _Child:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), cwd=self.tmp, env=self.env(), stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit,
            )
        deadline = time.monotonic() + timeout
        # One client for the whole wait: each httpx.get() builds an SSL context (45 ms of CPU),
        # ~0.5 s of the load generator's CPU beside every chat server starting.
        with httpx.Client(timeout=1) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
                try:
                    if http.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready in {timeout}s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def log_tail(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A private `redis-server` on a free loopback port, nothing saved; never the shared 6379."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return Path(REDIS_SERVER).exists()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING in {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


# The PostgreSQL service the PostgreSQL scenarios create their databases on (trust auth).
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL",
                                "postgresql://postgres@127.0.0.1:5432/postgres")


class PostgresDatabase:
    """A database of the run's own on the PostgreSQL service: created with a unique name,
    dropped by `drop()` (even with connections left), never one the run did not create."""

    def __init__(self) -> None:
        self.name = f"bench_{uuid.uuid4().hex[:16]}"
        self.url = POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + self.name
        self._admin: Any = None

    @staticmethod
    def unavailable() -> str:
        """Why PostgreSQL cannot be used ("" when it can)."""
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed (pip install 'chatserver[postgres]')"
        try:
            psycopg.connect(POSTGRES_ADMIN, connect_timeout=3).close()
        except psycopg.Error as error:
            return f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {error}".splitlines()[0]
        return ""

    def create(self) -> PostgresDatabase:
        import psycopg

        self._admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5)
        self._admin.execute(f"CREATE DATABASE {self.name}")
        return self

    def backend_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each backend process connected to this database. The admin
        connection that asks sits in another database, so it does not count itself."""
        rows = self._admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                   (self.name,)).fetchall()
        cpu = {}
        for (pid,) in rows:
            with contextlib.suppress(OSError):  # it ended between the query and the read
                cpu[pid] = cpu_seconds(pid)
        return cpu

    def drop(self) -> None:
        if self._admin is not None:
            self._admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            self._admin.close()
            self._admin = None


@contextlib.contextmanager
def scratch_database(postgres: bool) -> Iterator[tuple[str, PostgresDatabase | None]]:
    """A fresh SQLite file in a temporary folder, or a database of the run's own on the
    PostgreSQL service (dropped after): where a bench writes its data."""
    if not postgres:
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "chat.db"), None
        return
    database = PostgresDatabase()
    try:
        database.create()
        yield database.url, database
    finally:
        database.drop()


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two `backend_cpu()` samples; a backend that started in between counts
    whole (its CPU began at 0), one that ended in between is lost (pools keep theirs open)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


class EchoServer(_Child):
    """Baseline: bare uvicorn + Starlette, the chat server's uvicorn settings, no work."""

    name = "echo"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.echo_server", "--port", str(self.port)]


class ChatServer(_Child):
    """The chat server with a fresh database; users are added once it has made the schema."""

    name = "chat"
    _hash: str | None = None

    def __init__(self, extra_env: dict[str, str] | None = None,
                 db: Path | str | None = None) -> None:
        """`db`: another server's database file, to share it (the redis cluster), or a
        `postgresql://` URL (a `PostgresDatabase`)."""
        super().__init__()
        self.db = db if db is not None else self.tmp / "chat.db"
        self.extra_env = extra_env or {}
        self._users: list[tuple[list[str], str, int, dict[str, int]]] = []

    def start(self, timeout: float = 30.0) -> ChatServer:
        super().start(timeout)
        for names, role, capacity, skills in self._users:
            self._insert_users(names, role, capacity, skills)
        return self

    def command(self) -> list[str]:
        return [sys.executable, "-m", "chatserver", "serve", "--log-level", "warning"]

    def env(self) -> dict[str, str]:
        storage = ({"CHATSERVER_STORAGE_BACKEND": "postgres", "CHATSERVER_STORAGE_URL": self.db}
                   if isinstance(self.db, str) else {"CHATSERVER_STORAGE_PATH": str(self.db)})
        return {**super().env(), **LOAD_LIMITS, **storage, "CHATSERVER_SERVER_SECRET_KEY": SECRET,
                "CHATSERVER_SERVER_PORT": str(self.port), **self.extra_env}

    def add_users(self, names: list[str], *, role: str = "agent", capacity: int = 50,
                  skills: dict[str, int] | None = None) -> None:
        """Users to create when the server starts."""
        self._users.append((names, role, capacity, skills or {}))

    def _insert_users(self, names: list[str], role: str, capacity: int,
                      skills: dict[str, int]) -> None:
        """Straight into the database (as tests/harness.py does); scrypt runs once."""
        if ChatServer._hash is None:
            ChatServer._hash = hash_password(PASSWORD)
        now = int(time.time() * 1000)
        rows = [(n, n.title(), role, ChatServer._hash, json.dumps(skills), capacity, now)
                for n in names]
        sql = ("INSERT INTO users (username, display_name, role, password_hash, skills, "
               "capacity, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
        if isinstance(self.db, str):
            from chatserver.store.postgres import connect  # the store's own `?` translation

            pg = connect(self.db)
            try:
                pg.executemany(sql, rows)
            finally:
                pg.close()
            return
        with sqlite3.connect(self.db, timeout=30) as conn:
            conn.executemany(sql, rows)

    def login(self, username: str) -> str:
        """POST /login; the `Cookie` header value for the agent socket."""
        response = httpx.post(f"http://127.0.0.1:{self.port}/login",
                              data={"username": username, "password": PASSWORD},
                              headers={"accept": "application/json"}, timeout=30)
        response.raise_for_status()
        return "; ".join(f"{k}={v}" for k, v in response.cookies.items())
