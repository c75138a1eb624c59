"""A bot that learns from the agents: what it gains, and what nobody has answered yet.

Two pure pieces, both on the same matcher the bot answers with:

* :func:`learning_curve` replays a stream of labelled visitor messages.  Each message the bot
  does not serve (no right answer, the right entry not among its suggestions) is handed off;
  the agent answers it with the right entry (its label) and an admin approves the visitor's
  words as a new phrasing of that entry, so the very next message sees it.  Top-1 is measured
  per window of messages, each message before the bot learns from it (prequential), beside the
  same messages against the knowledge base as it started.  ``chatserver kb-eval --learn``.
* :func:`group_questions` groups questions no entry answers ("what visitors ask that no entry
  answers", /admin): each question joins the group whose questions explain it best when the
  fused score reaches ``threshold``, else starts a group of its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bot.engine import Bot, Decision, primary_language
from bot.evaluate import Row, build_kb, load_rows
from bot.index import Index, MatchSettings
from bot.policy import BotSettings

__all__ = [
    "Curve",
    "Group",
    "Window",
    "add_arguments",
    "command",
    "group_questions",
    "learning_curve",
    "served",
    "stream_order",
]

# knowledge_base.model.MAX_QUESTIONS: an approval past it is refused there, so the replay
# stops adding phrasings to an entry at the same count.
MAX_QUESTIONS = 50
# 0.45, measured by grouping the valid splits as if no entry answered them: groups are 90 %
# pure in their intent on Banking77 (1.5 questions a group), 96 % on MASSIVE fa, 94 % on
# CLINC150, 97 % on xSID zh.  0.4 merges neighbouring intents (80 % pure on Banking77); 0.5
# splits most intents into single questions (13 % of Banking77 in groups of three or more,
# against 32 % at 0.45).
GROUP_THRESHOLD = 0.45
# A group's index holds at most this many of its questions: enough to catch new phrasings,
# and re-indexing a group costs no more as it grows.
GROUP_INDEXED = 20


@dataclass(frozen=True)
class Window:
    """Figures for one window of the replayed stream."""

    start: int  # messages replayed before this window
    messages: int
    top1: float  # the learning bot, each message measured before it learns from it
    static_top1: float  # the same messages against the knowledge base as it started
    served: float  # answered right, or the right entry among the suggestions
    learned: int  # phrasings approved during this window
    holdout_top1: float | None = None  # on the held-out set, after this window


@dataclass(frozen=True)
class Curve:
    """The replay's windows, and the held-out top-1 of the knowledge base as it started."""

    windows: tuple[Window, ...]
    holdout_before: float | None = None


def served(decision: Decision, entry_id: int) -> bool:
    """Whether the visitor got entry *entry_id* without a person: a right answer, or the right
    entry among the suggestions (a visitor picks it).  Anything else reaches an agent."""
    if decision.action == "answer":
        return decision.entry_id == entry_id
    if decision.action == "suggest":
        return any(m.entry_id == entry_id for m in decision.matches)
    return False


def stream_order(rows: Sequence[Row], seed: int) -> list[Row]:
    """*rows* in a fixed shuffled order: sorted by a hash of (seed, position), so the order is
    the same on every machine and Python version without a random generator."""
    def key(item: tuple[int, Row]) -> bytes:
        return hashlib.sha256(f"{seed}:{item[0]}".encode()).digest()

    return [row for _, row in sorted(enumerate(rows), key=key)]


def _top1(bot: Bot, row: Row, entry_of: dict[str, int]) -> bool:
    ranked = bot.search(row.text, row.lang, k=1)
    return bool(ranked) and ranked[0].entry_id == entry_of.get(row.label)


def _learn(bot: Bot, entry_id: int, text: str, max_questions: int) -> bool:
    """Add *text* as a phrasing of the entry, as an approval would; False when it cannot."""
    entry = bot.entry(entry_id)
    if entry is None or len(entry.questions) >= max_questions:
        return False
    if text.casefold() in {q.casefold() for q in entry.questions}:
        return False
    bot.upsert(replace(entry, questions=(*entry.questions, text)))
    return True


