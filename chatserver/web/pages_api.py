"""The small JSON APIs behind the console and admin pages: the supervisor's overview, the
team (users, skills, capacity, roles, passwords) and a knowledge-base version diff.

Every endpoint goes through `auth.require`: role, same origin and the session's CSRF token for
anything that changes state. Validation errors answer 422 {error, field, message}.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver import accounts
from chatserver.core import staff_preferences
from chatserver.core.errors import NotFound
from chatserver.passwords import MAX_PASSWORD, MIN_PASSWORD, hash_password, verify_password
from chatserver.privacy import audit
from chatserver.service.event_frames import skills_from_json
from chatserver.store.store import Conn, Row
from knowledge_base.model import EntryError, diff, validate

from . import http_fields
from .auth import ROLES, require
from .catalogue import N_
from .kb_api import invalid, json_body

if TYPE_CHECKING:
    from .hub import Hub

STAFF = ("agent", "supervisor", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")
SKILL = re.compile(r"^[a-z0-9][a-z0-9:_-]{0,39}$")


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


# --- the supervisor's live overview --------------------------------------------------------


async def supervisor_overview(request: Request) -> Response:
    """Queue (total, longest wait, by skill), every agent's status and load, open chats."""
    await require(request, "supervisor", "admin")
    hub = hub_of(request)
    service = hub.service
    now = service.clock()
    waiting, oldest = await service.router.waiting_summary(now / 1000)
    # From the log, not the router: the same answer whichever backend routes.
    queued = await hub.store.fetchall(
        "SELECT c.id, e.payload, e.ts_ms FROM conversations c JOIN events e "
        "ON e.conversation_id = c.id AND e.seq = (SELECT max(seq) FROM events "
        "WHERE conversation_id = c.id AND type = 'queued') WHERE c.state = 'queued'", ())
    by_skill: dict[str, list[float]] = {}
    for chat in queued:
        need = json.loads(chat["payload"])
        keys = [*need.get("skills", ()), *([f"lang:{need['language']}"]
                                           if need.get("language") else [])]
        for key in keys or ["any"]:
            by_skill.setdefault(key, []).append(max(0.0, (now - chat["ts_ms"]) / 1000))
    rows = await hub.store.fetchall(
        "SELECT c.id, c.state, c.agent_id, c.last_seq, c.language, c.topic, c.created_ms, "
        "c.updated_ms, v.name AS visitor_name FROM conversations c "
        "LEFT JOIN visitors v ON v.id = c.visitor_id "
        "WHERE c.state != 'closed' ORDER BY c.created_ms", ())
    chats_of: dict[int, list[str]] = {}
    loads: dict[int, int] = {}  # active chats plus pending offers, as routing counts them
    for row in rows:
        if row["agent_id"] is not None and row["state"] in ("assigned", "offered"):
            loads[int(row["agent_id"])] = loads.get(int(row["agent_id"]), 0) + 1
            if row["state"] == "assigned":
                chats_of.setdefault(int(row["agent_id"]), []).append(row["id"])
    agents = []
    for profile in sorted(service.agents.values(), key=lambda a: a.display_name.lower()):
        connected = hub.registry.agent_online(profile.id)
        agents.append({
            "id": profile.id, "username": profile.username,
            "display_name": profile.display_name, "role": profile.role,
            "status": profile.status if connected else "offline",
            "skills": profile.skills, "capacity": profile.capacity,
            "load": loads.get(profile.id, 0),
            "chats": chats_of.get(profile.id, []),
        })
    # Flagged: the agent holding it was nudged for silence and has not written since (the
    # `silent` event after the last `assigned` and the last agent line).
    silent = await hub.store.fetchall(
        "SELECT e.conversation_id, e.ts_ms, e.payload FROM events e JOIN conversations c "
        "ON c.id = e.conversation_id WHERE c.state = 'assigned' AND e.type = 'silent' "
        "AND e.seq > (SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = c.id "
        "AND (type = 'assigned' OR (type = 'message' AND author LIKE 'agent:%')))", ())
    silent_since = {r["conversation_id"]: r["ts_ms"] - 1000 * int(
        json.loads(r["payload"]).get("waited_seconds", 0)) for r in silent}
    names = {a.id: a.display_name for a in service.agents.values()}
    return JSONResponse({
        "now_ms": now,
        "queue": {"waiting": waiting, "oldest_wait_seconds": round(oldest),
                  "by_skill": [{"skill": k, "waiting": len(v), "oldest_wait_seconds":
                                round(max(v))} for k, v in sorted(by_skill.items())]},
        "agents": agents,
        "conversations": [{
            "id": r["id"], "state": r["state"], "agent_id": r["agent_id"],
            "agent": names.get(r["agent_id"]) if r["agent_id"] is not None else None,
            "visitor_name": r["visitor_name"] or "", "language": r["language"],
            "topic": r["topic"], "last_seq": r["last_seq"], "created_ms": r["created_ms"],
            "updated_ms": r["updated_ms"], "silent_since_ms": silent_since.get(r["id"])}
            for r in rows],
    }, headers={"cache-control": "no-store"})


