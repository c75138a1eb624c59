"""Who is connected during a scenario: agents holding conversations with visitors (the chat
server), or the same number of plain sockets (the echo baseline).

Setting up is not measured. Agents log in over HTTP, go online and accept every offer; each
visitor says hello, asks for a person, and is ready once its `assigned` frame arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .servers import ChatServer, EchoServer
from .wsclient import WSConn, connect, connect_many

AGENT_CAPACITY = 50  # users.capacity is at most 50: 1,000 chats take 20 agents
_ids = itertools.count()


def new_id(prefix: str = "b") -> str:
    """A client frame id; unique within the run, and cheap."""
    return f"{prefix}{next(_ids)}"


@dataclass
class Visitor:
    conn: WSConn
    token: str = ""
    conversation_id: str = ""
    last_seq: int = 0
    assigned: asyncio.Event = field(default_factory=asyncio.Event)
    home: int = 0  # which server process of a cluster it is connected to


@dataclass
class Agent:
    conn: WSConn
    name: str
    conversations: list[str] = field(default_factory=list)
    home: int = 0


@dataclass
class ChatPopulation:
    server: ChatServer
    agents: list[Agent]
    supervisors: list[WSConn]
    visitors: list[Visitor]
    by_conversation: dict[str, tuple[Visitor, Agent]] = field(default_factory=dict)
    servers: list[ChatServer] = field(default_factory=list)  # all processes (a cluster)

    def pairs(self) -> list[tuple[Visitor, Agent]]:
        return list(self.by_conversation.values())


def agent_names(count: int, prefix: str = "agent") -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def prepare_chat(conversations: int, supervisors: int = 0,
                 extra_env: dict[str, str] | None = None,
                 min_agents: int = 1, db: str | None = None) -> tuple[ChatServer, int]:
    """A chat server with enough agents (speaking English, 50 chats each) for the load;
    `db`: a PostgreSQL database's URL (a fresh SQLite file by default)."""
    server = ChatServer(extra_env, db=db)
    n_agents = max(min_agents, -(-conversations // AGENT_CAPACITY))
    server.add_users(agent_names(n_agents), capacity=AGENT_CAPACITY, skills={"lang:en": 5})
    if supervisors:
        server.add_users(agent_names(supervisors, "super"), role="supervisor", capacity=1,
                         skills={"lang:en": 5})
    return server, n_agents


def _agent_frames(agent: Agent, accepted: Callable[[], None]) -> Any:
    """Setup-time handler: accept every offer at once; a chat is the agent's once the accept
    is acked (with several processes an offer can be lost to a race and go to someone else)."""
    accepting: dict[str, str] = {}  # accept frame id -> conversation id

    def handle(conn: WSConn, payload: bytes) -> None:
        if b'"type":"offer"' in payload:
            cid = json.loads(payload)["conversation"]["id"]
            frame_id = new_id("a")
            accepting[frame_id] = cid
            conn.send({"type": "accept", "id": frame_id, "conversation_id": cid})
        elif payload.startswith((b'{"type":"ack"', b'{"type":"error"')):
            frame = json.loads(payload)
            cid = accepting.pop(frame.get("id"), None)
            if cid is not None and frame["type"] == "ack":
                agent.conversations.append(cid)
                accepted()

    return handle


def _visitor_frames(visitor: Visitor) -> Any:
    def handle(conn: WSConn, payload: bytes) -> None:
        if b'"type":"assigned"' in payload:
            frame = json.loads(payload)
            visitor.last_seq = max(visitor.last_seq, frame["seq"])
            visitor.assigned.set()

    return handle


async def open_agent(server: ChatServer, name: str, *, online: bool) -> WSConn:
    cookie = await asyncio.to_thread(server.login, name)
    conn = await connect(server.port, "/ws/agent", {"Cookie": cookie})
    conn.send({"type": "hello"})
    await conn.expect("welcome")
    if online:
        conn.send({"type": "status", "status": "online"})
        await conn.expect("status")
    return conn


async def open_visitor(port: int, hello: dict[str, Any] | None = None) -> Visitor:
    conn = await connect(port, "/ws/visitor")
    conn.send({"type": "hello", "language": "en", **(hello or {})})
    welcome = await conn.expect("welcome", seconds=60)
    visitor = Visitor(conn, token=welcome["visitor_token"])
    if welcome["conversation"]:
        visitor.conversation_id = welcome["conversation"]["id"]
        visitor.last_seq = welcome["conversation"]["seq"] or 0
    return visitor


async def open_chat(server: ChatServer, conversations: int, n_agents: int, supervisors: int = 0,
                    deadline_seconds: float = 300.0,
                    spread: list[ChatServer] | None = None) -> ChatPopulation:
    """Agents online, then `conversations` visitors each assigned to one of them.

    `spread`: several processes of one service (`server` among them); agent i and visitor i
    connect to process i mod n, so each holds an equal share of both.
    """
    deadline = time.monotonic() + deadline_seconds
    hosts = spread or [server]
    agents = []
    all_accepted = asyncio.Event()  # the agents' acks may trail the visitors' news

    def accepted() -> None:
        if sum(len(a.conversations) for a in agents) >= conversations:
            all_accepted.set()

    for i, name in enumerate(agent_names(n_agents)):
        home = i % len(hosts)
        agent = Agent(await open_agent(hosts[home], name, online=True), name, home=home)
        agent.conn.handler = _agent_frames(agent, accepted)
        agents.append(agent)
    supers = [await open_agent(server, name, online=False)
              for name in agent_names(supervisors, "super")]
    for conn in supers:
        conn.handler = _ignore

    async def visitor(i: int) -> Visitor:
        v = await open_visitor(hosts[i % len(hosts)].port)
        v.home = i % len(hosts)
        v.conn.handler = _capture_ack(v, _visitor_frames(v))
        v.conn.send({"type": "request_human", "id": new_id("r")})
        return v

    visitors = await connect_many(conversations, visitor, concurrency=100, deadline=deadline)
    for v in visitors:
        await asyncio.wait_for(v.assigned.wait(), max(1.0, deadline - time.monotonic()))
    with contextlib.suppress(TimeoutError):  # fewer than all: reported just below
        await asyncio.wait_for(all_accepted.wait(), max(1.0, deadline - time.monotonic()))
    population = ChatPopulation(server, agents, supers, visitors, servers=list(hosts))
    by_id = {v.conversation_id: v for v in visitors}
    for agent in agents:
        for cid in agent.conversations:
            population.by_conversation[cid] = (by_id[cid], agent)
    if len(population.by_conversation) != conversations:
        raise RuntimeError(f"only {len(population.by_conversation)} of {conversations} "
                           "conversations were assigned")
    return population


def _capture_ack(visitor: Visitor, then: Any) -> Any:
    """Learn the conversation id from the request_human ack, then hand frames on."""

    def handle(conn: WSConn, payload: bytes) -> None:
        if not visitor.conversation_id and b'"type":"ack"' in payload:
            visitor.conversation_id = json.loads(payload)["conversation_id"]
        elif b'"type":"error"' in payload:
            raise RuntimeError(f"server refused a setup frame: {payload[:300]!r}")
        then(conn, payload)

    return handle


def _ignore(conn: WSConn, payload: bytes) -> None:
    pass


async def close_all(conns: list[WSConn]) -> None:
    for conn in conns:
        conn.abort()
    await asyncio.sleep(0)


@dataclass
class EchoPopulation:
    """Plain sockets to the echo server, paired like visitors and agents."""

    server: EchoServer
    conns: list[WSConn]


async def open_echo(server: EchoServer, count: int, path: str = "/ws/echo",
                    deadline_seconds: float = 120.0) -> EchoPopulation:
    conns = await connect_many(count, lambda i: connect(server.port, path), concurrency=100,
                               deadline=time.monotonic() + deadline_seconds)
    return EchoPopulation(server, conns)
