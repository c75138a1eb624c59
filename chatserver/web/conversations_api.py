"""Conversations for integrations (and staff): list them, read one, post a line, close.

Reading a transcript, searching, labels, the knowledge base and reports have their own
modules; this one adds what had only a socket before. Lines and closes go through the
service's `Integrations`, the same journal as a person's change (durable before the answer,
idempotent by the client id). Least privilege as elsewhere: an agent's session lists only
the chats assigned to them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatserver.core import api_tokens
from chatserver.core.conversation import State
from chatserver.core.errors import BadFrame, Forbidden, NotFound
from chatserver.service.integrations import Integrations
from chatserver.store.store import Row

from . import http_fields
from .auth import require
from .kb_api import json_body
from .openapi import Param, api

if TYPE_CHECKING:
    from .hub import Hub

STAFF = ("agent", "supervisor", "admin")
NO_STORE = {"cache-control": "no-store"}
STATES = tuple(s.value for s in State)
MAX_LIMIT, DEFAULT_LIMIT = 200, 50
_CURSOR = re.compile(r"(\d{1,15}):([A-Za-z0-9_-]{1,64})")  # created_ms:id of the last row
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # as the sockets' frame ids (core/frames.py)
MAX_AUTHOR = api_tokens.MAX_NAME

CONVERSATION = {"type": "object", "properties": {
    "id": {"type": "string"}, "visitor_id": {"type": "string"},
    "state": {"type": "string", "enum": list(STATES)},
    "agent_id": {"type": ["integer", "null"]}, "language": {"type": "string"},
    "topic": {"type": "string"}, "last_seq": {"type": "integer"},
    "created_ms": {"type": "integer"}, "updated_ms": {"type": "integer"},
    "closed_ms": {"type": ["integer", "null"]}, "resolved": {"type": ["boolean", "null"]},
    "rating": {"type": ["integer", "null"]}}}
ACK = {"type": "object", "properties": {
    "id": {"type": "string", "description": "the client id sent"},
    "conversation_id": {"type": "string"}, "seq": {"type": "integer"}}}
CLIENT_ID_FIELD = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description":
                   "your id for this request (a UUID): a retry with the same id changes "
                   "nothing twice and gets the same answer"}


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def conversation_json(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "visitor_id": row["visitor_id"], "state": row["state"],
            "agent_id": row["agent_id"], "language": row["language"], "topic": row["topic"],
            "last_seq": row["last_seq"], "created_ms": row["created_ms"],
            "updated_ms": row["updated_ms"], "closed_ms": row["closed_ms"],
            "resolved": None if row["resolved"] is None else bool(row["resolved"]),
            "rating": row["rating"]}


_SELECT = ("SELECT c.id, c.visitor_id, c.state, c.agent_id, c.language, c.topic, c.last_seq, "
           "c.created_ms, c.updated_ms, c.closed_ms, c.resolved, c.rating FROM conversations c "
           "JOIN visitors v ON v.id = c.visitor_id WHERE v.erased_ms IS NULL")


@api("List conversations, newest first, a page at a time", scope="read", params=(
    Param("state", "only conversations in this state", {"type": "string",
                                                        "enum": [*STATES, "open"]}),
    Param("visitor", "only this visitor's conversations"),
    Param("agent", "only those assigned (now or at their close) to this agent id",
          {"type": "integer"}),
    Param("since", "only those updated at or after this time (ms since 1970)",
          {"type": "integer"}),
    Param("limit", f"at most this many (1-{MAX_LIMIT}, {DEFAULT_LIMIT} by default)",
          {"type": "integer"}),
    Param("cursor", "the `next` of the previous page")),
    response={"type": "object", "properties": {
        "conversations": {"type": "array", "items": CONVERSATION},
        "next": {"type": ["string", "null"]}}})
async def list_conversations(request: Request) -> Response:
    """`?state=&visitor=&agent=&since=&limit=&cursor=`; `open` is every state but closed."""
    user = await require(request, *STAFF)
    params = http_fields.query(request)
    sql, args = _SELECT, []
    state = params.get("state") or None
    if state == "open":
        sql += " AND c.state != 'closed'"
    elif state is not None:
        if state not in STATES:
            raise BadFrame(f"state: one of {', '.join(STATES)} or open")
        sql, args = sql + " AND c.state = ?", [state]
    if params.get("visitor"):
        sql += " AND c.visitor_id = ?"
        args.append(params["visitor"])
    agent = http_fields.whole_number(params, "agent")
    if user["role"] == "agent":
        agent = int(user["id"])
    if agent is not None:
        sql += " AND c.agent_id = ?"
        args.append(agent)
    since = http_fields.whole_number(params, "since", 0, 2**53)
    if since is not None:
        sql += " AND c.updated_ms >= ?"
        args.append(since)
    limit = http_fields.whole_number(params, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    cursor = params.get("cursor")
    if cursor:
        found = _CURSOR.fullmatch(cursor)
        if found is None:
            raise BadFrame("cursor: give the `next` of the previous page")
        sql += " AND (c.created_ms < ? OR (c.created_ms = ? AND c.id < ?))"
        args += [int(found.group(1)), int(found.group(1)), found.group(2)]
    rows = await hub_of(request).store.fetchall(
        sql + " ORDER BY c.created_ms DESC, c.id DESC LIMIT ?", (*args, limit + 1))
    page = rows[:limit]
    after = (f"{page[-1]['created_ms']}:{page[-1]['id']}" if len(rows) > limit else None)
    return JSONResponse({"conversations": [conversation_json(r) for r in page],
                         "next": after}, headers=NO_STORE)


async def _visible(request: Request, user: Any, cid: str) -> Row:
    row = await hub_of(request).store.fetchone(_SELECT + " AND c.id = ?", (cid,))
    if row is None or (user["role"] == "agent" and row["agent_id"] != user["id"]):
        raise NotFound("no such conversation")
    return row


@api("Read one conversation (its transcript is /transcript)", scope="read",
     response=CONVERSATION)
async def get_conversation(request: Request) -> Response:
    user = await require(request, *STAFF)
    cid = http_fields.path_id(request, "conversation_id", "conversation")
    return JSONResponse(conversation_json(await _visible(request, user, cid)),
                        headers=NO_STORE)


def _token_of(user: Any) -> int:
    """The API token's row id: staff write and close from the console, as themselves."""
    if not isinstance(user, dict) or "token_id" not in user:
        raise Forbidden("this route takes an API token; staff use the console")
    return int(user["token_id"])


