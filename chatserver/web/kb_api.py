"""The knowledge-base HTTP API. Reading is for every logged-in user (agents use it to assist);
changing is for admins, with the session's CSRF token. Errors name the field at fault."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.core.errors import BadFrame, BadJSON, TooLarge
from chatserver.privacy import audit
from knowledge_base import formats
from knowledge_base.markdown import to_plain_text
from knowledge_base.model import Entry, EntryError

from . import http_fields
from .auth import require
from .catalogue import N_
from .openapi import OBJECT, Param, api

if TYPE_CHECKING:
    from .hub import Hub

MAX_BODY = formats.MAX_BYTES  # an import file is the largest thing anyone posts here
STAFF = ("agent", "supervisor", "admin")


def entry_json(entry: Entry) -> dict[str, Any]:
    return entry.to_dict()


async def read_body(request: Request, limit: int = 256 * 1024) -> bytes:
    """The request body, refusing more than `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is larger than {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"request body is larger than {limit} bytes")
    return body


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object whose every string keeps the clients' rule (no lone
    surrogate, no control character but tab, LF and CR; see http_fields.py)."""
    try:
        data = json.loads(await read_body(request))
    except (ValueError, UnicodeDecodeError):
        raise BadFrame(N_("body must be a JSON object")) from None
    except RecursionError:  # thousands of brackets: the parser runs out of stack
        raise BadJSON("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadFrame(N_("body must be a JSON object"))
    _refuse_hostile_strings(data)
    return data


def _refuse_hostile_strings(body: dict[str, Any]) -> None:
    """Raise BadFrame naming a field (`questions[1]`, `skills.x`) that breaks the rule.
    A loop, not recursion: the body may be nested as deep as the parser allowed."""
    pending: list[tuple[str, object]] = list(body.items())
    while pending:
        path, value = pending.pop()
        if problem := http_fields.refused([(path, value)]):
            raise BadFrame(problem)
        if isinstance(value, dict):
            pending.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def invalid(error: EntryError) -> Response:
    return JSONResponse({"error": "invalid", "field": error.field, "message": error.message},
                        status_code=422)


def _id(request: Request) -> int:
    return http_fields.row_id(request, "entry_id", "entry")


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def _audit(request: Request, user: Any, action: str, entry: Entry, **extra: Any) -> None:
    await audit.record(hub_of(request).store, user, action, f"kb:{entry.id}",
                       {"version": entry.version, "title": entry.title, **extra},
                       audit.address_of(request))


@api("List knowledge-base entries", scope="read", params=(
    Param("status", "draft or published"), Param("language", "a language tag such as en"),
    Param("q", "words in the question or answer")))
async def list_entries(request: Request) -> Response:
    await require(request, *STAFF)
    params = http_fields.query(request)
    status = params.get("status")
    if status not in (None, "draft", "published"):
        raise BadFrame("status must be draft or published")
    entries = await hub_of(request).kb.entries(
        language=params.get("language") or None, status=status, query=params.get("q"))
    return JSONResponse({"entries": [entry_json(e) for e in entries]})


@api("Read one entry", scope="read")
async def get_entry(request: Request) -> Response:
    """The entry, and its answer as the bot's line shows it in plain text (`answer_text`):
    what the console's Insert puts in a reply, since an agent's line is not Markdown."""
    await require(request, *STAFF)
    entry = await hub_of(request).kb.get(_id(request))
    return JSONResponse({**entry_json(entry), "answer_text": to_plain_text(entry.answer)})


@api("Create an entry (a draft unless published)", scope="admin", body=OBJECT, status=201,
     responses={422: "A field is not valid (named)"})
async def create_entry(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    try:
        entry = await hub.kb.create(await json_body(request), user["id"], hub.service.clock())
    except EntryError as e:
        return invalid(e)
    await _audit(request, user, "kb.create", entry)
    return JSONResponse(entry_json(entry), status_code=201)


@api("Change an entry (a new version)", scope="admin", body=OBJECT,
     responses={422: "A field is not valid (named)"})
async def update_entry(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    try:
        entry = await hub.kb.update(_id(request), await json_body(request), user["id"],
                                    hub.service.clock())
    except EntryError as e:
        return invalid(e)
    await _audit(request, user, "kb.update", entry)
    return JSONResponse(entry_json(entry))


@api("Publish an entry: the bot answers with it", scope="admin")
async def publish_entry(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    entry = await hub.kb.publish(_id(request), user["id"], hub.service.clock())
    await _audit(request, user, "kb.publish", entry)
    return JSONResponse(entry_json(entry))


@api("Delete an entry", scope="admin", status=204)
async def delete_entry(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    await hub.kb.delete(_id(request), user["id"], hub.service.clock())
    await audit.record(hub.store, user, "kb.delete", f"kb:{_id(request)}", {},
                       audit.address_of(request))
    return Response(status_code=204)


@api("Every version of an entry (earlier drafts and their editors)", scope="admin")
async def entry_history(request: Request) -> Response:
    await require(request, "admin")
    return JSONResponse({"versions": await hub_of(request).kb.history(_id(request))})


@api("Restore an earlier version as the newest", scope="admin",
     body={"type": "object", "required": ["version"],
           "properties": {"version": {"type": "integer"}}})
async def restore_entry(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    body = await json_body(request)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return invalid(EntryError("version", "must be a version number from the history"))
    entry = await hub.kb.restore(_id(request), version, user["id"], hub.service.clock())
    await _audit(request, user, "kb.restore", entry, restored_version=version)
    return JSONResponse(entry_json(entry))


@api("Import entries from JSON or CSV: all or nothing", scope="admin",
     params=(Param("format", "json or csv"),), body=OBJECT, status=201,
     responses={422: "The file has problems (each listed); nothing was stored"})
async def import_entries(request: Request) -> Response:
    """`?format=json|csv`; the whole file is checked first and nothing is stored on any error."""
    user = await require(request, "admin")
    hub = hub_of(request)
    kind = http_fields.query(request).get("format", "json")
    if kind not in ("json", "csv"):
        raise BadFrame("format must be json or csv")
    body = await read_body(request, MAX_BODY)
    try:
        entries = formats.import_json(body) if kind == "json" else formats.import_csv(body)
    except formats.ImportFailed as failed:
        return JSONResponse({"error": "import_failed", "message": str(failed),
                             "problems": [{"line": p.line, "field": p.field,
                                           "message": p.message} for p in failed.errors]},
                            status_code=422)
    stored = await hub.kb.import_entries(entries, user["id"], hub.service.clock())
    await audit.record(hub.store, user, "kb.import", "kb", {"format": kind,
                       "entries": len(stored)}, audit.address_of(request))
    return JSONResponse({"imported": len(stored), "ids": [e.id for e in stored]},
                        status_code=201)


@api("Export every entry as JSON or CSV", scope="admin",
     params=(Param("format", "json or csv"),), response_type="application/octet-stream")
async def export_entries(request: Request) -> Response:
    user = await require(request, "admin")
    kind = http_fields.query(request).get("format", "json")
    entries = await hub_of(request).kb.entries()
    await audit.record(hub_of(request).store, user, "kb.export", "kb",
                       {"format": kind, "entries": len(entries)}, audit.address_of(request))
    if kind == "csv":
        return Response(formats.export_csv(entries), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="kb.csv"'})
    if kind != "json":
        raise BadFrame("format must be json or csv")
    return Response(formats.export_json(entries), media_type="application/json",
                    headers={"content-disposition": 'attachment; filename="kb.json"'})


async def try_bot(request: Request) -> Response:
    """What the bot would do with a question: ranked entries, scores, the decision."""
    await require(request, *STAFF)
    body = await json_body(request)
    text, language = body.get("text"), body.get("language", "en")
    if not isinstance(text, str) or not text.strip() or len(text) > 2000:
        return invalid(EntryError("text", "must be a question of 1-2000 characters"))
    if not isinstance(language, str) or not language:
        return invalid(EntryError("language", "must be a language tag such as 'en'"))
    hub = hub_of(request)
    if hub.embeddings is not None:  # the re-ranker's vector, encoded off the event loop
        await hub.embeddings.prepare(text)
    decision = hub.bot.decide(text, language)
    answer = hub.kb.answers.get(decision.entry_id, ("", ""))[1] if decision.entry_id else None
    if decision.action == "smalltalk":  # the small-talk entry's reply, its {name} left out
        answer = decision.answer
    return JSONResponse({
        "decision": decision.action, "reason": decision.reason, "skill": decision.skill,
        "answer": answer,
        "matches": [{"entry_id": m.entry_id, "title": m.title, "score": round(m.score, 4)}
                    for m in hub.bot.search(text, language, k=10)],
    })


routes = [
    Route("/api/kb", list_entries, methods=["GET"]),
    Route("/api/kb", create_entry, methods=["POST"]),
    Route("/api/kb/import", import_entries, methods=["POST"]),
    Route("/api/kb/export", export_entries, methods=["GET"]),
    Route("/api/kb/try", try_bot, methods=["POST"]),
    Route("/api/kb/{entry_id:int}", get_entry, methods=["GET"]),
    Route("/api/kb/{entry_id:int}", update_entry, methods=["PUT", "PATCH"]),
    Route("/api/kb/{entry_id:int}", delete_entry, methods=["DELETE"]),
    Route("/api/kb/{entry_id:int}/publish", publish_entry, methods=["POST"]),
    Route("/api/kb/{entry_id:int}/history", entry_history, methods=["GET"]),
    Route("/api/kb/{entry_id:int}/restore", restore_entry, methods=["POST"]),
]
