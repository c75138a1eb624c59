"""The audit log's page: every admin action, newest first, in the reader's language.

An entry is stored in the server's words (`kb.create`, `{"version": 3}`); here each action,
target kind and detail key gets a msgid the template translates, and numbers and times are left
for the page script to write in the page language (Persian digits and calendar for fa). Values
people typed (titles, usernames, names) are shown as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from chatserver.privacy import audit

from . import http_fields
from .catalogue import N_

# Entries shown per page of the audit log: a screenful to scan, "Older entries" for more.
AUDIT_PAGE = 100

# The filter's choices: each group's prefix (which lists the whole group), its name, and its
# actions with what each means to a reader. An action missing here shows as its code.
GROUPS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("kb.", N_("Knowledge base"), (
        ("kb.create", N_("Entry created")), ("kb.update", N_("Entry edited")),
        ("kb.publish", N_("Entry published")), ("kb.delete", N_("Entry deleted")),
        ("kb.restore", N_("Entry restored")), ("kb.import", N_("Entries imported")),
        ("kb.export", N_("Entries exported")), ("kb.learn.approve", N_("Phrasing approved")),
        ("kb.learn.reject", N_("Phrasing rejected")))),
    ("user.", N_("Team"), (
        ("user.create", N_("Person added")), ("user.update", N_("Person changed")),
        ("user.password", N_("Password set")))),
    ("label.", N_("Labels"), (
        ("label.create", N_("Label added")), ("label.update", N_("Label changed")),
        ("label.delete", N_("Label deleted")))),
    ("canned.", N_("Team canned responses"), (
        ("canned.create", N_("Canned response added")),
        ("canned.update", N_("Canned response changed")),
        ("canned.delete", N_("Canned response deleted")),
        ("canned.restore", N_("Canned response restored")))),
    ("webhook.", N_("Webhooks"), (
        ("webhook.create", N_("Webhook added")),
        ("webhook.update", N_("Webhook changed")),
        ("webhook.enable", N_("Webhook enabled")),
        ("webhook.disable", N_("Webhook disabled")),
        ("webhook.secret", N_("Webhook secret replaced")),
        ("webhook.delete", N_("Webhook deleted")))),
    ("privacy.", N_("Visitors' data"), (
        ("privacy.export", N_("Visitor's data exported")),
        ("privacy.erase", N_("Visitor's data erased")))),
    ("retention.", N_("Data retention"), (
        ("retention.purge", N_("Old data purged")),)),
    ("token.", N_("API tokens"), (
        ("token.create", N_("API token created")), ("token.revoke", N_("API token revoked")))),
    ("supervisor.", N_("Supervision"), (
        ("supervisor.whisper", N_("Whisper to an agent")),
        ("supervisor.take_over", N_("Chat taken over")))),
)
ACTIONS = {code: label for _prefix, _group, actions in GROUPS for code, label in actions}
# What a target's prefix names; privacy entries name the visitor by id alone.
TARGETS = {"kb": N_("Entry"), "user": N_("Person"), "label": N_("Label"),
           "canned": N_("Canned response"), "webhook": N_("Webhook"), "token": N_("API token"),
           "conversation": N_("Chat")}
WHOLE_KB = N_("the whole knowledge base")
VISITOR = N_("Visitor")
SERVER = N_("the server")
DETAILS = {
    "version": N_("version"), "restored_version": N_("restored version"), "title": N_("title"),
    "format": N_("format"), "entries": N_("entries"), "proposal": N_("proposal"),
    "edited": N_("edited first"), "username": N_("username"), "display_name": N_("display name"),
    "role": N_("role"), "skills": N_("skills"), "capacity": N_("capacity"),
    "disabled": N_("disabled"), "changed": N_("changed"), "reset": N_("reset by an admin"),
    "own": N_("by themselves"), "name": N_("name"), "colour": N_("colour"),
    "shortcut": N_("shortcut"), "conversation_id": N_("chat"), "to_agent": N_("to agent"),
    "from_agent": N_("from agent"), "conversations": N_("chats"), "events": N_("chat events"),
    "events_scrubbed": N_("chat events scrubbed"), "offline_messages": N_("offline messages"),
    "kb_proposals": N_("proposed phrasings"), "attachments": N_("files"),
    "visitor_id": N_("visitor"), "profile": N_("profile"), "erased_ms": N_("erased at"),
    "message_texts": N_("message texts"), "proposal_texts": N_("phrasing texts"),
    "visitors_anonymised": N_("visitors anonymised"),
    "visitors_deleted": N_("visitors deleted"), "presence_rows": N_("status changes"),
    "cutoffs_ms": N_("cut-off times"), "message_text": N_("message texts"),
    "offline_message": N_("offline messages"), "visitor_profile": N_("visitors' names"),
    "presence": N_("status changes"), "mails": N_("e-mails"), "sent_mail": N_("e-mails"),
    "url": N_("URL"), "event_types": N_("event types"),
    "description": N_("description"),
    "scopes": N_("scopes"), "prefix": N_("token id"),
}
YES, NO = N_("yes"), N_("no")
# Values that are one of the server's own words, shown translated.
WORDS = {"role": {"agent": N_("agent"), "supervisor": N_("supervisor"), "admin": N_("admin")}}
FLAGS = frozenset({"disabled", "edited", "reset", "own", "profile"})


@dataclass(frozen=True)
class Detail:
    """One `key: value` of an entry's detail, as the template shows it.

    kind: "msgid" (value is a msgid), "number", "time" (value in ms), "code" (left to right,
    as written), "text" (what a person typed), "group" (children: a nested object)."""

    label: str
    known: bool  # label is a msgid, else the server's own key shown as it is
    kind: str
    value: Any = None
    children: tuple[Detail, ...] = ()

    @property
    def iso(self) -> str:
        """A "time" value as the page's `<time datetime>` wants it."""
        return iso(self.value)

    @property
    def utc(self) -> str:
        """A "time" value in digits, until the page script writes it in the page language."""
        return utc(self.value)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def detail(key: str, value: Any, *, times: bool = False) -> Detail:
    """`times`: the value is a moment in ms (a key ending in _ms, or inside one)."""
    label, known = DETAILS.get(key, key), key in DETAILS
    times = times or key.endswith("_ms")
    if isinstance(value, Mapping):
        return Detail(label, known, "group", children=tuple(
            detail(str(k), v, times=times) for k, v in value.items()))
    if isinstance(value, bool) or (key in FLAGS and isinstance(value, int)):
        return Detail(label, known, "msgid", YES if value else NO)
    if isinstance(value, (int, float)):
        return Detail(label, known, "time" if times else "number", value)
    if isinstance(value, str) and value in WORDS.get(key, {}):
        return Detail(label, known, "msgid", WORDS[key][value])
    if isinstance(value, str):
        return Detail(label, known, "code" if key in ("format", "skills", "shortcut",
                                                      "conversation_id", "visitor_id",
                                                      "colour") else "text", value)
    return Detail(label, known, "code", json.dumps(value, ensure_ascii=False))


