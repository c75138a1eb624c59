"""E-mail: what the server mails (offline messages to the team, a transcript to its visitor),
queued in the store's outbox with what causes it, and the sender that empties the outbox.

The sender is one task per process. It claims due mails under a lease (store/outbox.py), sends
them over one SMTP session in a thread (smtp.py), renewing the lease on the rows still to go
before each mail, and marks each, as soon as its mail is done, sent, due again after a
back-off (the server down, a 4xx), or failed (a 5xx refusal, or older than give_up_hours). It
wakes when this process queues a mail and every `poll_seconds` for the others' and for retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from chatserver.config import EmailConfig
from chatserver.core.errors import ChatError, Conflict, NotFound, RateLimited
from chatserver.core.mail_content import (
    TRANSCRIPT,
    BadAddress,
    Line,
    OutboxMail,
    address_only,
    mailbox,
    mime,
    offline_alert,
    transcript,
)
from chatserver.store import mail_outbox as outbox
from chatserver.store.store import Store
from chatserver.tokens import new_id

from . import smtp
from .event_frames import event_frame

log = logging.getLogger(__name__)

BATCH = 10  # mails per SMTP session and claim
SESSION_COMMANDS = 6  # connect, EHLO, STARTTLS, EHLO, AUTH and its continuation
MAIL_COMMANDS = 4  # MAIL FROM, RCPT TO, DATA, the data's end
DAY_MS = 86_400_000
MIN_WAIT_S = 0.05  # between looks at the outbox, however soon a retry is due


class NoAddress(ChatError):
    """The visitor gave no e-mail address (or an unusable one) to send their transcript to."""

    code = "no_address"
    http_status = 409


def masked(address: str) -> str:
    """An address shown back to the visitor who gave it, not to whoever reads over a shoulder:
    'reza@example.com' -> 'r***@example.com'."""
    local, _, domain = address_only(address).rpartition("@")
    return f"{local[:1]}***@{domain}"


def _wall_ms() -> int:
    return int(time.time() * 1000)


class Mailer:
    """Composes mails into the outbox and runs the sender."""

    def __init__(self, config: EmailConfig, store: Store, *, desk_language: str = "en",
                 clock: Callable[[], int] = _wall_ms) -> None:
        self.config, self.store, self.clock = config, store, clock
        self.desk_language = desk_language
        self.owner = new_id()  # this process's name on the leases it takes
        self._wake = asyncio.Event()
        self.sent = self.failed = 0  # counted for /metrics and the tests' patience

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def wake(self) -> None:
        self._wake.set()

    # --- composing ------------------------------------------------------------------------

    def offline_alert(self, visitor_id: str, client_id: str, fields: Mapping[str, str],
                      now_ms: int) -> OutboxMail | None:
        """The team's mail for an offline message (None when mail is off or has nowhere to
        go): to the topic's address if it has one, else the team's."""
        config = self.config
        topic = fields.get("topic", "")
        to = config.topic_addresses.get(topic) or config.team_address
        if not config.enabled or not to:
            return None
        return offline_alert(
            visitor_id=visitor_id, client_id=client_id, email=fields["email"],
            text=fields["text"], topic=topic, visitor_language=fields.get("language", ""),
            page_url=fields.get("page_url", ""), ts_ms=now_ms, to=to,
            sender=config.from_address, language=self.desk_language)

    async def address_of(self, visitor_id: str) -> str:
        """The address a visitor's transcript goes to: the e-mail of their verified identity
        (the site's own login, ChatWidget.identify with the site's signature), never one typed
        in the pre-chat form or hello, which nobody proved: a script could type anyone's and
        have its own text mailed to them from the shop's domain. NoAddress otherwise."""
        row = await self.store.fetchone(
            "SELECT email, erased_ms, verified FROM visitors WHERE id = ?", (visitor_id,))
        if row is None or row["erased_ms"] is not None:
            raise NotFound("no such visitor")
        if not row["verified"] or not row["email"]:
            raise NoAddress("transcripts go only to the e-mail address of a signed-in customer")
        try:
            return mailbox(row["email"], "your e-mail address")
        except BadAddress as error:
            raise NoAddress(str(error)) from None

    async def request_transcript(self, visitor_id: str, conversation_id: str) -> dict[str, Any]:
        """Queue a visitor's own chat to their own address, once per chat (asking again
        answers the same while it is queued or sent; one that failed, a bounce, is queued
        again to the address the visitor has now) and at most `transcripts_per_visitor` a
        day."""
        if not self.config.enabled:
            raise NotFound("this server sends no e-mail")
        conv = await self.store.conversation_row(conversation_id)
        if conv is None or conv["visitor_id"] != visitor_id:
            raise NotFound("no such conversation")
        if conv["state"] != "closed":
            raise Conflict("the chat is still open: ask for its transcript once it has ended")
        to = await self.address_of(visitor_id)
        now = self.clock()
        done = await outbox.by_key(self.store, f"transcript:{conversation_id}")
        if done is not None and done["state"] != "failed":
            return {"status": "queued", "email": masked(done["recipient"])}
        limit = self.config.transcripts_per_visitor
        # a failed one of this chat counts once, as the one that replaces it
        counted = await outbox.sent_recently(self.store, visitor_id, TRANSCRIPT, now - DAY_MS,
                                             except_key=f"transcript:{conversation_id}")
        if limit and counted >= limit:
            raise RateLimited(f"at most {limit} transcripts a day; try again tomorrow")
        lines = await self._lines(conversation_id)
        mail = transcript(visitor_id=visitor_id, conversation_id=conversation_id, lines=lines,
                          started_ms=int(conv["created_ms"]), to=to,
                          sender=self.config.from_address, language=conv["language"] or "en")
        if await outbox.add(self.store, mail, now, replace_failed=True):
            self.wake()
        return {"status": "queued", "email": masked(to)}

    async def _lines(self, conversation_id: str) -> list[Line]:
        """The chat's lines as its visitor saw them: the visitor's frames, never a note or a
        whisper (event_frames decides, as it does for the widget)."""
        lines = []
        for event in await self.store.events_after(conversation_id, 0):
            frame = event_frame(event, for_visitor=True)
            if frame is None or frame["type"] != "message":
                continue
            attachment = frame.get("attachment") or {}
            lines.append(Line(frame["from"], frame.get("author", ""), event.ts_ms,
                              frame.get("text", ""), str(attachment.get("name", ""))))
        return lines

    # --- sending --------------------------------------------------------------------------

    def _lease_ms(self) -> int:
        """How long rows are held without news: a session's opening (connect, EHLO,
        STARTTLS, EHLO, AUTH and its answer) and one mail's commands (MAIL, RCPT, DATA, the
        data's end), each allowed the whole timeout, with one to spare. The lease on the rows
        still to go is renewed before each mail, and each row is marked as soon as its mail
        is done, so a slow server never lets another process claim a row being sent."""
        return int(self.config.timeout_seconds * (SESSION_COMMANDS + MAIL_COMMANDS + 1) * 1000)

    def _backoff_ms(self, attempts: int) -> int:
        config = self.config
        return int(min(config.retry_max_seconds,
                       config.retry_base_seconds * 2 ** max(0, attempts - 1)) * 1000)

    async def send_due(self) -> int:
        """Claim and send one batch of due mails; returns how many were claimed."""
        now = self.clock()
        rows = await outbox.claim(self.store, self.owner, now, self._lease_ms(), BATCH)
        claimed = len(rows)
        sender, ready = self.config.from_address, []
        for row in rows:
            try:
                ready.append((row, mime(_mail(row), sender, int(row["created_ms"]))))
            except (ValueError, TypeError) as error:  # a header no mail may carry: never sendable
                await self._give_up(row, f"cannot be written as a mail: {error}")
        if not ready:
            return claimed
        try:
            client = await asyncio.to_thread(smtp.open_session, self.config)
        except smtp.Unreachable as error:
            log.warning("e-mail: SMTP server unreachable (%d mails wait): %s", len(ready), error)
            for row, _ in ready:
                await self._settle(row, None, str(error))
            return claimed
        lost = ""
        try:
            for index, (row, message) in enumerate(ready):
                if lost:
                    await self._settle(row, None, lost)
                    continue
                held = await outbox.renew(self.store, [int(r["id"]) for r, _ in ready[index:]],
                                          self.owner, self.clock() + self._lease_ms())
                if int(row["id"]) not in held:  # our lease ended and another process has it
                    continue
                try:
                    outcome = await asyncio.to_thread(smtp.send_one, client, message)
                except smtp.SessionLost as error:
                    lost = f"session lost: {error}"
                    await self._settle(row, None, lost)
                    continue
                await self._settle(row, outcome, outcome.error)
        finally:
            await asyncio.to_thread(smtp.close, client)
        return claimed

    async def _settle(self, row: dict[str, Any], outcome: smtp.Outcome | None,
                      problem: str) -> None:
        """Mark one claimed row: sent, failed for good (refused, or too old), or due again."""
        now, row_id = self.clock(), int(row["id"])
        if outcome is not None and outcome.sent:
            await outbox.sent(self.store, row_id, self.owner, now)
            self.sent += 1
            return
        too_old = now - int(row["created_ms"]) > self.config.give_up_hours * 3_600_000
        if (outcome is not None and outcome.permanent) or too_old:
            await self._give_up(row, problem)
        else:
            await outbox.retry(self.store, row_id, self.owner,
                               now + self._backoff_ms(int(row["attempts"])), problem)

    async def _give_up(self, row: dict[str, Any], problem: str) -> None:
        log.warning("e-mail %s to %s not sent: %s", row["message_id"], masked(row["recipient"]),
                    problem)
        await outbox.give_up(self.store, int(row["id"]), self.owner, self.clock(), problem)
        self.failed += 1

    async def run(self) -> None:
        """Send until cancelled; a failure (the database away) is logged and tried again."""
        if not self.config.enabled:
            return
        while True:
            try:
                while await self.send_due() == BATCH:
                    pass
                wait = self.config.poll_seconds
                due = await outbox.next_due_ms(self.store)
                if due is not None:
                    wait = min(wait, max(MIN_WAIT_S, (due - self.clock()) / 1000))
            except Exception:  # the store or SMTP in a state nobody foresaw: keep going
                log.exception("e-mail sender failed; trying again")
                wait = self.config.poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()


def _mail(row: Any) -> OutboxMail:
    return OutboxMail(key="", kind=row["kind"], visitor_id="", recipient=row["recipient"],
                      reply_to=row["reply_to"], subject=row["subject"], text=row["body_text"],
                      html=row["body_html"], message_id=row["message_id"])
