"""The `chatserver` command: serve, manage users, migrate, evaluate the bot, simulate routing."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot import Bot
from chatserver.core.routing import languages
from chatserver.service.event_frames import skills_from_json
from chatserver.store.backend import StoreError
from chatserver.store.store import Store, backend_for

from . import accounts
from . import config as config_module
from .config import CONFIG_FILE_ENV, Config, ConfigError
from .passwords import generate_password, hash_password

ROLES = ("agent", "supervisor", "admin")
DEFAULT_CONFIG = "config.toml"
# prometheus_client's multiprocess switch: the workers' metrics files (chatserver/telemetry.py)
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def parse_skills(text: str) -> dict[str, int]:
    """`billing=4,lang:fa=5` -> {"billing": 4, "lang:fa": 5}; proficiency 1-5."""
    skills: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, level = part.partition("=")
        name = name.strip().lower()
        if not name or len(name) > 40 or not all(c.isalnum() or c in "_:-" for c in name):
            raise ValueError(f"bad skill name {name!r}")
        try:
            value = int(level) if level else 3
        except ValueError:
            raise ValueError(f"skill {name}: proficiency must be a number 1-5") from None
        if not 1 <= value <= 5:
            raise ValueError(f"skill {name}: proficiency must be 1-5, got {value}")
        skills[name] = value
    return skills


def serves(skills: dict[str, int]) -> str:
    """Which languages' chats an agent takes, as `user add` and `user list` print it."""
    return ", ".join(languages(skills)) or "only chats that name no language (add lang:<code>)"


def load_config(path: str | None) -> Config:
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    return config_module.load(path)


async def _with_store(config: Config) -> Store:
    store = Store(config.storage.location, config.storage.busy_timeout_ms)
    await store.open()
    return store


async def ensure_admin(store: Store) -> None:
    """On a database without an admin, create one and print its password once (never logged)."""
    if await store.has_admin():
        return  # the usual start: no password hashed for nothing
    password = generate_password()
    if not await store.add_first_admin("admin", "Administrator", hash_password(password),
                                       int(time.time() * 1000)):
        if not await store.has_admin():  # else another machine starting added it meanwhile
            print("warning: no admin account, and the name 'admin' belongs to a user who is "
                  "not one; add an admin with: chatserver user add NAME --role admin "
                  "--password-stdin", file=sys.stderr, flush=True)
        return
    print(f"Created user 'admin' with one-time password: {password}\n"
          "Log in with it and choose your own password; it is not shown again.", flush=True)


