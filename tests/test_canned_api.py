"""The canned-responses API against the real server: who reads and changes what, CSRF, every
field's refusal a clear 4xx naming the field (and a placeholder's the placeholder), a stale
edit a 409, history and restore, and the admins' changes to the team's set in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from .harness import Server, add_user, sql
from .test_kb_api import Session

NEW = {"shortcut": "late", "title": "Late parcel",
       "variants": {"en": "Sorry for the wait, {visitor.name}. Your reference is "
                          "{conversation.id}.",
                    "fa": "{visitor.name}، بابت تأخیر عذر می‌خواهیم."}}


@pytest.fixture(scope="module")
def people(shared_server: Server) -> Iterator[dict[str, Session]]:
    for name, role in (("croot", "admin"), ("cmaryam", "agent"), ("cli", "agent"),
                       ("csue", "supervisor")):
        add_user(shared_server.db, name, role=role)
    sessions = {name: Session(shared_server, name) for name in ("croot", "cmaryam", "cli",
                                                                "csue")}
    yield sessions
    for session in sessions.values():
        session.close()


def audit_rows(server: Server, target: str) -> list[tuple[str, dict]]:
    return [(action, json.loads(detail)) for action, detail in sql(
        server.db, "SELECT action, detail FROM audit_log WHERE target = ? ORDER BY id",
        (target,))]


def test_everyone_reads_the_seeded_team_set_with_what_the_console_needs(
        people: dict[str, Session]) -> None:
    listed = people["cmaryam"].get("/api/canned").json()
    assert {"hi", "bye", "refund"} <= {r["shortcut"] for r in listed["responses"]}
    assert all(r["scope"] == "team" for r in listed["responses"])
    assert listed["default_language"] == "en" and listed["name_fallback"]["fa"] == "دوست عزیز"
    assert "visitor.name" in listed["placeholders"]
    assert people["cmaryam"].get("/api/canned").headers["cache-control"] == "no-store"


def test_an_admin_changes_the_team_set_and_each_change_is_audited(
        shared_server: Server, people: dict[str, Session]) -> None:
    root = people["croot"]
    made = root.send("POST", "/api/canned", json={**NEW, "scope": "team"})
    assert made.status_code == 201, made.text
    response = made.json()
    rid, target = response["id"], f"canned:{response['id']}"
    assert response["scope"] == "team" and response["version"] == 1
    edited = root.send("PUT", f"/api/canned/{rid}", json={"title": "Parcel late", "version": 1})
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = root.send("PUT", f"/api/canned/{rid}", json={"title": "Mine", "version": 1})
    assert stale.status_code == 409 and "reload" in stale.json()["message"]
    history = root.get(f"/api/canned/{rid}/history").json()["versions"]
    assert [v["action"] for v in history] == ["update", "create"]
    assert history[0]["changed_by"] == "croot"
    restored = root.send("POST", f"/api/canned/{rid}/restore", json={"version": 1})
    assert restored.json()["title"] == "Late parcel" and restored.json()["version"] == 3
    assert root.send("DELETE", f"/api/canned/{rid}").status_code == 204
    assert root.get(f"/api/canned/{rid}").status_code == 404
    assert [(a, d["version"]) for a, d in audit_rows(shared_server, target)] == [
        ("canned.create", 1), ("canned.update", 2), ("canned.restore", 3),
        ("canned.delete", 4)]
    assert audit_rows(shared_server, target)[2][1]["restored_version"] == 1


def test_agents_keep_their_own_and_only_read_the_team_set(
        shared_server: Server, people: dict[str, Session]) -> None:
    maryam, li, root = people["cmaryam"], people["cli"], people["croot"]
    team = root.send("POST", "/api/canned", json={**NEW, "shortcut": "late2",
                                                  "scope": "team"}).json()
    for attempt in (maryam.send("POST", "/api/canned", json={**NEW, "scope": "team"}),
                    maryam.send("PUT", f"/api/canned/{team['id']}",
                                json={"title": "x", "version": 1}),
                    maryam.send("DELETE", f"/api/canned/{team['id']}"),
                    people["csue"].send("POST", f"/api/canned/{team['id']}/restore",
                                        json={"version": 1})):
        assert attempt.status_code == 403, attempt.text
    mine = maryam.send("POST", "/api/canned", json=NEW)  # personal unless it says team
    assert mine.status_code == 201 and mine.json()["scope"] == "personal"
    rid = mine.json()["id"]
    assert maryam.send("PUT", f"/api/canned/{rid}",
                       json={"variants": {"en": "Hi {visitor.first_name}"},
                             "version": 1}).json()["variants"] == {"en": "Hi {visitor.first_name}"}
    for other in (li, root):  # another's own is not there for anyone, admins included
        assert other.get(f"/api/canned/{rid}").status_code == 404
        assert other.get(f"/api/canned/{rid}/history").status_code == 404
        assert other.send("DELETE", f"/api/canned/{rid}").status_code == 404
        assert rid not in [r["id"] for r in other.get("/api/canned").json()["responses"]]
    listed = maryam.get("/api/canned", params={"q": "late"}).json()["responses"]
    assert listed[0]["id"] == rid and listed[0]["scope"] == "personal"  # own first
    assert [r["id"] for r in maryam.get("/api/canned",
                                        params={"scope": "personal"}).json()["responses"]] == [rid]
    assert audit_rows(shared_server, f"canned:{rid}") == []  # one's own is not audited


def test_changes_need_the_csrf_token_and_a_session(shared_server: Server,
                                                   people: dict[str, Session]) -> None:
    assert people["croot"].send("POST", "/api/canned", json=NEW, csrf=False).status_code == 403
    with httpx.Client(base_url=shared_server.url) as anonymous:
        assert anonymous.get("/api/canned").status_code == 401


@pytest.mark.parametrize(("body", "field", "placeholder"), [
    ({**NEW, "variants": {"fa": "سلام {visitor.nam}"}}, "variants.fa", "{visitor.nam}"),
    ({**NEW, "variants": {"en": "Hi {visitor_name}"}}, "variants.en", "{visitor_name}"),
    ({**NEW, "variants": {"en": "50% off {"}}, "variants.en", "{"),
    ({**NEW, "shortcut": "two words"}, "shortcut", None),
    ({**NEW, "shortcut": "x" * 33}, "shortcut", None),
    ({**NEW, "title": ""}, "title", None),
    ({**NEW, "title": "a\nb"}, "title", None),
    ({**NEW, "entry_id": 10**9}, "entry_id", None),
    ({**NEW, "entry_id": "1"}, "entry_id", None),
    ({**NEW, "variants": {"english": "Hi"}}, "variants", None),
    ({**NEW, "variants": {}}, "variants", None),
    ({**NEW, "variants": {"en": "x" * 4001}}, "variants.en", None),
    ({**NEW, "variants": {"en": "evil \u202e txt"}}, "variants.en", None),
    ({**NEW, "scope": "everyone"}, "scope", None),
    ({**NEW, "owner_id": 1}, "owner_id", None),
    ({"title": "t", "variants": {"en": "x"}}, "shortcut", None),
])
def test_each_invalid_field_is_a_422_naming_it(people: dict[str, Session], body: dict,
                                               field: str, placeholder: str | None) -> None:
    refused = people["cmaryam"].send("POST", "/api/canned", json=body)
    assert refused.status_code == 422, refused.text
    data = refused.json()
    assert data["field"] == field and data.get("placeholder") == placeholder
    if placeholder:
        assert placeholder in data["message"]


def test_a_taken_shortcut_a_bad_version_and_hostile_input_are_refused(
        people: dict[str, Session]) -> None:
    root = people["croot"]
    taken = root.send("POST", "/api/canned", json={**NEW, "shortcut": "HI", "scope": "team"})
    assert taken.status_code == 422 and taken.json()["field"] == "shortcut"
    hello = next(r for r in root.get("/api/canned").json()["responses"] if r["shortcut"] == "hi")
    for version in ("1", True, None):
        refused = root.send("PUT", f"/api/canned/{hello['id']}", json={"title": "x",
                                                                       "version": version})
        assert refused.status_code == 422 and refused.json()["field"] == "version"
    assert root.send("POST", f"/api/canned/{hello['id']}/restore",
                     json={"version": 0}).json()["field"] == "version"
    assert root.send("POST", f"/api/canned/{hello['id']}/restore",
                     json={"version": 99}).status_code == 404
    control = root.send("POST", "/api/canned", json={**NEW, "title": "a\u0000b"})
    assert control.status_code == 400 and "title" in control.json()["message"]
    assert root.send("POST", "/api/canned", content=b"[1]",
                     headers={"content-type": "application/json"}).status_code == 400
    assert root.get("/api/canned", params={"scope": "all"}).status_code == 400
    assert root.get("/api/canned", params={"q": "x" * 201}).status_code == 400
    assert root.get("/api/canned", params={"q": "a\u0000"}).status_code == 400
    assert root.get(f"/api/canned/{2**60}").status_code == 404
