"""The routing state in Redis, so several server processes share one queue.

Same interface and semantics as ``LocalRouter`` (the in-memory ``Board``), but every write is one
atomic Lua script (``lua/*.lua``, read once by ``redis_router_scripts.py``, run by EVALSHA
through ``register_script``). No locks, leases or leader: Redis runs one script at a time, and
each script re-reads what it decides on, so two processes can never offer one conversation twice
or fill an agent past capacity. Offer deadlines and grace ends are absolute times stored in
Redis; whichever process runs ``expire``/``grace_expired`` next acts on them, so a process dying
mid-offer strands nothing.
``now`` always comes from the caller (tests inject time); Redis TIME is never used.

Keys (all under ``prefix``; the only place they are defined; ``<id>`` an agent id, ``<cid>`` a
conversation id; every one is changed only by the scripts unless said otherwise):

- ``seq``                 string  arrival counter: a fresh queue entry's ``seq`` (FIFO tie-break).
- ``ord``                 string  agent registration counter (grace rescue order, like the Board).
- ``agents``              zset    agent id -> registration ordinal: every known agent.
- ``agent:<id>``          hash    status, connected (1/0), capacity, skills (JSON skill->level),
                                  free_since, missed (offers let lapse in a row), grace_until,
                                  ord, free_ix/online_ix (1 while listed in the indexes below).
- ``agent:<id>:active``   set     conversation ids the agent holds (assigned).
- ``agent:<id>:pending``  set     conversation ids offered to the agent; load = both cardinalities.
- ``online``, ``online:<skill>``  sets  ids of agents online and connected (all / with the skill):
                                  the servable check and its per-skill candidates.
- ``free``, ``free:<skill>``      sets  ids of online agents below capacity (all / with the
                                  skill): dispatch's candidates, so it never scans every agent.
- ``grace``               zset    id -> grace end of a disconnected agent (``grace_expired``).
- ``conv:<cid>``          hash    state (queued|offered|assigned), needs (JSON {"skills":
                                  {skill: level}, "language": key}), priority, enq (enqueued_at),
                                  head (1/0), seq, score (queue score), target (pinned agent),
                                  x:<id> (excluded until), agent, expires (offer), since (held).
- ``queue:head``          zset    ``%016d:<cid>`` (seq, cid) -> enqueued_at - priority boost:
                                  rescued and transferred chats, served first.
- ``queue:main``          zset    the same for ordinary chats. Equal scores order by member, i.e.
                                  by seq: (band, score, seq) is exactly ``routing.queue_key``.
- ``queue:since``         zset    cid -> enqueued_at of every queued chat (longest wait).
- ``offers``              zset    cid -> offer deadline: what ``expire`` scans.
- ``handle``              list    recent handle times (seconds), capped at ``rules.eta_window``.
- ``version``             string  bumped whenever a match may have appeared (a chat entered the
                                  queue, an agent became free or changed skills).
- ``qout``                string  bumped whenever a chat leaves the queue (offered, withdrawn).
- ``idle``                hash    version, from, wake: dispatch's proof that no waiting chat
                                  matches while ``version`` holds and from <= now < wake
                                  (wake '' = never); written only by a complete queue scan.

Every process must run with the same ``RoutingRules`` (they travel with each script call).

One Redis, not Cluster: the scripts touch keys they compute (an agent's sets, a chat's hash),
which Cluster only tolerates when every key shares one hash slot; a prefix with a hash tag
(``"{chat}:"``) puts them there.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from chatserver.core import eta
from chatserver.core.routing import (
    OFFLINE,
    ONLINE,
    STATUSES,
    Agent,
    AlreadyRouted,
    Needs,
    NotAssigned,
    NotOffered,
    Offer,
    OfferExpired,
    RoutingError,
    RoutingRules,
    UnknownAgent,
    UnknownConversation,
    Waiting,
    current_requirements,
    online_servable,
    pinned,
    queue_key,
    requirements,
    returning_status,
)
from chatserver.core.routing_board import ExpireResult

from .redis_router_scripts import COMMON, SCRIPTS

# 500 chats per dispatch script: ~6 ms of Redis time to scan them (measured ~12 µs a chat),
# up to ~75 ms if every one becomes an offer (~0.15 ms each, a cold start), so other processes'
# accepts never wait long; dispatch loops over slices until the queue is covered.
DISPATCH_SLICE = 500
# 200 lapsed offers per expire script, for the same reason.
EXPIRE_BATCH = 200

_ERRORS: dict[str, Any] = {
    "not_offered": lambda cid, a: NotOffered(f"conversation {cid} is not offered to agent {a}"),
    "offer_expired": lambda cid, a: OfferExpired(f"offer of {cid} expired"),
    "not_assigned": lambda cid, a: NotAssigned(f"conversation {cid} is not assigned"),
    "already_routed": lambda cid, a: AlreadyRouted(f"conversation {cid} is already routed"),
    "unknown_agent": lambda cid, a: UnknownAgent(f"agent {a} is unknown"),
    "unknown_conversation": lambda cid, a: UnknownConversation(
        f"conversation {cid} is not queued or offered"),
    "same_agent": lambda cid, a: RoutingError("cannot transfer a chat to the agent holding it"),
}



def _text(value: Any) -> Any:
    """Replies as str whether or not the client decodes responses."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def _f(x: float) -> str:
    """A float as Redis and Lua parse it back exactly (repr round-trips a double)."""
    return repr(float(x))