async def bootstrap(config: Config) -> None:
    store = await _with_store(config)
    try:
        await ensure_admin(store)
    finally:
        await store.close()


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    # One process counts in memory; an inherited directory would mix in another run's files.
    # Before prometheus_client's import, which reads it.
    os.environ.pop(METRICS_DIR_ENV, None)
    import uvicorn

    from chatserver.web.app import create_app
    from chatserver.web.socket_protocol import TurnWriteProtocol

    if args.workers > 1 and config.cluster.backend != "redis":
        print("error: --workers needs [cluster] backend = \"redis\" (the processes must share "
              "one queue)", file=sys.stderr)
        return 2
    asyncio.run(bootstrap(config))
    host = args.host or config.server.host
    port = args.port or config.server.port
    app: object = create_app(config)
    metrics_dir = None
    if args.workers > 1:  # uvicorn starts the workers, each building the app from the file
        os.environ[CONFIG_FILE_ENV] = str(Path(args.config_path).resolve()) \
            if args.config_path else ""
        app = "chatserver.web.app:app_from_environment"
        # The workers' metrics files (telemetry.py): new and empty for every start, so a
        # scrape sums this run's workers and never a dead run's counts; removed at the end
        # (a killed start's, at the next start).
        from chatserver.telemetry import metrics_dir_for_start

        metrics_dir = metrics_dir_for_start(tempfile.gettempdir())
        os.environ[METRICS_DIR_ENV] = metrics_dir
    try:
        uvicorn.run(
            app, host=host, port=port, log_level=args.log_level, workers=args.workers,
            factory=args.workers > 1,
            ws=TurnWriteProtocol, ws_max_size=config.limits.max_frame_bytes,
            ws_per_message_deflate=config.server.permessage_deflate,
            # 20 s pings: below the 60 s idle cut of common proxies, finds dead peers quickly.
            ws_ping_interval=20.0, ws_ping_timeout=20.0,
            timeout_graceful_shutdown=5,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def cmd_user_add(args: argparse.Namespace, config: Config) -> int:
    if not args.password_stdin:
        print("error: pass the password on standard input with --password-stdin",
              file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("error: password must be at least 8 characters", file=sys.stderr)
        return 2
    try:
        skills = parse_skills(args.skills or "")
    except ValueError as e:
        print(f"error: --skills: {e}", file=sys.stderr)
        return 2
    if not 1 <= args.capacity <= 50:
        print("error: --capacity must be 1-50", file=sys.stderr)
        return 2

    async def run() -> int:
        store = await _with_store(config)
        try:
            await ensure_admin(store)
            if await store.user_by_name(args.name) is not None:
                print(f"error: user {args.name!r} already exists", file=sys.stderr)
                return 1
            user_id = await store.add_user(
                args.name, role=args.role, password_hash=hash_password(password),
                display_name=args.display_name or args.name, skills=skills,
                capacity=args.capacity, now_ms=int(time.time() * 1000))
        finally:
            await store.close()
        print(f"added {args.role} {args.name!r} (id {user_id}); serves: {serves(skills)}")
        return 0

    return asyncio.run(run())


def cmd_user_list(args: argparse.Namespace, config: Config) -> int:
    async def run() -> None:
        store = await _with_store(config)
        try:
            await ensure_admin(store)
            users = await store.users()
        finally:
            await store.close()
        print(f"{'id':>4}  {'username':<20} {'role':<11} {'capacity':>8}  {'serves':<12} skills")
        for u in users:
            print(f"{u['id']:>4}  {u['username']:<20} {u['role']:<11} {u['capacity']:>8}  "
                  f"{serves(skills_from_json(u['skills'])):<12} {u['skills']}")

    asyncio.run(run())
    return 0


def cmd_db_migrate(args: argparse.Namespace, config: Config) -> int:
    backend = backend_for(config.storage.location, config.storage.busy_timeout_ms)
    version = backend.migrate()
    print(f"database {backend.describe()} at schema version {version}")
    asyncio.run(bootstrap(config))
    return 0


def cmd_db_copy(args: argparse.Namespace, config: Config) -> int:
    from chatserver.store import copy  # psycopg: only a PostgreSQL desk needs it installed

    return copy.run(args.source, args.target)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatserver", description=__doc__)
    parser.add_argument("--config", help="path to config.toml (default: ./config.toml if present)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--config", dest="config_sub", help=argparse.SUPPRESS)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing the port (needs the redis backend)")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(func=cmd_serve)

    user = commands.add_parser("user", help="manage agents, supervisors and admins")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (never from the command line)")
    add.add_argument("--display-name")
    add.add_argument("--skills", help="e.g. billing=4,lang:fa=5 (proficiency 1-5)")
    add.add_argument("--capacity", type=int, default=3, help="most chats at once (default 3)")
    add.set_defaults(func=cmd_user_add)
    listing = user_commands.add_parser("list", help="list users")
    listing.set_defaults(func=cmd_user_list)
    accounts.add_commands(user_commands)  # passwd, disable, enable

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("migrate", help="create or upgrade the schema").set_defaults(
        func=cmd_db_migrate)
    copy = db_commands.add_parser(
        "copy", help="move a desk from SQLite to PostgreSQL",
        description="Copy every table of a SQLite desk into an empty PostgreSQL database in one "
        "transaction, then compare the row counts per table (exit 1 if any differs). Stop the "
        "server first: lines written during the copy are not carried over. The SQLite file is "
        "only read.")
    copy.add_argument("--from", dest="source", required=True, metavar="PATH",
                      help="the SQLite database file, e.g. data/chat.db")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="an empty PostgreSQL database, postgresql://user:password@host/db")
    copy.set_defaults(func=cmd_db_copy)

    from bot import devset, evaluate, learning
    from chatserver.core import simulation
    from chatserver.privacy import retention

    purge = commands.add_parser("purge", help="apply the [retention] periods now")
    retention.add_arguments(purge)
    purge.set_defaults(func=retention.command)

    for name, module, text in (
        ("kb-eval", evaluate, "measure the bot on a labelled data set"),
        ("simulate", simulation, "run the routing core in virtual time beside Erlang C/A"),
    ):
        sub = commands.add_parser(name, help=text)
        module.add_arguments(sub)
        sub.set_defaults(func=lambda args, config, module=module: module.command(args))
        if module is evaluate:  # kb-eval --learn: the learning curve (bot/learning.py)
            learning.add_arguments(sub)
            devset.add_arguments(sub)  # kb-eval --devset: realistic messages (bot/devset.py)
            sub.set_defaults(func=cmd_kb_eval)
    return parser


def cmd_kb_eval(args: argparse.Namespace, config: Config) -> int:
    """kb-eval: a labelled data set, the learning curve (--learn) or the development set."""
    from bot import devset, evaluate, learning

    if args.semantic and args.learn:
        print("kb-eval: --semantic does not apply to --learn", file=sys.stderr)
        return 2
    semantic = args.semantic or (args.devset is not None and config.bot.semantic)
    if semantic and (problem := evaluate.semantic_problem()) is not None:
        print(f"kb-eval --semantic: {problem}", file=sys.stderr)
        return 2
    if args.devset is not None:  # the default knowledge base, with [bot] from config.toml
        bot = default_bot(config)
        if semantic:  # the re-ranker, its vectors encoded before the first message
            evaluate.semantic_bot(bot)
        return devset.command(args, bot)
    if args.train is None:  # not required=True in the parser: --devset needs no --train
        print("kb-eval: --train is required (or --devset FILE)", file=sys.stderr)
        return 2
    return int((learning if args.learn else evaluate).command(args))


def default_bot(config: Config) -> Bot:
    """A bot holding the shipped knowledge base, as a new install's server would."""
    from chatserver.store.kb_store import to_bot
    from knowledge_base.defaults import load_default_entries

    bot = Bot(config.bot)
    for entry_id, entry in enumerate(load_default_entries(), 1):
        bot.upsert(to_bot(replace(entry, id=entry_id)))
    return bot


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    args.config_path = getattr(args, "config_sub", None) or args.config
    if args.config_path is None and Path(DEFAULT_CONFIG).exists():
        args.config_path = DEFAULT_CONFIG
    try:
        config = load_config(args.config_path)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args, config))
    except StoreError as e:  # the database is away or refuses us: say so, no traceback
        print(f"database error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
