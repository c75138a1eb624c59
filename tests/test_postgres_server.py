"""The server on PostgreSQL, against a PostgreSQL server of the test's own that the test crashes
and starts again: nothing acknowledged is lost, nothing is stored twice, seqs stay gapless,
`/readyz` says not ready while the database is away and ready again without a restart."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .harness import Server, add_user, agent, sql, visitor
from .pg_instance import Postgres, own_postgres

pytestmark = pytest.mark.anyio
__all__ = ["own_postgres"]
# Lines as fast as the test sends them: the flood limits are not what is tested here.
FAST = {"CHATSERVER_LIMITS_FRAMES_PER_SECOND": "2000", "CHATSERVER_LIMITS_FRAME_BURST": "2000"}


def ready(server: Server) -> int:
    try:
        return httpx.get(server.url + "/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return 0


async def wait_for(check, seconds: float) -> float:
    """Seconds until `check()` is true; fails after `seconds`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "timed out"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def chatting(server: Server, clients: list) -> tuple[Any, Any, str]:
    """Carol (an agent) and Sara (a visitor) in one chat on `server`."""
    add_user(server.db, "carol")
    carol = await agent(server, "carol")
    sara = await visitor(server, name="Sara")
    clients += [carol, sara]
    cid = (await sara.request("request_human"))["conversation_id"]
    await carol.expect("offer")
    await carol.request("accept", conversation_id=cid)
    return carol, sara, cid


async def chatter(client, who: str, acked: list[str], refused: list[dict[str, Any]], *,
                  lines: int = 10**9, stop: asyncio.Event | None = None, pause: float = 0.2,
                  **extra: Any) -> None:
    """`lines` lines one after another (or until `stop`); a line that is not acked is sent
    again with the same id, `pause` seconds after its error, until it is, as the widget does.
    Acked ids go to `acked`, error frames to `refused`."""
    for i in range(lines):
        if stop is not None and stop.is_set():
            return
        frame_id = str(uuid.uuid4())
        while True:
            await client.send({"type": "message", "id": frame_id, "text": f"{who} {i}",
                               **extra})
            frame = await client.expect(("ack", "error"),
                                        where=lambda f, fid=frame_id: f["id"] == fid,
                                        timeout=15)
            if frame["type"] == "ack":
                acked.append(frame_id)
                break
            refused.append(frame)
            await asyncio.sleep(pause)


async def test_a_chat_is_stored_in_postgresql(tmp_path, own_postgres: Postgres,
                                              clients: list) -> None:
    url = own_postgres.create_database()
    server = Server(tmp_path, database=url)
    server.start()
    try:
        carol, sara, cid = await chatting(server, clients)
        ack = await sara.request("message", text="سلام، سفارشم کجاست؟")
        got = await carol.expect("message", where=lambda f: f["seq"] == ack["seq"])
        assert got["text"] == "سلام، سفارشم کجاست؟"
        rows = sql(url, "SELECT json_extract(payload, '$.text') FROM events "
                        "WHERE conversation_id = ? AND seq = ?", (cid, ack["seq"]))
        assert rows[0][0] == "سلام، سفارشم کجاست؟"
    finally:
        server.stop()


async def test_a_database_crash_mid_traffic_loses_no_acked_line(tmp_path, own_postgres: Postgres,
                                                                clients: list) -> None:
    url = own_postgres.create_database()
    server = Server(tmp_path, database=url, **FAST)
    server.start()
    try:
        carol, sara, cid = await chatting(server, clients)

        acked: list[str] = []
        refused: list[dict[str, Any]] = []
        tasks = [asyncio.create_task(chatter(sara, "visitor", acked, refused, lines=400)),
                 asyncio.create_task(chatter(carol, "agent", acked, refused, lines=400,
                                             conversation_id=cid))]
        await wait_for(lambda: len(acked) >= 40 or any(t.done() for t in tasks), 30)
        assert not any(t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
        before_crash = len(acked)
        own_postgres.crash()
        down = await wait_for(lambda: ready(server) == 503, 10)
        await asyncio.sleep(1)
        own_postgres.start()
        up = await wait_for(lambda: ready(server) == 200, 30)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)

        stored = [r[0] for r in sql(url, "SELECT client_id FROM events WHERE "
                                         "conversation_id = ? AND client_id IS NOT NULL",
                                    (cid,))]
        seqs = [r[0] for r in sql(url, "SELECT seq FROM events WHERE conversation_id = ? "
                                       "ORDER BY seq", (cid,))]
        assert len(acked) == 800 and before_crash < 800
        assert set(acked) <= set(stored), "an acknowledged line was lost"
        assert len(stored) == len(set(stored)), "a line was stored twice"
        assert seqs == list(range(1, len(seqs) + 1)), "a gap in the seqs"
        failed = len(refused)
        assert failed > 0, "the crash was not felt: the test proves nothing"
        log = server.log.read_text()
        assert "Traceback" not in log, ("an outage is not a bug: no traceback per refused "
                                        "frame:\n" + log[log.find("Traceback") - 300:][:4000])
        outage_lines = [ln for ln in log.splitlines() if "database unavailable" in ln]
        assert 1 <= len(outage_lines) <= 5, f"{failed} refusals, {len(outage_lines)} lines"
        print(f"\nPostgreSQL crash: {before_crash} acked before, {len(acked)} after; "
              f"{failed} sends refused while down; not ready after {down:.1f} s, "
              f"ready {up:.1f} s after the restart; lost 0, duplicated 0, gaps 0")
    finally:
        server.stop()