def _client_id(body: dict[str, Any]) -> str:
    value = body.get("id")
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise BadFrame("id: your id for this request, 1-64 letters, digits, - or _")
    return value


@api("Post a line the visitor sees, under the token's name (or `author`)", scope="write",
     body={"type": "object", "required": ["id", "text"], "properties": {
         "id": CLIENT_ID_FIELD, "text": {"type": "string", "minLength": 1},
         "author": {"type": "string", "maxLength": MAX_AUTHOR,
                    "description": "the name shown; the token's name by default"}}},
     response=ACK, status=201, responses={409: "The conversation is closed"})
async def post_message(request: Request) -> Response:
    """Stored before the answer; a retry with the same `id` sends nothing twice."""
    user = await require(request, "supervisor", "admin")
    token_id = _token_of(user)
    hub = hub_of(request)
    cid = http_fields.path_id(request, "conversation_id", "conversation")
    await _visible(request, user, cid)
    body = await json_body(request)
    client_id = _client_id(body)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or (
            len(text) > hub.config.limits.max_text_chars):
        raise BadFrame(f"text: 1-{hub.config.limits.max_text_chars} characters")
    try:  # the visitor reads it as the sender's name: no bidi override, nothing invisible
        author = api_tokens.clean_name(body.get("author", user["display_name"]), "author")
    except api_tokens.TokenFieldError as refused:
        raise BadFrame(f"author: {refused.message}") from None
    integrations: Integrations = request.app.state.integrations
    # Masked as an agent's line is (card numbers, and what [privacy] turns on).
    outcome = await integrations.post(cid, client_id, hub.redactor(text), author, token_id)
    return JSONResponse(_ack(outcome.ack), status_code=201)


def _ack(ack: dict[str, Any]) -> dict[str, Any]:
    return {"id": ack["id"], "conversation_id": ack["conversation_id"], "seq": ack.get("seq")}


@api("Close a conversation", scope="write", body={"type": "object", "required": ["id"],
     "properties": {"id": CLIENT_ID_FIELD, "resolved": {"type": "boolean"}}},
     response=ACK, responses={409: "The conversation is already closed"})
async def close_conversation(request: Request) -> Response:
    user = await require(request, "supervisor", "admin")
    _token_of(user)
    cid = http_fields.path_id(request, "conversation_id", "conversation")
    await _visible(request, user, cid)
    body = await json_body(request)
    client_id = _client_id(body)
    resolved = body.get("resolved")
    if resolved is not None and not isinstance(resolved, bool):
        raise BadFrame("resolved: true or false")
    integrations: Integrations = request.app.state.integrations
    outcome = await integrations.close(cid, client_id, resolved)
    return JSONResponse(_ack(outcome.ack))


routes: list[BaseRoute] = [
    Route("/api/conversations", list_conversations, methods=["GET"]),
    Route("/api/conversations/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/api/conversations/{conversation_id}/messages", post_message, methods=["POST"]),
    Route("/api/conversations/{conversation_id}/close", close_conversation, methods=["POST"]),
]
