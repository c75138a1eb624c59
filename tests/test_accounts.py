"""Accounts through the real CLI and the real server: `user passwd`, `user disable`/`enable`, and
the one-time admin password that must be replaced before anything else. The commands also run
against a PostgreSQL database, as on a desk of several machines."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chatserver import accounts
from chatserver.cli import ensure_admin
from chatserver.store import schema_postgres
from chatserver.store.schema import MIGRATIONS
from chatserver.store.sqlite import migrate
from chatserver.store.store import Store, migrate_file

from .databases import db_location, postgres_database
from .harness import PASSWORD, Server, add_user, agent, bytecode_cache
from .store_rows import connection, is_postgres

__all__ = ["db_location"]

pytestmark = pytest.mark.anyio
NEW_PASSWORD = "a brand new password"


def cli(db: Path | str, *args: str, stdin: str = "",
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`chatserver ARGS` on a SQLite file or, given a URL, a PostgreSQL database."""
    where = ({"CHATSERVER_STORAGE_BACKEND": "postgres", "CHATSERVER_STORAGE_URL": str(db)}
             if is_postgres(str(db)) else {"CHATSERVER_STORAGE_PATH": str(db)})
    return subprocess.run([sys.executable, "-m", "chatserver", *args], input=stdin,
                          env={**os.environ, **where, **bytecode_cache()},
                          cwd=cwd or Path(db).parent,
                          capture_output=True, text=True, timeout=60)


def login(server: Server, username: str, password: str) -> httpx.Response:
    return httpx.post(server.url + "/login", data={"username": username, "password": password},
                      headers={"accept": "application/json"})


