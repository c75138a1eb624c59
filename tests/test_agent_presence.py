"""An agent's status across reconnects (a reload, a second tab, a longer absence), over real
sockets on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from .harness import Client, Server, add_user, visitor

pytestmark = pytest.mark.anyio

GRACE = 1.5  # seconds: short, so "longer than the grace period" takes a test seconds


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, CHATSERVER_ROUTING_GRACE_SECONDS=str(GRACE))
    yield srv.start()
    srv.stop()


def cookie_of(cookies: httpx.Cookies) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def console(server: Server, cookie: str, clients: list[Client]) -> Client:
    """One console tab of an already logged-in agent: the same cookie every time."""
    ws = await connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie})
    tab = Client(ws)
    clients.append(tab)
    await tab.send({"type": "hello"})
    tab.welcome = await tab.expect("welcome")  # type: ignore[attr-defined]
    return tab


async def set_status(tab: Client, status: str) -> None:
    await tab.send({"type": "status", "status": status})
    assert (await tab.expect("status"))["status"] == status


def status_of(tab: Client) -> str:
    return str(tab.welcome["agent"]["status"])  # type: ignore[attr-defined]


async def test_a_reload_keeps_the_chosen_status_a_longer_absence_starts_away(
        fast: Server, clients: list[Client]) -> None:
    add_user(fast.db, "ann", skills={"lang:en": 5})
    cookie = cookie_of(fast.login("ann"))
    tab = await console(fast, cookie, clients)
    assert status_of(tab) == "away"  # a first login never starts taking chats by itself
    await set_status(tab, "online")

    await tab.ws.close()  # a reload: the new socket carries on where the old one was
    tab = await console(fast, cookie, clients)
    assert status_of(tab) == "online"
    sara = await visitor(fast, name="Sara", language="en")
    clients.append(sara)
    assert sara.welcome["agents_online"] is True
    cid = (await sara.request("request_human"))["conversation_id"]
    assert (await tab.expect("offer"))["conversation"]["id"] == cid  # and really is online

    second = await console(fast, cookie, clients)  # a second tab while the first is open
    assert status_of(second) == "online"
    await set_status(second, "away")
    await second.ws.close()
    await tab.ws.close()
    tab = await console(fast, cookie, clients)
    assert status_of(tab) == "away"  # away, as chosen, is kept too

    await set_status(tab, "online")
    await tab.ws.close()
    await asyncio.sleep(GRACE + 1.0)  # gone longer than the grace period
    late = await visitor(fast, name="Lee", language="en")
    clients.append(late)
    assert late.welcome["agents_online"] is False
    tab = await console(fast, cookie, clients)
    assert status_of(tab) == "away"  # back after a while: not silently online
    await tab.nothing("offer", seconds=0.5)


async def test_missed_offers_set_away_is_in_the_presence_log(tmp_path: Path,
                                                             clients: list[Client]) -> None:
    """Review of issue 16: an agent the router set away for missed offers stayed 'online' in
    agent_presence, so the staffing report counted them."""
    import sqlite3

    from .harness import agent
    srv = Server(tmp_path, CHATSERVER_ROUTING_OFFER_TIMEOUT_SECONDS="1",
                 CHATSERVER_ROUTING_MAX_MISSED_OFFERS="1")
    add_user(srv.db, "ann", skills={"lang:en": 5})
    srv.start()
    try:
        ann = await agent(srv, "ann")
        clients.append(ann)
        sara = await visitor(srv, name="Sara", language="en")
        clients.append(sara)
        await sara.request("request_human")
        await ann.expect("offer")
        assert (await ann.expect("status", timeout=5))["status"] == "away"
        await asyncio.sleep(0.5)  # the presence row is written after the frame
        with sqlite3.connect(srv.db) as db:
            rows = [s for (s,) in db.execute(
                "SELECT status FROM agent_presence ORDER BY ts_ms, rowid")]
        assert rows[-1] == "away", rows
    finally:
        srv.stop()
