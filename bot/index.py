"""An incremental inverted index that scores knowledge-base entries against a query.

Three BM25 views of the same entries are fused, because each one fails where another holds:

* ``entry_words`` -- one document per entry (title + all example questions): rewards an entry
  whose phrasings together cover the query's words.
* ``entry_chars`` -- character 2-4-grams of the same text, one document per entry: catches
  shared stems across inflection (Arabic/Persian affixes, plurals), typos and short phrases.
* ``question_words`` -- one document per example question, entry score = its best question:
  rewards one close paraphrase even when the entry's other phrasings are about something else.

Each view's score is divided by the query's own IDF mass, so it reads as "how much of the
query's information this entry explains" (0 = nothing; about 1 = every query term found once).
A word no entry has counts in that mass like a word of one entry, not more, and function words
no entry has ("hey", "u", "rn") are dropped: unknown words must not sink a strong match.  A
query with no topical word ("how are you") explains nothing whatever it matches.
That absolute scale is what lets the policy tell an out-of-scope question from an in-scope one,
which rank-only fusion cannot (and rank fusion also ranked 1.7 points worse, docs/bot.md).

Updates are incremental: postings hold raw term frequencies, and IDF and length normalization
are computed at query time from live counts, so adding, editing or removing an entry touches
only that entry's postings.  Query cost is bounded independently of the knowledge-base size:
the entry views score their rarest terms in full up to a postings budget, the ``shortlist`` of
best candidates then gets the deferred common terms and the per-question view, and loses a
little for each of its signature words (in most of its phrasings) that the query lacks.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.function_words import FUNCTION_WORDS
from bot.normalize import char_ngrams, normalize, words

__all__ = ["Index", "MatchSettings", "Scored"]


@dataclass(frozen=True)
class MatchSettings:
    """How the views are weighted and shaped.

    Defaults were tuned once on the train/valid splits of five datasets together (see
    docs/bot.md); they are not per-dataset.
    """

    # View weights (normalized to sum 1 over the views a query has features in).  Character
    # n-grams carry most weight: they are the only view that sees Arabic/Persian morphology.
    entry_words: float = 0.2
    question_words: float = 0.3
    entry_chars: float = 0.5
    # rapidfuzz token_set_ratio blended into the shortlist; 0 = off.  Measured +0.3 point mean
    # top-1 at 0.2 (within seed noise), -0.6 at 0.5, and ~0.5 ms per query: not worth it.
    fuzzy: float = 0.0
    # Question view IDF from entry-level document frequency: a word in all ten phrasings of one
    # entry is that entry's signature, not a stopword (+7 points top-1 for that view alone).
    entry_idf: bool = True
    k1: float = 1.2  # BM25 textbook values; 0.8-3 measured flat within 0.5 point
    b: float = 0.75
    char_k1: float = 2.0  # entry docs concatenate ten phrasings: repeated grams are signal
    char_b: float = 0.75
    shortlist: int = 20  # candidates completed and ranked; 50 measured identical
    # Postings scored in full per view and query, rarest terms first; terms beyond the budget
    # are added for the shortlist only.  Bounds query time on a big KB (p99 < 5 ms at 10,000
    # entries, docs/bot.md).  Shortlisted scores stay exact, so only who gets shortlisted can
    # change: top-1 measured identical on all five datasets from 1,000 to unlimited.
    postings_budget: int = 1000
    # Dictionary lookups per view to complete the shortlist's scores with the deferred terms.
    # Only long queries on a big KB reach it: 2,000 cut CPU p99 at 10,000 entries from 5.1 to
    # 3.1 ms at no cost in accuracy (1,000: 2.1 ms but -0.2 point top-1).
    shortlist_lookups: int = 2000


@dataclass(frozen=True)
class Scored:
    """One entry's fused score for a query."""

    entry_id: int
    score: float
    # The query repeats one of this entry's texts word for word, and no other entry's: the
    # policy answers it whatever the confidence (bot/policy.py).
    exact: bool = False


