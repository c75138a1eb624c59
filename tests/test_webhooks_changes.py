"""Webhooks when an admin changes them (events, URL, state, delete; several processes), IDN
hosts, the refusals' translations and the addresses refused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .databases import db_location
from .harness import Server, add_user, sql
from .test_webhooks import OPEN, admin, chat, desk, register, visitors_leave  # noqa: F401
from .webhook_receiver import Receiver

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]


async def test_removing_an_event_type_stops_its_waiting_events(tmp_path: Path,
                                                               db_location: str) -> None:
    """An admin takes "message" (or "whisper") off an endpoint's event types, e.g. because the
    integration must no longer receive chat text. Events of that type that were still waiting
    in the outbox (the receiver was failing) are nevertheless delivered afterwards: the
    receiver gets chat lines of a type it is no longer subscribed to. After the change only
    the subscribed types should go out (PATCH replaces the subscriptions; it should also drop
    the waiting rows of the types removed)."""
    receiver = await Receiver(status=500).start()
    server = desk(tmp_path, db_location).start()
    try:
        endpoint = register(server, receiver.url, events=["started", "message", "closed"])
        await chat(server, 3)
        for _ in range(100):
            if sql(server.db, "SELECT count(*) FROM webhook_deliveries")[0][0]:
                break
            await asyncio.sleep(0.1)
        with admin(server) as client:
            response = client.patch(f"/api/webhooks/{endpoint['id']}",
                                    json={"events": ["closed"]})
            assert response.status_code == 200, response.text
            assert response.json()["endpoint"]["events"] == ["closed"]
        # A round read before the change may still be on its way (the blocking client held
        # the receiver's loop): it meets the failing receiver. Then the receiver recovers.
        await asyncio.sleep(0.5)
        receiver.got.clear()
        receiver.status = 200
        for _ in range(60):
            if not sql(server.db, "SELECT count(*) FROM webhook_outbox")[0][0]:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        types = sorted({r.event["type"] for r in receiver.got})
        assert types == [], f"unsubscribed types delivered after the change: {types}"
    finally:
        server.stop()
        await receiver.stop()


async def test_an_internationalised_host_name_gets_its_events(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin registers https://例え.テスト/hooks (an IDN host: the registration check
    resolves it fine, since getaddrinfo IDNA-encodes the name). Every delivery then fails
    with "'latin-1' codec can't encode characters" and the events pile up until the endpoint
    is disabled: the client writes the Unicode host into the Host header instead of its ASCII
    (IDNA, "xn--") form. The request should go out with `Host: xn--r8jz45g.xn--zckzah:<port>`.
    (Name resolution is pointed at the local receiver; the code under test is the request.)"""
    from chatserver.core.webhooks import destination
    from chatserver.service import webhook_client

    receiver = await Receiver().start()

    async def local(where: object, allow_private: bool) -> str:
        return "127.0.0.1"

    monkeypatch.setattr(webhook_client, "checked_address", local)
    try:
        where = destination(f"http://例え.テスト:{receiver.port}/hooks/chat?source=test")
        pool = webhook_client.Pool(where, allow_private=True, connect_timeout=5, size=1)
        answer = await pool.post(b'{"id": "c:1"}', {}, timeout=5)
        pool.close()
        assert answer.ok, answer
        assert receiver.got[0].headers["host"] == f"xn--r8jz45g.xn--zckzah:{receiver.port}"
    finally:
        await receiver.stop()