def cookie_header(cookies: httpx.Cookies) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that re-checks open agent sockets' sessions every 0.2 s instead of every 30 s
    (one for the module: its tests each change a user of their own)."""
    srv = Server(tmp_path_factory.mktemp("quick"), CHATSERVER_SERVER_SESSION_CHECK_SECONDS="0.2")
    yield srv.start()
    srv.stop()


def test_migration_adds_the_password_change_flag_to_an_existing_database(
        tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        for script in MIGRATIONS[:4]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 4")
        conn.execute("INSERT INTO users (username, display_name, role, password_hash, "
                     "created_ms) VALUES ('old', 'Old', 'agent', 'x', 0)")
    assert migrate_file(str(db)) == len(MIGRATIONS)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT must_change_password FROM users").fetchone() == (0,)
        assert migrate(conn) == len(MIGRATIONS)  # a second run changes nothing


def test_user_passwd_reads_stdin_and_ends_every_session(quick_server: Server) -> None:
    server = quick_server
    add_user(server.db, "dana")
    old = login(server, "dana", PASSWORD)
    assert old.status_code == 200
    done = cli(server.db, "user", "passwd", "dana", "--password-stdin",
               stdin=NEW_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "dana" in done.stdout and NEW_PASSWORD not in done.stdout + done.stderr
    assert httpx.get(server.url + "/console", cookies=old.cookies).headers["location"] == "/login"
    assert login(server, "dana", PASSWORD).status_code == 401
    assert login(server, "dana", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["dana", "--password-stdin"], "short\n", 2, "at least 8 characters"),
        (["dana"], NEW_PASSWORD + "\n", 2, "--password-stdin"),
        (["nobody", "--password-stdin"], NEW_PASSWORD + "\n", 1, "no user 'nobody'"),
    ],
)
def test_user_passwd_refuses_bad_input(tmp_path: Path, args: list[str], stdin: str, code: int,
                                       message: str) -> None:
    add_user(tmp_path / "chat.db", "dana")
    done = cli(tmp_path / "chat.db", "user", "passwd", *args, stdin=stdin)
    assert done.returncode == code and message in done.stderr, done.stderr


async def test_user_disable_locks_out_and_closes_open_consoles_then_enable_lets_in(
        quick_server: Server) -> None:
    server = quick_server
    add_user(server.db, "erin")
    console = await agent(server, "erin")
    page = login(server, "erin", PASSWORD).cookies
    done = cli(server.db, "user", "disable", "erin")
    assert done.returncode == 0 and "disabled" in done.stdout, done.stderr
    with pytest.raises(ConnectionClosed) as closed:
        while True:  # offers or status frames may come first; the close must follow
            await console.expect(("never",), timeout=5.0)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert httpx.get(server.url + "/console", cookies=page).status_code == 303
    assert login(server, "erin", PASSWORD).status_code == 401
    assert cli(server.db, "user", "disable", "erin").returncode == 0  # again: nothing changes
    enabled = cli(server.db, "user", "enable", "erin")
    assert enabled.returncode == 0 and "enabled" in enabled.stdout, enabled.stderr
    assert login(server, "erin", PASSWORD).status_code == 200
    assert cli(server.db, "user", "enable", "nobody").returncode == 1


async def test_the_one_time_admin_password_must_be_replaced_before_anything_else(
        tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    first = cli(db, "db", "migrate")
    one_time = first.stdout.split("one-time password: ")[1].split()[0]
    server = Server(tmp_path).start()
    try:
        form = httpx.post(server.url + "/login", data={"username": "admin",
                                                       "password": one_time})
        assert form.status_code == 303 and form.headers["location"] == "/account"
        answer = login(server, "admin", one_time)
        assert answer.json()["must_change_password"] is True
        cookies, csrf = answer.cookies, answer.json()["csrf_token"]
        for path in ("/admin", "/admin/users", "/console", "/", "/login"):
            page = httpx.get(server.url + path, cookies=cookies)
            assert (page.status_code, page.headers.get("location")) == (303, "/account"), path
        api = httpx.get(server.url + "/api/users", cookies=cookies)
        assert api.status_code == 403 and api.json()["error"] == "password_change_required"
        with pytest.raises(InvalidStatus):
            async with connect(server.ws + "/ws/agent",
                               additional_headers={"Cookie": cookie_header(cookies)}):
                pass
        account = httpx.get(server.url + "/account", cookies=cookies)
        assert account.status_code == 200 and "Choose a new password" in account.text
        assert "One-time password" in account.text

        changed = httpx.post(server.url + "/api/account/password", cookies=cookies,
                             headers={"x-csrf-token": csrf},
                             json={"current_password": one_time, "new_password": NEW_PASSWORD})
        assert changed.status_code == 204, changed.text
        assert httpx.get(server.url + "/admin", cookies=cookies).status_code == 200
        assert httpx.get(server.url + "/api/users", cookies=cookies).status_code == 200
        assert "Choose a new password" not in httpx.get(server.url + "/account",
                                                        cookies=cookies).text
        again = httpx.post(server.url + "/login", data={"username": "admin",
                                                        "password": NEW_PASSWORD})
        assert again.headers["location"] == "/admin"
        assert login(server, "admin", one_time).status_code == 401
    finally:
        server.stop()


def test_user_passwd_replaces_the_one_time_password_too(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    cli(db, "db", "migrate")
    done = cli(db, "user", "passwd", "admin", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT must_change_password FROM users WHERE username = 'admin'"
                            ).fetchone() == (0,)


def test_migration_adds_the_password_change_flag_to_an_existing_postgres_database() -> None:
    with postgres_database() as url, connection(url) as conn:
        conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        for number, script in enumerate(schema_postgres.MIGRATIONS[:4], start=1):
            conn.execute(script)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        conn.execute("INSERT INTO users (username, display_name, role, password_hash, "
                     "created_ms) VALUES ('old', 'Old', 'agent', 'x', 0)")
        assert migrate_file(url) == len(schema_postgres.MIGRATIONS) == len(MIGRATIONS)
        assert tuple(conn.execute("SELECT must_change_password FROM users").fetchone()) == (0,)
        assert migrate_file(url) == len(MIGRATIONS)  # a second run changes nothing
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(
            MIGRATIONS)


def test_the_account_commands_on_either_backend(db_location: str, tmp_path: Path) -> None:
    """The commands' own reads and writes: a one-time admin, its password replaced (sessions
    ended), disable and enable saying when nothing changed."""
    first = cli(db_location, "db", "migrate", cwd=tmp_path)
    assert "one-time password: " in first.stdout, first.stderr
    with connection(db_location) as conn:
        conn.execute("INSERT INTO sessions (id, user_id, csrf, created_ms, expires_ms) "
                     "SELECT 's1', id, 'c', 0, 1 FROM users WHERE username = 'admin'")
    done = cli(db_location, "user", "passwd", "ADMIN", "--password-stdin",
               stdin=NEW_PASSWORD + "\n", cwd=tmp_path)
    assert done.returncode == 0 and "password changed" in done.stdout, done.stderr
    with connection(db_location) as conn:
        assert tuple(conn.execute("SELECT must_change_password, disabled FROM users "
                                  "WHERE username = 'admin'").fetchone()) == (0, 0)
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    steps = [("disable", "disabled; their sessions ended"), ("disable", "already disabled"),
             ("enable", "enabled; they can log in again")]
    for command, said in steps:
        ran = cli(db_location, "user", command, "admin", cwd=tmp_path)
        assert ran.returncode == 0 and said in ran.stdout, (command, ran.stdout, ran.stderr)
    with connection(db_location) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.password", "user.update", "user.update"]


async def test_a_new_password_keeps_only_the_session_it_was_set_from(db_location: str) -> None:
    """The account page's change (keep_session) and disabling, on each backend."""
    store = Store(db_location)
    await store.open()
    try:
        uid = await store.add_user("dana", role="agent", password_hash="x", display_name="Dana",
                                   skills={}, capacity=3, now_ms=1)
        for session in ("mine", "other"):
            await store.add_session(session, uid, "c", 1, 10**15)
        await accounts.set_password(store, uid, NEW_PASSWORD, keep_session="mine")
        assert [r[0] for r in await store.fetchall("SELECT id FROM sessions")] == ["mine"]
        assert await accounts.set_disabled(store, uid, True)
        assert not await accounts.set_disabled(store, uid, True)  # already: nothing changed
        assert await store.fetchall("SELECT id FROM sessions") == []
    finally:
        await store.close()


async def test_two_processes_starting_on_a_fresh_database_both_start(db_location: str) -> None:
    """`chatserver serve` runs ensure_admin before serving: two machines started together on
    one new database must not both insert 'admin' (the loser died with a UniqueViolation)."""
    first, second = Store(db_location), Store(db_location)
    await first.open()
    await second.open()
    try:
        await asyncio.gather(ensure_admin(first), ensure_admin(second))
        rows = await first.fetchall("SELECT id FROM users WHERE role = 'admin'")
        assert len(rows) == 1
    finally:
        await first.close()
        await second.close()