async def agents_directory(request: Request) -> Response:
    """Who a chat can be transferred to: connected colleagues and the skills on the team."""
    await require(request, *STAFF)
    hub = hub_of(request)
    agents = [{"id": a.id, "display_name": a.display_name, "status": a.status
               if hub.registry.agent_online(a.id) else "offline", "skills": sorted(a.skills)}
              for a in hub.service.agents.values() if a.role in STAFF]
    skills: set[str] = set()
    for row in await hub.store.users():
        skills.update(skills_from_json(row["skills"]))
    return JSONResponse({"agents": sorted(agents, key=lambda a: a["display_name"].lower()),
                         "skills": sorted(skills)}, headers={"cache-control": "no-store"})


# --- the team ------------------------------------------------------------------------------


def user_json(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "username": row["username"], "display_name": row["display_name"],
            "role": row["role"], "skills": skills_from_json(row["skills"]),
            "capacity": row["capacity"], "disabled": bool(row["disabled"])}


def _check_user_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validated user fields from a request body; raises EntryError naming the bad field."""
    out: dict[str, Any] = {}
    if "username" in body or not partial:
        name = body.get("username")
        if not isinstance(name, str) or not USERNAME.match(name):
            raise EntryError("username", "2-32 letters, digits, '.', '_' or '-'")
        out["username"] = name
    if "display_name" in body or not partial:
        shown = body.get("display_name") or (None if partial else out.get("username"))
        if not isinstance(shown, str) or not 1 <= len(shown.strip()) <= 80:
            raise EntryError("display_name", "must be 1-80 characters")
        out["display_name"] = shown.strip()
    if "role" in body or not partial:
        if body.get("role") not in ROLES:
            raise EntryError("role", "must be agent, supervisor or admin")
        out["role"] = body["role"]
    if "skills" in body or not partial:
        skills = body.get("skills", {})
        if not isinstance(skills, dict) or len(skills) > 40 or not all(
                isinstance(k, str) and SKILL.match(k) and isinstance(v, int)
                and not isinstance(v, bool) and 1 <= v <= 10 for k, v in skills.items()):
            raise EntryError("skills", "use skill:level pairs such as lang:en:5, billing:3 "
                             "(levels 1-10, lower-case names)")
        out["skills"] = skills
    if "capacity" in body or not partial:
        capacity = body.get("capacity", 3)
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 50:
            raise EntryError("capacity", "must be a whole number from 1 to 50")
        out["capacity"] = capacity
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise EntryError("disabled", "must be true or false")
        out["disabled"] = body["disabled"]
    return out


def _check_password(value: object, field: str = "password") -> str:
    if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise EntryError(field, f"must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    return value


async def list_users(request: Request) -> Response:
    await require(request, "admin")
    rows = await hub_of(request).store.users()
    return JSONResponse({"users": [user_json(r) for r in rows]})


async def create_user(request: Request) -> Response:
    me = await require(request, "admin")
    hub = hub_of(request)
    body = await json_body(request)
    try:
        fields = _check_user_fields(body, partial=False)
        password = _check_password(body.get("password"))
    except EntryError as e:
        return invalid(e)
    if await hub.store.user_by_name(fields["username"]) is not None:
        return invalid(EntryError("username", "is already taken"))
    user_id = await hub.store.add_user(
        fields["username"], role=fields["role"], password_hash=hash_password(password),
        display_name=fields["display_name"], skills=fields["skills"],
        capacity=fields["capacity"], now_ms=hub.service.clock())
    row = await hub.store.user(user_id)
    assert row is not None
    await audit.record(hub.store, me, "user.create", f"user:{user_id}",
                       {"username": fields["username"], "role": fields["role"]},
                       audit.address_of(request))
    return JSONResponse(user_json(row), status_code=201)


async def update_user(request: Request) -> Response:
    """Edit a user; a connected agent sees the change at once. Disabling logs them out."""
    me = await require(request, "admin")
    hub = hub_of(request)
    user_id = http_fields.row_id(request, "user_id", "user")
    if await hub.store.user(user_id) is None:
        raise NotFound("no such user")
    body = await json_body(request)
    try:
        fields = _check_user_fields({k: v for k, v in body.items() if k != "username"},
                                    partial=True)
    except EntryError as e:
        return invalid(e)
    if user_id == me["id"] and (fields.get("disabled") or fields.get("role", "admin")
                                != "admin"):
        return invalid(EntryError("role", "you cannot demote or disable yourself"))
    if "skills" in fields:
        fields["skills"] = json.dumps(fields["skills"])
    if "disabled" in fields:
        fields["disabled"] = int(fields["disabled"])
    if fields:
        # Column names come from the fixed set _check_user_fields returns, never from input.
        assignments = ", ".join(f"{name} = ?" for name in fields)
        sql = f"UPDATE users SET {assignments} WHERE id = ?"  # noqa: S608

        def job(conn: Conn) -> None:
            conn.execute(sql, (*fields.values(), user_id))
            if fields.get("disabled"):
                conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

        await hub.store.write(job)
    row = await hub.store.user(user_id)
    assert row is not None
    await hub.service.update_profile(row)
    await audit.record(hub.store, me, "user.update", f"user:{user_id}",
                       {"username": row["username"], "changed": fields},
                       audit.address_of(request))
    return JSONResponse(user_json(row))


async def reset_password(request: Request) -> Response:
    """An admin sets a new password for someone; every session of theirs ends."""
    me = await require(request, "admin")
    hub = hub_of(request)
    user_id = http_fields.row_id(request, "user_id", "user")
    if await hub.store.user(user_id) is None:
        raise NotFound("no such user")
    try:
        password = _check_password((await json_body(request)).get("password"))
    except EntryError as e:
        return invalid(e)
    await accounts.set_password(hub.store, user_id, password)
    await audit.record(hub.store, me, "user.password", f"user:{user_id}", {"reset": True},
                       audit.address_of(request))
    return Response(status_code=204)


async def change_own_password(request: Request) -> Response:
    """The owner changes their password (knowing the current one); other sessions end."""
    me = await require(request, *STAFF)
    hub = hub_of(request)
    body = await json_body(request)
    current = body.get("current_password")
    if not isinstance(current, str) or not verify_password(current, me["password_hash"]):
        return invalid(EntryError("current_password", N_("is not your current password")))
    try:
        password = _check_password(body.get("new_password"), "new_password")
    except EntryError as e:
        return invalid(e)
    if secrets.compare_digest(password.encode(), current.encode()):
        return invalid(EntryError("new_password", N_("must differ from the current one")))
    await accounts.set_password(hub.store, int(me["id"]), password,
                                keep_session=me["session_id"])
    await audit.record(hub.store, me, "user.password", f"user:{me['id']}", {"own": True},
                       audit.address_of(request))
    return Response(status_code=204)


async def own_preferences(request: Request) -> Response:
    """The owner's language and alert switches, as the console reads them at load."""
    me = await require(request, *STAFF)
    return JSONResponse({"language": me["language"],
                         "alerts": staff_preferences.alerts(me["preferences"])})


