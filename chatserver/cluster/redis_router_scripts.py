"""The RedisRouter's Lua scripts, read once from ``cluster/lua/*.lua`` when this is imported.

Every write to the shared routing state is one of these scripts. Each runs atomically inside
Redis (EVALSHA), so two server processes can never interleave halfway through a move: a
conversation is offered at most once, an agent is never filled past capacity, and an offer's
deadline lives in Redis where any process's ``expire`` finds it. The sources live in ``.lua``
files (shipped as package data) so they read, diff and lint as Lua rather than as Python strings.

Calling convention (all scripts): ``ARGV[1]`` the key prefix, ``ARGV[2]`` the routing rules as
JSON (see ``redis_router._rules_json``), ``ARGV[3]`` ``now`` (a Python float repr), then the
script's own arguments. Replies are arrays whose first element is ``"ok"`` or an error code the
Python side turns into the ``routing`` exception the in-memory Board raises.

Numbers: every float written to Redis goes through ``num`` (``%.17g``, which round-trips a
double exactly); Redis would otherwise print Lua numbers with 14 digits, and return them as
integers. Keys are documented once, at the top of ``redis_router.py``.
"""

from __future__ import annotations

from importlib import resources

# One file per script, named after the RedisRouter call that runs it; `common.lua` holds the
# shared helpers, prepended to every script (Redis has no modules between EVAL scripts).
NAMES = (
    "upsert_agent", "set_status", "agent_disconnected", "agent_reconnected", "grace_expired",
    "enqueue", "restore_assigned", "dispatch", "accept", "decline", "expire", "release",
    "transfer", "reroute_silent", "withdraw", "servable",
)


def _read(name: str) -> str:
    """The source of ``lua/<name>.lua``, from the installed package (wheel or editable)."""
    return (resources.files(__package__ or "chatserver.cluster") / "lua" / f"{name}.lua").read_text(
        encoding="utf-8")


COMMON: str = _read("common")
SCRIPTS: dict[str, str] = {name: _read(name) for name in NAMES}
