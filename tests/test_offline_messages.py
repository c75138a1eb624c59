"""Messages visitors leave while nobody can answer reach the agents, who mark them answered."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from websockets.sync.client import connect

from .browser import screenshot
from .harness import Server, add_user
from .test_kb_api import Session


def leave_message(server: Server, email: str, text: str) -> None:
    with connect(server.ws + "/ws/visitor") as ws:
        ws.send(json.dumps({"type": "hello", "language": "en"}))
        assert json.loads(ws.recv())["type"] == "welcome"
        frame_id = str(uuid.uuid4())
        ws.send(json.dumps({"type": "offline_message", "id": frame_id, "email": email,
                            "text": text}))
        assert json.loads(ws.recv()) == {"type": "ack", "id": frame_id}


def test_agents_list_and_answer_offline_messages(shared_server: Server) -> None:
    add_user(shared_server.db, "olive")
    leave_message(shared_server, "nima@example.com", "<b>Call me</b> about order 77")
    agent = Session(shared_server, "olive")
    listed = agent.get("/api/offline-messages").json()["messages"]
    mine = [m for m in listed if m["email"] == "nima@example.com"]
    assert mine and mine[0]["text"] == "<b>Call me</b> about order 77"
    assert agent.send("POST", f"/api/offline-messages/{mine[0]['id']}/answered",
                      csrf=False).status_code == 403
    done = agent.send("POST", f"/api/offline-messages/{mine[0]['id']}/answered")
    assert done.status_code == 200
    after = agent.get("/api/offline-messages").json()["messages"]
    assert all(m["id"] != mine[0]["id"] for m in after)
    assert agent.send("POST", "/api/offline-messages/999999/answered").status_code == 404
    agent.close()
    with httpx.Client(base_url=shared_server.url) as anonymous:
        assert anonymous.get("/api/offline-messages").status_code == 401


@pytest.mark.browser
def test_the_console_shows_left_messages_as_text(server: Server, page) -> None:
    add_user(server.db, "omar", display_name="Omar")
    leave_message(server, "reza@example.com", "<img src=x onerror=alert(1)> please reply")
    page.goto(server.url + "/login")
    page.fill("input[name=username]", "omar")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/console")
    item = page.locator(".left-message")
    item.wait_for()
    assert item.locator("p").inner_text() == "<img src=x onerror=alert(1)> please reply"
    assert page.locator(".left-message img").count() == 0
    assert item.locator("a").get_attribute("href") == "mailto:reza@example.com"
    screenshot(page, "console_offline_messages")
    item.get_by_role("button", name="Mark answered").click()
    page.locator("#left-section").wait_for(state="hidden")
