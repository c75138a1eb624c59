"""Shared test harness: the real server in a subprocess on a free port, real WebSocket clients.

Nothing is mocked: `Server` runs `python -m chatserver serve` against a temporary SQLite file
(or a PostgreSQL database the test names), and `Client` speaks the wire protocol over a real
socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from chatserver.passwords import verify_password
from chatserver.store.store import migrate_file

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"
PASSWORD = "correct horse battery"


def _quick_hash(password: str, n: int = 2**10) -> str:
    """chatserver.passwords' scrypt format at n = 2**10 instead of 2**14: a login verifies with
    the parameters stored in the hash, so it costs the server ~6 ms of CPU instead of ~50
    (tests log in hundreds of times); what is checked stays the server's own verification."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    return "$".join(["scrypt", str(n), "8", "1", base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])


_HASH = _quick_hash(PASSWORD)  # one hash for every test user
assert verify_password(PASSWORD, _HASH)


def bytecode_cache() -> dict[str, str]:
    """Environment for a server child: with PYTHONDONTWRITEBYTECODE set, every `serve` compiled
    the whole project again (0.35 of its 1.45 CPU seconds to ready); the children share a
    bytecode cache outside the tree instead, so nothing is written beside the sources."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return {}
    prefix = Path(tempfile.gettempdir()) / f"chatserver-tests-pycache-{os.getuid()}"
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(prefix)}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sql(db: Path | str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement on a server's database, SQLite file or PostgreSQL URL alike (the
    store's SQL: `?` placeholders), committed; returns its rows."""
    if str(db).startswith("postgresql://"):
        from chatserver.store.postgres import connect as pg_connect

        conn = pg_connect(str(db))
        try:
            cursor = conn.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            conn.close()
    with sqlite3.connect(db) as db_conn:
        return db_conn.execute(statement, params).fetchall()


def add_user(db: Path | str, username: str, role: str = "agent", *,
             skills: dict[str, int] | None = None, capacity: int = 3,
             display_name: str | None = None) -> int:
    """Create a user straight in the database (the CLI path has its own test)."""
    migrate_file(str(db))
    (row,) = sql(db, "INSERT INTO users (username, display_name, role, password_hash, skills, "
                     "capacity, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                 (username, display_name or username.title(), role, _HASH,
                  json.dumps(skills or {}), capacity, int(time.time() * 1000)))
    return int(row[0])


