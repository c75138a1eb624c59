"""The bot learns from the agents: proposals from answered hand-offs, and what nobody answers.

When an agent answers a chat the bot handed off with a knowledge-base entry (the console's
agent-assist Insert or a canned response linked to an entry sends `entry_id` with the line; the
close dialog may name one), the visitor's question before the hand-off is proposed as a new
phrasing of that entry. An admin approves it (the phrasing joins the entry through the
knowledge base, as a new version kept in its history, and the bot matches it at once), edits
then approves, or rejects it (kept, with who and when).

Questions the bot could not answer (handed off for low confidence, or after ignored
suggestions) are read from the event log and grouped by the bot's own matcher
(bot.learning.group_questions): "what visitors ask that no entry answers".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import Bot, primary_language, wants_human
from bot.learning import group_questions
from bot.script import detect
from bot.smalltalk import kind_of
from chatserver.core.conversation import REQUEUE_REASONS, Event
from chatserver.core.errors import Conflict, NotFound
from chatserver.store.kb_store import KnowledgeBase
from chatserver.store.store import Conn, Row, Store
from knowledge_base.model import MAX_QUESTION, EntryError

log = logging.getLogger(__name__)

ERASED = "[erased]"  # privacy.TOMBSTONE: such a line is nobody's question any more
# Bot replies that say the visitor's line was not a question about the knowledge base.
NOT_A_QUESTION = frozenset({"smalltalk", "offer_human"})
# Hand-offs that mean "no entry answered this": the bot found nothing, or the visitor ignored
# its suggestions and asked again.
UNANSWERED_REASONS = ("low_confidence", "second_failure")
DAY_MS = 86_400_000
UNANSWERED_DAYS = 30  # a month of hand-offs: what is still being asked, not last year's topics
UNANSWERED_LIMIT = 600  # newest hand-offs read; grouping them costs ~1 ms each
EXAMPLES = 5  # questions shown per group


# --- which words were the question ----------------------------------------------------------


def question_before_handoff(events: Sequence[Event]) -> str | None:
    """The visitor's question in a chat the bot handed off, or None.

    The visitor's last line before the first hand-off, skipping lines that asked for a person
    ("agent please" is no phrasing of any entry), that the bot took for small talk or
    frustration, and lines already erased. Whitespace is folded: an entry's phrasing is one
    line."""
    handoff = next((i for i, e in enumerate(events) if e.type == "queued"
                    and e.payload.get("reason") not in REQUEUE_REASONS), None)
    if handoff is None:
        return None
    language = next((str(e.payload.get("language") or "") for e in events
                     if e.type == "started"), "")
    before = events[:handoff]
    for i in range(len(before) - 1, -1, -1):
        event = before[i]
        if event.type != "message" or event.payload.get("from") != "visitor":
            continue
        text = " ".join(str(event.payload.get("text", "")).split())
        reply = next((e.payload for e in before[i + 1:] if e.type == "message"
                      and e.payload.get("from") == "bot"), {})
        if (not text or text == ERASED or reply.get("decision") in NOT_A_QUESTION
                or reply.get("reason") == "asked_for_human" or wants_human(text, language)):
            continue
        return text if len(text) <= MAX_QUESTION else None
    return None


# --- the store of proposals -----------------------------------------------------------------


def proposal_json(row: Row) -> dict[str, Any]:
    keys = row.keys()
    out = {k: row[k] for k in ("id", "entry_id", "conversation_id", "language", "text",
                               "source", "agent_id", "status", "created_ms", "decided_ms",
                               "decided_by_name", "added_text", "entry_version")}
    for extra in ("entry_title", "entry_language", "agent_name"):
        if extra in keys:
            out[extra] = row[extra]
    return out


_SELECT = (
    "SELECT p.*, e.title AS entry_title, e.language AS entry_language, "
    "u.display_name AS agent_name FROM kb_proposals p "
    "LEFT JOIN kb_entries e ON e.id = p.entry_id LEFT JOIN users u ON u.id = p.agent_id")


@dataclass
class Learning:
    """Proposals in the store, decided through the knowledge base the bot reads."""

    store: Store
    kb: KnowledgeBase
    bot: Bot

    async def agent_used(self, conversation_id: str, entry_id: int, source: str,
                         agent_id: int, now_ms: int) -> int | None:
        """An agent answered this chat with this entry: propose the visitor's question as a
        phrasing of it; returns the proposal's id, None when there is nothing to propose."""
        events = await self.store.events_after(conversation_id, 0)
        text = question_before_handoff(events)
        if text is None or not await self._fits(events, entry_id):
            return None
        entry = await self.kb.get(entry_id)
        if text.casefold() in {q.casefold() for q in entry.questions}:
            return None
        decision = self.bot.decide(text, entry.language)
        if decision.action == "answer" and decision.entry_id == entry_id:
            return None  # learnt since (approved from another chat): nothing to add
        language = next((str(e.payload.get("language") or "") for e in events
                         if e.type == "started"), "")

        def job(conn: Conn) -> int | None:
            row = conn.execute(
                "INSERT INTO kb_proposals (entry_id, conversation_id, language, "
                "text, source, agent_id, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (entry_id, conversation_id, language, text, source, agent_id, now_ms)).fetchone()
            return None if row is None else int(row[0])

        return await self.store.write(job)

    async def entry_fits(self, conversation_id: str, entry_id: int) -> bool:
        """May an agent name this entry in this chat? (See _fits.)"""
        return await self._fits(await self.store.events_after(conversation_id, 0), entry_id)

    async def _fits(self, events: Sequence[Event], entry_id: int) -> bool:
        """A published entry, not a small-talk reply (its phrasings decide what is small talk:
        a question added there would be greeted ever after), in the chat's language, the
        question's, or neutral (a Persian question is no phrasing of an English entry)."""
        if entry_id not in self.kb.answers:  # unknown, deleted or a draft: the bot has none
            return False
        entry = await self.kb.get(entry_id)
        if kind_of(entry.tags) is not None:
            return False
        chat = next((str(e.payload.get("language") or "") for e in events
                     if e.type == "started"), "")
        question = detect(question_before_handoff(events) or "").language or ""
        allowed = {"", primary_language(chat), primary_language(question)}
        return primary_language(entry.language) in allowed

    async def proposals(self, status: str = "pending", limit: int = 200
                        ) -> list[dict[str, Any]]:
        """Newest first."""
        rows = await self.store.fetchall(
            _SELECT + " WHERE p.status = ? ORDER BY p.created_ms DESC, p.id DESC LIMIT ?",
            (status, limit))
        return [proposal_json(r) for r in rows]

    async def pending_count(self) -> int:
        row = await self.store.fetchone(
            "SELECT count(*) FROM kb_proposals WHERE status = 'pending'")
        return int(row[0]) if row else 0

    async def get(self, proposal_id: int) -> dict[str, Any]:
        row = await self.store.fetchone(_SELECT + " WHERE p.id = ?", (proposal_id,))
        if row is None:
            raise NotFound(f"no proposal {proposal_id}")
        return proposal_json(row)

    async def _claim(self, proposal_id: int, status: str, user: Any, now_ms: int) -> None:
        """Move a pending proposal to `status` (one admin wins a race), or say why not."""
        def job(conn: Conn) -> int:
            return conn.execute(
                "UPDATE kb_proposals SET status = ?, decided_ms = ?, decided_by = ?, "
                "decided_by_name = ? WHERE id = ? AND status = 'pending'",
                (status, now_ms, user["id"], user["username"], proposal_id)).rowcount

        if not await self.store.write(job):
            current = await self.get(proposal_id)  # NotFound when there is none
            raise Conflict(f"this proposal was already {current['status']}")

    async def approve(self, proposal_id: int, user: Any, now_ms: int,
                      text: str | None = None) -> tuple[dict[str, Any], Any]:
        """Add the (possibly edited) phrasing to its entry as a new version; returns the
        proposal and the entry. On a refusal (the entry is full, the text invalid) the
        proposal stays pending."""
        await self._claim(proposal_id, "approved", user, now_ms)
        try:
            proposal = await self.get(proposal_id)
            phrasing = " ".join((text if text is not None else proposal["text"]).split())
            entry = await self._add_phrasing(proposal["entry_id"], phrasing, user, now_ms)
        except BaseException:
            await self.store.write(lambda conn: conn.execute(
                "UPDATE kb_proposals SET status = 'pending', decided_ms = NULL, "
                "decided_by = NULL, decided_by_name = '' WHERE id = ?", (proposal_id,)))
            raise
        await self.store.write(lambda conn: conn.execute(
            "UPDATE kb_proposals SET added_text = ?, entry_version = ? WHERE id = ?",
            (phrasing, entry.version, proposal_id)))
        return await self.get(proposal_id), entry

    async def _add_phrasing(self, entry_id: int, phrasing: str, user: Any, now_ms: int) -> Any:
        if not phrasing:
            raise EntryError("text", "must not be empty")
        for _ in range(3):  # an admin saving the same entry meanwhile: read it again
            entry = await self.kb.get(entry_id)
            if phrasing.casefold() in {q.casefold() for q in entry.questions}:
                return entry  # already a phrasing: nothing to change
            try:
                return await self.kb.update(
                    entry_id, {"questions": [*entry.questions, phrasing],
                               "version": entry.version}, user["id"], now_ms, action="learn")
            except Conflict:
                continue
        raise Conflict("the entry keeps changing; try again")

    async def reject(self, proposal_id: int, user: Any, now_ms: int) -> dict[str, Any]:
        await self._claim(proposal_id, "rejected", user, now_ms)
        return await self.get(proposal_id)

    # --- what no entry answers ------------------------------------------------------------

    async def unanswered(self, now_ms: int, *, days: int = UNANSWERED_DAYS,
                         limit: int = UNANSWERED_LIMIT) -> list[dict[str, Any]]:
        """Groups of recent questions the bot handed off and still cannot answer, biggest
        first: count, language, examples (newest first), when last asked."""
        rows = await self.store.fetchall(
            "SELECT e.conversation_id, e.ts_ms, c.language, "
            "(SELECT json_extract(v.payload, '$.text') FROM events v "
            " WHERE v.conversation_id = e.conversation_id AND v.seq < e.seq "
            " AND v.type = 'message' AND v.author = 'visitor' ORDER BY v.seq DESC LIMIT 1) "
            "AS asked FROM events e JOIN conversations c ON c.id = e.conversation_id "
            "WHERE e.ts_ms >= ? AND e.type = 'message' AND e.author = 'bot' "
            "AND json_extract(e.payload, '$.decision') = 'handoff' "
            "AND json_extract(e.payload, '$.reason') IN (?, ?) "
            "AND NOT EXISTS (SELECT 1 FROM kb_proposals p "
            " WHERE p.conversation_id = e.conversation_id AND p.status != 'rejected') "
            "ORDER BY e.ts_ms DESC LIMIT ?",
            (now_ms - days * DAY_MS, *UNANSWERED_REASONS, limit))
        asked: list[tuple[str, str, int]] = []
        for n, row in enumerate(rows):
            if n % 50 == 49:
                await asyncio.sleep(0)  # each decide is ~1 ms: let the chats through
            text = " ".join(str(row["asked"] or "").split())
            language = row["language"] or "en"
            if not text or text == ERASED or wants_human(text, language):
                continue
            if self.bot.decide(text, language).action == "answer":
                continue  # the knowledge base answers it now
            asked.append((text, language, row["ts_ms"]))
        # A fresh index of its own, so the grouping can run off the event loop.
        groups = await asyncio.to_thread(group_questions, [(t, lang) for t, lang, _ in asked])
        out = []
        for group in groups:
            examples = list(dict.fromkeys(group.texts))[:EXAMPLES]
            out.append({"count": group.count, "language": group.language,
                        "examples": examples,
                        "last_ms": max(asked[k][2] for k in group.keys)})
        return out
