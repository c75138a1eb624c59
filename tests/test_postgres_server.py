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
        failed = 0

        async def chatter(client, who: str, **extra) -> None:
            """Lines one after another; a line that is not acked is sent again with the same
            id until it is, as the widget does."""
            nonlocal failed
            for i in range(400):
                frame_id = str(uuid.uuid4())
                while True:
                    await client.send({"type": "message", "id": frame_id,
                                       "text": f"{who} {i}", **extra})
                    frame = await client.expect(("ack", "error"),
                                                where=lambda f, fid=frame_id: f["id"] == fid,
                                                timeout=15)
                    if frame["type"] == "ack":
                        acked.append(frame_id)
                        break
                    failed += 1
                    await asyncio.sleep(0.2)

        tasks = [asyncio.create_task(chatter(sara, "visitor")),
                 asyncio.create_task(chatter(carol, "agent", conversation_id=cid))]
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
    busy_timeout_ms for a pooled connection, twice (a dropped connection is tried again):
    1 s here, not the default 5."""
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