class Server:
    """`chatserver serve` as a child process; `kill()` is SIGKILL, `start()` again reuses the db.

    `database`: a `postgresql://` URL to run on PostgreSQL, or a SQLite file (by default
    chat.db in `tmp`).
    `db` is where the data is, either way (a Path or the URL).
    `args`: more `serve` options, e.g. ("--workers", "2")."""

    def __init__(self, tmp: Path, database: str | None = None, *, args: tuple[str, ...] = (),
                 **env: str) -> None:
        self.tmp, self.args = tmp, args
        if database and database.startswith("postgresql://"):
            self.db: Path | str = database
            storage = {"CHATSERVER_STORAGE_BACKEND": "postgres",
                       "CHATSERVER_STORAGE_URL": database}
        else:
            self.db = Path(database) if database else tmp / "chat.db"
            storage = {"CHATSERVER_STORAGE_PATH": str(self.db)}
        self.port = free_port()
        self.env = {
            **os.environ,
            **storage,
            "CHATSERVER_SERVER_SECRET_KEY": SECRET,
            "CHATSERVER_SERVER_PORT": str(self.port),
            **bytecode_cache(),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Server:
        migrate_file(str(self.db))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "chatserver", "serve", "--log-level", "warning",
                 *self.args],
                cwd=self.tmp, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        # 30 s: a start takes 2-9 s on two cores shared with a loaded test run
        deadline = time.monotonic() + 30
        # One client for the whole wait: each httpx.get() builds an SSL context (45 ms of CPU),
        # so polling every 50 ms took half a core from the server starting beside it.
        with httpx.Client(timeout=0.5) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
                try:
                    if http.get(self.url + "/readyz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()  # else the process outlives the test and fails a later one's teardown
        raise RuntimeError(f"server did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def login(self, username: str, password: str = PASSWORD) -> httpx.Cookies:
        response = httpx.post(self.url + "/login", data={"username": username,
                                                         "password": password},
                              headers={"accept": "application/json"})
        assert response.status_code == 200, response.text
        return response.cookies


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    yield srv.start()
    srv.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a whole module, for tests that do not care what else it holds."""
    srv = Server(tmp_path_factory.mktemp("server"))
    yield srv.start()
    srv.stop()


@contextlib.contextmanager
def served(backend: str, folder: Path, users: Mapping[str, str] = {},
           **env: str) -> Iterator[Server]:
    """A started server on a new database of `backend` ("sqlite" or "postgres"), with these
    users ({username: role}) made first: for a module-scoped fixture whose tests each use
    their own names (a start costs ~1.5 s of CPU). Stopped after; its log holds no traceback."""
    from .databases import location

    with location(backend, folder) as where:
        srv = Server(folder, database=where, **env)
        for username, role in users.items():
            add_user(srv.db, username, role)
        try:
            yield srv.start()
        finally:
            srv.stop()
    assert "Traceback" not in srv.log.read_text()


class Client:
    """A protocol client: `send` frames, `expect` the next frame of a type (others kept)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def request(self, type: str, **fields: Any) -> dict[str, Any]:
        """Send a changing frame with a fresh id and wait for its ack (or error)."""
        frame_id = str(uuid.uuid4())
        await self.send({"type": type, "id": frame_id, **fields})
        return await self.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)

    async def expect(self, types: str | tuple[str, ...], *, where: Any = None,
                     timeout: float = 10.0) -> dict[str, Any]:
        types = (types,) if isinstance(types, str) else types
        for i, frame in enumerate(self._unread):
            if frame["type"] in types and (where is None or where(frame)):
                return self._unread.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {types} frame within {timeout}s; unread: "
                                     f"{self._unread}")
            raw = await asyncio.wait_for(self.ws.recv(), remaining)
            frame = json.loads(raw)
            self.seen.append(frame)
            if frame["type"] in types and (where is None or where(frame)):
                return frame
            self._unread.append(frame)

    async def nothing(self, types: str | tuple[str, ...], seconds: float = 0.3) -> None:
        """Assert no frame of these types arrives within `seconds`."""
        try:
            frame = await self.expect(types, timeout=seconds)
        except (AssertionError, TimeoutError):
            return
        raise AssertionError(f"unexpected frame {frame}")


async def visitor(server: Server, **hello: Any) -> Client:
    ws = await connect(server.ws + "/ws/visitor", max_size=2**20)
    client = Client(ws)
    await client.send({"type": "hello", **hello})
    client.welcome = await client.expect("welcome")  # type: ignore[attr-defined]
    return client


async def agent(server: Server, username: str, *, online: bool = True) -> Client:
    cookies = server.login(username)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    ws = await connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie})
    client = Client(ws)
    await client.send({"type": "hello"})
    client.welcome = await client.expect("welcome")  # type: ignore[attr-defined]
    if online:
        await client.send({"type": "status", "status": "online"})
        await client.expect("status")
    return client


async def assigned(server: Server, taker: Client, clients: list[Client],
                   **hello: Any) -> tuple[Client, str]:
    """A visitor (saying `hello`) asks for a person and `taker`, the agent it is offered to,
    accepts: the visitor and the chat's id."""
    guest = await visitor(server, **hello)
    clients.append(guest)
    cid = (await guest.request("request_human"))["conversation_id"]
    await taker.expect("offer")
    await taker.request("accept", conversation_id=cid)
    return guest, cid


def stored_unanswered(server: Server, cid: str, kind: str, author: str, payload: dict,
                      client_id: str | None, state: str) -> int:
    """The chat's next event committed though its append's answer was lost (PostgreSQL
    dropped the connection after COMMIT went out): the row goes straight into the log, and
    the server learns of it only from a retry or the next line. SQLite only. Its seq."""
    with sqlite3.connect(server.db) as db:
        ((seq,),) = db.execute("SELECT last_seq + 1 FROM conversations WHERE id = ?",
                               (cid,)).fetchall()
        db.execute("INSERT INTO events (conversation_id, seq, type, author, payload, client_id, "
                   "ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (cid, seq, kind, author, json.dumps(payload), client_id,
                    int(time.time() * 1000)))
        db.execute("UPDATE conversations SET last_seq = ?, state = ? WHERE id = ?",
                   (seq, state, cid))
    return int(seq)


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    """Collects clients a test opens so they are closed even when it fails."""
    opened: list[Client] = []
    yield opened
    for c in opened:
        await c.ws.close()
