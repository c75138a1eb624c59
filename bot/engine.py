"""The bot's public face: keep entries, match queries, decide what to do.

The server holds one :class:`Bot`, feeds it entries as the knowledge base changes, and asks
:meth:`Bot.decide` for every visitor message.  Nothing here does I/O or keeps time.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.index import Index, Scored
from bot.lexicon import standardize
from bot.policy import BotSettings, confidence, decide, wants_human
from bot.romanize import romanized_language, skeleton
from bot.script import detect

__all__ = ["Bot", "Decision", "Entry", "Match", "primary_language"]

NEUTRAL = ""  # language of entries that match queries in every language
ROMANIZED = ("fa", "ar")  # entries also indexed as consonant skeletons for Finglish/Arabizi
SKELETON = "skeleton"  # the "language" of those indexes: no lexicon applies to a skeleton
# The script a page language is written in; any other is "latin".  A message in another script
# than its page's is matched in the message's own language (bot/script.py).
_PAGE_SCRIPT = {"fa": "arabic", "ar": "arabic", "ur": "arabic", "ps": "arabic", "zh": "han",
                "ja": "kana", "ko": "hangul"}


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
    language: str = ""  # the language of the entries it matched in ("" = neutral entries)
    question_language: str | None = None  # the message's own language, when it could tell

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
        self._romanized: dict[str, Index] = {}  # fa/ar entries as skeletons (bot/romanize.py)

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
        index.upsert(
            entry.id,
            standardize(entry.title, lang),
            tuple(standardize(q, lang) for q in entry.questions),
        )
        if old is not None and primary_language(old.language) in self._romanized:
            self._romanized[primary_language(old.language)].remove(entry.id)
        if lang in ROMANIZED:
            rom = self._romanized.get(lang)
            if rom is None:
                rom = self._romanized[lang] = Index(self.settings.match)
            rom.upsert(
                entry.id,
                skeleton(entry.title, lang),
                tuple(skeleton(q, lang) for q in entry.questions),
            )
        self._entries[entry.id] = entry

    def entry(self, entry_id: int) -> Entry | None:
        """The entry as last upserted, or None (bot.learning extends its questions)."""
        return self._entries.get(entry_id)

    def remove(self, entry_id: int) -> None:
        """Forget an entry (no-op if unknown)."""
        old = self._entries.pop(entry_id, None)
        if old is not None:
            self._indexes[primary_language(old.language)].remove(entry_id)
            rom = self._romanized.get(primary_language(old.language))
            if rom is not None:
                rom.remove(entry_id)

    def _indexes_for(self, language: str) -> list[tuple[str, Index]]:
        """(language, index) pairs a query in *language* is matched against."""
        lang = primary_language(language)
        own = self._indexes.get(lang)
        if lang != NEUTRAL and own is not None and len(own):
            neutral = self._indexes.get(NEUTRAL)
            if neutral is not None and len(neutral):
                return [(lang, own), (NEUTRAL, neutral)]
            return [(lang, own)]
        # No entries in this language (or a neutral query): every entry competes.
        return [(code, ix) for code, ix in self._indexes.items() if len(ix)]

    def _has(self, language: str) -> bool:
        index = self._indexes.get(language)
        return index is not None and len(index) > 0

    def _ranked(self, indexes: list[tuple[str, Index]], text: str, k: int) -> list[Scored]:
        """The best *k* over *indexes*, the query put in each one's standard words."""
        scored = [s for lang, ix in indexes for s in ix.search(standardize(text, lang), k)]
        scored.sort(key=lambda s: (-s.score, s.entry_id))
        return scored[:k]

    def _match(
        self, text: str, language: str, k: int, said: str | None = None
    ) -> tuple[list[Scored], str | None]:
        """Ranked entries for *text* and the message's own language (None: could not tell).

        The message is matched in its own language when the knowledge base has entries in it,
        else in the page's *language* (docs/bot.md, "Languages").  *said* is the message as
        typed when *text* is a folded part of it: the letters that tell Persian from Arabic
        (ي ك ة) do not survive folding.
        """
        page = primary_language(language)
        typed = said if said is not None else text
        found = detect(typed)
        asked = found.language
        if found.script == "latin":
            rom = romanized_language(typed)
            if rom is not None and rom in self._romanized and len(self._romanized[rom]):
                return self._ranked([(SKELETON, self._romanized[rom])], skeleton(text, rom), k), rom
            if _PAGE_SCRIPT.get(page, "latin") != "latin":
                # Latin letters on a Persian/Arabic/Chinese page: English, the page language
                # romanized in words the lexicon does not know, or a page-language sentence
                # around a Latin name -- whichever explains most of it.
                tries: list[tuple[list[Scored], str | None]] = [
                    (self._ranked(self._indexes_for(language), text, k), None)
                ]
                if self._has("en"):
                    tries.append((self._ranked(self._indexes_for("en"), text, k), "en"))
                rom_ix = self._romanized.get(page)
                if rom_ix is not None and len(rom_ix):
                    roman = self._ranked([(SKELETON, rom_ix)], skeleton(text, page), k)
                    tries.append((roman, page))
                best = max(tries, key=lambda t: t[0][0].score if t[0] else -1.0)
                return best
        elif found.script == "arabic" and asked is None:
            # No letter or word told Persian from Arabic (سلام): the page's, or whichever of
            # the two has entries; with both and an unrelated page, both compete.
            if page in ("fa", "ar"):
                asked = page
            else:
                have = [lang for lang in ("fa", "ar") if self._has(lang)]
                if len(have) == 2:
                    indexes = [("fa", self._indexes["fa"]), ("ar", self._indexes["ar"])]
                    neutral = self._indexes.get(NEUTRAL)
                    if neutral is not None and len(neutral):
                        indexes.append((NEUTRAL, neutral))
                    return self._ranked(indexes, text, k), None
                asked = have[0] if have else None
        if found.script and found.script == _PAGE_SCRIPT.get(page, "latin") and asked is None:
            asked = page or None
        if asked is not None and asked != page and self._has(asked):
            return self._ranked(self._indexes_for(asked), text, k), asked
        return self._ranked(self._indexes_for(language), text, k), asked

    def search(self, text: str, language: str, k: int = 5) -> list[Match]:
        """Entries ranked for *text*, best first: in the message's language, else *language*'s.

        *language* is the page's; neutral entries always compete (see :meth:`_match`).
        """
        scored, _ = self._match(text, language, k)
        return [
            Match(s.entry_id, self._entries[s.entry_id].title, round(s.score, 4)) for s in scored
        ]

    def decide(self, text: str, language: str, failed_rounds: int = 0) -> Decision:
        """Answer, suggest or hand off for one visitor message."""
        settings = self.settings
        scored, asked = self._match(text, language, max(settings.suggestions, 2))
        matches = [
            Match(s.entry_id, self._entries[s.entry_id].title, round(s.score, 4)) for s in scored
        ]
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
            language=primary_language(best.language) if best else primary_language(language),
            question_language=asked,
        )
