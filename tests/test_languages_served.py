"""Which languages an agent serves, said where it matters: the CLI, the welcome's
`agents_online`, the offline message, and the README's own example agent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from .harness import ROOT, Client, Server, add_user, agent, visitor

pytestmark = pytest.mark.anyio


def cli(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATSERVER_STORAGE_PATH": str(db)}
    return subprocess.run([sys.executable, "-m", "chatserver", *args], input=stdin, env=env,
                          cwd=db.parent, capture_output=True, text=True, timeout=60)


def readme_example() -> tuple[str, str, list[str]]:
    """The README's `user add` example: (password, username, the options after the name)."""
    text = (ROOT / "README.md").read_text()
    found = re.search(r"echo '([^']+)' \| \.venv/bin/chatserver user add (\w+) (.*?)\n(.*?)\n",
                      text)
    assert found, "the README lost its `user add` example"
    password, name, first, second = found.groups()
    options = (first.rstrip("\\") + " " + second).split()
    return password, name, options


async def test_the_readme_example_agent_serves_the_first_english_visitor(
        tmp_path: Path, clients: list[Client]) -> None:
    password, name, options = readme_example()
    db = tmp_path / "chat.db"
    added = cli(db, "user", "add", name, *options, stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    srv = Server(tmp_path)
    srv.start()
    try:
        cookies = srv.login(name, password)
        ws = await connect(srv.ws + "/ws/agent", additional_headers={
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
        maryam = Client(ws)
        clients.append(maryam)
        await maryam.send({"type": "hello"})
        await maryam.expect("welcome")
        await maryam.send({"type": "status", "status": "online"})
        await maryam.expect("status")
        sara = await visitor(srv, name="Sara", language="en")
        clients.append(sara)
        assert sara.welcome["agents_online"] is True
        cid = (await sara.request("request_human"))["conversation_id"]
        offer = await maryam.expect("offer")
        assert offer["conversation"]["id"] == cid
    finally:
        srv.stop()
    assert re.search(r"serves: .*\ben\b", added.stdout), added.stdout


def test_user_add_and_list_say_which_languages_an_agent_serves(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    both = cli(db, "user", "add", "maryam", "--role", "agent", "--password-stdin",
               "--skills", "billing=4,lang:fa=5,lang:en=3", stdin="a good password\n")
    assert both.returncode == 0, both.stderr
    assert "serves: en, fa" in both.stdout
    none = cli(db, "user", "add", "sam", "--role", "agent", "--password-stdin",
               "--skills", "billing=4", stdin="a good password\n")
    assert none.returncode == 0, none.stderr
    assert "serves: only chats that name no language" in none.stdout
    assert "lang:" in none.stdout  # says how to fix it
    listing = cli(db, "user", "list").stdout
    assert "serves" in listing.splitlines()[0]
    rows = {row.split()[1]: row for row in listing.splitlines()[1:]}
    assert "en, fa" in rows["maryam"]
    assert "no language" in rows["sam"]


async def test_welcome_agents_online_means_someone_online_could_serve_this_visitor(
        tmp_path: Path, clients: list[Client]) -> None:
    # One relaxation step that never drops topics, so the pre-chat topic keeps counting.
    srv = Server(tmp_path, CHATSERVER_ROUTING_STEPS='[{"after_seconds": 0}]')
    srv.start()
    try:
        add_user(srv.db, "reza", skills={"lang:fa": 5, "billing": 4})
        reza = await agent(srv, "reza")
        clients.append(reza)

        async def agents_online(**hello: str) -> bool:
            v = await visitor(srv, **hello)
            clients.append(v)
            return bool(v.welcome["agents_online"])

        assert await agents_online(language="fa") is True
        assert await agents_online(language="fa-IR", topic="billing") is True
        assert await agents_online(language="en") is False  # nobody online reads English
        assert await agents_online(language="fa", topic="shipping") is False  # no shipping
        assert await agents_online() is True  # no language stated: anyone online
        await reza.send({"type": "status", "status": "away"})
        await reza.expect("status")
        assert await agents_online(language="fa") is False
    finally:
        srv.stop()


async def test_the_offline_message_says_when_nobody_online_speaks_the_language(
        server: Server, clients: list[Client]) -> None:
    add_user(server.db, "reza", skills={"lang:fa": 5})
    reza = await agent(server, "reza")
    clients.append(reza)
    for language, words in (("en", "speaks your language"), ("zh", "语言")):
        v = await visitor(server, name="Sara", language=language)
        clients.append(v)
        await v.request("request_human")
        assert (await v.expect("offline"))["reason"] == "no_agents"  # the wire stays v1
        line = await v.expect("message", where=lambda f: f["from"] == "system")
        assert words in line["text"], line["text"]
    await reza.send({"type": "status", "status": "away"})
    await reza.expect("status")
    v = await visitor(server, name="Sara", language="en")
    clients.append(v)
    await v.request("request_human")
    line = await v.expect("message", where=lambda f: f["from"] == "system")
    assert "No one who can help with this" in line["text"]  # nobody online at all