async def test_an_agent_socket_opened_while_the_database_is_away_gets_503(
        tmp_path, own_postgres: Postgres) -> None:
    """The console's socket reads the session from the database before it accepts: while the
    database is away, the handshake gets the outage's 503 with Retry-After (as the HTTP API
    does), and the log one outage line, no error about the handshake. A read waits
    busy_timeout_ms for a pooled connection before the outage shows: 1 s here, not 5."""
    url = own_postgres.create_database()
    server = Server(tmp_path, database=url, CHATSERVER_STORAGE_BUSY_TIMEOUT_MS="1000")
    server.start()
    try:
        add_user(server.db, "carol")
        cookies = server.login("carol")
        own_postgres.crash()
        await wait_for(lambda: ready(server) == 503, 10)
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie},
                          open_timeout=40)
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "5"
        own_postgres.start()
        log = server.log.read_text()
        assert "database unavailable" in log
        assert "handshake" not in log and "Traceback" not in log, log
    finally:
        server.stop()


async def test_connections_ended_mid_traffic_refuse_frames_cleanly_and_lose_no_line(
        tmp_path, clients: list) -> None:
    """pg_terminate_backend ends every connection of the server's database (as a failover or
    an operator does), again and again while a visitor and an agent chat. A frame whose store
    call failed gets the retry error, never a traceback in the log, and its retry succeeds.
    Some kills land after a COMMIT went through but before its answer came back: the line is
    stored, its sender told to retry. Before, the server's projection then stayed behind the
    log, that line reached nobody, and every later line of the chat failed with "event seq N
    does not follow M" and a traceback; now the retry (or the next line) finds it and
    publishes it, so each side gets every line the other sent."""
    import psycopg

    from .databases import ADMIN_URL
    from .harness import served

    with served("postgres", tmp_path, **FAST) as server:
        name = str(server.db).rsplit("/", 1)[1]
        carol, sara, cid = await chatting(server, clients)
        acked: list[str] = []
        refusals: list[dict[str, Any]] = []
        stop = asyncio.Event()
        tasks = [asyncio.create_task(chatter(sara, "visitor", acked, refusals, stop=stop,
                                             pause=0.05)),
                 asyncio.create_task(chatter(carol, "agent", acked, refusals, stop=stop,
                                             pause=0.05, conversation_id=cid))]
        kills = 0
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            started = time.monotonic()
            # Until a kill was felt, ten kills at least; each ends the writer's connection,
            # the pooled readers' and the search indexer's alike.
            while kills < 10 or not refusals:
                assert time.monotonic() - started < 60, f"{kills} kills, none felt"
                assert not any(t.done() for t in tasks), [t.exception() for t in tasks
                                                           if t.done()]
                await asyncio.sleep(0.2)
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s", (name,))
                kills += 1
        await asyncio.sleep(0.5)  # lines after the last kill are stored as usual
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)

        assert {f["code"] for f in refusals} == {"unavailable"}, refusals
        rows = sql(server.db, "SELECT seq, author, client_id FROM events WHERE "
                              "conversation_id = ? AND type = 'message' ORDER BY seq", (cid,))
        stored = [r[2] for r in rows]
        assert set(acked) <= set(stored), "an acknowledged line was lost"
        assert len(stored) == len(set(stored)), "a line was stored twice"
        for reader, writer in ((carol, "visitor"), (sara, "agent:")):
            sent = [r[0] for r in rows if r[1].startswith(writer)]
            await reader.expect("message", where=lambda f, last=sent[-1]: f["seq"] == last)
            got = {f["seq"] for f in reader.seen if f["type"] == "message"}
            assert set(sent) <= got, f"{writer}'s lines {sorted(set(sent) - got)} never came"
        log = server.log.read_text()
        assert "Traceback" not in log, log[log.find("Traceback") - 300:][:4000]
        print(f"\n{kills} kills: {len(acked)} lines acked, {len(refusals)} sends refused, "
              f"{log.count('committed by an append told it failed')} lines published late")


def test_every_error_an_outage_raises_is_named_one_and_a_bug_is_not() -> None:
    """What `outage` names (the frame gets "retry", the log one line, no traceback): the
    connection lost whichever way psycopg reports it; a bug keeps its traceback."""
    import psycopg
    from psycopg import errors as pg_errors

    from chatserver.store.backend import StoreError
    from chatserver.store.postgres import PostgresBackend

    backend = PostgresBackend("postgresql://chat:s3cret@127.0.0.1:5432/chat")
    for error in (pg_errors.AdminShutdown("terminating connection due to administrator "
                                          "command"),
                  pg_errors.CrashShutdown("terminating connection because of crash"),
                  pg_errors.CannotConnectNow("the database system is starting up"),
                  psycopg.OperationalError("consuming input failed: server closed the "
                                           "connection unexpectedly"),
                  psycopg.InterfaceError("cannot execute operations: the connection is in "
                                         "status 3"),
                  StoreError("cannot connect to postgresql://chat:***@127.0.0.1:5432/chat")):
        assert backend.outage(error), error
    for error in (psycopg.InterfaceError("cannot adapt type 'object'"),
                  pg_errors.InFailedSqlTransaction("current transaction is aborted"),
                  pg_errors.UndefinedTable('relation "nope" does not exist'),
                  ValueError("event seq 5 does not follow 3")):
        assert backend.outage(error) is None, error
