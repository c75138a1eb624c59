"""The conversations load with the store on PostgreSQL against the same load on SQLite, in one
run: what moving the event log to a database server costs per message and in latency."""

from __future__ import annotations

from typing import Any

from ..population import close_all, open_chat, prepare_chat
from ..servers import PostgresDatabase
from ..stats import CHAT, abba
from .chat_vs_echo import chat_messages
from .cluster import settle
from .scale import Scale, scenario_result

POSTGRES, SQLITE = "postgres", "sqlite"
# A slice the store could not keep up with leaves a backlog (at the standard scale PostgreSQL on
# 2 busy cores can fall tens of seconds behind): wait for it before the next slice, whichever
# server that is, so one server's backlog never runs during the other's window.
BACKLOG_LIMIT_S = 120.0


async def pg_conversations(scale: Scale) -> dict[str, Any]:
    """`conversations` on two chat servers, one per store backend, slices interleaved
    postgres sqlite sqlite postgres ...; the PostgreSQL one has a database of its own, created
    on the service and dropped after. CPU per message counts the PostgreSQL backends serving
    that database (`total_cpu_us_per_msg`); on SQLite the store works inside the server."""
    reason = PostgresDatabase.unavailable()
    if reason:
        return {"scenario": "pg_conversations", "status": "skipped", "notes": reason}
    m = scale.conversations
    database = PostgresDatabase()
    servers = {POSTGRES: prepare_chat(m, db=database.url), SQLITE: prepare_chat(m)}
    try:
        database.create()
        populations = {}
        for kind, (server, n_agents) in servers.items():
            server.start()
            populations[kind] = await open_chat(server, m, n_agents)
        slices = []
        for kind in abba(scale.reps):
            kind = POSTGRES if kind == CHAT else SQLITE
            meter = database.backend_cpu if kind == POSTGRES else None
            await settle([server.pid for server, _ in servers.values()], BACKLOG_LIMIT_S,
                         pause=scale.pause)
            slices.append({"server": kind, **await chat_messages(populations[kind], scale,
                                                                 db_cpu=meter)})
        for population in populations.values():
            await close_all([v.conn for v in population.visitors] +
                            [a.conn for a in population.agents])
    finally:
        for server, _ in servers.values():
            server.stop()
        database.drop()
    return scenario_result(
        "pg_conversations", scale,
        {"conversations": m, "agents": servers[SQLITE][1], "offered_msgs_per_s": scale.rate},
        slices, ["total_cpu_us_per_msg", "cpu_us_per_msg", "db_cpu_pct", "latency_p50_ms",
                 "latency_p99_ms", "latency_max_ms", "ack_p99_ms", "delivered_per_s",
                 "server_cpu_pct", "client_cpu_pct", "lost_or_late"],
        "the conversations load, each message stored then acked and delivered; postgres: "
        "the store on a PostgreSQL database on this machine (synchronous_commit on), its "
        "backends' CPU in total_cpu_us_per_msg and db_cpu_pct; sqlite: a local file "
        "(synchronous=FULL)", kinds=(POSTGRES, SQLITE))
