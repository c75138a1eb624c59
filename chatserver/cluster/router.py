"""The router the conversation service drives: one async interface, two backends.

`LocalRouter` wraps the pure in-memory `Board` (one process, the default). `RedisRouter`
(redis_router.py) keeps the same state in Redis, changed only by atomic Lua scripts, so several
processes share one queue. The service awaits these methods and never knows which it has.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

from chatserver.core.routing import Needs, Offer, RoutingRules
from chatserver.core.routing_board import Board, ExpireResult


class Router(Protocol):
    rules: RoutingRules

    async def upsert_agent(self, agent_id: int, *, capacity: int, skills: Mapping[str, int],
                           now: float, status: str | None = None) -> list[Offer]: ...
    async def set_status(self, agent_id: int, status: str, now: float) -> list[Offer]: ...
    async def agent_disconnected(self, agent_id: int, now: float) -> list[Offer]: ...
    async def agent_reconnected(self, agent_id: int, now: float) -> None: ...
    async def grace_expired(self, now: float) -> list[str]: ...
    async def enqueue(self, conversation_id: str, needs: Needs, priority: int, now: float, *,
                      at_head: bool = False, since: float | None = None,
                      excluded: Mapping[int, float] | None = None) -> None: ...
    async def restore_assigned(self, conversation_id: str, agent_id: int, needs: Needs,
                               priority: int, now: float) -> None: ...
    async def dispatch(self, now: float) -> list[Offer]: ...
    async def accept(self, conversation_id: str, agent_id: int, now: float) -> None: ...
    async def decline(self, conversation_id: str, agent_id: int, now: float) -> None: ...
    async def expire(self, now: float) -> ExpireResult: ...
    async def release(self, conversation_id: str, now: float) -> None: ...
    async def transfer(self, conversation_id: str, now: float, *, to_agent: int | None = None,
                       to_skill: str | None = None) -> None: ...
    async def withdraw(self, conversation_id: str, now: float | None = None
                       ) -> Offer | None: ...
    async def queue_status(self, now: float) -> dict[str, tuple[int, float | None]]: ...
    async def reroute_silent(self, conversation_id: str, now: float, *, since: float,
                             excluded: Mapping[int, float] | None = None) -> ExpireResult: ...
    async def servable_needs(self, needs: Needs, *, exclude: Collection[int] = ()) -> bool: ...
    async def returning_status(self, agent_id: int, now: float) -> str: ...
    async def waiting_summary(self, now: float) -> tuple[int, float]: ...
    def next_wakeup(self) -> float | None: ...


class LocalRouter:
    """The Board behind the async interface: every call is immediate, in this process."""

    def __init__(self, rules: RoutingRules) -> None:
        self.board = Board(rules)
        self.rules = self.board.rules

    async def upsert_agent(self, agent_id: int, *, capacity: int, skills: Mapping[str, int],
                           now: float, status: str | None = None) -> list[Offer]:
        return self.board.upsert_agent(agent_id, capacity=capacity, skills=skills, now=now,
                                       status=status)

    async def set_status(self, agent_id: int, status: str, now: float) -> list[Offer]:
        return self.board.set_status(agent_id, status, now)

    async def agent_disconnected(self, agent_id: int, now: float) -> list[Offer]:
        return self.board.agent_disconnected(agent_id, now)

    async def agent_reconnected(self, agent_id: int, now: float) -> None:
        self.board.agent_reconnected(agent_id, now)

    async def grace_expired(self, now: float) -> list[str]:
        return self.board.grace_expired(now)

    async def enqueue(self, conversation_id: str, needs: Needs, priority: int, now: float, *,
                      at_head: bool = False, since: float | None = None,
                      excluded: Mapping[int, float] | None = None) -> None:
        self.board.enqueue(conversation_id, needs, priority, now, at_head=at_head, since=since,
                           excluded=excluded)

    async def restore_assigned(self, conversation_id: str, agent_id: int, needs: Needs,
                               priority: int, now: float) -> None:
        self.board.restore_assigned(conversation_id, agent_id, needs, priority, now)

    async def dispatch(self, now: float) -> list[Offer]:
        return self.board.dispatch(now)

    async def accept(self, conversation_id: str, agent_id: int, now: float) -> None:
        self.board.accept(conversation_id, agent_id, now)

    async def decline(self, conversation_id: str, agent_id: int, now: float) -> None:
        self.board.decline(conversation_id, agent_id, now)

    async def expire(self, now: float) -> ExpireResult:
        return self.board.expire(now)

    async def release(self, conversation_id: str, now: float) -> None:
        self.board.release(conversation_id, now)

    async def transfer(self, conversation_id: str, now: float, *, to_agent: int | None = None,
                       to_skill: str | None = None) -> None:
        self.board.transfer(conversation_id, now, to_agent=to_agent, to_skill=to_skill)

    async def withdraw(self, conversation_id: str, now: float | None = None) -> Offer | None:
        return self.board.withdraw(conversation_id, now)

    async def queue_status(self, now: float) -> dict[str, tuple[int, float | None]]:
        return self.board.queue_status(now)

    async def reroute_silent(self, conversation_id: str, now: float, *, since: float,
                             excluded: Mapping[int, float] | None = None) -> ExpireResult:
        return self.board.reroute_silent(conversation_id, now, since=since, excluded=excluded)

    async def servable_needs(self, needs: Needs, *, exclude: Collection[int] = ()) -> bool:
        return self.board.servable_needs(needs, exclude=exclude)

    async def returning_status(self, agent_id: int, now: float) -> str:
        return self.board.returning_status(agent_id, now)

    async def waiting_summary(self, now: float) -> tuple[int, float]:
        return self.board.waiting_summary(now)

    def next_wakeup(self) -> float | None:
        return self.board.next_wakeup()
