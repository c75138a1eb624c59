"""E-mail's hard cases (issue 21 e-mail review): an unsendable mail fails alone, international
domains as punycode, a bounced transcript sent again to the corrected address, no transcript to
an address nobody proved, a slow SMTP server and two processes, a masked address with a name."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from chatserver.config import EmailConfig
from chatserver.core.mail_content import mailbox, mime, offline_alert
from chatserver.service.mail import Mailer, masked
from chatserver.store import mail_outbox as outbox
from chatserver.store.store import Store

from .databases import BACKENDS, db_location
from .harness import Client, Server, visitor
from .smtp_sink import REFUSED_DOMAIN, SmtpSink, _Handler
from .test_email import customer, mail_server

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

SENDER = "Support <support@shop.example>"


def alert(n: int, email: str | None = None, visitor_id: str = "v1"):
    return offline_alert(visitor_id=visitor_id, client_id=f"c{n}",
                         email=email or f"v{n}@example.com", text=f"message {n}", topic="",
                         visitor_language="en", page_url="", ts_ms=1, to="team@shop.example",
                         sender=SENDER, language="en")


async def test_one_unsendable_international_address_does_not_hold_back_the_other_mails(
        db_location: str) -> None:
    """A visitor types an address with an internationalised domain (reza@bücher.de); the
    protocol's e-mail check and mailbox() both accept it, so their transcript is queued. The
    SMTP server does not offer SMTPUTF8, so smtplib raises SMTPNotSupportedError for that mail,
    which smtp.send_all treats as 'session lost': every other mail claimed in the same batch is
    failed as temporary too, and they are retried together with it for give_up_hours, the bad
    one first in each batch (same next_ms, lower id). Offline messages for the team are held
    back for up to 72 hours. The unsendable mail must fail alone (or be sent as punycode /
    SMTPUTF8), and the good mails in the batch must be sent on the first try."""
    sink = SmtpSink()
    # A real SMTP server without the SMTPUTF8 extension (most relays before ~2018, and the
    # default of many): aiosmtpd offers it unless told not to.
    sink.controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port,
                                 enable_SMTPUTF8=False)
    sink.controller.start()
    store = Store(db_location)
    await store.open()
    now = [1_000_000]
    settings = EmailConfig(enabled=True, host="127.0.0.1", port=sink.port, security="none",
                           from_address=SENDER, timeout_seconds=5, retry_base_seconds=30)
    mailer = Mailer(settings, store, clock=lambda: now[0])
    try:
        idn = dataclasses.replace(alert(1), key="transcript:idn",
                                  recipient=mailbox("reza@bücher.de", "to"))
        good = alert(2)
        await outbox.add(store, idn, now[0])
        await outbox.add(store, good, now[0])
        await mailer.send_due()
        states = {r[0]: (r[1], r[2]) for r in await store.fetchall(
            "SELECT key, state, last_error FROM mail_outbox")}
        assert states[good.key][0] == "sent", states
    finally:
        await store.close()
        sink.stop()


def test_reply_to_of_a_visitor_with_an_international_domain_is_a_real_address() -> None:
    """A visitor whose address has an internationalised domain (reza@bücher.de, accepted by
    the protocol and by mailbox()) leaves an offline message. The team's mail carries
    `Reply-To: reza@=?utf-8?q?b=C3=BCcher?=.de`: an encoded word inside an addr-spec is not
    an address (RFC 2047 section 5), so the agent's 'Reply' goes nowhere and the visitor never
    hears back. Reply-To must be the punycode form (reza@xn--bcher-kva.de) or be sent with
    SMTPUTF8, never an encoded word."""
    mail = alert(1, email="reza@bücher.de")
    raw = mime(mail, SENDER, 1).as_bytes()
    header = next(line for line in raw.split(b"\n") if line.startswith(b"Reply-To:"))
    assert b"=?" not in header, header


def test_the_masked_address_shown_to_the_visitor_is_not_garbled_by_a_display_name() -> None:
    """The profile e-mail 'Reza<reza@example.com>' passes the protocol's check (no spaces, one
    @); address_of() returns mailbox()'s 'Reza <reza@example.com>', and masked() of that shows
    the visitor 'R***@example.com>' in the widget's offer (a stray '>', and the initial of the
    name instead of the mailbox). It should show 'r***@example.com'."""
    shown = masked(mailbox("Reza<reza@example.com>", "your e-mail address"))
    assert shown == "r***@example.com", shown


def ask(server: Server, token: str, cid: str | None, method: str = "POST") -> httpx.Response:
    headers = {"authorization": f"Bearer {token}", "origin": "https://shop.example"}
    if cid is not None:
        headers["x-conversation-id"] = cid
    return httpx.request(method, server.url + "/api/visitor/transcript-email", headers=headers)


def wait_state(server: Server, state: str, recipient: str, timeout: float = 20.0) -> list[Any]:
    """The outbox rows to `recipient` once the first is in `state` (or the timeout passed)."""
    from .harness import sql
    deadline = time.monotonic() + timeout
    while True:
        rows = [tuple(r) for r in sql(server.db, "SELECT state, recipient FROM mail_outbox "
                                                 "WHERE recipient = ? ORDER BY id", (recipient,))]
        if (rows and rows[0][0] == state) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


@pytest.fixture(scope="module", params=BACKENDS)
def mail_desk(tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Iterator[tuple[Server, SmtpSink]]:
    """One server and SMTP sink per backend for the transcript tests (a start costs ~1.5 s of
    CPU): each test's visitors have addresses of their own, and it looks at their mails only.
    transcripts_per_ip is 1, which the limit test needs and the others never reach: every
    visitor comes from 127.0.0.1, exempt from per-address limits."""
    from .databases import location

    folder = tmp_path_factory.mktemp(f"mail-{request.param}")
    sink = SmtpSink().start()
    try:
        with location(request.param, folder) as where:
            server = mail_server(folder, where, sink,
                                 CHATSERVER_EMAIL_TRANSCRIPTS_PER_IP="1").start()
            try:
                yield server, sink
            finally:
                server.stop()
    finally:
        sink.stop()


async def test_a_transcript_that_bounced_is_not_reported_queued_to_the_corrected_address(
        mail_desk: tuple[Server, SmtpSink], clients: list[Client]) -> None:
    """A visitor mistyped their address; the transcript is refused (550) and marked failed.
    They correct the address (a new hello with the same token and the right e-mail) and press
    'e-mail me this chat' again: the server answers 202 {"status": "queued", "email":
    "s***@example.com"} (the new address) although nothing is queued and nothing will ever be
    sent: request_transcript returns early whenever a row with the key exists, whatever its
    state and recipient. The visitor waits for a mail that never comes. A failed transcript
    should be queued again to the current address (or the answer must say it failed)."""
    server, sink = mail_desk
    guest = await customer(server, "cust-sara", f"sara@{REFUSED_DOMAIN}")
    clients.append(guest)
    token = guest.welcome["visitor_token"]  # type: ignore[attr-defined]
    cid = (await guest.request("message", text="hello"))["conversation_id"]
    await guest.request("close")
    assert ask(server, token, cid).status_code == 202
    rows = wait_state(server, "failed", f"sara@{REFUSED_DOMAIN}")
    assert rows and rows[0][0] == "failed", rows
    await guest.ws.close()
    # The site's account now has the right address (a verified identify carries it).
    fixed = await customer(server, "cust-sara", "sara@example.com", visitor_token=token)
    clients.append(fixed)
    again = ask(server, token, cid)
    assert again.status_code == 202, again.text
    assert again.json()["email"] == "s***@example.com"
    # The answer says it is queued to the corrected address: then it must arrive there.
    sink.wait_for(1, timeout=10, where=lambda m: m["To"] == "sara@example.com")


async def test_a_transcript_cannot_carry_a_strangers_text_to_an_address_nobody_proved(
        mail_desk: tuple[Server, SmtpSink], clients: list[Client]) -> None:
    """docs/email.md promises there is no way to 'send a text of their making to anyone from
    the shop's server'. But the transcript goes to the profile address, which any anonymous
    visitor types freely in hello: a script says hello with email=victim@example.com, sends
    its advertisement (or phishing link) as a chat message, closes the chat and asks for the
    transcript; the victim receives the script's text from the shop's own domain (passing its
    SPF/DKIM). A new visitor token per mail bypasses transcripts_per_visitor, and
    transcripts_per_ip is only per process. A transcript should go only to an address the
    visitor proved (a verified identity's e-mail), or only after the address is confirmed."""
    # (The fix: only a verified identity's address; docs/email.md says why.)
    server, sink = mail_desk
    spam = "Your parcel is held: pay the fee at https://evil.example/pay"
    script = await visitor(server, email="victim@example.com")
    clients.append(script)
    token = script.welcome["visitor_token"]  # type: ignore[attr-defined]
    cid = (await script.request("message", text=spam))["conversation_id"]
    await script.request("close")
    refused = ask(server, token, cid)  # refused for the address, not by a limit
    assert (refused.status_code, refused.json()["error"]) == (409, "no_address"), refused.text
    time.sleep(3)
    relayed = [m for _, m in sink.messages
               if m["To"] == "victim@example.com" and spam in m.as_string()]
    assert relayed == [], "an unproven address received a stranger's text from the shop"


async def test_the_per_address_transcript_limit_spares_exempt_addresses_as_the_others_do(
        mail_desk: tuple[Server, SmtpSink], clients: list[Client]) -> None:
    """Behind a local proxy that sends no X-Forwarded-For every visitor comes from 127.0.0.1,
    which the other per-address limits exempt (abuse.exempt_addresses, the default): the
    transcript limit must not count all the shop's customers as one address either."""
    server, sink = mail_desk
    for n in range(2):
        guest = await customer(server, f"cust-{n}", f"c{n}@example.com")
        clients.append(guest)
        cid = (await guest.request("message", text="hello"))["conversation_id"]
        await guest.request("close")
        asked = ask(server, guest.welcome["visitor_token"], cid)  # type: ignore[attr-defined]
        assert asked.status_code == 202, asked.text
    sink.wait_for(2, timeout=10, where=lambda m: m["To"] in ("c0@example.com", "c1@example.com"))


class _SlowHandler(_Handler):
    """An SMTP server that answers every RCPT and DATA slowly but within the timeout (a
    loaded relay, greylisting-style tarpitting)."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        import asyncio

        await asyncio.sleep(0.8)
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        await asyncio.sleep(0.8)
        return await super().handle_DATA(server, session, envelope)


async def test_a_slow_but_working_smtp_server_does_not_make_two_processes_send_a_mail_twice(
        db_location: str) -> None:
    """Mailer._lease_ms says the lease is 'long enough for a whole batch at the timeout':
    timeout * (BATCH + 2). But each mail is several SMTP commands (MAIL, RCPT, DATA, the
    data's end), each allowed the whole timeout, and the rows are marked sent only after the
    whole batch. With a relay that takes 0.8 s for RCPT and for DATA (timeout 1 s, so nothing
    times out), a batch of 10 takes ~16 s, the 12 s lease ends mid-batch, the other process
    claims the same 10 rows and sends them again: the team and visitors get every mail twice
    with no crash at all. The lease must cover a batch (or be renewed / rows marked one by
    one), so that without a crash a mail is sent once."""
    import asyncio

    sink = SmtpSink()
    sink.controller = Controller(_SlowHandler(sink), hostname="127.0.0.1", port=sink.port)
    sink.controller.start()
    first, second = Store(db_location), Store(db_location)
    await first.open()
    await second.open()
    settings = EmailConfig(enabled=True, host="127.0.0.1", port=sink.port, security="none",
                           from_address=SENDER, timeout_seconds=1, retry_base_seconds=30)
    one, two = Mailer(settings, first), Mailer(settings, second)
    try:
        now = int(time.time() * 1000)
        for n in range(10):
            await outbox.add(first, alert(n), now)
        busy = asyncio.create_task(one.send_due())
        await asyncio.sleep(12.5)  # the other process's poll, after the lease ended
        await two.send_due()
        await busy
        ids = sink.ids()
        assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} mails sent twice"
    finally:
        await first.close()
        await second.close()
        sink.stop()
