"""`serve --workers 2`: a scrape of either worker reports the whole server's figures, equal to
what the event log says happened, and a restart starts them from nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatserver.core.conversation import REQUEUE_REASONS

from .harness import Client, Server, add_user, agent, sql, visitor
from .test_cluster import REDIS, Redis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
TOKEN = "scrape-token-for-worker-tests-0123456789"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # (name, labels): value


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server of two uvicorn workers on a private Redis, for the whole module."""
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed (make test installs it as root)")
    redis = Redis(tmp_path_factory.mktemp("redis"))
    redis.start()
    server = Server(tmp_path_factory.mktemp("workers"), args=("--workers", "2"),
                    CHATSERVER_CLUSTER_BACKEND="redis",
                    CHATSERVER_CLUSTER_REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
                    CHATSERVER_METRICS_TOKEN=TOKEN)
    try:
        yield server.start()
    finally:
        server.stop()
        redis.stop()


def scrape(server: Server) -> Samples:
    """Every sample: a new connection each time, so either worker may answer."""
    response = httpx.get(server.url + "/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def totals(samples: Samples) -> Samples:
    """The counters and histograms: what must not depend on the worker that answers."""
    return {k: v for k, v in samples.items()
            if k[0].endswith(("_total", "_count", "_bucket", "_sum"))}


def per_worker(samples: Samples) -> dict[str, float]:
    """Open visitor sockets by worker pid (chat_process_connections)."""
    return {dict(labels)["pid"]: v for (name, labels), v in samples.items()
            if name == "chat_process_connections" and dict(labels)["role"] == "visitor"}


async def settled(server: Server, check: Callable[[Samples], bool],
                  timeout: float = 15.0) -> Samples:
    """Scrape until `check` holds: a worker's gauges reach the other's scrape within 1 s."""
    deadline = time.monotonic() + timeout
    while not check(samples := scrape(server)):
        assert time.monotonic() < deadline, f"never settled: {samples}"
        await asyncio.sleep(0.3)
    return samples


async def on_both_workers(server: Server, clients: list[Client]) -> list[Client]:
    """Visitors until both workers hold some (the kernel hands each connection to either)."""
    opened: list[Client] = []
    while True:
        samples = await settled(server, lambda s: value(s, "chat_connections", role="visitor")
                                == len(opened) and len(per_worker(s)) == 2)
        if all(per_worker(samples).values()):
            return opened
        assert len(opened) < 60, "every connection went to one worker"
        for _ in range(6):
            opened.append(await visitor(server, name=f"V{len(opened)}", language="en"))
            clients.append(opened[-1])


def event_log(server: Server) -> Counter[str]:
    """What happened, from the events table: the truth the counters must equal."""
    counts: Counter[str] = Counter()
    for kind, payload in sql(server.db, "SELECT type, payload FROM events"):
        counts[kind] += 1
        if kind == "message":
            counts["message:" + json.loads(payload)["from"]] += 1
    return counts


async def test_every_scrape_of_either_worker_reports_the_whole_server(
        workers: Server, clients: list[Client]) -> None:
    add_user(workers.db, "ana", skills={"lang:en": 5}, capacity=10)
    ana = await agent(workers, "ana")
    clients.append(ana)
    visitors = await on_both_workers(workers, clients)
    for v in visitors:  # each a conversation, a visitor line and the bot's answer
        await v.request("message", text="how can I track my order?")
        await v.expect("message", where=lambda f: f.get("from") == "bot")
    for v in visitors[:3]:  # three go to Ana, who answers each
        cid = (await v.request("request_human"))["conversation_id"]
        await ana.expect("offer", where=lambda f, cid=cid: f["conversation"]["id"] == cid)
        await ana.request("accept", conversation_id=cid)
        await v.request("message", text="still there?")
        await ana.request("message", conversation_id=cid, text="Yes, looking now.")
        await v.expect("message", where=lambda f: f.get("from") == "agent")
    leaver = visitors[3]  # asks, and leaves before Ana accepts
    cid = (await leaver.request("request_human"))["conversation_id"]
    await ana.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    await leaver.request("close")
    for v in visitors[4:]:  # the bot's
        await v.request("close")

    scrapes = [scrape(workers) for _ in range(6)]
    first = scrapes[0]
    assert all(totals(s) == totals(first) for s in scrapes), "two scrapes disagree"
    log = event_log(workers)
    assert value(first, "chat_conversations_started_total") == log["started"] == len(visitors)
    for sender in ("visitor", "bot", "agent"):
        assert value(first, "chat_messages_total", sender=sender) \
            == log["message:" + sender] > 0, sender
    assert value(first, "chat_handoffs_total", reason="asked") == log["queued"] == 4
    assert value(first, "chat_offers_total", outcome="accepted") == log["assigned"] == 3
    assert value(first, "chat_queue_wait_seconds_count") == 3
    assert value(first, "chat_queue_wait_seconds_bucket", le="+Inf") == 3
    assert value(first, "chat_agent_response_seconds_count") == 3
    assert value(first, "chat_store_commits") > 0
    # The headline figures' live forms (docs/deploy.md), against the log's definitions.
    assert value(first, "chat_first_response_seconds_count") == asked_and_answered(workers) == 3
    assert value(first, "chat_queue_abandoned_seconds_count") == 1
    assert value(first, "chat_bot_contained_total") == never_queued(workers) \
        == len(visitors) - 4


def asked_and_answered(server: Server) -> int:
    """Conversations with a request for a person and an agent line, from the log."""
    return len(sql(server.db, "SELECT DISTINCT conversation_id FROM events WHERE type = "
                   "'message' AND json_extract(payload, '$.from') = 'agent' AND conversation_id IN "
                   "(SELECT conversation_id FROM events WHERE type = 'queued')"))


def never_queued(server: Server) -> int:
    """Closed conversations without a `queued` event: the bot's."""
    return len(sql(server.db, "SELECT conversation_id FROM events WHERE type = 'closed' AND "
                   "conversation_id NOT IN (SELECT conversation_id FROM events "
                   "WHERE type = 'queued')"))


async def agents_on_both_workers(server: Server, clients: list[Client]) -> tuple[Client, Client]:
    """Cai and Bea (offline), connected to different workers: Bea connects again until so."""
    ana = await agent(server, "cai")
    clients.append(ana)
    for _ in range(20):
        bea = await agent(server, "bea", online=False)
        clients.append(bea)
        samples = await settled(server, lambda s: value(s, "chat_connections", role="agent")
                                == 2)
        if sorted(v for (name, labels), v in samples.items()
                  if name == "chat_process_connections" and ("role", "agent") in labels) \
                == [1, 1]:
            return ana, bea
        await bea.ws.close()
        await settled(server, lambda s: value(s, "chat_connections", role="agent") == 1)
    raise AssertionError("every agent socket went to one worker")


async def answered(server: Server, who: Client, v: Client, cid: str, text: str) -> None:
    await who.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    await who.request("accept", conversation_id=cid)
    await who.request("message", conversation_id=cid, text=text)
    await v.expect("message", where=lambda f: f.get("text") == text)


async def test_transfers_and_surveys_across_workers_equal_the_event_log(
        workers: Server, clients: list[Client]) -> None:
    """Agents on both workers, a chat transferred from one to the other, surveys answered:
    every scrape reports what the log holds, counted once whichever worker stored it."""
    add_user(workers.db, "cai", skills={"lang:en": 5}, capacity=10)
    bea_id = add_user(workers.db, "bea", skills={"lang:en": 5}, capacity=10)
    ana, bea = await agents_on_both_workers(workers, clients)
    one = await visitor(workers, name="One", language="en")
    two = await visitor(workers, name="Two", language="en")
    clients += [one, two]
    cid = (await two.request("request_human"))["conversation_id"]
    await answered(workers, ana, two, cid, "Cai here.")
    await ana.request("close", conversation_id=cid, resolved=False)
    await two.expect("survey_request")
    assert (await two.request("survey", conversation_id=cid, rating=2))["type"] == "ack"
    cid = (await one.request("request_human"))["conversation_id"]
    await answered(workers, ana, one, cid, "Cai for one.")
    await bea.send({"type": "status", "status": "online"})
    await bea.expect("status")
    assert (await ana.request("transfer", conversation_id=cid, to_agent=bea_id))["type"] == "ack"
    await answered(workers, bea, one, cid, "Bea took over.")
    await bea.request("close", conversation_id=cid, resolved=True)
    await one.expect("survey_request")
    assert (await one.request("survey", conversation_id=cid, rating=4))["type"] == "ack"

    scrapes = [scrape(workers) for _ in range(8)]
    assert all(totals(s) == totals(scrapes[0]) for s in scrapes), "two scrapes disagree"
    first = scrapes[0]
    rows = [(kind, json.loads(payload))
            for kind, payload in sql(workers.db, "SELECT type, payload FROM events")]

    def counted(name: str) -> float:
        return sum(v for (n, _), v in first.items() if n == name)

    assert counted("chat_surveys_total") == sum(k == "survey" for k, _ in rows) == 2
    for rating in ("2", "4"):
        assert value(first, "chat_surveys_total", rating=rating) == 1
    assert counted("chat_conversations_closed_total") == sum(k == "closed" for k, _ in rows)
    assert value(first, "chat_offers_total", outcome="accepted") == sum(
        k == "assigned" and not p.get("take_over") for k, p in rows)
    assert counted("chat_handoffs_total") == sum(
        k == "queued" and p.get("reason") not in REQUEUE_REASONS for k, p in rows)
    for sender in ("visitor", "bot", "agent"):
        assert value(first, "chat_messages_total", sender=sender) == sum(
            k == "message" and p["from"] == sender for k, p in rows), sender


async def test_a_killed_worker_keeps_its_counts_and_loses_its_sockets(
        workers: Server, clients: list[Client]) -> None:
    """uvicorn starts a new worker in a killed one's place: the dead worker's counts stay in
    the run's totals, its sockets leave the connection gauges."""
    await on_both_workers(workers, clients)
    before = scrape(workers)
    victim, survivor = per_worker(before)
    os.kill(int(victim), signal.SIGKILL)
    after = await settled(workers, lambda s: victim not in per_worker(s)
                          and len(per_worker(s)) == 2, timeout=30)
    assert totals(after) == totals(before)
    assert value(after, "chat_connections", role="visitor") == per_worker(after)[survivor] > 0


async def test_a_restart_starts_from_nothing(workers: Server, clients: list[Client]) -> None:
    assert event_log(workers)["started"] > 0  # the earlier chats are in the log
    workers.stop()
    workers.start()
    samples = await settled(workers, lambda s: len(per_worker(s)) == 2)
    assert value(samples, "chat_conversations_started_total") == 0
    assert not [k for k in samples if k[0] == "chat_messages_total"]
    sara = await visitor(workers, name="Sara", language="en")
    clients.append(sara)
    await sara.request("message", text="how can I track my order?")
    samples = scrape(workers)
    assert value(samples, "chat_conversations_started_total") == 1
    assert value(samples, "chat_messages_total", sender="visitor") == 1
