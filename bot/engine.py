"""The bot's public face: keep entries, match queries, decide what to do.

The server holds one :class:`Bot`, feeds it entries as the knowledge base changes, and asks
:meth:`Bot.decide` for every visitor message.  Nothing here does I/O or keeps time.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.index import Index
from bot.policy import BotSettings, confidence, decide, wants_human

__all__ = ["Bot", "Decision", "Entry", "Match", "primary_language"]

NEUTRAL = ""  # language of entries that match queries in every language


@dataclass(frozen=True)
class Entry:
    """What the bot needs of a knowledge-base entry."""

    id: int
    language: str  # BCP-47 primary tag ("en", "fa", "ar", "zh"); "" = language-neutral
    title: str
    questions: tuple[str, ...]
    answer: str
    skill: str | None = None  # routing skill to ask for on hand-off about this topic


@dataclass(frozen=True)
class Match:
    """One ranked entry; *score* in [0, 1] is the share of the query the entry explains."""

    entry_id: int
    title: str
    score: float


@dataclass(frozen=True)
class Decision:
    """What to do with one visitor message."""

    action: str  # "answer" | "suggest" | "handoff"
    matches: tuple[Match, ...]  # ranked, best first
    reason: str  # "confident" | "unsure" | "low_confidence" | "second_failure" | "asked_for_human"
    skill: str | None = None  # best entry's skill when the topic is plausible, for routing
    confidence: float = 0.0  # calibrated-ish [0, 1]; what the thresholds were applied to
    answer: str | None = None  # the best entry's answer when action == "answer"

    @property
    def entry_id(self) -> int | None:
        """The answered entry, or None when the bot did not answer."""
        return self.matches[0].entry_id if self.action == "answer" and self.matches else None


def primary_language(tag: str) -> str:
    """``"fa-IR"`` -> ``"fa"``; ``"zh_Hant_TW"`` -> ``"zh"``; ``""`` stays neutral."""
    return tag.replace("_", "-").split("-", 1)[0].strip().lower()


class Bot:
    """Knowledge-base matcher and policy; one index per language keeps filtering free."""

    def __init__(self, settings: BotSettings | None = None) -> None:
        self.settings = settings or BotSettings()
        self._entries: dict[int, Entry] = {}
        self._indexes: dict[str, Index] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def upsert(self, entry: Entry) -> None:
        """Add or replace an entry; it is matched by the very next query."""
        old = self._entries.get(entry.id)
        lang = primary_language(entry.language)
        if old is not None and primary_language(old.language) != lang:
            self._indexes[primary_language(old.language)].remove(entry.id)
        index = self._indexes.get(lang)
        if index is None:
            index = self._indexes[lang] = Index(self.settings.match)
        index.upsert(entry.id, entry.title, entry.questions)
        self._entries[entry.id] = entry

    def entry(self, entry_id: int) -> Entry | None:
        """The entry as last upserted, or None (bot.learning extends its questions)."""
        return self._entries.get(entry_id)

    def remove(self, entry_id: int) -> None:
        """Forget an entry (no-op if unknown)."""
        old = self._entries.pop(entry_id, None)
        if old is not None:
            self._indexes[primary_language(old.language)].remove(entry_id)

    def _indexes_for(self, language: str) -> list[Index]:
        lang = primary_language(language)
        own = self._indexes.get(lang)
        if lang != NEUTRAL and own is not None and len(own):
            neutral = self._indexes.get(NEUTRAL)
            return [own, neutral] if neutral is not None and len(neutral) else [own]
        # No entries in this language (or a neutral query): every entry competes.
        return [ix for ix in self._indexes.values() if len(ix)]

    def search(self, text: str, language: str, k: int = 5) -> list[Match]:
        """Entries of *language* and neutral ones ranked for *text*, best first."""
        scored = [s for ix in self._indexes_for(language) for s in ix.search(text, k)]
        scored.sort(key=lambda s: (-s.score, s.entry_id))
        return [
            Match(s.entry_id, self._entries[s.entry_id].title, round(s.score, 4))
            for s in scored[:k]
        ]

    def decide(self, text: str, language: str, failed_rounds: int = 0) -> Decision:
        """Answer, suggest or hand off for one visitor message."""
        settings = self.settings
        matches = self.search(text, language, k=max(settings.suggestions, 2))
        conf = confidence([m.score for m in matches])
        scope = matches[0].score if matches else 0.0  # does anything fit (docs/bot.md)
        verdict = decide(conf, failed_rounds, wants_human(text, language), settings, scope)
        best = self._entries[matches[0].entry_id] if matches else None
        # Route a hand-off by topic only when the topic is plausible (suggestion-level or better).
        topical = best is not None and scope >= settings.suggest_threshold
        shown = matches[: settings.suggestions] if verdict.action == "suggest" else matches[:1]
        return Decision(
            action=verdict.action,
            matches=tuple(shown if verdict.action != "handoff" else matches),
            reason=verdict.reason,
            skill=best.skill if best is not None and topical else None,
            confidence=round(conf, 4),
            answer=best.answer if best and verdict.action == "answer" else None,
        )