def _unseen_weight(n_docs: int, qtf: int) -> float:
    """What a query term no document has adds to the query's IDF mass: as much as a term of
    one document.  Its IDF would be higher still, but then one unknown word outweighed all the
    query matched ("hey can u tell me where my package is rn, ordered on monday" had confidence
    0.13 with the right entry first)."""
    return math.log(1.0 + (n_docs - 0.5) / 1.5) * (1.0 + math.log(qtf))


def _phrasing(tokens: Sequence[str]) -> int:
    """A text's words as a key that ignores their order and repeats (bag of words).

    A hash, not the words: 100,000 phrasings kept as strings and sets cost 33 MB; a false
    match between two of them has a chance of about 1e-9.
    """
    return hash(frozenset(tokens))


class _Field:
    """Postings of one feature space over one kind of document."""

    __slots__ = ("lengths", "postings", "total_len")

    def __init__(self) -> None:
        self.postings: dict[str, dict[int, int]] = {}
        self.lengths: dict[int, int] = {}
        self.total_len = 0

    def add(self, doc: int, terms: Iterable[str]) -> None:
        counts = Counter(terms)
        length = sum(counts.values())
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[doc] = tf
        self.lengths[doc] = length
        self.total_len += length

    def remove(self, doc: int, terms: Iterable[str]) -> None:
        """Drop *doc*, given the terms it was added with.

        The caller recomputes them from the entry's text: keeping a term list per document
        (with a larger tokenizer cache) took memory at 10,000 entries from 285 MB to 742 MB.
        """
        for term in set(terms):
            post = self.postings.get(term)
            if post is not None and post.pop(doc, None) is not None and not post:
                del self.postings[term]
        self.total_len -= self.lengths.pop(doc, 0)

    def bm25(
        self,
        query: Counter[str],
        k1: float,
        b: float,
        budget: int,
        idf_from: _Field | None = None,
    ) -> tuple[dict[int, float], list[tuple[float, dict[int, int]]], float]:
        """Score documents for *query*.

        Returns (scores from selective terms, deferred common terms as (weight, postings), the
        query's IDF mass, unseen terms weighed by :func:`_unseen_weight`).  Terms whose postings
        would overrun *budget* are deferred; callers add them for their shortlist via
        :meth:`finish`.
        """
        n_docs = len(self.lengths)
        if not n_docs or not query:
            return {}, [], 0.0
        avgdl = self.total_len / n_docs
        c1 = k1 * (1.0 - b)
        c2 = k1 * b / avgdl
        kp1 = k1 + 1.0
        lengths = self.lengths
        scores: dict[int, float] = {}
        deferred: list[tuple[float, dict[int, int]]] = []
        mass = 0.0
        idf_field = idf_from or self
        idf_n = len(idf_field.lengths)
        terms = []
        for term, qtf in query.items():
            idf_post = idf_field.postings.get(term)
            df = len(idf_post) if idf_post else 0
            idf = math.log(1.0 + (idf_n - df + 0.5) / (df + 0.5))
            qw = idf * (1.0 + math.log(qtf))
            mass += qw if df else _unseen_weight(idf_n, qtf)
            post = self.postings.get(term)
            if post:
                terms.append((len(post), qw, post))
        # Rarest terms first: they find the candidates.  Once the budget of postings is spent,
        # the remaining (common, low-IDF) terms are deferred to the shortlist.
        terms.sort(key=lambda t: t[0])
        spent = 0
        get = scores.get
        for size, qw, post in terms:
            if spent + size > budget and scores:
                deferred.append((qw, post))
                continue
            spent += size
            for doc, tf in post.items():
                scores[doc] = get(doc, 0.0) + qw * tf * kp1 / (tf + c1 + c2 * lengths[doc])
        return scores, deferred, mass

    def finish(
        self,
        scores: dict[int, float],
        deferred: list[tuple[float, dict[int, int]]],
        docs: Sequence[int],
        k1: float,
        b: float,
        lookups: int | None = None,
    ) -> None:
        """Add the deferred common terms' contributions to *docs* only.

        *deferred* is ordered most informative first; with *lookups* set, only as many terms are
        added as fit ``len(docs) * terms <= lookups`` -- the least informative ones, which
        add nearly the same small amount to every candidate, are the ones left out.
        """
        if not deferred or not docs:
            return
        if lookups is not None:
            deferred = deferred[: max(1, lookups // len(docs))]
        avgdl = self.total_len / len(self.lengths)
        c1 = k1 * (1.0 - b)
        c2 = k1 * b / avgdl
        kp1 = k1 + 1.0
        wanted = set(docs)
        lengths = self.lengths
        get = scores.get
        for qw, post in deferred:
            # dict-view & set intersects in C, iterating the small candidate set.
            for doc in post.keys() & wanted:
                tf = post[doc]
                scores[doc] = get(doc, 0.0) + qw * tf * kp1 / (tf + c1 + c2 * lengths[doc])

    def query_terms(
        self, query: Counter[str], idf_from: _Field | None = None
    ) -> tuple[list[tuple[float, dict[int, int]]], float]:
        """(weight, postings) of each query term present here, and the query's IDF mass."""
        idf_field = idf_from or self
        n_docs = len(idf_field.lengths)
        terms: list[tuple[float, dict[int, int]]] = []
        mass = 0.0
        for term, qtf in query.items():
            idf_post = idf_field.postings.get(term)
            df = len(idf_post) if idf_post else 0
            qw = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)) * (1.0 + math.log(qtf))
            mass += qw if df else _unseen_weight(n_docs, qtf)
            post = self.postings.get(term)
            if post:
                terms.append((qw, post))
        return terms, mass

    def score_docs(
        self,
        terms: list[tuple[float, dict[int, int]]],
        docs: Sequence[int],
        k1: float,
        b: float,
        lookups: int | None = None,
    ) -> dict[int, float]:
        """BM25 of *terms* for the given *docs* only (a shortlist)."""
        scores: dict[int, float] = {}
        if terms and self.lengths:
            ranked = sorted(terms, key=lambda t: -t[0])
            self.finish(scores, ranked, docs, k1, b, lookups)
        return scores


