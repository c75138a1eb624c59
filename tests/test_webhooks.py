"""Webhooks against the real server and a real local HTTP receiver, on both store backends:
signed, in order per conversation, retried after the receiver was down, nothing lost across a
crash mid-backlog, private destinations refused, a dead endpoint delaying no other, an endpoint
failing for long disabled and resumed, and two processes on one database delivering each
event once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatserver.core.webhooks import destination
from chatserver.service.webhook_client import Pool

from .databases import db_location
from .harness import PASSWORD, Server, add_user, sql, visitor
from .webhook_receiver import Receiver

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

SECRET = "whsec_test_0123456789abcdef"
FAST = {"CHATSERVER_WEBHOOKS_ALLOW_PRIVATE": "true", "CHATSERVER_WEBHOOKS_POLL_MS": "50",
        "CHATSERVER_WEBHOOKS_LEASE_SECONDS": "2", "CHATSERVER_WEBHOOKS_RETRY_FIRST_SECONDS":
        "0.2", "CHATSERVER_WEBHOOKS_RETRY_MAX_SECONDS": "1",
        "CHATSERVER_LIMITS_FRAMES_PER_SECOND": "500", "CHATSERVER_LIMITS_FRAME_BURST": "500"}
EVENTS = ["started", "message", "closed"]


@contextmanager
def admin(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/login", data={"username": "root", "password": PASSWORD},
                               headers={"accept": "application/json"})
        assert response.status_code == 200, response.text
        client.headers["x-csrf-token"] = response.json()["csrf_token"]
        yield client


def desk(tmp_path: Path, db_location: str, **env: str) -> Server:
    server = Server(tmp_path, database=db_location, **{**FAST, **env})
    add_user(server.db, "root", role="admin")
    add_user(server.db, "ana")
    return server


def register(server: Server, url: str, events: list[str] = EVENTS,
             secret: str = SECRET) -> dict[str, Any]:
    with admin(server) as client:
        response = client.post("/api/webhooks", json={"url": url, "events": events,
                                                      "secret": secret})
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()["endpoint"]
    return endpoint


async def chat(server: Server, lines: int) -> str:
    """A visitor's chat with `lines` lines (the bot answers some); its conversation id. The
    visitor stays connected (leaving would add events while the test counts them)."""
    guest = await visitor(server)
    for i in range(lines):
        ack = await guest.request("message", text=f"line {i}")
        assert ack["type"] == "ack", ack
    cid: str = ack["conversation_id"]
    OPEN.append(guest)
    return cid


OPEN: list[Any] = []


@pytest.fixture(autouse=True)
async def visitors_leave() -> Any:
    yield
    while OPEN:
        await OPEN.pop().ws.close()


def expected(server: Server, events: list[str] = EVENTS) -> list[str]:
    marks = ", ".join("?" * len(events))
    return [f"{r[0]}:{r[1]}" for r in sql(
        server.db, f"SELECT conversation_id, seq FROM events WHERE type IN ({marks}) "
        "ORDER BY conversation_id, seq", tuple(events))]


async def delivered(server: Server, receiver: Receiver, events: list[str] = EVENTS,
                    timeout: float = 30, endpoint: int | None = None) -> list[str]:
    """Wait until the receiver holds every event id of the log of these types (the bot's
    answers come after the visitor's ack) and the outbox is empty; those ids."""
    async with asyncio.timeout(timeout):
        while True:
            want = expected(server, events)
            await receiver.until(lambda want=want: set(receiver.ids()) >= set(want), timeout)
            await asyncio.sleep(0.3)
            if (expected(server, events) == want
                    and sql(server.db, "SELECT count(*) FROM webhook_outbox WHERE "
                            "endpoint_id = coalesce(?, endpoint_id)", (endpoint,))[0][0] == 0):
                return want


def in_order(ids: list[str]) -> bool:
    """Each event's first arrival comes after its chat's earlier events' (a repeat after a
    crash or a lost answer re-sends events that already arrived, and is not counted)."""
    last: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for event_id in ids:
        if event_id in seen:
            continue
        seen.add(event_id)
        cid, _, seq = event_id.rpartition(":")
        if int(seq) < last[cid]:
            return False
        last[cid] = int(seq)
    return True


async def test_events_arrive_signed_once_each_and_in_order(tmp_path: Path,
                                                           db_location: str) -> None:
    receiver = await Receiver().start()
    server = desk(tmp_path, db_location).start()
    try:
        endpoint = register(server, receiver.url)
        assert endpoint["events"] == EVENTS and endpoint["enabled"]
        cids = await asyncio.gather(*(chat(server, 8) for _ in range(3)))
        want = await delivered(server, receiver)
        assert len(want) >= 3 * 9  # started + eight lines each, and the bot's answers
        assert sorted(receiver.ids()) == sorted(want)  # nothing twice, nothing else
        assert in_order(receiver.ids())
        assert receiver.verified(SECRET, time.time())
        assert not receiver.verified("whsec_another_secret_value", time.time())
        first = receiver.got[0]
        assert first.headers["x-chatserver-event-id"] == first.event["id"]
        assert first.headers["content-type"] == "application/json"
        texts = [r.event["data"].get("text") for r in receiver.got
                 if r.event["type"] == "message" and r.event["author"] == "visitor"]
        assert {f"line {i}" for i in range(8)} <= set(texts)
        assert {r.event["conversation_id"] for r in receiver.got} == set(cids)
        with admin(server) as client:
            log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
            listed = client.get("/api/webhooks").json()["endpoints"]
        assert all(d["status"] == 200 for d in log["deliveries"])
        assert {d["event_id"] for d in log["deliveries"]} <= set(want)
        assert listed[0]["waiting"] == 0 and "secret" not in listed[0]
    finally:
        server.stop()
        await receiver.stop()


async def test_a_receiver_that_was_down_gets_everything_in_order_once_back(
        tmp_path: Path, db_location: str) -> None:
    receiver = Receiver()
    await receiver.start()
    await receiver.stop()  # its port, with nobody listening
    server = desk(tmp_path, db_location).start()
    try:
        endpoint = register(server, receiver.url)
        await asyncio.gather(*(chat(server, 5) for _ in range(2)))
        with admin(server) as client:
            for _ in range(100):
                log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
                if len(log["deliveries"]) >= 2:
                    break
                await asyncio.sleep(0.1)
        assert log["deliveries"][0]["status"] is None
        assert "Error" in log["deliveries"][0]["error"]  # connection refused, named
        await receiver.start()
        want = await delivered(server, receiver)
        assert sorted(set(receiver.ids())) == sorted(want)
        assert in_order(receiver.ids())
    finally:
        server.stop()
        await receiver.stop()


async def test_a_crash_mid_backlog_loses_nothing(tmp_path: Path, db_location: str) -> None:
    receiver = Receiver()
    await receiver.start()
    await receiver.stop()
    server = desk(tmp_path, db_location).start()
    try:
        register(server, receiver.url)
        await asyncio.gather(*(chat(server, 10) for _ in range(4)))
        await asyncio.sleep(1)  # the bot's answers
        await receiver.start()
        await receiver.until(lambda: len(receiver.got) >= 5)
        server.kill()  # SIGKILL: mid-backlog, requests in flight
        await asyncio.sleep(0.5)  # the receiver reads what was sent before the kill
        delivered_before = len(receiver.got)
        server.start()
        want = await delivered(server, receiver, timeout=60)
        assert sorted(set(receiver.ids())) == sorted(want)
        assert in_order(receiver.ids())
        repeated = {i for i, n in Counter(receiver.ids()).items() if n > 1}
        assert repeated <= set(receiver.ids()[:delivered_before])  # only what was in flight
        assert delivered_before < len(want)
    finally:
        server.stop()
        await receiver.stop()


async def test_a_dead_endpoint_delays_neither_chats_nor_another_endpoint(
        tmp_path: Path, db_location: str) -> None:
    dead = await Receiver(hang=True).start()  # accepts, reads, never answers
    live = await Receiver().start()
    server = desk(tmp_path, db_location, CHATSERVER_WEBHOOKS_TIMEOUT_SECONDS="600").start()
    try:
        register(server, dead.url)
        endpoint = register(server, live.url)
        started = time.monotonic()
        await asyncio.gather(*(chat(server, 6) for _ in range(3)))
        want = await delivered(server, live, endpoint=endpoint["id"], timeout=60)
        assert time.monotonic() - started < 600  # long before the dead one's first timeout
        assert sorted(live.ids()) == sorted(want)
        assert dead.got == []
    finally:
        server.stop()
        await dead.stop()
        await live.stop()


async def test_an_endpoint_failing_for_long_is_disabled_then_resumes_where_it_stopped(
        tmp_path: Path, db_location: str) -> None:
    receiver = await Receiver(status=500).start()
    server = desk(tmp_path, db_location,
                  CHATSERVER_WEBHOOKS_DISABLE_AFTER_HOURS="0.0005").start()  # 1.8 s
    try:
        endpoint = register(server, receiver.url)
        await chat(server, 3)
        with admin(server) as client:
            for _ in range(300):
                found = client.get("/api/webhooks").json()["endpoints"][0]
                if not found["enabled"]:
                    break
                await asyncio.sleep(0.1)
            assert found["disabled_reason"] == "failing" and found["waiting"] > 0
            assert found["disabled_ms"] >= found["failing_since_ms"]
            log = client.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
            assert {d["status"] for d in log["deliveries"]} == {500}
            receiver.status = 200
            receiver.got.clear()
            await chat(server, 2)  # while disabled: kept for it
            response = client.patch(f"/api/webhooks/{endpoint['id']}", json={"enabled": True})
            assert response.status_code == 200 and response.json()["endpoint"]["enabled"]
        want = await delivered(server, receiver)
        assert sorted(set(receiver.ids())) == sorted(want) and in_order(receiver.ids())
        assert server.log.read_text().count(f"webhook endpoint {endpoint['id']}") == 1
        actions = [r[0] for r in sql(server.db, "SELECT action FROM audit_log WHERE action "
                                                "LIKE 'webhook.%' ORDER BY id")]
        assert actions == ["webhook.create", "webhook.enable"]
    finally:
        server.stop()
        await receiver.stop()


async def test_two_processes_on_one_database_deliver_each_event_once(
        tmp_path: Path, db_location: str) -> None:
    receiver = await Receiver().start()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    location = db_location if db_location.startswith("postgresql://") else str(
        tmp_path / "chat.db")
    one = Server(tmp_path / "a", database=location, **FAST)
    add_user(one.db, "root", role="admin")
    two = Server(tmp_path / "b", database=location, **FAST)
    one.start()
    two.start()
    try:
        register(one, receiver.url)
        await asyncio.gather(*(chat(one, 5) for _ in range(2)),
                             *(chat(two, 5) for _ in range(2)))
        want = await delivered(one, receiver)
        await asyncio.sleep(1)  # a second delivery by the other process would be here now
        assert sorted(receiver.ids()) == sorted(want)
    finally:
        one.stop()
        two.stop()
        await receiver.stop()


async def test_private_destinations_are_refused_unless_allowed(tmp_path: Path) -> None:
    server = Server(tmp_path)
    add_user(server.db, "root", role="admin")
    add_user(server.db, "ana")
    server.start()
    try:
        with admin(server) as client:
            for url, reason in [("http://127.0.0.1:9/x", "loopback"),
                                ("http://localhost:9/x", "loopback"),
                                ("http://[::1]/x", "loopback"),
                                ("http://[::ffff:127.0.0.1]/x", "loopback"),
                                ("http://10.1.2.3/x", "private"),
                                ("http://192.168.0.10/x", "private"),
                                ("http://169.254.169.254/latest", "link-local"),
                                ("http://[fe80::1]/x", "link-local"),
                                ("http://224.0.0.1/x", "multicast"),
                                ("http://0.0.0.0/x", "unspecified")]:
                response = client.post("/api/webhooks", json={"url": url, "events": ["message"]})
                assert response.status_code == 422, url
                assert response.json()["field"] == "url"
                assert reason in response.json()["message"], (url, response.json())
            for url in ["ftp://example.com/x", "http://user:pw@example.com/", "not a url"]:
                response = client.post("/api/webhooks", json={"url": url, "events": ["message"]})
                assert response.status_code == 422 and response.json()["field"] == "url"
            response = client.post("/api/webhooks", json={"url": "http://8.8.8.8/x",
                                                          "events": ["nope"]})
            assert response.json()["field"] == "events"
            assert client.get("/api/webhooks").json()["endpoints"] == []
        cookies = server.login("ana")
        with httpx.Client(base_url=server.url, cookies=cookies) as agent_client:
            assert agent_client.get("/api/webhooks").status_code == 403
            assert agent_client.get("/admin/webhooks").status_code == 403
    finally:
        server.stop()


async def test_a_secret_is_shown_once_and_every_change_is_audited(tmp_path: Path) -> None:
    server = desk(tmp_path, str(tmp_path / "chat.db")).start()
    try:
        with admin(server) as client:
            made = client.post("/api/webhooks", json={"url": "http://127.0.0.1:9/h",
                                                      "events": ["closed", "message"],
                                                      "description": "CRM"})
            assert made.status_code == 201
            secret, endpoint = made.json()["secret"], made.json()["endpoint"]
            assert secret.startswith("whsec_") and len(secret) > 40
            assert endpoint["events"] == ["message", "closed"]
            assert secret not in client.get("/api/webhooks").text
            new = client.post(f"/api/webhooks/{endpoint['id']}/secret", json={}).json()
            assert new["secret"] != secret
            assert client.patch(f"/api/webhooks/{endpoint['id']}",
                                json={"enabled": False}).json()["endpoint"]["disabled_reason"] \
                == "admin"
            assert client.patch(f"/api/webhooks/{endpoint['id']}",
                                json={"events": ["label"]}).json()["endpoint"]["events"] \
                == ["label"]
            assert client.delete(f"/api/webhooks/{endpoint['id']}").status_code == 204
            assert client.delete(f"/api/webhooks/{endpoint['id']}").status_code == 404
            page = client.get("/admin/webhooks")
            assert page.status_code == 200 and "webhooks.js" in page.text
        rows = sql(server.db, "SELECT action, detail FROM audit_log WHERE action LIKE "
                              "'webhook.%' ORDER BY id")
        assert [r[0] for r in rows] == ["webhook.create", "webhook.secret", "webhook.disable",
                                        "webhook.update", "webhook.delete"]
        assert all(secret not in r[1] and new["secret"] not in r[1] for r in rows)
    finally:
        server.stop()


async def test_each_connection_is_checked_and_kept_alive_between_events() -> None:
    """The client the deliverer uses: a connection is opened to an address checked when it is
    opened (a loopback one refused without connecting, unless allowed), then reused; one the
    receiver closed meanwhile is replaced without losing the event."""
    receiver = await Receiver().start()
    try:
        where = destination(receiver.url)
        refused = Pool(where, allow_private=False, connect_timeout=5, size=2)
        answer = await refused.post(b"{}", {}, timeout=5)
        assert answer.status is None and "127.0.0.1 is a loopback address" in answer.error
        assert receiver.connections == 0
        pool = Pool(where, allow_private=True, connect_timeout=5, size=2)
        for n in range(3):
            answer = await pool.post(b'{"id": "c:%d"}' % n, {}, timeout=5)
            assert answer.ok, answer
        assert receiver.connections == 1 and len(receiver.got) == 3
        receiver.drop_connections()  # as a server does with an idle one
        await asyncio.sleep(0.1)
        assert (await pool.post(b'{"id": "c:3"}', {}, timeout=5)).ok
        assert receiver.connections == 2 and len(receiver.got) == 4
        pool.close()
    finally:
        await receiver.stop()
