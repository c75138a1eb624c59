"""The admin pages' words that come from the server: every validation message the knowledge-base
editor, the team and the labels pages can show is in the catalogue (or matched by one of
admin_text.js's patterns, for the ones carrying a number or a value), over real HTTP; and every
action the server writes to the audit log, and every count an erasure or a purge records, has a
name on the audit page."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from chatserver.privacy.data_rights import Erasure, export_counts
from chatserver.privacy.retention import PurgeReport
from chatserver.web import audit_view, catalogue

from .harness import Server, add_user
from .test_pages import Session

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TEXT = ROOT / "chatserver" / "web" / "static" / "admin_text.js"
PERSIAN = catalogue.messages("fa")


def js_patterns() -> list[re.Pattern[str]]:
    """admin_text.js's SERVER_PATTERNS, as Python reads them (the same simple syntax)."""
    found = [re.compile(p) for p in re.findall(r"\[/(\^.*?)/,", ADMIN_TEXT.read_text())]
    assert len(found) >= 10, "admin_text.js's patterns moved: read them where they are now"
    return found


@pytest.fixture(scope="module")
def admin(shared_server: Server) -> Session:
    add_user(shared_server.db, "words_admin", role="admin")
    return Session(shared_server, "words_admin")


ENTRY = {"title": "Gift wrap", "language": "en", "skill": None, "tags": [],
         "questions": ["do you gift wrap"], "answer": "Yes.", "status": "draft"}
# (method, path, body) -> the 4xx message is a msgid the catalogue translates.
FIXED = [
    ("POST", "/api/users", {"username": "x", "display_name": "X", "role": "agent",
                            "password": "long enough", "skills": {}, "capacity": 3}),
    ("POST", "/api/users", {"username": "wa_long", "display_name": "n" * 81, "role": "agent",
                            "password": "long enough", "skills": {}, "capacity": 3}),
    ("POST", "/api/users", {"username": "wa_boss", "display_name": "B", "role": "boss",
                            "password": "long enough", "skills": {}, "capacity": 3}),
    ("POST", "/api/users", {"username": "wa_sk", "display_name": "S", "role": "agent",
                            "password": "long enough", "skills": {"Bad Skill": 3},
                            "capacity": 3}),
    ("POST", "/api/users", {"username": "wa_cap", "display_name": "C", "role": "agent",
                            "password": "long enough", "skills": {}, "capacity": 99}),
    ("POST", "/api/users", {"username": "wa_pw", "display_name": "P", "role": "agent",
                            "password": "short", "skills": {}, "capacity": 3}),
    ("POST", "/api/users", {"username": "words_admin", "display_name": "P", "role": "agent",
                            "password": "long enough", "skills": {}, "capacity": 3}),
    ("POST", "/api/labels", {"name": "", "colour": "#1a73e8"}),
    ("POST", "/api/labels", {"name": 5, "colour": "#1a73e8"}),
    ("POST", "/api/labels", {"name": "Red", "colour": "red"}),
    ("POST", "/api/kb", {**ENTRY, "questions": []}),
    ("POST", "/api/kb", {**ENTRY, "answer": " "}),
    ("POST", "/api/kb", {**ENTRY, "tags": ["a;b"]}),
    ("POST", "/api/kb", {k: v for k, v in ENTRY.items() if k != "answer"}),
    ("POST", "/api/kb/try", {"text": "", "language": "en"}),
    ("POST", "/api/kb/proposals/1/approve", {"text": " "}),
]
# Messages with a number or a value in them: one of admin_text.js's patterns words each.
PATTERNED = [
    ("POST", "/api/kb", {**ENTRY, "title": "t" * 201}),
    ("POST", "/api/kb", {**ENTRY, "questions": [f"question {i}" for i in range(51)]}),
    ("POST", "/api/kb", {**ENTRY, "tags": [f"t{i}" for i in range(21)]}),
    ("POST", "/api/kb", {**ENTRY, "language": "english"}),
    ("POST", "/api/kb", {**ENTRY, "skill": "Bad Skill"}),
    ("POST", "/api/labels", {"name": "in\u200bvisible", "colour": "#1a73e8"}),
    ("GET", "/api/kb/999999", None),
]


