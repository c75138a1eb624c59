"""Account changes that end a user's sessions: a new password, disabling, enabling.

The admin API and `chatserver user passwd|disable|enable` share them, so sessions end the same
way whoever made the change. Pages and APIs refuse an ended session at once; an open console
socket re-reads its session every `server.session_check_seconds` (agent_socket), which also
covers a change made by the command line in another process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from chatserver.privacy import audit
from chatserver.store.store import Conn, Row, Store

from .config import Config
from .passwords import MAX_PASSWORD, MIN_PASSWORD, hash_password

CLI_ADDRESS = "cli"  # the audit log's address for changes made on the command line


async def set_password(store: Store, user_id: int, password: str, *,
                       keep_session: str | None = None) -> None:
    """Replace the password (it is the user's own from now on: no change is forced) and end
    every session but `keep_session`."""
    hashed = hash_password(password)

    def job(conn: Conn) -> None:
        conn.execute("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?",
                     (hashed, user_id))
        if keep_session is None:
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        else:
            conn.execute("DELETE FROM sessions WHERE user_id = ? AND id != ?",
                         (user_id, keep_session))

    await store.write(job)


async def set_disabled(store: Store, user_id: int, disabled: bool) -> bool:
    """Disable (ending every session) or enable an account; False when it already was."""

    def job(conn: Conn) -> bool:
        changed = conn.execute("UPDATE users SET disabled = ? WHERE id = ? AND disabled != ?",
                               (int(disabled), user_id, int(disabled))).rowcount == 1
        if disabled:
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return changed

    return bool(await store.write(job))


# Command line: `chatserver user passwd|disable|enable NAME` --------------------------------


def add_commands(user_commands: Any) -> None:
    """Add `passwd`, `disable` and `enable` to `chatserver user`'s subcommands (argparse's
    `add_subparsers()` result)."""
    passwd = user_commands.add_parser(
        "passwd", help="set a user's password (read from standard input); ends their sessions")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input (never from the command line)")
    passwd.set_defaults(func=command_passwd)
    for name, text in (("disable", "stop a user logging in; ends their sessions, and their open "
                                   "console closes within server.session_check_seconds"),
                       ("enable", "let a disabled user log in again")):
        sub = user_commands.add_parser(name, help=text)
        sub.add_argument("name")
        sub.set_defaults(func=command_disable if name == "disable" else command_enable)


def command_passwd(args: argparse.Namespace, config: Config) -> int:
    if not args.password_stdin:
        print("error: pass the password on standard input with --password-stdin",
              file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        print(f"error: password must be at least {MIN_PASSWORD} characters (at most "
              f"{MAX_PASSWORD})", file=sys.stderr)
        return 2

    async def run(store: Store, user: Row) -> str:
        await set_password(store, int(user["id"]), password)
        await audit.record(store, None, "user.password", f"user:{user['id']}",
                           {"reset": True}, CLI_ADDRESS)
        return "password changed; their sessions ended"

    return _on_user(config, args.name, run)


def command_disable(args: argparse.Namespace, config: Config) -> int:
    return _on_user(config, args.name, lambda store, user: _disable(store, user, True))


def command_enable(args: argparse.Namespace, config: Config) -> int:
    return _on_user(config, args.name, lambda store, user: _disable(store, user, False))


async def _disable(store: Store, user: Row, disabled: bool) -> str:
    if not await set_disabled(store, int(user["id"]), disabled):
        return f"already {'disabled' if disabled else 'enabled'}; nothing changed"
    await audit.record(store, None, "user.update", f"user:{user['id']}",
                       {"username": user["username"], "changed": {"disabled": disabled}},
                       CLI_ADDRESS)
    return ("disabled; their sessions ended" if disabled
            else "enabled; they can log in again")


def _on_user(config: Config, name: str,
             change: Callable[[Store, Row], Awaitable[str]]) -> int:
    """Open the store, find `name`, run `change(store, user)` and print what it did."""

    async def main() -> int:
        store = Store(config.storage.location, config.storage.busy_timeout_ms)
        await store.open()
        try:
            user = await store.user_by_name(name)
            if user is None:
                print(f"error: no user {name!r}", file=sys.stderr)
                return 1
            done = await change(store, user)
        finally:
            await store.close()
        print(f"{user['role']} {user['username']!r}: {done}")
        return 0

    return asyncio.run(main())
