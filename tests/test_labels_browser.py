"""Labels in Chromium against the real server: an admin makes one on /admin/labels, an agent
puts it on a chat in the console with the keyboard (a chip appears, in the label's colour with
readable text) and takes another off with ×, a supervisor watching the chat sees the chips, and
the report filtered by the label counts the chat."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from websockets.sync.client import connect

from .browser import screenshot
from .harness import PASSWORD, Server, add_user, sql
from .test_console_browser import log_in, next_frame, visitor

pytestmark = pytest.mark.browser


def test_admin_makes_a_label_an_agent_puts_it_on_a_chat_and_the_report_counts_it(
        server: Server, browser) -> None:
    add_user(server.db, "root", role="admin")
    add_user(server.db, "maryam", skills={"lang:en": 5}, display_name="Maryam")
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    admin = browser.new_context(viewport={"width": 1280, "height": 800})
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    boss = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # The admin adds two labels; a name typed as markup stays text.
        page = admin.new_page()
        log_in(page, server, "root")
        page.wait_for_url("**/admin")
        page.goto(server.url + "/admin/labels")
        page.fill("#l-name", "Billing <b>issue</b>")
        page.fill("#l-colour", "#ffeb3b")
        page.click("#l-save")
        chip = page.locator("#labels-table .label-chip", has_text="Billing <b>issue</b>")
        chip.wait_for()
        assert chip.locator("b").count() == 0
        assert chip.evaluate("n => getComputedStyle(n).color") == "rgb(0, 0, 0)"
        page.fill("#l-name", "Refund")
        page.fill("#l-colour", "#1a237e")
        page.click("#l-save")
        page.locator("#labels-table .label-chip", has_text="Refund").wait_for()
        page.fill("#l-name", "refund")
        page.click("#l-save")
        page.wait_for_selector('.field-error[data-for="name"] >> text=another label has this name')
        screenshot(page, "labels_admin")

        console = agent.new_page()
        log_in(console, server, "maryam")
        console.wait_for_selector('#conn[data-state="online"]')
        console.click("#status-online")
        console.wait_for_selector('#status-online[aria-checked="true"]')
        watcher = boss.new_page()
        log_in(watcher, server, "sue")
        watcher.wait_for_selector('#conn[data-state="online"]')
        with visitor(server, "Sara", "my invoice is wrong") as sara:
            console.wait_for_selector(".offer")
            console.click(".offer .btn-primary")
            console.wait_for_selector('.tab[aria-selected="true"] >> text=Sara')
            # The supervisor watches the chat live.
            watcher.click("#convs-table tbody tr >> text=Sara")
            watcher.wait_for_selector("#watch-labels:not([hidden]) .label-picker")

            # Keyboard only: Tab to the picker, choose with the arrow keys.
            picker = console.locator("#chat-labels .label-picker")
            picker.focus()
            picker.select_option(label="Billing <b>issue</b>")
            chip = console.locator("#chat-labels .label-chip", has_text="Billing")
            chip.wait_for()
            assert chip.locator("b").count() == 0
            picker.select_option(label="Refund")
            refund = console.locator("#chat-labels .label-chip", has_text="Refund")
            refund.wait_for()
            assert refund.evaluate("n => getComputedStyle(n).color") == "rgb(255, 255, 255)"
            watcher.locator("#watch-labels .label-chip", has_text="Refund").wait_for()
            console.wait_for_selector(".transcript:not([hidden]) .line-system >> "
                                      "text=Maryam added the label “Refund”")
            # Off again with the × (a button: Enter works on it).
            refund.locator(".label-remove").focus()
            console.keyboard.press("Enter")
            refund.wait_for(state="detached")
            watcher.locator("#watch-labels .label-chip", has_text="Refund").wait_for(
                state="detached")
            assert watcher.locator("#watch-labels .label-chip").count() == 1
            screenshot(console, "labels_console")
            # The visitor heard nothing of it.
            sara.send(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": "hi"}))
            console.wait_for_selector(".bubble-visitor >> text=hi")
            console.click("#close-btn")
            console.click("#close-resolved")
            next_frame(sara, "closed")
        with connect(server.ws + "/ws/visitor") as other:  # a second chat, unlabelled
            other.send(json.dumps({"type": "hello", "name": "Omid"}))
            other.send(json.dumps({"type": "message", "id": "q", "text": "opening hours?"}))
            next_frame(other, "ack", id="q")
            other.send(json.dumps({"type": "close", "id": "bye"}))
            next_frame(other, "ack", id="bye")

        (billing,) = sql(server.db, "SELECT id FROM labels WHERE name LIKE 'Billing%'")[0]
        page.goto(server.url + "/admin/reports")
        assert page.locator('.tile[data-key="conversations"] .tile-value').inner_text() == "2"
        page.select_option('#report-filters select[name="label"]', str(billing))
        page.click("#report-filters button[type=submit]")
        page.wait_for_url(f"**label={billing}**")
        assert page.locator('.tile[data-key="conversations"] .tile-value').inner_text() == "1"
        row = page.locator(f'#labels-table tr[data-label="{billing}"]')
        assert row.locator("td").first.inner_text() == "1"
        screenshot(page, "labels_report")
    finally:
        for context in (admin, agent, boss):
            context.close()


def test_a_closed_chat_is_labelled_from_history_and_from_search(server: Server,
                                                                browser) -> None:
    """docs/console.md: a closed chat's labels change later "from history or search". Maryam
    relabels her earlier chat with Sara from the history dialog of Sara's new chat; Sue, a
    supervisor, finds it by search, sees coloured chips and adds one back from the result."""
    add_user(server.db, "root", role="admin")
    add_user(server.db, "maryam", skills={"lang:en": 5}, display_name="Maryam")
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    with httpx.Client(base_url=server.url) as root:
        login = root.post("/login", data={"username": "root", "password": PASSWORD},
                          headers={"accept": "application/json"})
        root.headers["x-csrf-token"] = login.json()["csrf_token"]
        billing = root.post("/api/labels", json={"name": "Billing", "colour": "#ffeb3b"}).json()
        refund = root.post("/api/labels", json={"name": "Refund", "colour": "#1a237e"}).json()

    cookie = "; ".join(f"{k}={v}" for k, v in server.login("maryam").items())
    agent_context = browser.new_context(viewport={"width": 1280, "height": 800})
    boss_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        with connect(server.ws + "/ws/visitor") as sara:
            # Yesterday: Sara's invoice, labelled Billing by Maryam and closed.
            with connect(server.ws + "/ws/agent",
                         additional_headers={"Cookie": cookie}) as maryam:
                _send(maryam, "hello")
                next_frame(maryam, "welcome")
                _send(maryam, "status", status="online")
                next_frame(maryam, "status")
                sara.send(json.dumps({"type": "hello", "name": "Sara", "language": "en"}))
                next_frame(sara, "welcome")
                _send(sara, "request_human")
                earlier = next_frame(sara, "ack")["conversation_id"]
                _send(sara, "message", text="my invoice is wrong")
                next_frame(maryam, "offer")
                _send(maryam, "accept", conversation_id=earlier)
                _send(maryam, "label", conversation_id=earlier, label_id=billing["id"], on=True)
                next_frame(maryam, "label")
                _send(maryam, "close", conversation_id=earlier, resolved=True)
                next_frame(sara, "closed")

            # Today: Sara is back; Maryam opens the earlier chat from the visitor's history.
            console = agent_context.new_page()
            log_in(console, server, "maryam")
            console.wait_for_selector('#conn[data-state="online"]')
            console.click("#status-online")
            console.wait_for_selector('#status-online[aria-checked="true"]')
            _send(sara, "request_human")
            console.wait_for_selector(".offer")
            console.click(".offer .btn-primary")
            console.locator("#visitor-history .history-item").click()
            dialog = console.locator("#history-dialog")
            picker = dialog.locator("#history-labels .label-picker")
            picker.wait_for()  # the server said Maryam may label it: the chips are redrawn
            chip = dialog.locator("#history-labels .label-chip", has_text="Billing")
            assert chip.evaluate("n => getComputedStyle(n).color") == "rgb(0, 0, 0)"
            picker.select_option(label="Refund")
            dialog.locator("#history-labels .label-chip", has_text="Refund").wait_for()
            chip.locator(".label-remove").focus()
            console.keyboard.press("Enter")  # the dialog stays open: × is not its submit
            chip.wait_for(state="detached")
            assert dialog.is_visible()
            screenshot(console, "labels_history")
            assert sql(server.db, "SELECT label_id FROM conversation_labels WHERE "
                                  "conversation_id = ?", (earlier,)) == [(refund["id"],)]
            console.click("#history-close")

        # Sue finds it by search: coloured chips on the result, editable once opened.
        page = boss_context.new_page()
        log_in(page, server, "sue")
        page.wait_for_url("**/console/supervisor")
        page.goto(server.url + "/console/search?q=invoice")
        result = page.locator(f'.result[data-id="{earlier}"]')
        result.wait_for()
        found = result.locator(".label-chip", has_text="Refund")
        assert found.evaluate("n => getComputedStyle(n).color") == "rgb(255, 255, 255)"
        assert found.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(26, 35, 126)"
        result.locator(".result-open").click()
        page.locator("#s-labels .label-picker").wait_for()
        assert page.locator("#s-labels .label-name").all_inner_texts() == ["Refund"]
        page.locator("#s-labels .label-picker").select_option(label="Billing")
        page.locator("#s-labels .label-chip", has_text="Billing").wait_for()
        result.locator(".label-chip", has_text="Billing").wait_for()  # the list follows
        screenshot(page, "labels_search")
        assert sorted(sql(server.db, "SELECT label_id FROM conversation_labels WHERE "
                                     "conversation_id = ?", (earlier,))) == sorted(
            [(billing["id"],), (refund["id"],)])
    finally:
        for context in (agent_context, boss_context):
            context.close()


def _send(ws, kind: str, **fields) -> None:
    ws.send(json.dumps({"type": kind, "id": uuid.uuid4().hex, **fields}))
