"""Every kind of bad input gets a clear error; the socket and the data stay intact."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .harness import Server, visitor

pytestmark = pytest.mark.anyio


async def still_works(client, server: Server) -> None:
    """After an error the same socket can still chat, and what was stored is untouched."""
    ack = await client.request("message", text="still here")
    assert ack["type"] == "ack"
    with sqlite3.connect(server.db) as db:
        seqs = [r[0] for r in db.execute(
            "SELECT seq FROM events WHERE conversation_id = ? ORDER BY seq",
            (ack["conversation_id"],))]
    assert seqs == list(range(1, len(seqs) + 1)) and ack["seq"] in seqs


@pytest.mark.parametrize(
    ("raw", "code", "mentions"),
    [
        ("{not json", "bad_json", "JSON"),
        ('["a", "list"]', "bad_frame", "object"),
        ('{"id": "x1"}', "bad_frame", "type"),
        ('{"type": "dance", "id": "x2"}', "unknown_type", "dance"),
        ('{"type": "message", "id": "x3"}', "bad_frame", "'text'"),
        ('{"type": "message", "id": "x4", "text": 42}', "bad_frame", "'text'"),
        ('{"type": "message", "id": "x5", "text": "   "}', "bad_frame", "empty"),
        ('{"type": "message", "text": "no id"}', "bad_frame", "'id'"),
        ('{"type": "message", "id": "bad id with spaces", "text": "x"}', "bad_frame", "'id'"),
        ('{"type": "survey", "id": "x6", "rating": 9}', "bad_frame", "between 1 and 5"),
        ('{"type": "survey", "id": "x7", "rating": true}', "bad_frame", "integer"),
        # past 64 bits: an integer still (orjson would read a float), so out of range
        ('{"type": "survey", "id": "x9", "rating": 18446744073709551616}', "bad_frame",
         "between 1 and 5"),
        ('{"type": "survey", "id": "x10", "rating": -9223372036854775809}', "bad_frame",
         "between 1 and 5"),
        ('{"type": "typing", "on": "yes"}', "bad_frame", "true or false"),
        ('{"type": "resume", "conversation_id": "c", "after_seq": -1}', "bad_frame", "between"),
        ('{"type": "offline_message", "id": "x8", "email": "nope", "text": "hi"}', "bad_frame",
         "email"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_open(
    shared_server: Server, clients: list, raw: str, code: str, mentions: str
) -> None:
    client = await visitor(shared_server)
    clients.append(client)
    await client.request("message", text="first")
    await client.ws.send(raw)
    error = await client.expect("error")
    assert error["code"] == code
    assert mentions in error["message"]
    sent = json.loads(raw) if raw.startswith("{\"") else {}
    if isinstance(sent, dict) and isinstance(sent.get("id"), str) and " " not in sent["id"]:
        assert error["id"] == sent["id"]  # the client can match the error to its frame
    await still_works(client, shared_server)


async def test_text_over_the_limit_is_too_large_and_nothing_is_stored(shared_server: Server,
                                                                       clients: list) -> None:
    client = await visitor(shared_server)
    clients.append(client)
    await client.request("message", text="first")
    error = await client.request("message", text="x" * 4001)
    assert error["type"] == "error" and error["code"] == "too_large"
    with sqlite3.connect(shared_server.db) as db:
        assert db.execute("SELECT count(*) FROM events WHERE payload LIKE '%xxxxxxxxxx%'"
                          ).fetchone()[0] == 0
    await still_works(client, shared_server)


async def test_binary_frame_that_is_not_utf8_is_refused(shared_server: Server,
                                                        clients: list) -> None:
    client = await visitor(shared_server)
    clients.append(client)
    await client.request("message", text="first")
    await client.ws.send(b"\xff\xfe\xfd not utf-8")
    error = await client.expect("error")
    assert error["code"] == "bad_frame" and "UTF-8" in error["message"]
    await still_works(client, shared_server)


async def test_frame_over_the_hard_limit_closes_with_1009(shared_server: Server) -> None:
    client = await visitor(shared_server)
    await client.ws.send(json.dumps({"type": "message", "id": "big", "text": "y" * 70_000}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(client.ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_html_and_script_are_stored_and_echoed_as_plain_text(shared_server: Server,
                                                                   clients: list) -> None:
    client = await visitor(shared_server)
    clients.append(client)
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)"> & "quotes"'
    ack = await client.request("message", text=hostile)
    with sqlite3.connect(shared_server.db) as db:
        payload = db.execute("SELECT payload FROM events WHERE client_id = ?",
                             (ack["id"],)).fetchone()[0]
    assert json.loads(payload)["text"] == hostile
    await client.send({"type": "resume", "conversation_id": ack["conversation_id"],
                       "after_seq": 0})
    echoed = await client.expect("message", where=lambda f: f["seq"] == ack["seq"])
    assert echoed["text"] == hostile


async def test_frames_before_hello_are_refused(shared_server: Server) -> None:
    async with connect(shared_server.ws + "/ws/visitor") as ws:
        await ws.send(json.dumps({"type": "message", "id": "m1", "text": "hi"}))
        error = json.loads(await ws.recv())
        assert error["code"] == "unauthorized" and error["id"] == "m1"
        await ws.send(json.dumps({"type": "hello"}))
        assert json.loads(await ws.recv())["type"] == "welcome"


async def test_a_flood_is_rate_limited_then_closed_with_1008(shared_server: Server) -> None:
    client = await visitor(shared_server)
    for _ in range(100):
        await client.ws.send(json.dumps({"type": "typing", "on": True}))
    codes = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = json.loads(await asyncio.wait_for(client.ws.recv(), 5))
            codes.append(frame.get("code"))
    assert "rate_limited" in codes
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_short_burst_over_the_rate_gets_rate_limited_but_stays_open(
    shared_server: Server, clients: list
) -> None:
    client = await visitor(shared_server)
    clients.append(client)
    for _ in range(25):  # burst is 20
        await client.ws.send(json.dumps({"type": "typing", "on": True}))
    error = await client.expect("error")
    assert error["code"] == "rate_limited"
    await asyncio.sleep(1.2)  # the bucket refills at 5 frames per second
    await still_works(client, shared_server)


async def test_a_socket_that_never_says_hello_is_closed_after_the_hello_timeout(
        tmp_path) -> None:
    """An opened socket that sends nothing (or anything but frames) holds a slot: after
    limits.hello_timeout_seconds it is closed with 1008 and why; one that said hello in time
    is not, and stays open past that deadline."""
    server = Server(tmp_path, CHATSERVER_LIMITS_HELLO_TIMEOUT_SECONDS="1.0").start()
    try:
        greeted = await visitor(server)
        async with connect(server.ws + "/ws/visitor") as silent:
            started = asyncio.get_running_loop().time()
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(silent.recv(), 10)
            waited = asyncio.get_running_loop().time() - started
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "hello" in closed.value.rcvd.reason and 0.8 <= waited < 5
        ack = await greeted.request("message", text="still here after the deadline")
        assert ack["type"] == "ack"
        await greeted.ws.close()
    finally:
        server.stop()
