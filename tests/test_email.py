"""E-mail through the durable outbox (issue 21 part 3), on the real server, a real SMTP server
(aiosmtpd, tests/smtp_sink.py) and both store backends: offline messages reach the team, a
visitor's transcript reaches them (no notes, no whispers), an SMTP outage and a restart lose
nothing and send nothing twice, two processes never send one mail, limits and bad addresses
are refused with clear errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatserver.service import identity

from .databases import db_location
from .harness import Client, Server, add_user, agent, sql, visitor
from .smtp_sink import REFUSED_DOMAIN, SmtpSink, self_signed
from .test_kb_api import Session

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

NOTE = "internal: refund approved by finance"
WHISPER = "psst: offer the coupon"


@pytest.fixture
def sink() -> Any:
    smtp = SmtpSink().start()
    yield smtp
    smtp.stop()


IDENTITY_SECRET = "site-identity-secret-for-mail-7c2e"


def mail_server(tmp_path: Path, database: str | None, sink: SmtpSink, **env: str) -> Server:
    return Server(tmp_path, database=database,
                  **sink.env(CHATSERVER_IDENTITY_SECRET=IDENTITY_SECRET, **env))


async def customer(server: Server, user_id: str, email: str, **hello: Any) -> Client:
    """A visitor signed in on the site: a verified identity whose e-mail the site gave (the
    only address a transcript goes to)."""
    return await visitor(server, identity={"id": user_id, "email": email,
                                           "hash": identity.signature(IDENTITY_SECRET, user_id)},
                         **hello)


async def leave(server: Server, email: str, text: str, **hello: Any) -> None:
    guest = await visitor(server, **hello)
    try:
        ack = await guest.request("offline_message", email=email, text=text)
        assert ack["type"] == "ack", ack
    finally:
        await guest.ws.close()


def outbox(server: Server) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in sql(server.db, "SELECT kind, recipient, state, attempts, "
                                             "last_error FROM mail_outbox ORDER BY id")]


def wait_rows(server: Server, done: Any, timeout: float = 20.0) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = outbox(server)
        if done(rows) or time.monotonic() > deadline:
            assert done(rows), rows
            return rows
        time.sleep(0.1)


def parts(message: Any) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.iter_parts()}


async def test_an_offline_message_reaches_the_team_with_the_visitor_as_reply_to(
        tmp_path: Path, db_location: str, sink: SmtpSink) -> None:
    server = mail_server(tmp_path, db_location, sink,
                         CHATSERVER_EMAIL_TOPIC_ADDRESSES='{"billing": "billing@shop.example"}',
                         CHATSERVER_METRICS_TOKEN="scrape")
    server.start()
    try:
        await leave(server, "reza@example.com", "سلام، سفارش <b>۷۷</b> کجاست؟\nلطفاً ایمیل بزنید",
                    language="fa")
        (mail,) = sink.wait_for(1)
        assert mail["To"] == "team@shop.example"
        assert mail["From"] == "Support <support@shop.example>"
        assert mail["Reply-To"] == "reza@example.com"
        assert "reza@example.com" in mail["Subject"]
        assert mail["Message-ID"].endswith("@shop.example>")
        assert mail.get_content_type() == "multipart/alternative"
        body = parts(mail)
        assert list(body) == ["text/plain", "text/html"]
        assert "سلام، سفارش <b>۷۷</b> کجاست؟" in body["text/plain"]
        html = body["text/html"]
        assert "&lt;b&gt;۷۷&lt;/b&gt;" in html and "<b>۷۷" not in html  # escaped, not markup
        assert '<p dir="auto">سلام، سفارش' in html  # the Persian line runs right to left

        # A visitor who picked a topic with its own address reaches that address instead.
        await leave(server, "li@example.com", "发票问题", topic="billing", language="zh")
        (billing,) = sink.wait_for(1, where=lambda m: m["To"] == "billing@shop.example")
        assert billing["Reply-To"] == "li@example.com"
        # Sent, kept for a while, each once.
        rows = wait_rows(server, lambda r: [x[2] for x in r] == ["sent", "sent"])
        assert [r[:2] for r in rows] == [("offline_alert", "team@shop.example"),
                                         ("offline_alert", "billing@shop.example")]
        assert len(sink.ids()) == len(set(sink.ids())) == 2
        scraped = httpx.get(server.url + "/metrics", headers={"authorization": "Bearer scrape"})
        assert "\nchat_mail_sent 2" in scraped.text and "\nchat_mail_failed 0" in scraped.text
    finally:
        server.stop()


async def closed_chat_with_note(server: Server, clients: list[Client], *, email: str,
                                language: str) -> tuple[Client, str]:
    """A visitor (who gave `email`) chats with Ana, who adds a note while Sue whispers to her;
    the visitor ends the chat."""
    ana = await agent(server, "ana")
    sue = await agent(server, "sue", online=False)
    guest = await customer(server, "cust-sara", email, name="Sara", language=language)
    clients += [ana, sue, guest]
    cid = (await guest.request("request_human"))["conversation_id"]
    await ana.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    assert (await ana.request("accept", conversation_id=cid))["type"] == "ack"
    await guest.expect("assigned")
    await guest.request("message", text="سفارشم هنوز نرسیده <script>alert(1)</script>")
    await ana.request("message", conversation_id=cid, text="Let me check order 77 for you")
    assert (await ana.request("note", conversation_id=cid, text=NOTE))["type"] == "ack"
    whisper = await sue.request("whisper", conversation_id=cid, text=WHISPER)
    assert whisper["type"] == "ack", whisper
    await guest.request("message", text="ممنون")
    assert (await guest.request("close"))["type"] == "ack"
    await guest.expect("closed")
    return guest, cid


def ask(server: Server, token: str, cid: str | None, method: str = "POST") -> httpx.Response:
    headers = {"authorization": f"Bearer {token}", "origin": "https://shop.example"}
    if cid is not None:
        headers["x-conversation-id"] = cid
    return httpx.request(method, server.url + "/api/visitor/transcript-email", headers=headers)


async def test_a_visitor_gets_their_transcript_without_notes_or_whispers(
        tmp_path: Path, db_location: str, sink: SmtpSink, clients: list[Client]) -> None:
    server = mail_server(tmp_path, db_location, sink)
    add_user(server.db, "ana", display_name="Ana", skills={"lang:fa": 5})
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    server.start()
    try:
        guest, cid = await closed_chat_with_note(server, clients, email="sara@example.com",
                                                 language="fa")
        token = guest.welcome["visitor_token"]  # type: ignore[attr-defined]
        where = httpx.get(server.url + "/api/visitor/transcript-email?lang=fa",
                          headers={"authorization": f"Bearer {token}",
                                   "origin": "https://shop.example"})
        assert where.status_code == 200 and where.json()["email"] == "s***@example.com"
        assert where.json()["words"]["offer"] == "ارسال این گفتگو به ایمیلم (s***@example.com)"
        assert where.headers["access-control-allow-origin"] == "https://shop.example"
        asked = ask(server, token, cid)
        assert asked.status_code == 202, asked.text
        assert asked.json() == {"status": "queued", "email": "s***@example.com"}

        (mail,) = sink.wait_for(1)
        assert mail["To"] == "sara@example.com" and mail["Reply-To"] is None
        assert mail["Subject"] == "متن گفتگوی شما"
        body = parts(mail)
        text, html = body["text/plain"], body["text/html"]
        for content in (text, html):
            assert NOTE not in content and WHISPER not in content
            assert "Let me check order 77 for you" in content and "Ana" in content
        assert "سفارشم هنوز نرسیده <script>alert(1)</script>" in text
        assert "&lt;script&gt;" in html and "<script>" not in html
        assert '<html lang="fa" dir="rtl">' in html
        assert "شما" in text  # the visitor's own lines, named in their language

        # Asking again (a retried request) queues nothing new; the chat is mailed once.
        assert ask(server, token, cid).status_code == 202
        time.sleep(1)
        assert len(sink.messages) == 1
        # Another visitor cannot have it, nor can anyone without a token.
        stranger = await visitor(server, email="eve@example.com")
        clients.append(stranger)
        other = ask(server, stranger.welcome["visitor_token"], cid)  # type: ignore[attr-defined]
        assert other.status_code == 404 and other.json()["error"] == "not_found"
        assert ask(server, "forged", cid).status_code == 401
    finally:
        server.stop()


async def test_transcripts_are_refused_clearly(tmp_path: Path, db_location: str, sink: SmtpSink,
                                               clients: list[Client]) -> None:
    """No address, an open chat, a mailbox the SMTP server refuses, and the limits per
    visitor (a day) and per address (an hour)."""
    server = mail_server(tmp_path, db_location, sink,
                         CHATSERVER_EMAIL_TRANSCRIPTS_PER_VISITOR="1",
                         CHATSERVER_EMAIL_TRANSCRIPTS_PER_IP="4",
                         CHATSERVER_ABUSE_EXEMPT_ADDRESSES="")
    server.start()
    try:
        nameless = await visitor(server)
        clients.append(nameless)
        token = nameless.welcome["visitor_token"]  # type: ignore[attr-defined]
        nothing = ask(server, token, None, "GET")
        assert nothing.status_code == 409 and nothing.json()["error"] == "no_address"
        # An address typed in hello (or the pre-chat form) is nobody's proof: no transcript.
        typed = await visitor(server, email="victim@example.com")
        clients.append(typed)
        unproven = ask(server, typed.welcome["visitor_token"], None, "GET")  # type: ignore[attr-defined]
        assert unproven.status_code == 409 and unproven.json()["error"] == "no_address"
        open_cid = (await nameless.request("message", text="hello"))["conversation_id"]
        still_open = ask(server, token, open_cid)  # 1st from this address
        assert still_open.status_code == 409 and "still open" in still_open.json()["message"]

        bounced = await customer(server, "cust-bounced", f"nobody@{REFUSED_DOMAIN}")
        clients.append(bounced)
        cid = (await bounced.request("message", text="hello"))["conversation_id"]
        await bounced.request("close")
        btoken = bounced.welcome["visitor_token"]  # type: ignore[attr-defined]
        assert ask(server, btoken, cid).status_code == 202  # 2nd
        # A 550 is final: failed at once with the server's words, never retried.
        rows = wait_rows(server, lambda r: r and r[0][2] == "failed")
        assert rows[0][3] == 1 and "550" in rows[0][4]
        # The same visitor's next chat: over their one transcript a day.
        await bounced.request("message", text="again")
        cid2 = (await bounced.request("message", text="more"))["conversation_id"]
        await bounced.request("close")
        limited = ask(server, btoken, cid2)  # 3rd
        assert limited.status_code == 429 and "a day" in limited.json()["message"]

        fine = await customer(server, "cust-fine", "ok@example.com")
        clients.append(fine)
        cid3 = (await fine.request("message", text="hi"))["conversation_id"]
        await fine.request("close")
        ftoken = fine.welcome["visitor_token"]  # type: ignore[attr-defined]
        assert ask(server, ftoken, cid3).status_code == 202  # 4th
        over = ask(server, ftoken, cid3)  # 5th from this address within the hour
        assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
        assert "this address" in over.json()["message"]
    finally:
        server.stop()


async def test_an_smtp_outage_and_a_restart_lose_nothing_and_send_nothing_twice(
        tmp_path: Path, db_location: str) -> None:
    sink = SmtpSink()  # not started: the SMTP server is down
    # A 1 s timeout makes the lease 12 s: the killed process may have died holding some rows
    # (claimed, not yet given back), which wait for their lease to end, then go.
    server = mail_server(tmp_path, db_location, sink,
                         CHATSERVER_EMAIL_TIMEOUT_SECONDS="1").start()
    try:
        for n in range(5):
            await leave(server, f"v{n}@example.com", f"message {n}")
        # Tried, refused at the door, kept queued with why.
        rows = wait_rows(server, lambda r: len(r) == 5 and all(x[3] >= 1 for x in r))
        assert {x[2] for x in rows} == {"queued"} and "127.0.0.1" in rows[0][4]
        server.kill()  # the server dies mid-outage
        server.start()
        await leave(server, "v5@example.com", "message 5")
        sink.start()  # the SMTP server is back
        mails = sink.wait_for(6, timeout=40)
        wait_rows(server, lambda r: [x[2] for x in r] == ["sent"] * 6)
        time.sleep(1)  # room for a wrong second copy to arrive
        ids = sink.ids()
        assert len(ids) == len(set(ids)) == 6
        assert sorted(m["Reply-To"] for m in mails) == [f"v{n}@example.com" for n in range(6)]
    finally:
        server.stop()
        sink.stop()


async def test_two_processes_never_send_one_mail_twice(tmp_path: Path, db_location: str) -> None:
    """Two servers on one database, the SMTP server down while both queue, then back and slow:
    both senders race for the same rows; each mail arrives once."""
    sink = SmtpSink(slow_s=0.05)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = mail_server(tmp_path / "a", db_location, sink)
    second = mail_server(tmp_path / "b", db_location, sink)
    first.start()
    second.start()
    try:
        for n in range(12):
            await leave(first if n % 2 else second, f"p{n}@example.com", f"message {n}")
        wait_rows(first, lambda r: len(r) == 12 and all(x[3] >= 1 for x in r))
        sink.start()
        sink.wait_for(12)
        wait_rows(first, lambda r: [x[2] for x in r] == ["sent"] * 12)
        time.sleep(1)
        ids = sink.ids()
        assert len(ids) == 12 and len(set(ids)) == 12, ids
    finally:
        first.stop()
        second.stop()
        sink.stop()


async def test_a_visitors_export_lists_their_mails_and_erasure_removes_them(
        tmp_path: Path, db_location: str, clients: list[Client]) -> None:
    sink = SmtpSink()  # down: the mail stays queued
    server = mail_server(tmp_path, db_location, sink)
    add_user(server.db, "root", role="admin")
    server.start()
    try:
        guest = await visitor(server, email="gone@example.com")
        clients.append(guest)
        await guest.request("offline_message", email="gone@example.com", text="erase me later")
        await leave(server, "stays@example.com", "keep me")
        wait_rows(server, lambda r: len(r) == 2)
        vid = sql(server.db, "SELECT visitor_id FROM offline_messages WHERE email = ?",
                  ("gone@example.com",))[0][0]
        admin = Session(server, "root")
        # Their export lists the mail that holds their words; then the erasure deletes it.
        exported = admin.get(f"/api/privacy/visitors/{vid}/export").json()
        assert [(m["kind"], m["recipient"], m["state"]) for m in exported["emails"]] == [
            ("offline_alert", "team@shop.example", "queued")]
        assert "erase me later" in exported["emails"][0]["body_text"]
        erased = admin.send("POST", f"/api/privacy/visitors/{vid}/erase")
        admin.close()
        assert erased.status_code == 200, erased.text
        rows = sql(server.db, "SELECT recipient, body_text FROM mail_outbox")
        assert len(rows) == 1 and "keep me" in rows[0][1]
        assert "erase me later" not in json.dumps([list(r) for r in rows])
    finally:
        server.stop()



async def test_starttls_and_a_password_from_the_environment(tmp_path: Path) -> None:
    """The SMTP server requires STARTTLS and a login; the password reaches it only through
    CHATSERVER_EMAIL_PASSWORD (the certificate is trusted through SSL_CERT_FILE, as a private
    CA would be). A wrong password keeps the mail queued with the server's answer."""
    cert, key = self_signed(tmp_path)
    sink = SmtpSink(tls=(cert, key), login=("mailer", "s3cret pass")).start()
    tls = {"CHATSERVER_EMAIL_HOST": "localhost", "CHATSERVER_EMAIL_SECURITY": "starttls",
           "CHATSERVER_EMAIL_USER": "mailer", "SSL_CERT_FILE": str(cert)}
    (tmp_path / "wrong").mkdir()
    wrong = mail_server(tmp_path / "wrong", None, sink, **tls,
                        CHATSERVER_EMAIL_PASSWORD="guess").start()
    try:
        await leave(wrong, "reza@example.com", "over TLS, please")
        rows = wait_rows(wrong, lambda r: r and r[0][3] >= 1 and r[0][4])
        assert rows[0][2] == "queued" and "535" in rows[0][4]
    finally:
        wrong.stop()
    (tmp_path / "right").mkdir()
    right = mail_server(tmp_path / "right", None, sink, **tls,
                        CHATSERVER_EMAIL_PASSWORD="s3cret pass").start()
    try:
        await leave(right, "reza@example.com", "over TLS, please")
        (mail,) = sink.wait_for(1)
        assert mail["Reply-To"] == "reza@example.com" and sink.logins == ["mailer"]
        assert "s3cret" not in (tmp_path / "right" / "server.log").read_text()
    finally:
        right.stop()
        sink.stop()
