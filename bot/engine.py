"""The bot's public face: keep entries, match queries, decide what to do.

The server holds one :class:`Bot`, feeds it entries as the knowledge base changes, and asks
:meth:`Bot.decide` for every visitor message.  Nothing here does I/O or keeps time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.brands import FOREIGN_CONFIDENCE, mentioned, names_in
from bot.frustration import frustration, repeats
from bot.human_request import request_rest
from bot.index import Index, Scored
from bot.lexicon import standardize
from bot.policy import BotSettings, confidence, decide
from bot.romanize import romanized_language, skeleton
from bot.script import detect
from bot.smalltalk import Detector, fill_name, kind_of

if TYPE_CHECKING:  # bot.semantic needs numpy (the optional extra); the bot runs without it
    from bot.semantic import Semantic, Vector

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
    # "smalltalk:<kind>" makes the entry a small-talk reply (bot/smalltalk.py): never matched
    # against questions, its phrasings teach the small-talk detector.
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """One ranked entry; *score* in [0, 1] is the share of the query the entry explains."""

    entry_id: int
    title: str
    score: float


@dataclass(frozen=True)
class Decision:
    """What to do with one visitor message."""

    action: str  # "answer" | "suggest" | "handoff" | "smalltalk" | "offer_human"
    matches: tuple[Match, ...]  # ranked, best first
    # answer/suggest/handoff: "confident" | "unsure" | "low_confidence" | "second_failure" |
    # "asked_for_human"; smalltalk: "smalltalk"; offer_human: "frustrated" | "insult" | "repeated"
    reason: str
    skill: str | None = None  # best entry's skill when the topic is plausible, for routing
    confidence: float = 0.0  # calibrated-ish [0, 1]; what the thresholds were applied to
    answer: str | None = None  # the best entry's answer when action == "answer"
    language: str = ""  # the language of the entries it matched in ("" = neutral entries)
    question_language: str | None = None  # the message's own language, when it could tell
    intent: str | None = None  # smalltalk: its kind ("greeting", "thanks", ... bot/smalltalk.py)

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
        self._talk: dict[int, Entry] = {}  # small-talk replies, kept out of every index
        self._smalltalk = Detector()
        self._contact: set[int] = set()  # entries some phrasing of which asks for a person
        # Product and company names (bot/brands.py) each entry mentions, and how many entries
        # mention each: a message naming one no entry mentions is not answered outright.
        self._names: dict[int, frozenset[str]] = {}
        self._named: Counter[str] = Counter()
        # The optional re-ranker (bot/semantic.py, [bot] semantic); None: BM25 alone.
        self.semantic: Semantic | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def upsert(self, entry: Entry) -> None:
        """Add or replace an entry; it is matched by the very next query."""
        kind = kind_of(entry.tags)
        if kind is not None:
            self.remove(entry.id)  # an ordinary entry re-tagged as small talk leaves the index
            self._talk[entry.id] = entry
            self._smalltalk.set_entry(entry.id, kind, primary_language(entry.language),
                                      entry.questions)
            return
        if self._talk.pop(entry.id, None) is not None:
            self._smalltalk.drop_entry(entry.id)
        if any(request_rest(q) is not None for q in entry.questions):
            self._contact.add(entry.id)
        else:
            self._contact.discard(entry.id)
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
        self._named.subtract(self._names.pop(entry.id, ()))
        names = mentioned((entry.title, *entry.questions, entry.answer, *entry.tags))
        if names:
            self._names[entry.id] = names
            self._named.update(names)
        if self.semantic is not None:
            self.semantic.set_entry(entry.id, lang, (entry.title, *entry.questions))

    def use_semantic(self, semantic: Semantic | None) -> None:
        """Fuse BM25 with *semantic*'s embedding similarity from now on (None: stop).

        Every entry is handed to it; a language is re-ranked once all its entries have vectors
        (bot/semantic.py says who encodes them), until then BM25 ranks it alone.
        """
        self.semantic = semantic
        if semantic is not None:
            for entry in self._entries.values():
                semantic.set_entry(entry.id, primary_language(entry.language),
                                   (entry.title, *entry.questions))

    def entry(self, entry_id: int) -> Entry | None:
        """The entry as last upserted, or None (bot.learning extends its questions)."""
        return self._entries.get(entry_id)

    def is_smalltalk(self, entry_id: int) -> bool:
        """Is this entry a small-talk reply (its answer a template, never shown as is)?"""
        return entry_id in self._talk

    def remove(self, entry_id: int) -> None:
        """Forget an entry (no-op if unknown)."""
        if self._talk.pop(entry_id, None) is not None:
            self._smalltalk.drop_entry(entry_id)
        self._contact.discard(entry_id)
        if self.semantic is not None:
            self.semantic.drop_entry(entry_id)
        self._named.subtract(self._names.pop(entry_id, ()))
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

    def _ranked(
        self, indexes: list[tuple[str, Index]], text: str, k: int, vector: Vector | None = None
    ) -> list[Scored]:
        """The best *k* over *indexes*, the query put in each one's standard words.

        With the re-ranker on and the query's *vector*, the order is the fused one (z(BM25) +
        z(cosine) over every entry of those languages) and each score stays BM25's; BM25's own
        best two follow when the fused *k* lack them, so the policy still reads BM25's best
        score and runner-up (docs/bot.md, "Semantic re-ranker").
        """
        semantic = self.semantic
        languages = [lang for lang, _ in indexes]
        if vector is not None and semantic is not None and semantic.ready(languages):
            pool: dict[int, float] = {}
            exact: set[int] = set()
            for lang, ix in indexes:
                for s in ix.search(standardize(text, lang), max(k, self.settings.match.shortlist)):
                    pool[s.entry_id] = s.score
                    if s.exact:
                        exact.add(s.entry_id)
            if pool:  # nothing lexical at all stays "no match", whatever the vectors say
                # An entry whose own words the query repeats goes first, as without vectors.
                order = [*exact, *(e for e in semantic.rank(languages, pool, vector, k)
                                   if e not in exact)][:k]
                lexical = sorted(pool, key=lambda e: (-pool[e], e))[:2]
                order += [e for e in lexical if e not in order]
                return [Scored(e, pool.get(e, 0.0), e in exact) for e in order]
        scored = [s for lang, ix in indexes for s in ix.search(standardize(text, lang), k)]
        scored.sort(key=lambda s: (-s.score, s.entry_id))
        return scored[:k]

    def _match(
        self, text: str, language: str, k: int, said: str | None = None,
        vector: Vector | None = None,
    ) -> tuple[list[Scored], str | None]:
        """Ranked entries for *text* and the message's own language (None: could not tell).

        The message is matched in its own language when the knowledge base has entries in it,
        else in the page's *language* (docs/bot.md, "Languages").  *said* is the message as
        typed when *text* is a folded part of it: the letters that tell Persian from Arabic
        (ي ك ة) do not survive folding.  *vector* is the message's embedding for the optional
        re-ranker (romanized skeletons are ranked by BM25 alone).
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
                    (self._ranked(self._indexes_for(language), text, k, vector), None)
                ]
                if self._has("en"):
                    tries.append((self._ranked(self._indexes_for("en"), text, k, vector), "en"))
                rom_ix = self._romanized.get(page)
                if rom_ix is not None and len(rom_ix):
                    roman = self._ranked([(SKELETON, rom_ix)], skeleton(text, page), k)
                    tries.append((roman, page))
                best = max(tries, key=lambda t: max((s.score for s in t[0]), default=-1.0))
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
                    return self._ranked(indexes, text, k, vector), None
                asked = have[0] if have else None
        if found.script and found.script == _PAGE_SCRIPT.get(page, "latin") and asked is None:
            asked = page or None
        if asked is not None and asked != page and self._has(asked):
            return self._ranked(self._indexes_for(asked), text, k, vector), asked
        return self._ranked(self._indexes_for(language), text, k, vector), asked

    def search(self, text: str, language: str, k: int = 5) -> list[Match]:
        """Entries ranked for *text*, best first: in the message's language, else *language*'s.

        *language* is the page's; neutral entries always compete (see :meth:`_match`).
        """
        scored, _ = self._match(text, language, k, vector=self._vector(text))
        return [
            Match(s.entry_id, self._entries[s.entry_id].title, round(s.score, 4))
            for s in scored[:k]
        ]

    def _vector(self, text: str) -> Vector | None:
        """The message's embedding when the re-ranker is on and has it (else BM25 alone)."""
        return self.semantic.query_vector(text) if self.semantic is not None else None

    def decide(
        self, text: str, language: str, failed_rounds: int = 0,
        previous: Sequence[str] = (), name: str = "",
    ) -> Decision:
        """Answer, suggest, hand off, make small talk or offer a person for one visitor message.

        *previous* holds the visitor's earlier lines in this conversation (for a question asked
        again); *name* is the visitor's, for a small-talk reply that greets by name.
        """
        settings = self.settings
        rest = request_rest(text)
        asked_for_human = rest is not None and not self._request_answered(text, rest, language)
        upset: str | None = None
        query = text
        if not asked_for_human:
            upset = frustration(text)
            if upset is None:
                reading = self._smalltalk.read(text)
                said = reading.language or detect(text).language or ""
                reply = self._reply(reading.kind, said, language) if reading.kind else None
                if reply is not None:
                    return Decision(
                        action="smalltalk", matches=(), reason="smalltalk", confidence=1.0,
                        answer=fill_name(reply.answer, name),
                        language=primary_language(reply.language),
                        question_language=said or None, intent=reading.kind,
                    )
                if previous and repeats(text, previous):
                    upset = "repeated"
                query = reading.rest or text  # "hi, where is my order" asks "where is my order"
        scored, asked = self._match(query, language, max(settings.suggestions, 2), said=text,
                                    vector=self._vector(text))
        matches = [
            Match(s.entry_id, self._entries[s.entry_id].title, round(s.score, 4)) for s in scored
        ]
        # Re-ranked, the list is not in score order: the runner-up is the best of the rest.
        scores = [m.score for m in matches]
        conf = confidence(scores[:1] + sorted(scores[1:], reverse=True))
        if self._foreign(text):  # "how do i reset my iphone": suggest, do not answer
            conf *= FOREIGN_CONFIDENCE
        scope = max(scores, default=0.0)  # does anything fit (docs/bot.md)
        exact = bool(scored) and scored[0].exact  # one of its own phrasings, word for word
        verdict = decide(conf, failed_rounds, asked_for_human, settings, upset, scope, exact)
        best = self._entries[matches[0].entry_id] if matches else None
        # Route a hand-off by topic only when the topic is plausible (suggestion-level or better).
        topical = best is not None and scope >= settings.suggest_threshold
        shown = matches[: settings.suggestions] if verdict.action == "suggest" else matches[:1]
        every = verdict.action in ("handoff", "offer_human")  # the agent sees the whole ranking
        return Decision(
            action=verdict.action,
            matches=tuple(matches if every else shown),
            reason=verdict.reason,
            skill=best.skill if best is not None and topical else None,
            confidence=round(conf, 4),
            answer=best.answer if best and verdict.action == "answer" else None,
            language=primary_language(best.language) if best else primary_language(language),
            question_language=asked,
        )

    def _foreign(self, text: str) -> bool:
        """Does *text* name a product or company (bot/brands.py) that no entry mentions?"""
        return any(self._named[name] <= 0 for name in names_in(text))

    def _request_answered(self, text: str, rest: str, language: str) -> bool:
        """Does an entry answer this request for a person better than a queue would?

        Only an entry that is itself about reaching people (some phrasing of it asks for one:
        the phone number, the opening hours) may, only when it is a confident answer to the
        whole message, and only when what the message says besides the request points to the
        same entry: "i want to speak to someone on the phone" -> "... on the phone" -> the phone
        entry; "I want to talk to a real person" -> "i want to" -> nothing, so a person.
        """
        if not rest or not self._contact:
            return False
        k = max(self.settings.suggestions, 2)
        whole, _ = self._match(text, language, k)
        if not whole or whole[0].entry_id not in self._contact:
            return False
        if confidence([s.score for s in whole]) < self.settings.answer_threshold:
            return False
        part, _ = self._match(rest, language, k, said=text)
        # The rest is a fragment ("... on the phone"): that it fits the entry at all (its best
        # score at the suggestion bar) is the test, not a margin over the runner-up.
        return bool(part) and part[0].entry_id == whole[0].entry_id and (
            part[0].score >= self.settings.suggest_threshold
        )

    def _reply(self, kind: str, said: str, page: str) -> Entry | None:
        """The small-talk entry of *kind*: in the language it was said in, else the page's,
        else a neutral or English one; None (the message goes to matching) when none is."""
        found: dict[str, Entry] = {}
        for entry_id in sorted(self._talk):
            entry = self._talk[entry_id]
            if kind_of(entry.tags) == kind:
                found.setdefault(primary_language(entry.language), entry)
        for lang in (said, primary_language(page), NEUTRAL, "en"):
            if lang in found:
                return found[lang]
        return None
