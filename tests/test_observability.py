"""What operators see: /metrics after real chats, structured log lines, and the survey rules."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .harness import Server, add_user, agent, visitor

pytestmark = pytest.mark.anyio
TOKEN = "scrape-token-for-tests-0123456789"


@pytest.fixture
def observed(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, CHATSERVER_METRICS_TOKEN=TOKEN)
    yield srv.start()
    srv.stop()


def scrape(server: Server) -> str:
    response = httpx.get(server.url + "/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.text


def value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} not in /metrics"
    return float(match.group(1))


async def test_metrics_and_logs_follow_a_real_conversation(observed: Server,
                                                           clients: list) -> None:
    add_user(observed.db, "pia", skills={"lang:en": 5})
    pia = await agent(observed, "pia")
    sara = await visitor(observed, name="Sara", language="en")
    clients += [pia, sara]
    cid = (await sara.request("request_human"))["conversation_id"]
    await pia.expect("offer")
    await pia.request("accept", conversation_id=cid)
    await sara.request("message", text="hello?")
    await pia.request("message", conversation_id=cid, text="Hi Sara!")
    await sara.send({"type": "dance"})
    await sara.expect("error")
    before_close = scrape(observed)
    assert value(before_close, 'chat_connections{role="visitor"}') == 1
    assert value(before_close, 'chat_agents{status="online"}') == 1
    await pia.request("close", conversation_id=cid, resolved=True)
    await sara.expect("survey_request")
    await sara.request("survey", rating=5, nps=10)

    text = scrape(observed)
    assert value(text, 'chat_messages_total{sender="visitor"}') == 1
    assert value(text, 'chat_messages_total{sender="agent"}') == 1
    assert value(text, 'chat_handoffs_total{reason="asked"}') == 1
    assert value(text, 'chat_offers_total{outcome="accepted"}') == 1
    assert value(text, 'chat_conversations_closed_total{by="agent",resolved="true"}') == 1
    assert value(text, "chat_agent_response_seconds_count") == 1
    assert value(text, "chat_queue_wait_seconds_count") == 1
    assert value(text, 'chat_surveys_total{rating="5"}') == 1
    assert value(text, 'chat_client_errors_total{code="unknown_type"}') == 1
    assert value(text, "chat_store_commits") > 0

    lines = [json.loads(line.split(": ", 1)[1]) for line in
             observed.log.read_text().splitlines() if "chatserver.events" in line]
    kinds = {entry["event"]: entry for entry in lines}
    assert kinds["response_time"]["conversation_id"] == cid
    assert 0 <= kinds["response_time"]["seconds"] < 5
    assert kinds["conversation_closed"]["resolved"] is True
    assert "Sara" not in json.dumps(lines) and "hello?" not in json.dumps(lines)  # no PII


def test_metrics_need_the_token_or_an_admin(shared_server: Server) -> None:
    assert httpx.get(shared_server.url + "/metrics").status_code == 401
    wrong = httpx.get(shared_server.url + "/metrics", headers={"authorization": "Bearer no"})
    assert wrong.status_code == 401
    add_user(shared_server.db, "quinn")
    agent_cookies = shared_server.login("quinn")
    assert httpx.get(shared_server.url + "/metrics", cookies=agent_cookies).status_code == 403
    add_user(shared_server.db, "boss", role="admin")
    ok = httpx.get(shared_server.url + "/metrics", cookies=shared_server.login("boss"))
    assert ok.status_code == 200 and "# TYPE chat_messages_total counter" in ok.text


async def test_no_survey_after_a_bot_only_chat_by_default(shared_server: Server,
                                                          clients: list) -> None:
    sara = await visitor(shared_server, name="Sara", language="en")
    clients.append(sara)
    await sara.request("message", text="how can I track my order?")
    await sara.request("close")
    await sara.nothing("survey_request")
    answer = await sara.request("survey", rating=4)
    assert answer["type"] == "error" and answer["code"] == "conflict"


async def test_a_late_survey_answer_is_refused(tmp_path: Path, clients: list) -> None:
    srv = Server(tmp_path, CHATSERVER_SURVEY_WINDOW_HOURS="0.0003",  # about one second
                 CHATSERVER_SURVEY_AFTER_BOT_ONLY="true", CHATSERVER_SURVEY_NPS="false")
    srv.start()
    try:
        sara = await visitor(srv, name="Sara", language="fa")
        clients.append(sara)
        await sara.request("message", text="سفارشم کجاست؟")
        await sara.request("close")
        asked = await sara.expect("survey_request")
        assert [q["name"] for q in asked["questions"]] == ["rating", "comment"]  # NPS off
        assert "امتیاز" in asked["questions"][0]["text"]  # worded in Persian
        import asyncio
        await asyncio.sleep(1.3)
        late = await sara.request("survey", rating=5)
        assert late["type"] == "error" and "closed" in late["message"]
        with sqlite3.connect(srv.db) as db:
            assert db.execute("SELECT count(*) FROM events WHERE type = 'survey'"
                              ).fetchone()[0] == 0
    finally:
        srv.stop()
