"""Labels over HTTP: the list admins manage (`/api/labels`), a chat's labels
(`/api/conversations/{id}/labels`, for staff labelling a closed chat from history or search),
and the admin page `/admin/labels`.

A deleted label is hidden from new use but stays on the chats that carry it, so reports of
past periods still count it: `deleted` is a flag, never a row removed. Every change an admin
makes goes to the audit log; a label put on a chat is an event in the chat's own log instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatserver.core.errors import NotFound
from chatserver.core.labels import LabelError, clean_colour, clean_name, name_key
from chatserver.privacy import audit
from chatserver.service.labelling import Staff, label_json
from chatserver.store.store import Conn

from . import http_fields
from .auth import require
from .kb_api import json_body
from .openapi import OBJECT, Param, api

if TYPE_CHECKING:
    from .hub import Hub

STAFF = ("agent", "supervisor", "admin")
_COLUMNS = "id, name, colour, deleted"


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def invalid(error: LabelError) -> Response:
    return JSONResponse({"error": "invalid", "field": error.field, "message": error.message},
                        status_code=422)


TAKEN = LabelError("name", "another label has this name")
_TAKEN_SQL = "SELECT 1 FROM labels WHERE name_key = ? AND deleted = 0 AND id <> ?"


def _name_taken(conn: Conn, key: str, label_id: int | None) -> bool:
    """Another label in use has this name_key (core/labels.name_key: what the unique index
    is on, so this check and the index agree on both backends)."""
    return conn.execute(_TAKEN_SQL, (key, label_id or 0)).fetchone() is not None


@api("Every label in use (`?all=1`: deleted ones too)", scope="read",
     params=(Param("all", "1 to list deleted labels too"),))
async def list_labels(request: Request) -> Response:
    """Every label in use by name; `?all=1` adds deleted ones (still on old chats)."""
    await require(request, *STAFF)
    every = http_fields.query(request).get("all") == "1"
    rows = await hub_of(request).store.fetchall(
        f"SELECT {_COLUMNS} FROM labels"  # noqa: S608 (fixed column list)
        + ("" if every else " WHERE deleted = 0") + " ORDER BY lower(name), id")
    return JSONResponse({"labels": [label_json(r) for r in rows]},
                        headers={"cache-control": "no-store"})


@api("Add a label", scope="admin", body=OBJECT, status=201,
     responses={422: "A field is not valid (named)"})
async def create_label(request: Request) -> Response:
    me = await require(request, "admin")
    hub = hub_of(request)
    body = await json_body(request)
    try:
        name, colour = clean_name(body.get("name")), clean_colour(body.get("colour"))
    except LabelError as e:
        return invalid(e)
    now, key = hub.service.clock(), name_key(name)

    def job(conn: Conn) -> int | None:
        if _name_taken(conn, key, None):
            return None
        row = conn.execute(  # ON CONFLICT: another process took the name since the check
            "INSERT INTO labels (name, name_key, colour, created_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING id", (name, key, colour, now)).fetchone()
        return None if row is None else int(row[0])

    label_id = await hub.store.write(job)
    if label_id is None:
        return invalid(TAKEN)
    await audit.record(hub.store, me, "label.create", f"label:{label_id}",
                       {"name": name, "colour": colour}, audit.address_of(request))
    row = await hub.store.fetchone(f"SELECT {_COLUMNS} FROM labels WHERE id = ?",  # noqa: S608
                                   (label_id,))
    return JSONResponse(label_json(row), status_code=201)


async def _live_label(hub: Hub, label_id: int) -> Any:
    row = await hub.store.fetchone(
        f"SELECT {_COLUMNS} FROM labels WHERE id = ? AND deleted = 0",  # noqa: S608
        (label_id,))
    if row is None:
        raise NotFound("no such label")
    return row


@api("Rename or recolour a label", scope="admin", body=OBJECT,
     responses={422: "A field is not valid (named)"})
async def update_label(request: Request) -> Response:
    """Rename or recolour. Chats keep the label (by id); their logs keep the old name as
    it was when put on, and reports show the current one."""
    me = await require(request, "admin")
    hub = hub_of(request)
    label_id = http_fields.row_id(request, "label_id", "label")
    old = await _live_label(hub, label_id)
    body = await json_body(request)
    try:
        name = clean_name(body["name"]) if "name" in body else old["name"]
        colour = clean_colour(body["colour"]) if "colour" in body else old["colour"]
    except LabelError as e:
        return invalid(e)
    key = name_key(name)

    def job(conn: Conn) -> bool:
        if _name_taken(conn, key, label_id):
            return False
        conn.execute("UPDATE labels SET name = ?, name_key = ?, colour = ? WHERE id = ?",
                     (name, key, colour, label_id))
        return True

    try:
        renamed = await hub.store.write(job)
    except hub.store.backend.errors:
        # The unique index refused it: another process took the name since the check.
        if not await hub.store.fetchone(_TAKEN_SQL, (key, label_id)):
            raise
        renamed = False
    if not renamed:
        return invalid(TAKEN)
    changed = {k: v for k, v in (("name", name), ("colour", colour)) if v != old[k]}
    await audit.record(hub.store, me, "label.update", f"label:{label_id}",
                       {"name": name, "changed": changed}, audit.address_of(request))
    return JSONResponse(label_json(await _live_label(hub, label_id)))


@api("Delete a label (it stays on the chats that carry it)", scope="admin", status=204)
async def delete_label(request: Request) -> Response:
    """Hidden from new use; kept on the chats that carry it, for their reports."""
    me = await require(request, "admin")
    hub = hub_of(request)
    label_id = http_fields.row_id(request, "label_id", "label")
    old = await _live_label(hub, label_id)
    await hub.store.write(lambda conn: conn.execute(
        "UPDATE labels SET deleted = 1 WHERE id = ?", (label_id,)))
    await audit.record(hub.store, me, "label.delete", f"label:{label_id}",
                       {"name": old["name"]}, audit.address_of(request))
    return Response(status_code=204)


def _staff(user: Any) -> Staff:
    return Staff(int(user["id"]), str(user["role"]), str(user["display_name"]))


@api("The labels on a conversation", scope="read")
async def conversation_labels(request: Request) -> Response:
    user = await require(request, *STAFF)
    cid = http_fields.path_id(request, "conversation_id", "conversation")
    labels = await hub_of(request).service.labels_of(_staff(user), cid)
    return JSONResponse({"conversation_id": cid, "labels": labels},
                        headers={"cache-control": "no-store"})


@api("Put a label on a conversation or take it off", scope="write",
     body={"type": "object", "required": ["label_id", "on"], "properties": {
         "label_id": {"type": "integer"}, "on": {"type": "boolean"}}})
async def set_conversation_label(request: Request) -> Response:
    """`{label_id, on}`: the same change as the agent socket's `label` frame, for a chat
    that is closed (or open in another tab); answers the chat's labels after it."""
    user = await require(request, *STAFF)
    hub = hub_of(request)
    cid = http_fields.path_id(request, "conversation_id", "conversation")
    body = await json_body(request)
    label_id, on = body.get("label_id"), body.get("on")
    if not isinstance(label_id, int) or isinstance(label_id, bool) or not (
            1 <= label_id <= 2**53):
        return invalid(LabelError("label_id", "must be a label's id"))
    if not isinstance(on, bool):
        return invalid(LabelError("on", "must be true or false"))
    staff = _staff(user)
    outcome = await hub.service.set_label(staff, cid, label_id, on, None)
    return JSONResponse({"conversation_id": cid, "changed": not outcome.ack.get("unchanged"),
                         "seq": outcome.ack.get("seq"),
                         "labels": await hub.service.labels_of(staff, cid)})


routes: list[BaseRoute] = [
    Route("/api/labels", list_labels, methods=["GET"]),
    Route("/api/labels", create_label, methods=["POST"]),
    Route("/api/labels/{label_id:int}", update_label, methods=["PATCH", "PUT"]),
    Route("/api/labels/{label_id:int}", delete_label, methods=["DELETE"]),
    Route("/api/conversations/{conversation_id}/labels", conversation_labels,
          methods=["GET"]),
    Route("/api/conversations/{conversation_id}/labels", set_conversation_label,
          methods=["POST"]),
]