def target(action: str, text: str) -> dict[str, Any]:
    """The record an entry is about: a msgid naming its kind, and its id (numeric or not)."""
    kind, sep, ident = text.partition(":")
    if text == "kb":
        return {"label": WHOLE_KB, "id": "", "number": False}
    if sep and kind in TARGETS:
        return {"label": TARGETS[kind], "id": ident, "number": ident.isdigit()}
    if action.startswith("privacy.") and text:
        return {"label": VISITOR, "id": text, "number": False}
    return {"label": None, "id": text, "number": False}


def row(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {**entry, "iso": iso(entry["ts_ms"]), "when": utc(entry["ts_ms"]),
            "who": None if entry["username"] == audit.SYSTEM else entry["username"],
            "action_label": ACTIONS.get(entry["action"]),
            "target": target(entry["action"], entry["target"]),
            "details": [detail(str(k), v) for k, v in entry["detail"].items()]}


async def context(request: Request) -> dict[str, Any]:
    """What audit.html shows for this request's filter: `?action=` (an action or a group's
    prefix), `?user=`, and `?before=` (an entry id) to page back."""
    params = http_fields.query(request)
    action = params.get("action", "")
    found = await audit.entries(
        request.app.state.hub.store, action=action or None,
        username=params.get("user") or None,
        before_id=http_fields.whole_number(params, "before"), limit=AUDIT_PAGE)
    known = action == "" or action in ACTIONS or any(action == g[0] for g in GROUPS)
    return {"entries": [row(e) for e in found], "action": action, "groups": GROUPS,
            "other_action": None if known else action, "username": params.get("user", ""),
            "server_name": SERVER,
            "next_before": found[-1]["id"] if len(found) == AUDIT_PAGE else None}