def learning_curve(
    train: Sequence[Row],
    stream: Sequence[Row],
    *,
    shots: int = 3,
    seed: int = 0,
    window: int = 500,
    holdout: Sequence[Row] = (),
    titles: bool = True,
    settings: BotSettings | None = None,
    max_questions: int = MAX_QUESTIONS,
    same_file: bool = False,
    every_window: bool = True,
) -> Curve:
    """Replay *stream* in :func:`stream_order` against a KB of *shots* phrasings per label of
    *train*; every message the bot does not serve is learned.  When *same_file*, *stream* is
    *train* itself and the rows picked as shots are left out of it.  *holdout* is measured
    before the stream and after each window, or only after the last without *every_window*
    (on Banking77's 25 intents the five between were a fifth of the replay's searches)."""
    learner, labels, used = build_kb(train, shots, seed, titles)
    static, _, _ = build_kb(train, shots, seed, titles)
    if settings is not None:
        learner.settings = static.settings = settings
    entry_of = {label: i for i, label in enumerate(labels)}
    kept = [r for i, r in enumerate(stream) if not (same_file and i in used)]
    stream = [row for row in stream_order(kept, seed) if row.label in entry_of]
    scored = [r for r in holdout if r.label in entry_of]

    def held_out() -> float | None:
        if not scored:
            return None
        return round(sum(_top1(learner, r, entry_of) for r in scored) / len(scored), 4)

    before = held_out()
    windows: list[Window] = []
    step = max(1, window)
    for start in range(0, len(stream), step):
        chunk = stream[start:start + step]
        right = right_static = got = learned = 0
        for row in chunk:
            entry_id = entry_of[row.label]
            right += _top1(learner, row, entry_of)
            right_static += _top1(static, row, entry_of)
            if served(learner.decide(row.text, row.lang), entry_id):
                got += 1
            else:
                learned += _learn(learner, entry_id, row.text, max_questions)
        n = len(chunk)
        last = start + step >= len(stream)
        windows.append(Window(start, n, round(right / n, 4), round(right_static / n, 4),
                              round(got / n, 4), learned,
                              held_out() if every_window or last else None))
    return Curve(tuple(windows), before)


# --- unanswered questions -----------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Questions the matcher reads as one: the first is the earliest in the input order."""

    language: str
    texts: tuple[str, ...]
    keys: tuple[int, ...]  # the callers' handles of the questions, in the same order

    @property
    def count(self) -> int:
        return len(self.texts)


def group_questions(
    questions: Iterable[tuple[str, str]],
    *,
    threshold: float = GROUP_THRESHOLD,
    settings: MatchSettings | None = None,
) -> list[Group]:
    """Group (text, language) pairs; biggest groups first, ties in input order.  Questions
    are only compared within their primary language, as the bot matches them."""
    indexes: dict[str, Index] = {}
    members: list[list[int]] = []
    texts: list[tuple[str, str]] = []
    for key, (text, language) in enumerate(questions):
        lang = primary_language(language)
        texts.append((text, lang))
        index = indexes.get(lang)
        if index is None:
            index = indexes[lang] = Index(settings)
        best = index.search(text, k=1)
        if best and best[0].score >= threshold:
            group = best[0].entry_id
            members[group].append(key)
            if len(members[group]) <= GROUP_INDEXED:
                index.upsert(group, "", [texts[k][0] for k in members[group]])
        else:
            members.append([key])
            index.upsert(len(members) - 1, "", [text])
    groups = [Group(texts[keys[0]][1], tuple(texts[k][0] for k in keys), tuple(keys))
              for keys in members]
    order = sorted(range(len(groups)), key=lambda g: (-groups[g].count, g))
    return [groups[g] for g in order]


# --- `chatserver kb-eval --learn` ---------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``kb-eval`` takes besides bot.evaluate's own (``--learn`` turns them on)."""
    parser.add_argument("--learn", action="store_true",
                        help="replay --test (or --stream) learning every hand-off; print "
                             "top-1 per window (the learning curve)")
    parser.add_argument("--window", type=int, default=500, help="messages per window (--learn)")
    parser.add_argument("--stream", type=Path, help="replay this file instead of --test and "
                        "measure --test after each window (--learn)")


def command(args: argparse.Namespace) -> int:
    """Run the replay *args* describe; print one row per window."""
    train = load_rows(args.train)
    source = args.stream or args.test
    same = source.resolve() == args.train.resolve()
    holdout = load_rows(args.test) if args.stream else []
    shots = args.shots
    curve = learning_curve(train, train if same else load_rows(source), shots=shots,
                             seed=args.seed,
                             window=args.window, holdout=holdout,
                             titles=not args.no_titles, same_file=same)
    if args.json:
        print(json.dumps({"shots": shots, "holdout_before": curve.holdout_before,
                          "windows": [asdict(w) for w in curve.windows]}))
        return 0
    windows = curve.windows
    print(f"shots {shots}, stream {source.name} ({sum(w.messages for w in windows)} messages), "
          f"window {args.window}")
    if curve.holdout_before is not None:
        print(f"held-out top-1 before the stream: {curve.holdout_before:.3f}")
    head = "messages      top-1  static  served  learned"
    print(head + ("  held-out top-1" if holdout else ""))
    for w in windows:
        line = (f"{w.start + 1:>5}-{w.start + w.messages:<6} {w.top1:>6.3f}  {w.static_top1:>6.3f}"
                f"  {w.served:>6.3f}  {w.learned:>7}")
        print(line + (f"  {w.holdout_top1:>14.3f}" if w.holdout_top1 is not None else ""))
    return 0