async def set_own_preferences(request: Request) -> Response:
    """The owner's language for the pages and alert switches; the reply is what is stored."""
    me = await require(request, *STAFF)
    hub = hub_of(request)
    try:
        language, stored = staff_preferences.changes(await json_body(request),
                                                     me["preferences"])
    except staff_preferences.PreferenceError as e:
        return invalid(EntryError(e.field, e.message))
    await hub.store.set_preferences(int(me["id"]), language, stored)
    return JSONResponse({"language": me["language"] if language is None else language,
                         "alerts": staff_preferences.alerts(stored)})


# --- knowledge base: what changed between two versions ------------------------------------


async def kb_diff(request: Request) -> Response:
    """`?from=A&to=B`: field-level changes between two stored versions of an entry."""
    await require(request, "admin")
    hub = hub_of(request)
    entry_id = http_fields.row_id(request, "entry_id", "entry")
    params = http_fields.query(request)
    try:
        old_v, new_v = (int(params[k]) for k in ("from", "to"))
    except (KeyError, ValueError):
        return invalid(EntryError("from", "give ?from=VERSION&to=VERSION"))
    versions = {v["version"]: v["entry"] for v in await hub.kb.history(entry_id)}
    if old_v not in versions or new_v not in versions:
        raise NotFound(f"entry {entry_id} has no such version")
    changes = diff(validate(versions[old_v]), validate(versions[new_v]))
    return JSONResponse({"from": old_v, "to": new_v, "changes": [
        {"field": c.field, "old": c.old, "new": c.new, "lines": list(c.lines)}
        for c in changes]})


