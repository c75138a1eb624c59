"""Frames built from stored events: what each audience is sent, decided in one place.

Every frame a client receives about a conversation comes from here, so the widget, the
console and `resume` can never disagree about what an event looks like.
"""

from __future__ import annotations

import json
from typing import Any

from chatserver.attachments.links import Links, staff_fields
from chatserver.config import SurveyConfig
from chatserver.core.conversation import Conversation, Event
from chatserver.core.messages import say
from knowledge_base.markdown import to_plain_text


def answer_line(answer: str) -> dict[str, Any]:
    """A bot answer: plain text to show, and the safe Markdown for clients that render it."""
    return {"from": "bot", "author": "Bot", "text": to_plain_text(answer), "markdown": answer}


def ack_for(client_id: str | None, event: Event) -> dict[str, Any]:
    return {"type": "ack", "id": client_id, "conversation_id": event.conversation_id,
            "seq": event.seq}


def shown_to_staff(event: Event, staff_id: int, role: str) -> bool:
    """May this staff member read the event? All of them, but a whisper: only the agent it
    was sent to (`to_agent`) and supervisors and admins, never the next agent to hold or
    read the chat (a transfer, the visitor's history)."""
    return (event.type != "whisper" or role in ("supervisor", "admin")
            or event.payload.get("to_agent") == staff_id)


def event_frame(event: Event, *, for_visitor: bool,
                links: Links | None = None) -> dict[str, Any] | None:
    """The frame an audience receives for a stored event; None when it sees nothing. A line's
    attachment gets the URLs of its receiver: staff paths, or (with `links`) URLs signed for
    the conversation's visitor."""
    p = event.payload
    base = {"conversation_id": event.conversation_id, "seq": event.seq, "ts": event.ts}
    match event.type:
        case "message":
            frame = {"type": "message", **base, "id": event.client_id or
                     f"{event.conversation_id}-{event.seq}", "from": p["from"],
                     "author": p["author"], "text": p["text"]}
            for key in ("suggestions", "markdown", "actions"):
                if key in p:
                    frame[key] = p[key]
            if "attachment" in p:
                frame["attachment"] = (staff_fields(p["attachment"]) if not for_visitor
                                       else links.visitor_fields(p["attachment"],
                                                           event.conversation_id)
                                       if links is not None else dict(p["attachment"]))
            if not for_visitor:
                for key in ("decision", "matches", "entry_id", "reason", "intent"):
                    if key in p:
                        frame[key] = p[key]
            return frame
        case "assigned":
            frame = {"type": "assigned", **base, "agent": p["agent"]}
            if not for_visitor:
                frame["agent_id"] = p["agent_id"]
            return frame
        case "closed":
            # `by` may be missing from a closed event written by an older version or by hand
            frame = {"type": "closed", **base, "by": p.get("by", "system")}
            if not for_visitor and "resolved" in p:
                frame["resolved"] = p["resolved"]
            return frame
    if for_visitor:
        return None
    if event.type == "note":
        return {"type": "note", **base, "id": event.client_id, "author": p["author"],
                "text": p["text"]}
    if event.type == "whisper":  # a supervisor to the agent holding the chat (supervision.py)
        return {"type": "whisper", **base, "id": event.client_id, "author": p["author"],
                "author_id": p.get("author_id"), "to_agent": p.get("to_agent"),
                "text": p["text"]}
    if event.type == "label":  # staff only: never in VISITOR_EVENTS
        return {"type": "label", **base, "id": event.client_id, "label_id": p["label_id"],
                "name": p["name"], "colour": p.get("colour", ""), "on": p["on"],
                "by": p.get("by", "")}
    return {"type": "event", **base, "event": event.type, "author": event.author,
            "payload": dict(p)}


def survey_request(conv: Conversation, config: SurveyConfig) -> dict[str, Any]:
    """The questions, worded in the visitor's language (the widget has the same strings)."""
    questions: list[dict[str, Any]] = [
        {"name": "rating", "scale": [1, 5], "text": say("survey_rating", conv.language)}]
    if config.nps:
        questions.append({"name": "nps", "scale": [0, 10], "optional": True,
                          "text": say("survey_nps", conv.language)})
    questions.append({"name": "comment", "optional": True,
                      "text": say("survey_comment", conv.language)})
    return {"type": "survey_request", "conversation_id": conv.id, "questions": questions}


def skills_from_json(text: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in json.loads(text or "{}").items()}