@pytest.mark.parametrize(("method", "path", "body"), FIXED)
def test_a_fixed_validation_message_is_in_the_catalogue(admin: Session, method: str, path: str,
                                                        body: dict) -> None:
    response = admin.send(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    message = response.json()["message"]
    assert message in PERSIAN and PERSIAN[message] != message, message


@pytest.mark.parametrize(("method", "path", "body"), PATTERNED)
def test_a_message_with_values_is_matched_by_a_pattern(admin: Session, method: str, path: str,
                                                       body: dict | None) -> None:
    response = admin.send(method, path, json=body) if body is not None else admin.get(path)
    assert 400 <= response.status_code < 500, response.text
    message = response.json()["message"]
    assert any(p.search(message) for p in js_patterns()), message


# An import's problems: (format, file) -> each problem's message is translated or patterned.
IMPORTS = [
    ("json", b""),
    ("json", b"{not json"),
    ("json", b'{"version": 1, "entries": 5}'),
    ("json", json.dumps([{**ENTRY, "questions": ["same question"]},
                         {**ENTRY, "title": "Other", "questions": ["same question"]}]).encode()),
    ("json", json.dumps([{**ENTRY, "id": 7}, {**ENTRY, "id": 7, "questions": ["b"]}]).encode()),
    ("csv", b"title,title\n"),
    ("csv", b"title,colour\n"),
    ("csv", b"k,en,A,q,answer\n"),
    ("csv", b"entry_key,language,title,question,answer\nk,en,A,q\n"),
]


@pytest.mark.parametrize(("kind", "body"), IMPORTS)
def test_an_import_problem_is_translated_or_patterned(admin: Session, kind: str,
                                                      body: bytes) -> None:
    response = admin.send("POST", f"/api/kb/import?format={kind}", content=body)
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert problems
    for problem in problems:
        message = problem["message"]
        assert message in PERSIAN or any(p.search(message) for p in js_patterns()), message


def test_the_last_admin_cannot_demote_themselves_and_is_told_in_their_language(
        admin: Session) -> None:
    me = next(u for u in admin.get("/api/users").json()["users"]
              if u["username"] == "words_admin")
    for body in ({"role": "agent"}, {"disabled": "yes"}):
        response = admin.send("PUT", f"/api/users/{me['id']}", json=body)
        assert response.status_code == 422
        assert response.json()["message"] in PERSIAN


def test_a_taken_label_name_is_in_the_catalogue(admin: Session) -> None:
    green = "#00aa00"
    assert admin.send("POST", "/api/labels", json={"name": "Twice", "colour": green}) \
        .status_code == 201
    response = admin.send("POST", "/api/labels", json={"name": "twice", "colour": green})
    assert response.json()["message"] in PERSIAN


def test_every_audited_action_has_a_name() -> None:
    """Action names as the server writes them (a dotted string in a call), not file names."""
    written: set[str] = set()
    for path in (ROOT / "chatserver").rglob("*.py"):
        if path.name == "audit_view.py":
            continue
        written |= {m for m in re.findall(
            r'"((?:kb|user|label|canned|privacy|retention|supervisor)\.[a-z_.]+)"',
            path.read_text()) if not re.search(r"\.(html|csv|json)$|_ms$", m)}
    assert len(written) >= 20
    assert written - audit_view.ACTIONS.keys() == set()


def test_every_count_an_erasure_or_a_purge_records_has_a_name() -> None:
    keys = {f.name for f in dataclasses.fields(Erasure)} | {
        f.name for f in dataclasses.fields(PurgeReport) if f.name != "batches"}
    keys |= export_counts({"conversations": [], "offline_messages": [], "kb_proposals": []}).keys()
    assert keys - audit_view.DETAILS.keys() == set()


def test_details_are_named_nested_and_typed() -> None:
    row = audit_view.row({
        "id": 1, "ts_ms": 1_765_000_000_000, "user_id": None, "username": "system",
        "action": "retention.purge", "target": "", "address": "",
        "detail": {"message_texts": 3, "cutoffs_ms": {"presence": 1_764_000_000_000},
                   "profile": True, "surprise": [1]}})
    assert row["who"] is None and row["action_label"] == "Old data purged"
    texts, cutoffs, profile, surprise = row["details"]
    assert (texts.label, texts.kind, texts.value) == ("message texts", "number", 3)
    assert cutoffs.kind == "group" and cutoffs.children[0].kind == "time"
    assert cutoffs.children[0].iso == "2025-11-24T16:00:00Z"
    assert (profile.kind, profile.value) == ("msgid", "yes")
    assert (surprise.label, surprise.known, surprise.kind, surprise.value) == (
        "surprise", False, "code", "[1]")
    person = audit_view.row({
        "id": 2, "ts_ms": 0, "user_id": 1, "username": "root", "action": "user.update",
        "target": "user:7", "address": "", "detail": {"changed": {"role": "admin",
                                                                  "disabled": 0}}})
    assert person["target"] == {"label": "Person", "id": "7", "number": True}
    role, disabled = person["details"][0].children
    assert (role.kind, role.value) == ("msgid", "admin")
    assert (disabled.kind, disabled.value) == ("msgid", "no")
    assert audit_view.target("privacy.erase", "v_123")["label"] == "Visitor"
    assert audit_view.target("odd.thing", "x:1") == {"label": None, "id": "x:1", "number": False}
