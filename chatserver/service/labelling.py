"""Labels on a conversation: staff put one on or take it off, as a `label` event in the log.

The event goes through the journal like any change (store, apply, publish), so it is durable
before its ack, every staff socket watching the chat sees it live, and a restart replays it.
The store keeps `conversation_labels` in step in the same transaction (store.py); that
projection is what says whether a change is a no-op: adding a label twice stores one event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatserver.cluster.connections import Connection
from chatserver.core.conversation import Conversation
from chatserver.core.errors import NotFound
from chatserver.core.labels import text_colour
from chatserver.core.msgids import N_
from chatserver.store.store import NewEvent

from .event_frames import ack_for
from .journal import Journal, Outcome


@dataclass(frozen=True)
class Staff:
    """Who asks: from the agent socket's profile or an HTTP request's session."""

    id: int
    role: str
    display_name: str


def may_label(staff: Staff, conv: Conversation) -> bool:
    """Supervisors and admins label any chat; an agent, a chat they hold or took part in
    (the assigned agent now, or after it closed or moved on)."""
    return staff.role in ("supervisor", "admin") or staff.id in conv.participants


def label_json(row: Any) -> dict[str, Any]:
    """A label as the APIs send it, with the text colour readable on it."""
    return {"id": int(row["id"]), "name": row["name"], "colour": row["colour"],
            "text_colour": text_colour(row["colour"]), "deleted": bool(row["deleted"])}


class Labelling:
    """Label changes and reads, for the agent socket and the HTTP API alike."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def _visible(self, staff: Staff, cid: str, client_id: str | None) -> Conversation:
        conv = await self.journal.conversation(cid)
        if not may_label(staff, conv):
            raise NotFound(N_("no such conversation"), frame_id=client_id)  # never reveal it
        return conv

    async def set_label(self, staff: Staff, cid: str, label_id: int, on: bool,
                        client_id: str | None, origin: Connection | None = None) -> Outcome:
        """Put label `label_id` on the chat (`on`) or take it off. A retried frame gets its
        ack again; a change that changes nothing is acked `unchanged`, with no seq."""
        journal, store = self.journal, self.journal.store
        async with journal.lock(cid):
            conv = await self._visible(staff, cid, client_id)
            replay = await journal.replayed(conv, client_id)
            if replay is not None:
                return replay
            label = await store.fetchone(
                "SELECT id, name, colour, deleted FROM labels WHERE id = ?", (label_id,))
            if label is None or (on and label["deleted"]):  # deleted: no new use
                raise NotFound(N_("no such label"), frame_id=client_id)
            present = await store.fetchone(
                "SELECT 1 FROM conversation_labels WHERE conversation_id = ? AND label_id = ?",
                (cid, label_id))
            if (present is not None) == on:
                return Outcome({"type": "ack", "id": client_id, "conversation_id": cid,
                                "unchanged": True})
            payload = {"label_id": label_id, "name": label["name"], "colour": label["colour"],
                       "on": on, "by": staff.display_name}
            conv, events, _ = await journal.append(
                conv, [NewEvent("label", f"agent:{staff.id}", payload)], client_id, origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def labels_of(self, staff: Staff, cid: str) -> list[dict[str, Any]]:
        """The labels on a chat now (deleted ones too: they stay on old chats), by name."""
        await self._visible(staff, cid, None)
        rows = await self.journal.store.fetchall(
            "SELECT l.id, l.name, l.colour, l.deleted FROM conversation_labels c "
            "JOIN labels l ON l.id = c.label_id WHERE c.conversation_id = ? "
            "ORDER BY lower(l.name), l.id", (cid,))
        return [label_json(r) for r in rows]
