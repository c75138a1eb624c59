"""Labels (issue 19 item 4) on the real server, on SQLite and PostgreSQL: admins manage the
list, agents put labels on a chat over their socket (or over HTTP once it is closed), every
staff socket sees it live, visitors never do, a restart keeps them (the log is replayed), and
reports and CSVs filter and count by label."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from chatserver.core.labels import text_colour
from chatserver.reports.reports_csv import BOM

from .databases import BACKENDS, db_location
from .harness import PASSWORD, Server, add_user, agent, served, sql, visitor

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]


@contextmanager
def session(server: Server, username: str, *, csrf: bool = True) -> Iterator[httpx.Client]:
    """An HTTP client logged in as `username`, sending its CSRF token unless told not to."""
    with httpx.Client(base_url=server.url) as client:
        response = client.post("/login", data={"username": username, "password": PASSWORD},
                               headers={"accept": "application/json"})
        assert response.status_code == 200, response.text
        if csrf:
            client.headers["x-csrf-token"] = response.json()["csrf_token"]
        yield client


def desk(tmp_path, db_location: str) -> Server:
    server = Server(tmp_path, database=db_location)
    add_user(server.db, "root", role="admin")
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    add_user(server.db, "ana", display_name="Ana")
    add_user(server.db, "bob", display_name="Bob")
    return server.start()


def audit_actions(server: Server) -> list[str]:
    return [r[0] for r in sql(server.db, "SELECT action FROM audit_log WHERE action LIKE "
                                         "'label.%' ORDER BY id")]


def test_text_on_a_label_is_black_or_white_by_contrast() -> None:
    assert text_colour("#ffeb3b") == "#000000"  # yellow: dark text
    assert text_colour("#1a237e") == "#ffffff"  # navy: light text
    assert text_colour("#ffffff") == "#000000" and text_colour("#000000") == "#ffffff"


def test_admins_manage_the_list(tmp_path, db_location: str) -> None:
    server = desk(tmp_path, db_location)
    try:
        with session(server, "root") as root:
            made = root.post("/api/labels", json={"name": "Billing", "colour": "#1A237E"})
            assert made.status_code == 201, made.text
            billing = made.json()
            assert (billing["name"], billing["colour"], billing["text_colour"],
                    billing["deleted"]) == ("Billing", "#1a237e", "#ffffff", False)
            urgent = root.post("/api/labels", json={"name": "فوری urgent",
                                                    "colour": "#ffeb3b"}).json()
            assert urgent["text_colour"] == "#000000"

            # Each bad field is a 422 naming it; nothing is stored.
            for body, field in [({"name": "", "colour": "#000000"}, "name"),
                                ({"name": "   ", "colour": "#000000"}, "name"),
                                ({"name": "x" * 41, "colour": "#000000"}, "name"),
                                ({"name": "a\u200bb\u0007", "colour": "#000000"}, "name"),
                                ({"name": "BILLING", "colour": "#000000"}, "name"),
                                ({"name": 5, "colour": "#000000"}, "name"),
                                ({"name": "Refund", "colour": "red"}, "colour"),
                                ({"name": "Refund", "colour": "#12345"}, "colour"),
                                ({"name": "Refund"}, "colour")]:
                bad = root.post("/api/labels", json=body)
                assert bad.status_code in (400, 422), (body, bad.text)
                if bad.status_code == 422:
                    assert bad.json()["field"] == field, (body, bad.json())
            assert root.post("/api/labels", content=b"[1]").status_code == 400

            renamed = root.patch(f"/api/labels/{billing['id']}",
                                 json={"name": "Payments", "colour": "#00ff00"})
            assert renamed.status_code == 200 and renamed.json()["name"] == "Payments"
            assert renamed.json()["text_colour"] == "#000000"
            clash = root.patch(f"/api/labels/{billing['id']}", json={"name": "فوری URGENT"})
            assert clash.status_code == 422 and clash.json()["field"] == "name"
            # Renaming to itself in another case is no clash.
            assert root.patch(f"/api/labels/{billing['id']}",
                              json={"name": "PAYMENTS"}).status_code == 200
            assert root.patch("/api/labels/999999", json={"name": "x"}).status_code == 404

            assert root.delete(f"/api/labels/{urgent['id']}").status_code == 204
            listed = root.get("/api/labels").json()["labels"]
            assert [label["name"] for label in listed] == ["PAYMENTS"]
            every = root.get("/api/labels", params={"all": "1"}).json()["labels"]
            assert {(label["name"], label["deleted"]) for label in every} == {
                ("PAYMENTS", False), ("فوری urgent", True)}
            # A deleted name may be used again.
            assert root.post("/api/labels", json={"name": "فوری urgent",
                                                  "colour": "#ff0000"}).status_code == 201
            assert root.delete("/api/labels/999999").status_code == 404

        # Any staff member reads the list; only an admin changes it, with the CSRF token.
        with session(server, "ana") as ana:
            assert ana.get("/api/labels").status_code == 200
            assert ana.post("/api/labels", json={"name": "Mine",
                                                 "colour": "#000000"}).status_code == 403
            assert ana.delete(f"/api/labels/{billing['id']}").status_code == 403
        with session(server, "sue") as sue:
            assert sue.patch(f"/api/labels/{billing['id']}",
                             json={"name": "x"}).status_code == 403
        with session(server, "root", csrf=False) as tokenless:
            assert tokenless.post("/api/labels", json={"name": "NoToken",
                                                       "colour": "#000000"}).status_code == 403
        assert httpx.get(server.url + "/api/labels").status_code == 401
        assert audit_actions(server) == ["label.create", "label.create", "label.update",
                                         "label.update", "label.delete", "label.create"]
        names = [r[0] for r in sql(server.db, "SELECT name FROM labels ORDER BY id")]
        assert "NoToken" not in names and "Mine" not in names and "Refund" not in names
        page = httpx.get(server.url + "/admin/labels", cookies=server.login("root"))
        assert page.status_code == 200 and 'id="labels-table"' in page.text
        assert httpx.get(server.url + "/admin/labels",
                         cookies=server.login("ana")).status_code == 403
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


def _labels_of(server: Server, cid: str) -> list[int]:
    return [r[0] for r in sql(server.db, "SELECT label_id FROM conversation_labels WHERE "
                                         "conversation_id = ? ORDER BY label_id", (cid,))]


def _label_events(server: Server, cid: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in sql(
        server.db, "SELECT payload FROM events WHERE conversation_id = ? AND type = 'label' "
                   "ORDER BY seq", (cid,))]


async def _chat(server: Server, clients: list, ana: Any, name: str) -> tuple[Any, str]:
    """A visitor handed to Ana, who accepts."""
    guest = await visitor(server, name=name)
    clients.append(guest)
    cid = (await guest.request("request_human"))["conversation_id"]
    await ana.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    assert (await ana.request("accept", conversation_id=cid))["type"] == "ack"
    await guest.expect("assigned")
    return guest, cid


async def test_agents_label_chats_live_and_reports_count_them(tmp_path, db_location: str,
                                                              clients: list) -> None:
    server = desk(tmp_path, db_location)
    try:
        with session(server, "root") as root:
            billing = root.post("/api/labels", json={"name": "Billing",
                                                     "colour": "#1a237e"}).json()
            vip = root.post("/api/labels", json={"name": "VIP", "colour": "#ffeb3b"}).json()
            gone = root.post("/api/labels", json={"name": "Old", "colour": "#888888"}).json()
            assert root.delete(f"/api/labels/{gone['id']}").status_code == 204
        ana = await agent(server, "ana")
        sue = await agent(server, "sue", online=False)
        bob = await agent(server, "bob", online=False)
        clients += [ana, sue, bob]
        sara, cid = await _chat(server, clients, ana, "Sara")

        # Ana labels her chat: acked with a seq, and Sue (a supervisor) sees it at once.
        frame_id = str(uuid.uuid4())
        add = {"type": "label", "id": frame_id, "conversation_id": cid,
               "label_id": billing["id"], "on": True}
        await ana.send(add)
        ack = await ana.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert ack["type"] == "ack" and ack["seq"] > 0, ack
        seen = await sue.expect("label", where=lambda f: f["conversation_id"] == cid)
        assert (seen["label_id"], seen["name"], seen["on"], seen["seq"]) == (
            billing["id"], "Billing", True, ack["seq"])
        assert seen["colour"] == "#1a237e" and seen["by"] == "Ana"
        # The same frame again (a retry) gets the same ack; a fresh add changes nothing.
        await ana.send(add)
        again = await ana.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert (again["type"], again["seq"]) == ("ack", ack["seq"])
        twice = await ana.request("label", conversation_id=cid, label_id=billing["id"], on=True)
        assert twice["type"] == "ack" and twice.get("seq") is None and twice["unchanged"]
        await sue.nothing("label")
        assert _labels_of(server, cid) == [billing["id"]]
        assert len(_label_events(server, cid)) == 1

        # Errors name the problem and keep the socket usable; nobody else's chat is revealed.
        for fields, code in [({"label_id": 999999, "on": True}, "not_found"),
                             ({"label_id": gone["id"], "on": True}, "not_found"),
                             ({"label_id": "x", "on": True}, "bad_frame"),
                             ({"label_id": billing["id"]}, "bad_frame"),
                             ({"label_id": billing["id"], "on": "yes"}, "bad_frame")]:
            error = await ana.request("label", conversation_id=cid, **fields)
            assert (error["type"], error["code"]) == ("error", code), (fields, error)
        refused = await bob.request("label", conversation_id=cid, label_id=vip["id"], on=True)
        assert (refused["type"], refused["code"]) == ("error", "not_found")
        # A supervisor may label any chat; Ana, holding it, sees that live too.
        by_sue = await sue.request("label", conversation_id=cid, label_id=vip["id"], on=True)
        assert by_sue["type"] == "ack"
        live = await ana.expect("label", where=lambda f: f["label_id"] == vip["id"])
        assert live["by"] == "Sue" and live["on"] is True
        removed = await ana.request("label", conversation_id=cid, label_id=vip["id"], on=False)
        assert removed["type"] == "ack" and removed["seq"] > by_sue["seq"]
        off = await sue.expect("label", where=lambda f: f["on"] is False)
        assert off["label_id"] == vip["id"]
        assert _labels_of(server, cid) == [billing["id"]]

        # The visitor never hears of a label, live or on resume.
        await sara.request("message", text="still there?")
        await sara.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
        await sara.expect("message", where=lambda f: f.get("text") == "still there?")
        await sara.nothing(("label", "event"), seconds=0.5)
        assert not [f for f in sara.seen if "label" in json.dumps(f)]

        # A second chat, unlabelled; both close, then Ana labels the first one over HTTP.
        await ana.request("close", conversation_id=cid, resolved=True)
        await sara.expect("survey_request")
        assert (await sara.request("survey", rating=5))["type"] == "ack"
        omid, other = await _chat(server, clients, ana, "Omid")
        await ana.request("close", conversation_id=other, resolved=False)
        await omid.expect("survey_request")
        assert (await omid.request("survey", rating=2))["type"] == "ack"

        path = f"/api/conversations/{cid}/labels"
        with session(server, "ana") as http:
            assert http.get(path).json()["labels"][0]["name"] == "Billing"
            put = http.post(path, json={"label_id": vip["id"], "on": True})
            assert put.status_code == 200, put.text
            assert {label["name"] for label in put.json()["labels"]} == {"Billing", "VIP"}
            assert put.json()["changed"] is True
            same = http.post(path, json={"label_id": vip["id"], "on": True})
            assert same.status_code == 200 and same.json()["changed"] is False
            assert http.post(path, json={"label_id": vip["id"], "on": 1}).status_code == 422
            assert http.post(path, json={"label_id": 999999, "on": True}).status_code == 404
            assert http.post("/api/conversations/nope/labels",
                             json={"label_id": vip["id"], "on": True}).status_code == 404
        await sue.expect("label", where=lambda f: f["label_id"] == vip["id"] and f["on"])
        with session(server, "ana", csrf=False) as tokenless:
            assert tokenless.post(path, json={"label_id": vip["id"],
                                              "on": False}).status_code == 403
        with session(server, "bob") as stranger:  # never took part in it
            assert stranger.post(path, json={"label_id": vip["id"],
                                             "on": False}).status_code == 404
            assert stranger.get(path).status_code == 404
        assert _labels_of(server, cid) == sorted([billing["id"], vip["id"]])
        assert [e["on"] for e in _label_events(server, cid)] == [True, True, False, True]

        # Reports: filtered by label, and counted per label with CSAT.
        with session(server, "sue") as http:
            everything = http.get("/api/reports").json()
            assert everything["summary"]["conversations"] == 2
            rows = {row["id"]: row for row in everything["labels"]}
            assert rows[billing["id"]]["conversations"] == 1
            assert rows[billing["id"]]["name"] == "Billing"
            assert rows[billing["id"]]["csat"] == 1.0
            assert rows[vip["id"]]["conversations"] == 1
            only = http.get("/api/reports", params={"label": billing["id"]}).json()
            assert only["summary"]["conversations"] == 1 and only["summary"]["csat"] == 1.0
            assert only["filters"] == {"label": str(billing["id"])}
            none = http.get("/api/reports", params={"label": gone["id"]}).json()
            assert none["summary"]["conversations"] == 0
            bad = http.get("/api/reports", params={"label": "x"})
            assert bad.status_code == 400 and bad.json()["field"] == "label"
            exported = http.get("/admin/reports/conversations.csv",
                                params={"label": billing["id"]})
            table = list(csv.DictReader(io.StringIO(exported.text.removeprefix(BOM))))
            assert [r["conversation_id"] for r in table] == [cid]
            assert set(table[0]["labels"].split(", ")) == {"Billing", "VIP"}
            page = http.get("/admin/reports", params={"label": billing["id"]})
            assert page.status_code == 200 and 'name="label"' in page.text
            assert 'id="labels-table"' in page.text
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


async def test_labels_survive_a_restart(tmp_path, db_location: str, clients: list) -> None:
    server = desk(tmp_path, db_location)
    try:
        with session(server, "root") as root:
            billing = root.post("/api/labels", json={"name": "Billing",
                                                     "colour": "#1a237e"}).json()
        ana = await agent(server, "ana")
        clients.append(ana)
        _sara, cid = await _chat(server, clients, ana, "Sara")
        ack = await ana.request("label", conversation_id=cid, label_id=billing["id"], on=True)
        assert ack["type"] == "ack"
        server.kill()
        server.start()
        ana = await agent(server, "ana")
        clients.append(ana)
        assert cid in [c["id"] for c in ana.welcome["conversations"]]
        await ana.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
        replayed = await ana.expect("label", where=lambda f: f["conversation_id"] == cid)
        assert (replayed["seq"], replayed["label_id"], replayed["on"]) == (
            ack["seq"], billing["id"], True)
        with session(server, "ana") as http:
            [kept] = http.get(f"/api/conversations/{cid}/labels").json()["labels"]
        assert kept["name"] == "Billing" and kept["colour"] == "#1a237e"
        # Removing after the restart works on the replayed projection.
        off = await ana.request("label", conversation_id=cid, label_id=billing["id"], on=False)
        assert off["type"] == "ack" and off["seq"] > ack["seq"]
        assert _labels_of(server, cid) == []
    finally:
        server.stop()


def test_an_erasure_keeps_the_labels_of_a_chat() -> None:
    """A label's name is the desk's word, not the visitor's: erasure and the retention purge
    leave `label` events as they are, so reports by label read the same after."""
    from chatserver.privacy.data_rights import scrub_payload

    payload = {"label_id": 3, "name": "Refund", "colour": "#ff0000", "on": True, "by": "Ana"}
    assert scrub_payload("label", payload) == payload


def test_a_chats_labels_are_the_fold_of_its_label_events() -> None:
    """The last event for a label wins: on twice is one, off removes, off again changes
    nothing; reports read the same fold (ConversationFacts.labels)."""
    from chatserver.core.conversation import Event
    from chatserver.core.labels import fold
    from chatserver.core.metrics import conversation_facts

    changes = [{"label_id": 1, "name": "A", "on": True}, {"label_id": 2, "name": "B", "on": True},
               {"label_id": 1, "name": "A", "on": True}, {"label_id": 2, "name": "B", "on": False},
               {"label_id": 2, "name": "B", "on": False}, {"label_id": 3, "name": "C", "on": True}]
    assert fold(changes) == {1: "A", 3: "C"}
    log = [Event("c", 1, "started", "system", {}, None, 0)] + [
        Event("c", i + 2, "label", "agent:1", p, None, i + 1) for i, p in enumerate(changes)]
    assert conversation_facts(log, "v").labels == ("1", "3")


# --- defects found in review: each shown first by a failing test --------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """One server per backend for the tests below: each changes only labels of its own names,
    and the one that demotes a supervisor has one of its own (its log is checked for
    tracebacks when the module is done)."""
    with served(request.param, tmp_path_factory.mktemp(request.param),
                {"root": "admin", "sue": "supervisor", "ana": "agent"}) as server:
        yield server


def test_a_label_id_too_big_for_the_store_is_a_404(shared: Server) -> None:
    """`/api/labels/{label_id:int}` takes any run of digits; SQLite cannot bind one past
    2**63 (OverflowError) and the admin gets a 500 with a traceback in the log."""
    server = shared
    huge = "/api/labels/99999999999999999999"
    with session(server, "root") as root:
        assert root.patch(huge, json={"name": "x"}).status_code == 404
    with session(server, "root") as root:
        assert root.delete(huge).status_code == 404
    assert "Traceback" not in server.log.read_text()


def test_a_nul_in_a_conversation_id_is_a_404(shared: Server) -> None:
    """`/api/conversations/{id}/labels` passes the id to the store unchecked; PostgreSQL's
    text cannot hold a NUL, so a stray %00 is a 500 (and a traceback) there, a 404 on SQLite."""
    server = shared
    with session(server, "sue") as sue:
        assert sue.get("/api/conversations/%00/labels").status_code == 404
    with session(server, "sue") as sue:
        assert sue.post("/api/conversations/a%00b/labels",
                        json={"label_id": 1, "on": True}).status_code == 404
    assert "Traceback" not in server.log.read_text()


def test_names_clash_the_same_way_on_both_backends(shared: Server) -> None:
    """_name_taken compares casefold() ("both backends must agree on what clashes"), but the
    unique index is on lower(name): PostgreSQL's lower('İ') is 'i', casefold gives 'i̇'.
    So on PostgreSQL a new "İ" beside "i" is refused while SQLite takes it, and renaming a
    label to "İ" breaks the index inside the UPDATE: a 500."""
    server = shared
    with session(server, "root") as root:
        assert root.post("/api/labels", json={"name": "i", "colour": "#000000"}
                         ).status_code == 201
        other = root.post("/api/labels", json={"name": "x", "colour": "#000000"}).json()
        renamed = root.patch(f"/api/labels/{other['id']}", json={"name": "\u0130"})
        assert renamed.status_code == 200, renamed.text  # casefold: no clash
    assert "Traceback" not in server.log.read_text()


def test_names_that_look_the_same_are_one_label(shared: Server) -> None:
    """clean_name refuses invisible characters so that "two names cannot look the same", but
    does not normalise: "Café" typed precomposed and decomposed are two labels that render
    identically in the picker, the report filter menu and the CSV."""
    server = shared
    with session(server, "root") as root:
        nfc = unicodedata.normalize("NFC", "Café")
        nfd = unicodedata.normalize("NFD", "Café")
        assert root.post("/api/labels", json={"name": nfc, "colour": "#000000"}
                         ).status_code == 201
        again = root.post("/api/labels", json={"name": nfd, "colour": "#000000"})
        assert again.status_code == 422, again.text
        assert [lab["name"] for lab in root.get("/api/labels").json()["labels"]
                if unicodedata.normalize("NFC", lab["name"]) == nfc] == [nfc]


async def test_a_demoted_supervisor_cannot_label_or_watch_others_chats(
        shared: Server, clients: list) -> None:
    """An admin who demotes a supervisor to agent updates the live profile (service.agents),
    the newest socket's object: the `label` handler read the role its socket opened with, so
    an older console tab kept labelling any chat. Nor does that tab keep watching every chat."""
    server, sue = shared, f"sue-{uuid.uuid4().hex[:8]}"
    add_user(server.db, sue, role="supervisor", display_name="Sue")
    with session(server, "root") as root:
        billing = root.post("/api/labels", json={"name": "Billing",
                                                 "colour": "#1a237e"}).json()
    ana = await agent(server, "ana")
    old_tab = await agent(server, sue, online=False)
    new_tab = await agent(server, sue, online=False)
    clients += [ana, old_tab, new_tab]
    sara, cid = await _chat(server, clients, ana, "Sara")
    await sara.request("message", text="my invoice is wrong")
    for tab in (old_tab, new_tab):  # a supervisor watches every chat
        await tab.expect("message", where=lambda f: f.get("conversation_id") == cid)
    with session(server, "root") as root:
        sue_id = next(u["id"] for u in root.get("/api/users").json()["users"]
                      if u["username"] == sue)
        assert root.patch(f"/api/users/{sue_id}", json={"role": "agent"}).status_code == 200
    # The live role already rules `resume` on the old tab: the chat is not Sue's to read.
    await old_tab.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
    blocked = await old_tab.expect("error")
    assert blocked["code"] == "not_found", blocked
    refused = await new_tab.request("label", conversation_id=cid, label_id=billing["id"],
                                    on=True)
    assert (refused["type"], refused.get("code")) == ("error", "not_found")
    stale = await old_tab.request("label", conversation_id=cid, label_id=billing["id"],
                                  on=True)
    assert (stale["type"], stale.get("code")) == ("error", "not_found"), stale
    await sara.request("message", text="hello?")
    await ana.expect("message", where=lambda f: f.get("text") == "hello?")
    await old_tab.nothing("message")
    await new_tab.nothing("message")