class Index:
    """Entries of one language, searchable by fused BM25 views; cheap to update."""

    # An entry's signature is the words in at least `signature_share` of its texts (title and
    # phrasings): "disposable" for get_disposable_virtual_card.  A query that has none of them is
    # less likely to mean that entry, however well it matches the rest, so the shortlist's
    # fused score loses `missing_signature` times the IDF-weighted share of the signature the
    # query lacks (a word counts as present when a query word starts with it: "card" in
    # "cards").  BM25 only rewards what the query has; this is the one place an entry's own
    # words count against it.  0.06 lifted 5-seed mean top-1 on all five datasets (Banking77
    # +0.9, MASSIVE fa +1.1 points) and oos AUROC; flat from 0.05 to 0.1 (docs/bot.md).
    # Class constants rather than MatchSettings fields because every MatchSettings field must
    # also be documented in config.toml; 0 turns the penalty off.
    missing_signature = 0.06
    signature_share = 0.5
    # A query is fully topical once its non-function words weigh half a word of one entry
    # (:meth:`_substance`); fixed a priori, not tuned.
    substance_share = 0.5

    def __init__(self, settings: MatchSettings | None = None) -> None:
        self.settings = settings or MatchSettings()
        self._entry_words = _Field()
        self._entry_chars = _Field()
        self._question_words = _Field()
        self._question_entry: dict[int, int] = {}
        self._entry_questions: dict[int, list[int]] = {}
        self._texts: dict[int, tuple[str, ...]] = {}
        self._signatures: dict[int, tuple[tuple[str, float], ...]] = {}
        # A text's words (:func:`_phrasing`) -> the entry that has that text, or the set of
        # entries when several do (rare; a plain int keeps memory down, :meth:`search`).
        self._phrasings: dict[int, int | set[int]] = {}
        self._next_question = 0

    def __len__(self) -> int:
        return len(self._texts)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._texts

    def upsert(self, entry_id: int, title: str, questions: Iterable[str]) -> None:
        """Add or replace an entry; only its own postings change."""
        self.remove(entry_id)
        texts = tuple(t for t in (title, *questions) if t.strip())
        all_words: list[str] = []
        all_chars: list[str] = []
        qids: list[int] = []
        in_texts: Counter[str] = Counter()
        for text in texts:
            toks = words(text)
            in_texts.update(set(toks))
            if toks:
                key = _phrasing(toks)
                owner = self._phrasings.setdefault(key, entry_id)
                if isinstance(owner, set):
                    owner.add(entry_id)
                elif owner != entry_id:
                    self._phrasings[key] = {owner, entry_id}
            qid = self._next_question
            self._next_question += 1
            self._question_words.add(qid, toks)
            self._question_entry[qid] = entry_id
            qids.append(qid)
            all_words.extend(toks)
            all_chars.extend(char_ngrams(toks))
        self._entry_words.add(entry_id, all_words)
        self._entry_chars.add(entry_id, all_chars)
        self._entry_questions[entry_id] = qids
        share = self.signature_share
        self._signatures[entry_id] = tuple(
            (term, count / len(texts))
            for term, count in in_texts.items()
            if count >= share * len(texts)
        )
        self._texts[entry_id] = tuple(normalize(t) for t in texts)

    def remove(self, entry_id: int) -> None:
        """Forget an entry (no-op if absent)."""
        texts = self._texts.pop(entry_id, None)
        if texts is None:
            return
        del self._signatures[entry_id]
        all_words: list[str] = []
        all_chars: list[str] = []
        for qid, text in zip(self._entry_questions.pop(entry_id), texts, strict=True):
            toks = words(text)
            if toks:
                key = _phrasing(toks)
                owner = self._phrasings.get(key)
                if owner == entry_id:
                    del self._phrasings[key]
                elif isinstance(owner, set):
                    owner.discard(entry_id)
                    if len(owner) == 1:
                        self._phrasings[key] = owner.pop()
            self._question_words.remove(qid, toks)
            del self._question_entry[qid]
            all_words.extend(toks)
            all_chars.extend(char_ngrams(toks))
        self._entry_words.remove(entry_id, all_words)
        self._entry_chars.remove(entry_id, all_chars)

    def _missing(self, entry_id: int, padded_query: str) -> float:
        """IDF-weighted share of *entry_id*'s signature words absent from the query, in [0, 1].

        *padded_query* is the query's word tokens joined by spaces after a leading space, so
        ``" " + term in padded_query`` means some query word starts with *term*.
        """
        postings = self._entry_words.postings
        n_entries = len(self._entry_words.lengths)
        total = missing = 0.0
        for term, share in self._signatures[entry_id]:
            df = len(postings.get(term, ()))
            weight = share * math.log(1.0 + (n_entries - df + 0.5) / (df + 0.5))
            total += weight
            if " " + term not in padded_query:
                missing += weight
        return missing / total if total else 0.0

    def _substance(self, word_q: Counter[str]) -> float:
        """How topical the query is, in [0, 1]: 0 for function words and chat filler alone.

        The IDF mass of its other words (an unknown one counts as a word of one entry) over half
        the IDF of a word of one entry.  In 25 entries "how", "are" and "you" are rare enough to
        look specific ("how are you" matched opening hours at 0.65); a query needs at least one
        word that is not in :data:`FUNCTION_WORDS` to be explained, and one word common to many
        entries ("order" of "my order") explains it only partly.  Scales every candidate alike,
        so the ranking never changes; on the five valid sets the figures moved by < 0.3 point.
        """
        postings = self._entry_words.postings
        n_entries = len(self._entry_words.lengths)
        one_entry = math.log(1.0 + (n_entries - 0.5) / 1.5)
        mass = 0.0
        for term in word_q:
            if term not in FUNCTION_WORDS:
                df = len(postings.get(term, ()))
                mass += math.log(1.0 + (n_entries - df + 0.5) / (df + 0.5)) if df else one_entry
        return min(1.0, mass / (self.substance_share * one_entry))

    def search(self, text: str, k: int = 5) -> list[Scored]:
        """Best *k* entries for *text*, fused score in [0, 1], best first.

        Entry-level views find candidates (rarest terms first, within a postings budget); the
        best ``shortlist`` of them get their deferred common terms and the per-question view
        added, so cost grows with the shortlist, not with the knowledge base.
        """
        w = self.settings
        # Chat filler no entry uses ("hey", "u", "rn") is noise, not a word left unexplained.
        known = self._entry_words.postings
        q_words = tuple(t for t in words(text) if t not in FUNCTION_WORDS or t in known)
        if not q_words or not self._texts:
            return []
        word_q = Counter(q_words)
        char_q = Counter(char_ngrams(q_words))
        budget = w.postings_budget

        ew, ew_def, ew_mass = self._entry_words.bm25(word_q, w.k1, w.b, budget)
        ec, ec_def, ec_mass = self._entry_chars.bm25(char_q, w.char_k1, w.char_b, budget)
        qw_terms, qw_mass = self._question_words.query_terms(
            word_q, self._entry_words if w.entry_idf else None
        )
        views = (
            (w.entry_words if ew_mass else 0.0)
            + (w.entry_chars if ec_mass else 0.0)
            + (w.question_words if qw_mass else 0.0)
        )
        if not views:
            return []
        ew_scale = w.entry_words / (ew_mass * views) if ew_mass else 0.0
        ec_scale = w.entry_chars / (ec_mass * views) if ec_mass else 0.0
        qw_scale = w.question_words / (qw_mass * views) if qw_mass else 0.0

        fused = dict.fromkeys(ew.keys() | ec.keys(), 0.0)
        for eid in fused:
            fused[eid] = ew.get(eid, 0.0) * ew_scale + ec.get(eid, 0.0) * ec_scale
        cands = heapq.nlargest(max(w.shortlist, k), fused, key=fused.__getitem__)

        lookups = w.shortlist_lookups
        self._entry_words.finish(ew, ew_def, cands, w.k1, w.b, lookups)
        self._entry_chars.finish(ec, ec_def, cands, w.char_k1, w.char_b, lookups)
        qids = [qid for eid in cands for qid in self._entry_questions[eid]]
        per_question = self._question_words.score_docs(qw_terms, qids, w.k1, w.b, lookups)
        best_question: dict[int, float] = {}
        for qid, score in per_question.items():
            eid = self._question_entry[qid]
            if score > best_question.get(eid, 0.0):
                best_question[eid] = score

        final = [
            (
                eid,
                ew.get(eid, 0.0) * ew_scale
                + ec.get(eid, 0.0) * ec_scale
                + best_question.get(eid, 0.0) * qw_scale,
            )
            for eid in cands
        ]
        if self.missing_signature:
            padded = " " + " ".join(q_words)
            penalty = self.missing_signature
            final = [(eid, max(0.0, s - penalty * self._missing(eid, padded))) for eid, s in final]
        if w.fuzzy:
            query = normalize(text)
            final = [
                (
                    eid,
                    (
                        s
                        + w.fuzzy
                        * max(fuzz.token_set_ratio(query, t) for t in self._texts[eid])
                        / 100.0
                    )
                    / (1.0 + w.fuzzy),
                )
                for eid, s in final
            ]
        substance = self._substance(word_q)
        if substance < 1.0:
            final = [(eid, s * substance) for eid, s in final]
        final.sort(key=lambda kv: (-kv[1], kv[0]))
        # Views can exceed 1 (BM25 rewards a term repeated across phrasings up to k1 + 1), and
        # clamping would tie the strongest matches; 1 - e^-x keeps order and spreads the top.
        ranked = [Scored(eid, 1.0 - math.exp(-s)) for eid, s in final[:k]]
        own = self._phrasings.get(_phrasing(q_words))
        if isinstance(own, int) and substance > 0.0:
            # The query is, word for word, one of one entry's own texts (chat filler no entry
            # uses aside): that entry goes first, marked, whatever its neighbours share.
            mine = [s for s in ranked if s.entry_id == own]
            if mine:
                ranked = [Scored(own, mine[0].score, exact=True),
                          *(s for s in ranked if s.entry_id != own)]
        return ranked