def _needs_json(needs: Needs) -> str:
    doc: dict[str, Any] = {"skills": {k: int(v) for k, v in needs.skills.items()}}
    if needs.language is not None:
        doc["language"] = needs.language
    return json.dumps(doc, sort_keys=True)


def _needs(text: str) -> Needs:
    doc = json.loads(text)
    skills = doc.get("skills") or {}  # Lua's cjson writes an empty table as {} or []
    return Needs(dict(skills), doc.get("language"))


def _offers(flat: Sequence[str]) -> list[Offer]:
    return [Offer(flat[i], int(flat[i + 1]), float(flat[i + 2])) for i in range(0, len(flat), 3)]


def _rules_json(rules: RoutingRules) -> str:
    return json.dumps({
        "boost": rules.priority_boost_seconds,
        "boost_max": rules.priority_boost_max_seconds,
        "steps": [[s.after_seconds, -1 if s.level_cap is None else s.level_cap,
                   1 if s.drop_topics else 0] for s in rules.steps],
        "relax_language": rules.relax_language,
        "timeout": rules.offer_timeout_seconds,
        "max_missed": rules.max_missed_offers,
        "reoffer": rules.reoffer_after_seconds,
        "grace": rules.grace_seconds,
        "auto_accept": rules.auto_accept,
        "eta_window": rules.eta_window,
    })


