"""The e-mail outbox in the store on both backends, its sender against a real SMTP server, and
the mails' content (pure).

Two stores on one database stand for two processes: their claims never share a row; a row
whose sender died comes back when its lease ends; the back-off pushes a retry out; retention
deletes mails sent long ago and never a queued one; erasure deletes a visitor's mails. The
content: a plain-text part always, HTML escaped with each line in its own direction, words in
the visitor's language, a Message-ID fixed by the cause; bad addresses and a password in the
config file refused with messages that name the key."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from chatserver import config as config_module
from chatserver.config import ConfigError, EmailConfig, RetentionConfig
from chatserver.core.mail_content import (
    BadAddress,
    Line,
    mailbox,
    message_id,
    mime,
    offline_alert,
    transcript,
)
from chatserver.privacy.retention import purge
from chatserver.service.mail import Mailer
from chatserver.store import mail_outbox as outbox
from chatserver.store.store import Store

from .databases import db_location
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

DAY_MS = 86_400_000
SENDER = "Support <support@shop.example>"


def alert(n: int, visitor_id: str = "v1"):
    return offline_alert(visitor_id=visitor_id, client_id=f"c{n}", email=f"v{n}@example.com",
                         text=f"message {n}", topic="", visitor_language="en", page_url="",
                         ts_ms=1, to="team@shop.example", sender=SENDER, language="en")


async def test_two_senders_never_claim_one_row_and_a_dead_ones_lease_ends(
        db_location: str) -> None:
    first, second = Store(db_location), Store(db_location)
    await first.open()
    await second.open()
    try:
        for n in range(30):
            assert await outbox.add(first, alert(n), 1_000)
        assert not await outbox.add(first, alert(0), 1_000)  # one mail per cause
        claims = await asyncio.gather(*(
            outbox.claim(store, owner, 2_000, 60_000, 4)
            for _ in range(5) for store, owner in ((first, "a"), (second, "b"))))
        ids = [row["id"] for rows in claims for row in rows]
        assert len(ids) == len(set(ids)) == 30  # every row once, none twice
        # Nothing is due again while leased; a sender that died ("b") loses its rows when its
        # lease ends, and they come back with their attempt counted.
        assert await outbox.claim(first, "a", 30_000, 60_000, 100) == []
        again = await outbox.claim(first, "a", 62_001, 60_000, 100)
        assert len(again) == 30 and {row["attempts"] for row in again} == {2}
        # Marks by a sender that no longer holds the lease change nothing.
        await outbox.sent(second, again[0]["id"], "b", 62_002)
        await outbox.sent(first, again[0]["id"], "a", 62_002)
        await outbox.retry(first, again[1]["id"], "a", 90_000, "421 try later")
        await outbox.give_up(first, again[2]["id"], "a", 62_003, "550 no such mailbox")
        states = await first.fetchall("SELECT id, state, next_ms, last_error FROM mail_outbox "
                                      "WHERE id IN (?, ?, ?) ORDER BY id",
                                      [row["id"] for row in again[:3]])
        assert [tuple(r)[1:] for r in states] == [
            ("sent", 1_000, ""), ("queued", 90_000, "421 try later"),
            ("failed", 1_000, "550 no such mailbox")]
        # The retried one is due at its back-off, not before.
        assert await outbox.claim(first, "a", 89_999, 1, 100) == []
        assert [r["id"] for r in await outbox.claim(first, "a", 200_000, 1, 100)] == [
            again[1]["id"], *[row["id"] for row in again[3:]]]
    finally:
        await first.close()
        await second.close()


async def test_retention_purges_old_sent_mails_and_erasure_a_visitors(db_location: str) -> None:
    store = Store(db_location)
    await store.open()
    try:
        for n in range(3):
            await outbox.add(store, alert(n, visitor_id=f"v{n}"), 1_000)
        rows = await outbox.claim(store, "a", 1_000, 60_000, 10)
        await outbox.sent(store, rows[0]["id"], "a", 2_000)
        await outbox.give_up(store, rows[1]["id"], "a", 2_000, "550")
        await outbox.retry(store, rows[2]["id"], "a", 3_000, "down")
        report = await purge(store, RetentionConfig(message_text_days=0, offline_message_days=0,
                                                    visitor_profile_days=0, presence_days=0,
                                                    sent_mail_days=30),
                             2_000 + 31 * DAY_MS, pause_s=0)
        assert report.mails == 2
        left = await store.fetchall("SELECT visitor_id, state FROM mail_outbox")
        assert [tuple(r) for r in left] == [("v2", "queued")]  # queued: kept until sent
        erased = await store.write(lambda conn: outbox.erase(conn, ["v2"]))
        assert erased == 1 and await store.fetchall("SELECT * FROM mail_outbox") == []
    finally:
        await store.close()


async def test_the_sender_marks_each_mail_by_what_became_of_it(db_location: str) -> None:
    """Sent; refused for good (550: failed at once); a header no mail may carry (failed, the
    others still go); the SMTP server down (queued, due again after the back-off); too old."""
    sink = SmtpSink().start()
    store = Store(db_location)
    await store.open()
    now = [1_000_000]
    settings = EmailConfig(enabled=True, host="127.0.0.1", port=sink.port, security="none",
                           from_address=SENDER, timeout_seconds=5, retry_base_seconds=30,
                           give_up_hours=1)
    mailer = Mailer(settings, store, clock=lambda: now[0])
    try:
        good, refused = alert(1), dataclasses.replace(alert(2), recipient="x@refuse.invalid")
        broken = dataclasses.replace(alert(3), recipient="a@b.example\r\nBcc: c@d.example")
        for mail in (good, refused, broken):
            await outbox.add(store, mail, now[0])
        assert await mailer.send_due() == 3
        states = {r[0]: (r[1], r[2]) for r in await store.fetchall(
            "SELECT key, state, last_error FROM mail_outbox")}
        assert states[good.key] == ("sent", "")
        assert states[refused.key][0] == "failed" and "550" in states[refused.key][1]
        assert states[broken.key][0] == "failed" and "cannot be written" in states[broken.key][1]
        assert [str(m["Message-ID"]) for _, m in sink.messages] == [good.message_id]
        assert (mailer.sent, mailer.failed) == (1, 2)

        sink.stop()  # down: the mail waits, due again 30 s on, then 60 s after the next try
        later = alert(4)
        await outbox.add(store, later, now[0])
        assert await mailer.send_due() == 1
        assert await outbox.next_due_ms(store) == now[0] + 30_000
        now[0] += 30_000
        assert await mailer.send_due() == 1
        assert await outbox.next_due_ms(store) == now[0] + 60_000
        now[0] += 3_600_001  # past give_up_hours: failed, with the last reason
        assert await mailer.send_due() == 1
        (row,) = await store.fetchall("SELECT state, attempts, last_error FROM mail_outbox "
                                      "WHERE key = ?", (later.key,))
        assert (row[0], row[1]) == ("failed", 3) and "127.0.0.1" in row[2]
    finally:
        await store.close()
        sink.stop()


def test_an_offline_alert_is_text_and_escaped_html_each_line_in_its_direction() -> None:
    mail = offline_alert(visitor_id="v", client_id="c", email="reza@example.com",
                         text="سلام <img src=x onerror=alert(1)>\n\nOrder #77, please",
                         topic="billing", visitor_language="fa", page_url="https://shop/p?a=1&b=2",
                         ts_ms=0, to="team@shop.example", sender=SENDER, language="en")
    assert mail.reply_to == "reza@example.com" and mail.recipient == "team@shop.example"
    assert "سلام <img src=x onerror=alert(1)>" in mail.text and "billing" in mail.text
    assert "<img" not in mail.html and "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    assert '<p dir="auto">سلام' in mail.html and '<p dir="auto">Order #77' in mail.html
    assert "a=1&amp;b=2" in mail.html and '<html lang="en" dir="ltr">' in mail.html
    message = mime(mail, SENDER, 0)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == mail.message_id == message_id("offline:v:c", SENDER)
    assert message["Auto-Submitted"] == "auto-generated"
    # An address that cannot be a Reply-To (it passed the frame's looser check) is left out,
    # and the mail still goes: the address is in the body for a person to read.
    odd = offline_alert(visitor_id="v", client_id="d", email="a@b@c.example", text="x",
                        topic="", visitor_language="", page_url="", ts_ms=0,
                        to="team@shop.example", sender=SENDER, language="zh")
    assert odd.reply_to == "" and "a@b@c.example" in odd.text and "来自" in odd.subject


@pytest.mark.parametrize(("language", "subject", "direction"), [
    ("fa-IR", "متن گفتگوی شما", "rtl"), ("ar", "نص محادثتك", "rtl"),
    ("zh", "您的聊天记录", "ltr"), ("de", "Your chat transcript", "ltr")])
def test_a_transcript_is_in_the_visitors_language(language: str, subject: str,
                                                  direction: str) -> None:
    lines = [Line("visitor", "Sara", 0, "where is order 77?"),
             Line("agent", "Ana", 60_000, "مرسوله در راه است", "label.pdf"),
             Line("bot", "Bot", 120_000, "<b>bye</b>")]
    mail = transcript(visitor_id="v", conversation_id="c1", lines=lines, started_ms=0,
                      to="sara@example.com", sender=SENDER, language=language)
    assert mail.subject == subject and f'dir="{direction}"' in mail.html
    assert "&lt;b&gt;bye&lt;/b&gt;" in mail.html and "<b>bye</b>" in mail.text
    assert "label.pdf" in mail.text and "[00:01 UTC] Ana:" in mail.text
    assert mail.key == "transcript:c1"


@pytest.mark.parametrize("value", ["", "no-at-sign", "a@localhost", "a@b.example\r\nBcc: x@y.z",
                                   "a@b.example, c@d.example", "two words@b.example"])
def test_bad_addresses_are_refused_saying_which(value: str) -> None:
    with pytest.raises(BadAddress, match=r"email\.team_address"):
        mailbox(value, "email.team_address")


def test_the_email_settings_are_checked_at_start(tmp_path: Path) -> None:
    on = {"CHATSERVER_EMAIL_ENABLED": "true", "CHATSERVER_EMAIL_FROM_ADDRESS": "s@shop.example"}
    assert config_module.load(None, on).email.from_address == "s@shop.example"
    with pytest.raises(ConfigError, match=r"email\.from_address"):
        config_module.load(None, {**on, "CHATSERVER_EMAIL_FROM_ADDRESS": "support"})
    with pytest.raises(ConfigError, match=r"email\.topic_addresses\.billing"):
        config_module.load(None, {**on, "CHATSERVER_EMAIL_TOPIC_ADDRESSES":
                                  '{"billing": "nobody"}'})
    with pytest.raises(ConfigError, match=r"email\.security"):
        config_module.load(None, {**on, "CHATSERVER_EMAIL_SECURITY": "ssl"})
    with pytest.raises(ConfigError, match="in clear"):
        config_module.load(None, {**on, "CHATSERVER_EMAIL_SECURITY": "none",
                                  "CHATSERVER_EMAIL_HOST": "smtp.example.com",
                                  "CHATSERVER_EMAIL_USER": "u",
                                  "CHATSERVER_EMAIL_PASSWORD": "pw"})
    path = tmp_path / "config.toml"
    path.write_text('[email]\nuser = "u"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match="CHATSERVER_EMAIL_PASSWORD") as refused:
        config_module.load(path, {})
    assert "hunter2" not in str(refused.value)
    loaded = config_module.load(None, {"CHATSERVER_EMAIL_USER": "u",
                                       "CHATSERVER_EMAIL_PASSWORD": "hunter2"})
    assert loaded.email.password == "hunter2" and "hunter2" not in repr(loaded)