async def test_a_deleted_endpoints_url_gets_no_events_of_the_next_one(tmp_path: Path) -> None:
    """Two processes on one SQLite file. An admin deletes endpoint 1 (say, an integration
    being retired, https://old.example) and registers a new one (https://new.example). On
    SQLite the new endpoint gets the freed id 1 again (INTEGER PRIMARY KEY without
    AUTOINCREMENT). The other process still runs its delivery task for "endpoint 1" with the
    OLD url and OLD secret until its next lease renewal (a third of lease_seconds), and that
    task reads the outbox by endpoint id: the new endpoint's chat events go to the deleted
    endpoint's URL. A deleted endpoint must receive nothing after the delete (ids never
    reused, or the task keyed by more than the id)."""
    old = await Receiver().start()
    new = await Receiver().start()
    try:
        async with held_by_two(tmp_path, old.url) as (one, two, first):
            await chat(two, 1)
            await old.until(lambda: len(old.got) >= 1, 10)
            with admin(one) as client:
                assert client.delete(f"/api/webhooks/{first['id']}").status_code == 204
            second = register(one, new.url, secret="whsec_new_secret_0123456789")
            await asyncio.sleep(0.5)  # the first chat's last events, sent before the delete
            old.got.clear()
            conversation = await chat(one, 4)
            await new.until(lambda: len(new.got) >= 5, 20)
            await asyncio.sleep(1)
            leaked = [r.event["id"] for r in old.got if r.event["conversation_id"] == conversation]
            assert second["id"] != first["id"] or not leaked, (
                f"deleted endpoint's URL got {len(leaked)} events of the new endpoint {leaked[:5]}")
    finally:
        await old.stop()
        await new.stop()


async def test_a_disabled_endpoint_gets_nothing_from_the_other_process(tmp_path: Path) -> None:
    """Two processes on one database. An admin disables an endpoint (e.g. its receiver was
    compromised or is misbehaving) on one process; the other process, which holds the lease,
    keeps sending it new chat events until its next lease renewal (a third of lease_seconds,
    10 s by default): the outbox query (webhook_outbox.due) and settle never look at
    `enabled`. Once the PATCH answered `"enabled": false`, nothing more should be sent."""
    receiver = await Receiver().start()
    try:
        async with held_by_two(tmp_path, receiver.url) as (one, two, endpoint):
            await chat(two, 1)
            await receiver.until(lambda: len(receiver.got) >= 1, 10)
            with admin(one) as client:
                response = client.patch(f"/api/webhooks/{endpoint['id']}", json={"enabled": False})
                assert response.status_code == 200 and not response.json()["endpoint"]["enabled"]
            await asyncio.sleep(0.5)
            receiver.got.clear()
            await chat(one, 4)
            await asyncio.sleep(3)
            assert not receiver.got, (
                f"disabled endpoint got {len(receiver.got)} events after the admin disabled it")
    finally:
        await receiver.stop()


@contextlib.asynccontextmanager
async def held_by_two(tmp_path: Path, url: str) -> AsyncIterator[tuple[Server, Server, Any]]:
    """Two processes on one SQLite file and an endpoint registered through `two`, which
    holds its lease (woken by the change), then `one` started: one never takes the lease
    while two runs, so an admin's change made through one is one two has to notice."""
    from .test_webhooks import FAST

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = {**FAST, "CHATSERVER_WEBHOOKS_LEASE_SECONDS": "30"}
    one = Server(tmp_path / "a", database=str(tmp_path / "chat.db"), **env)
    add_user(one.db, "root", role="admin")
    two = Server(tmp_path / "b", database=str(tmp_path / "chat.db"), **env)
    two.start()
    try:
        endpoint = register(two, url)
        await leased(two.db, endpoint["id"])
        one.start()
        yield one, two, endpoint
    finally:
        one.stop()
        two.stop()


async def leased(db: Path, endpoint_id: int) -> None:
    """Until a process holds the endpoint's lease."""
    for _ in range(100):
        if sql(db, "SELECT lease_owner FROM webhook_endpoints WHERE id = ?",
               (endpoint_id,))[0][0]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("nobody leased the endpoint")