# --- messages visitors left while nobody could answer ---------------------------------------


async def offline_messages(request: Request) -> Response:
    """The ones still to answer, oldest first (they have waited longest)."""
    await require(request, *STAFF)
    rows = await hub_of(request).store.fetchall(
        "SELECT id, email, text, language, page_url, created_ms FROM offline_messages "
        "WHERE handled_ms IS NULL ORDER BY created_ms LIMIT 200", ())
    return JSONResponse({"messages": [dict(r) for r in rows]},
                        headers={"cache-control": "no-store"})


async def offline_message_answered(request: Request) -> Response:
    """Someone replied by email: take it off everyone's list, noting who and when."""
    user = await require(request, *STAFF)
    hub = hub_of(request)
    message_id = http_fields.row_id(request, "message_id", "message")
    now = hub.service.clock()

    def job(conn: Conn) -> int:
        return conn.execute(
            "UPDATE offline_messages SET handled_by = ?, handled_ms = ? "
            "WHERE id = ? AND handled_ms IS NULL", (user["id"], now, message_id)).rowcount

    if await hub.store.write(job) == 0:
        exists = await hub.store.fetchone("SELECT 1 FROM offline_messages WHERE id = ?",
                                          (message_id,))
        if exists is None:
            raise NotFound("no such message")
    return JSONResponse({"id": message_id, "handled": True})


routes = [
    Route("/api/offline-messages", offline_messages, methods=["GET"]),
    Route("/api/offline-messages/{message_id:int}/answered", offline_message_answered,
          methods=["POST"]),
    Route("/api/supervisor/overview", supervisor_overview, methods=["GET"]),
    Route("/api/agents", agents_directory, methods=["GET"]),
    Route("/api/users", list_users, methods=["GET"]),
    Route("/api/users", create_user, methods=["POST"]),
    Route("/api/users/{user_id:int}", update_user, methods=["PUT", "PATCH"]),
    Route("/api/users/{user_id:int}/password", reset_password, methods=["POST"]),
    Route("/api/account/password", change_own_password, methods=["POST"]),
    Route("/api/account/preferences", own_preferences, methods=["GET"]),
    Route("/api/account/preferences", set_own_preferences, methods=["POST"]),
    Route("/api/kb/{entry_id:int}/diff", kb_diff, methods=["GET"]),
]