class RedisRouter:
    """The Router interface over Redis; see the module docstring for keys and guarantees."""

    def __init__(self, client: Redis, rules: RoutingRules, prefix: str = "chat:") -> None:
        self.client = client
        self.rules = rules
        self.prefix = prefix
        self._rules = _rules_json(rules)
        self._scripts = {name: client.register_script(COMMON + body)
                         for name, body in SCRIPTS.items()}

    async def _run(self, name: str, now: float, *args: str | int,
                   context: tuple[str, int | str] = ("", "")) -> list[Any]:
        """Run one script; an error code becomes the exception the Board would raise."""
        reply = _text(await self._scripts[name](args=[self.prefix, self._rules, _f(now), *args]))
        if reply[0] != "ok":
            cid, agent = context
            raise _ERRORS[reply[0]](cid, reply[1] if reply[0] == "unknown_agent" else agent)
        return list(reply)

    # Agents -------------------------------------------------------------------------------

    async def upsert_agent(self, agent_id: int, *, capacity: int, skills: Mapping[str, int],
                           now: float, status: str | None = None) -> list[Offer]:
        """Add or update an agent's profile; a new agent starts offline unless told."""
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        skills_json = json.dumps({k: int(v) for k, v in skills.items()}, sort_keys=True)
        reply = await self._run("upsert_agent", now, str(agent_id), capacity, skills_json,
                                status or "")
        return _offers(reply[1])

    async def set_status(self, agent_id: int, status: str, now: float) -> list[Offer]:
        """Change presence; leaving ``online`` revokes pending offers (returned, re-queued)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return _offers((await self._run("set_status", now, str(agent_id), status))[1])

    async def agent_disconnected(self, agent_id: int, now: float) -> list[Offer]:
        """Socket dropped: pending offers revoked now; held chats wait ``grace_seconds``."""
        return _offers((await self._run("agent_disconnected", now, str(agent_id)))[1])

    async def agent_reconnected(self, agent_id: int, now: float) -> None:
        """Socket back within grace: the agent keeps their chats."""
        await self._run("agent_reconnected", now, str(agent_id))

    async def grace_expired(self, now: float) -> list[str]:
        """Chats of agents gone past grace, re-queued ahead of ordinary chats (returned)."""
        return list((await self._run("grace_expired", now))[1])

    # Conversations ------------------------------------------------------------------------

    async def enqueue(self, conversation_id: str, needs: Needs, priority: int, now: float, *,
                      at_head: bool = False, since: float | None = None,
                      excluded: Mapping[int, float] | None = None) -> None:
        """Queue a chat for a person; ``since`` keeps its old place after a restart and
        ``excluded`` (id -> until) its earlier silent agents away, as ``Board.enqueue``."""
        start = now if since is None else min(since, now)
        until = {str(a): _f(u) for a, u in (excluded or {}).items()}
        await self._run("enqueue", now, conversation_id, _needs_json(needs), int(priority),
                        _f(start), "1" if at_head else "0", json.dumps(until),
                        context=(conversation_id, ""))

    async def restore_assigned(self, conversation_id: str, agent_id: int, needs: Needs,
                               priority: int, now: float) -> None:
        """After a restart: an assigned chat comes back to its agent."""
        await self._run("restore_assigned", now, conversation_id, str(agent_id),
                        _needs_json(needs), int(priority), context=(conversation_id, agent_id))

    async def dispatch(self, now: float) -> list[Offer]:
        """New offers in queue order (slots reserved), one bounded script per queue slice.

        Each slice is atomic; between slices another process may route, which can only make
        this call skip or re-examine a chat (caught by the next dispatch), never double-offer.
        A desk where nothing changed since a full scan answers from the ``idle`` claim at once.
        """
        offers: list[Offer] = []
        offset, version, qout, wake = 0, "", "", ""
        while True:
            _, state, offset, flat, version, qout, wake = await self._run(
                "dispatch", now, offset, DISPATCH_SLICE, version, qout, wake, len(offers))
            offers.extend(_offers(flat))
            if state == "done":
                return offers

    async def accept(self, conversation_id: str, agent_id: int, now: float) -> None:
        """The agent takes the offered chat (``OfferExpired`` at or after the deadline)."""
        await self._run("accept", now, conversation_id, str(agent_id),
                        context=(conversation_id, agent_id))

    async def decline(self, conversation_id: str, agent_id: int, now: float) -> None:
        """The agent passes: back to its place, not offered to them for a while."""
        await self._run("decline", now, conversation_id, str(agent_id),
                        context=(conversation_id, agent_id))

    async def expire(self, now: float) -> ExpireResult:
        """Offers at or past their deadline (made by any process) go back; repeated misses set
        the agent away."""
        expired: list[Offer] = []
        revoked: list[Offer] = []
        away: list[int] = []
        while True:
            _, state, lapsed, gone, taken = await self._run("expire", now, EXPIRE_BATCH)
            expired.extend(_offers(lapsed))
            away.extend(int(a) for a in gone)
            for group in taken:
                revoked.extend(_offers(group))
            if state == "done":
                return ExpireResult(tuple(expired), tuple(revoked), tuple(away))

    async def release(self, conversation_id: str, now: float) -> None:
        """The chat closed: its slot frees and its handle time feeds the ETA."""
        await self._run("release", now, conversation_id, context=(conversation_id, ""))

    async def transfer(self, conversation_id: str, now: float, *, to_agent: int | None = None,
                       to_skill: str | None = None) -> None:
        """Back to the queue (ahead of ordinary chats) for another agent or skill."""
        if to_agent is not None and to_skill is not None:
            raise RoutingError("transfer to an agent or to a skill, not both")
        await self._run("transfer", now, conversation_id,
                        "" if to_agent is None else str(to_agent), to_skill or "",
                        context=(conversation_id, ""))

    async def reroute_silent(self, conversation_id: str, now: float, *, since: float,
                             excluded: Mapping[int, float] | None = None) -> ExpireResult:
        """A silent agent's chat to someone else, as ``Board.reroute_silent``."""
        until = {str(a): _f(u) for a, u in (excluded or {}).items()}
        _, away, revoked = await self._run("reroute_silent", now, conversation_id, _f(since),
                                           json.dumps(until), context=(conversation_id, ""))
        if away == "":
            return ExpireResult()
        return ExpireResult(revoked=tuple(_offers(revoked)), set_away=(int(away),))

    async def withdraw(self, conversation_id: str, now: float | None = None) -> Offer | None:
        """The visitor left before a person took it; returns a revoked offer. (``now``, the
        abandonment the board's ETA learns patience from, is not kept here yet.)"""
        reply = await self._run("withdraw", 0.0, conversation_id, context=(conversation_id, ""))
        return _offers(reply[1:])[0] if len(reply) > 1 else None

    # Queries ------------------------------------------------------------------------------

    async def queue_status(self, now: float) -> dict[str, tuple[int, float | None]]:
        """(position, ETA seconds) of every waiting chat, computed here from a snapshot read.

        Exactly the Board's definitions (``eta.queue_status``); the read is a pipeline, not a
        transaction, so under concurrent routing a chat may be counted a moment late.
        """
        waiting, agents, handle = await self._read(with_handle=True)
        online = [a for a in agents if a.status == ONLINE]
        h = eta.mean_handle_seconds(handle, self.rules.assumed_handle_seconds)
        pools = eta.Pools((a.id, a.capacity, a.skills) for a in online)
        servable = online_servable(online)
        cache: eta.LaterCache = {}
        chats = [(w.conversation_id, (current_requirements(w, now, self.rules, servable),
                                      pinned(w, now, self.rules, servable)),
                  eta.later_asks(w, now, self.rules, cache, servable))
                 for w in sorted(waiting, key=lambda w: queue_key(w, self.rules))]
        # Patience is not shared between processes (yet): the ETA here counts no abandonment.
        return eta.queue_status(chats, pools, h)

    async def servable_needs(self, needs: Needs, *, exclude: Collection[int] = ()) -> bool:
        """Whether anyone online (but ``exclude``) could serve these needs fully relaxed."""
        req = dict(requirements(needs, self.rules.steps[-1], self.rules))
        return bool((await self._run("servable", 0.0, json.dumps(req),
                                     json.dumps([str(a) for a in exclude])))[1])

    async def returning_status(self, agent_id: int, now: float) -> str:
        """The status a new socket of this agent starts with, on whichever process it lands
        (``routing.returning_status`` over the shared agent hash)."""
        status, connected, grace_until = _text(await self.client.hmget(
            self.prefix + f"agent:{agent_id}", "status", "connected", "grace_until"))
        return returning_status(status, connected == "1",
                                None if grace_until is None else float(grace_until), now)

    async def waiting_summary(self, now: float) -> tuple[int, float]:
        """(waiting count, longest wait in seconds) for the agents' queue snapshot."""
        p = self.prefix
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zcard(p + "queue:head")
            pipe.zcard(p + "queue:main")
            pipe.zrange(p + "queue:since", 0, 0, withscores=True)
            head, main, oldest = await pipe.execute()
        if not oldest:
            return 0, 0.0
        return head + main, now - float(oldest[0][1])

    def next_wakeup(self) -> float | None:
        """None: deadlines live in Redis and may be set by other processes, so the service
        ticks every second (expire, grace_expired, dispatch) instead of guessing."""
        return None

    # Reads for supervisors and tests (pipelines: consistent when the desk is quiet) --------

    async def snapshot(self) -> tuple[list[Waiting], list[Agent]]:
        """The plain data ``routing.choose`` takes, like ``Board.snapshot``."""
        waiting, agents, _ = await self._read()
        return waiting, agents

    async def offers(self) -> list[Offer]:
        """Outstanding offers."""
        p = self.prefix
        cids = _text(await self.client.zrange(p + "offers", 0, -1))
        async with self.client.pipeline(transaction=False) as pipe:
            for cid in cids:
                pipe.hmget(p + "conv:" + cid, "agent", "expires")
            rows = _text(await pipe.execute())
        return [Offer(cid, int(a), float(e)) for cid, (a, e) in zip(cids, rows, strict=True)
                if a is not None]

    async def assignments(self) -> dict[str, int]:
        """Assigned chats and their agents."""
        p = self.prefix
        ids = _text(await self.client.zrange(p + "agents", 0, -1))
        async with self.client.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.smembers(p + f"agent:{agent_id}:active")
            held = _text(await pipe.execute())
        return {_text(cid): int(a) for a, cids in zip(ids, held, strict=True) for cid in cids}

    async def reset(self) -> None:
        """Delete every key under this prefix (tests; a desk being decommissioned)."""
        pattern = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in self.prefix) + "*"
        batch: list[Any] = []
        async for key in self.client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self.client.unlink(*batch)
                batch.clear()
        if batch:
            await self.client.unlink(*batch)

    async def _read(self, *, with_handle: bool = False
                    ) -> tuple[list[Waiting], list[Agent], list[float]]:
        """Queue, agents (with loads) and handle times, in two pipelined round trips."""
        p = self.prefix
        async with self.client.pipeline(transaction=True) as pipe:
            for key in ("queue:head", "queue:main", "agents"):
                pipe.zrange(p + key, 0, -1)
            pipe.lrange(p + "handle", 0, -1)
            head, main, ids, handle = _text(await pipe.execute())
        cids = [m[17:] for m in head + main]
        async with self.client.pipeline(transaction=False) as pipe:
            for cid in cids:
                pipe.hgetall(p + "conv:" + cid)
            for agent_id in ids:
                pipe.hgetall(p + f"agent:{agent_id}")
                pipe.scard(p + f"agent:{agent_id}:active")
                pipe.scard(p + f"agent:{agent_id}:pending")
            rows = await pipe.execute()
        waiting = [_waiting(cid, _text_map(row)) for cid, row in zip(cids, rows, strict=False)
                   if row]
        agents = []
        for i, agent_id in enumerate(ids):
            row, active, pending = rows[len(cids) + 3 * i: len(cids) + 3 * i + 3]
            a = _text_map(row)
            agents.append(Agent(int(agent_id), a["status"] if a["connected"] == "1" else OFFLINE,
                                int(a["capacity"]), json.loads(a["skills"]) or {},
                                active + pending, float(a["free_since"])))
        return waiting, agents, [float(x) for x in handle] if with_handle else []


def _text_map(row: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in row.items()}


def _waiting(cid: str, c: dict[str, str]) -> Waiting:
    """A conversation hash as the ``routing.Waiting`` the Board would hold."""
    excluded = {int(k[2:]): float(v) for k, v in c.items() if k.startswith("x:")}
    return Waiting(cid, _needs(c["needs"]), int(c["priority"]), float(c["enq"]), c["head"] == "1",
                   int(c["seq"]), excluded, int(c["target"]) if "target" in c else None)