@pytest.fixture(scope="module")
def refusing_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the refusals (a refused endpoint stores nothing; a start costs ~1.5 s
    of CPU)."""
    from .databases import location

    folder = tmp_path_factory.mktemp("refusing")
    with location("sqlite", folder) as where:
        server = desk(folder, where, CHATSERVER_WEBHOOKS_ALLOW_PRIVATE="false").start()
        try:
            yield server
        finally:
            server.stop()


@pytest.mark.parametrize("field, url, description", [
    ("url", "http://127.0.0.1:9/hooks", ""),
    ("url", "https://no-such-host.invalid/hooks", ""),
    ("description", "http://127.0.0.1:9/hooks", "x" * 201),
])
async def test_the_pages_refusals_are_translated(refusing_desk: Server, field: str, url: str,
                                                 description: str) -> None:
    """The admin page shows a refused field's `message` through t() (webhooks.js showErrors /
    toast). The refusals an admin meets most, a private address ("refused: 127.0.0.1 is a
    loopback address"), a name that does not resolve, and a too long description ("at most
    200 characters"), are built with the address or number inside, so no catalog can hold
    them: a Persian, Arabic or Chinese admin sees them in English. Every message the API
    sends for the page should be a key of each language's catalog (placeholders apart)."""
    from chatserver.web.catalogue import messages

    catalogs = {lang: messages(lang) for lang in ("fa", "ar", "zh")}  # every area, as the page
    with admin(refusing_desk) as client:
        response = client.post("/api/webhooks", json={
            "url": url, "events": ["message"], "description": description})
    assert response.status_code == 422, response.text
    data = response.json()
    assert data["field"] == field
    missing = [lang for lang, catalog in catalogs.items() if data["message"] not in catalog]
    assert not missing, f"{data['message']!r} untranslated in {missing}"


async def test_a_changed_url_gets_no_more_events_at_the_old_one(tmp_path: Path) -> None:
    """Two processes on one database. An admin moves an endpoint to a new URL (the old
    receiver is being decommissioned, its domain may lapse). The process holding the lease
    keeps posting new chat events to the OLD URL until its next lease renewal (a third of
    lease_seconds, 10 s by default): its task still holds the old Leased(url, secret) and
    reads the outbox by endpoint id only. After the PATCH answered, events should go to the
    new URL only."""
    old = await Receiver().start()
    new = await Receiver().start()
    try:
        async with held_by_two(tmp_path, old.url) as (one, two, endpoint):
            await chat(two, 1)
            await old.until(lambda: len(old.got) >= 1, 10)
            with admin(one) as client:
                response = client.patch(f"/api/webhooks/{endpoint['id']}", json={"url": new.url})
                assert response.status_code == 200, response.text
            await asyncio.sleep(0.5)
            old.got.clear()
            await chat(one, 4)
            await asyncio.sleep(3)
            assert not old.got, f"the old URL got {len(old.got)} events after the URL changed"
    finally:
        await old.stop()
        await new.stop()


async def test_ipv6_site_local_addresses_are_refused() -> None:
    """With `allow_private = false`, an admin (or a stolen admin session) can still point a
    webhook at fec0::/10 (IPv6 site-local, RFC 3879: the old IPv6 "private" range, still
    routed inside some networks): refused_address() returns None for it, because Python's
    ipaddress calls it global. It is no more public than fc00::/7, which is refused."""
    from chatserver.core.webhooks import refused_address

    assert refused_address("fec0::1") is not None
    assert refused_address("fc00::1") is not None


async def test_nat64_addresses_are_judged_by_the_ipv4_address_they_carry() -> None:
    """On an IPv6-only host behind DNS64 every IPv4-only receiver resolves to 64:ff9b::/96:
    refusing the prefix as reserved would refuse them all, while 64:ff9b::7f00:1 reaches
    127.0.0.1 through the gateway and must stay refused."""
    from chatserver.core.webhooks import refused_address

    assert refused_address("64:ff9b::808:808") is None  # 8.8.8.8
    assert refused_address("64:ff9b::7f00:1") == "loopback"
    assert refused_address("64:ff9b::a00:1") == "private"  # 10.0.0.1


async def test_a_replaced_secret_signs_the_next_events(tmp_path: Path) -> None:
    """An admin replaces a leaked secret through one process; the process holding the lease
    must sign the events that follow with the new secret at once (the page says "Requests are
    signed with the new one at once"), not with the leaked one until its lease renewal."""
    import time

    receiver = await Receiver().start()
    try:
        async with held_by_two(tmp_path, receiver.url) as (one, two, endpoint):
            await chat(two, 1)
            await receiver.until(lambda: len(receiver.got) >= 1, 10)
            with admin(one) as client:
                response = client.post(f"/api/webhooks/{endpoint['id']}/secret", json={})
                assert response.status_code == 200, response.text
                secret = response.json()["secret"]
            await asyncio.sleep(0.5)
            receiver.got.clear()
            await chat(one, 4)
            await receiver.until(lambda: len(receiver.got) >= 5, 20)
            assert receiver.verified(secret, time.time()), "events signed with the old secret"
    finally:
        await receiver.stop()
