"""Score the bot on realistic visitor messages: ``chatserver kb-eval --devset FILE [-v]``.

The development set (``tests/data/realistic_dev.jsonl``, docs/bot.md) is one JSON object a
line: ``text``, ``page_language`` (the widget's), ``language`` (of the text), ``expect`` (what
the bot should do) and, by kind, ``entry`` (the title of the entry that answers it), ``intent``
(the kind of small talk) or ``previous`` (earlier visitor texts, for a repeated question).
Every message is one :meth:`Bot.decide` call in the page's language with no failed rounds
before it; the figures are shares per language of the message's own language.  The caller
builds the bot (the CLI and the test load the default knowledge base), so this module stays
free of the server and of ``knowledge_base``.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.engine import Bot, Decision

__all__ = [
    "EXPECTATIONS", "INTENTS", "TARGETS", "Item", "Outcome", "add_arguments", "command",
    "figures", "load_items", "misses", "parse_items", "report", "run",
]

EXPECTATIONS = ("serve", "handoff", "offer_human", "smalltalk", "out_of_scope")
INTENTS = ("greeting", "thanks", "goodbye", "bot_question", "ack", "laughter", "apology")
SERVED = ("answer", "suggest")  # actions that show the visitor entries
TOP = 3  # "served in the top 3": the suggestions a chat bubble shows

# Issue 15's targets, per language: (figure, "min" | "max", bound).
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("served_top3", "min", 0.90),
    ("handed_off", "min", 0.95),
    ("offered_human", "min", 0.90),
    ("greet_thanks_queued", "max", 0.0),
    ("oos_answered", "max", 0.05),
)

# figure -> (row label, target text); the order of the printed table.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("served_top3", "served in the top 3", ">= 0.90"),
    ("answered_right", "answered with the right entry", ""),
    ("answered_wrong", "answered with a wrong entry", ""),
    ("handed_off", "requests for a person handed off", ">= 0.95"),
    ("recognised", "… of them as a request (asked_for_human)", ""),
    ("offered_human", "frustration offered a person", ">= 0.90"),
    ("smalltalk_queued", "small talk queued (handoff)", "0"),
    ("greet_thanks_queued", "greetings and thanks queued", "0"),
    ("smalltalk_intent", "small talk answered in kind", ""),
    ("oos_answered", "out of scope answered", "<= 0.05"),
)


@dataclass(frozen=True)
class Item:
    """One message of the set and what the bot should do with it."""

    text: str
    page_language: str
    language: str
    expect: str
    entry: str | None = None
    intent: str | None = None
    previous: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    """What the bot did with one item; ``ok`` is None when the item was skipped."""

    item: Item
    action: str
    reason: str
    intent: str | None
    titles: tuple[str, ...]  # the ranked matches' titles, best first
    ok: bool | None

    @property
    def served(self) -> bool:
        return self.action in SERVED and self.item.entry in self.titles[:TOP]


def parse_items(lines: Iterable[str]) -> list[Item]:
    """Items from JSON Lines; ValueError names the first bad line and what is wrong with it."""
    items: list[Item] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            items.append(_item(obj))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"line {number}: {error}") from None
    return items


def _item(obj: Mapping[str, object]) -> Item:
    text, page, language, expect = (obj[k] for k in ("text", "page_language", "language",
                                                      "expect"))
    if not all(isinstance(v, str) and v for v in (text, page, language, expect)):
        raise ValueError("text, page_language, language and expect must be non-empty strings")
    assert isinstance(text, str) and isinstance(page, str)
    assert isinstance(language, str) and isinstance(expect, str)
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect {expect!r} is not one of {EXPECTATIONS}")
    entry, intent = obj.get("entry"), obj.get("intent")
    if (expect == "serve") != isinstance(entry, str):
        raise ValueError("'entry' (a title) goes with expect 'serve' and only with it")
    if (expect == "smalltalk") != (intent in INTENTS):
        raise ValueError(f"'intent' (one of {INTENTS}) goes with 'smalltalk' and only with it")
    previous = obj.get("previous", [])
    if not isinstance(previous, list) or not all(isinstance(p, str) for p in previous):
        raise ValueError("'previous' must be a list of strings")
    note = obj.get("note", "")
    return Item(text, page, language, expect, entry if isinstance(entry, str) else None,
                intent if isinstance(intent, str) else None, tuple(previous),
                note if isinstance(note, str) else "")


def load_items(path: Path) -> list[Item]:
    """Read the set from *path* (UTF-8 JSON Lines)."""
    with path.open(encoding="utf-8") as fh:
        return parse_items(fh)


def _history_parameter(bot: Bot) -> str | None:
    """The name under which ``Bot.decide`` takes earlier visitor texts, if it does."""
    names = inspect.signature(bot.decide).parameters
    return next((n for n in ("history", "previous") if n in names), None)


def _judge(item: Item, decision: Decision, titles: tuple[str, ...]) -> bool:
    action = decision.action
    if item.expect == "serve":
        return action in SERVED and item.entry in titles[:TOP]
    if item.expect == "handoff":
        return action == "handoff"
    if item.expect == "offer_human":
        return action == "offer_human"
    if item.expect == "smalltalk":
        return action == "smalltalk" and getattr(decision, "intent", None) == item.intent
    return action != "answer"  # out_of_scope: anything but a confident answer


def run(bot: Bot, items: Sequence[Item]) -> list[Outcome]:
    """Ask *bot* about every item; items with ``previous`` are skipped if it takes no history."""
    history = _history_parameter(bot)
    outcomes: list[Outcome] = []
    for item in items:
        if item.previous and history is None:
            outcomes.append(Outcome(item, "", "", None, (), None))
            continue
        # Any: decide's keyword parameters differ in type (previous: Sequence[str], name: str).
        extra: dict[str, Any] = {history: list(item.previous)} if item.previous and history else {}
        decision = bot.decide(item.text, item.page_language, 0, **extra)
        titles = tuple(m.title for m in decision.matches)
        outcomes.append(Outcome(item, decision.action, decision.reason,
                                getattr(decision, "intent", None), titles,
                                _judge(item, decision, titles)))
    return outcomes


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def figures(outcomes: Iterable[Outcome]) -> dict[str, dict[str, float | int | None]]:
    """Per language (and ``"all"``): the shares in ROWS plus item counts by kind."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.item.language].append(outcome)
        groups["all"].append(outcome)
    result: dict[str, dict[str, float | int | None]] = {}
    for language, group in groups.items():
        kind: dict[str, list[Outcome]] = defaultdict(list)
        for o in group:
            kind["skipped" if o.ok is None else o.item.expect].append(o)
        serve, small = kind["serve"], kind["smalltalk"]
        greet_thanks = [o for o in small if o.item.intent in ("greeting", "thanks")]
        row: dict[str, float | int | None] = {
            "served_top3": _share(sum(o.served for o in serve), len(serve)),
            "answered_right": _share(sum(o.action == "answer" and o.titles[:1] == (o.item.entry,)
                                         for o in serve), len(serve)),
            "answered_wrong": _share(sum(o.action == "answer" and o.titles[:1] != (o.item.entry,)
                                         for o in serve), len(serve)),
            "handed_off": _share(sum(bool(o.ok) for o in kind["handoff"]), len(kind["handoff"])),
            # A request handed off for low confidence reached a person by luck, not recognition.
            "recognised": _share(sum(o.reason == "asked_for_human" for o in kind["handoff"]),
                                 len(kind["handoff"])),
            "offered_human": _share(sum(bool(o.ok) for o in kind["offer_human"]),
                                    len(kind["offer_human"])),
            "smalltalk_queued": _share(sum(o.action == "handoff" for o in small), len(small)),
            "greet_thanks_queued": sum(o.action == "handoff" for o in greet_thanks),
            "smalltalk_intent": _share(sum(bool(o.ok) for o in small), len(small)),
            "oos_answered": _share(sum(o.action == "answer" for o in kind["out_of_scope"]),
                                   len(kind["out_of_scope"])),
        }
        row.update({f"n_{k}": len(kind[k]) for k in (*EXPECTATIONS, "skipped")})
        result[language] = row
    return dict(sorted(result.items(), key=lambda kv: (kv[0] == "all", _order(kv[0]))))


def _order(language: str) -> int:
    known = ("en", "fa", "ar", "zh")
    return known.index(language) if language in known else len(known)


def misses(table: Mapping[str, Mapping[str, float | int | None]]) -> list[str]:
    """The issue's targets each language misses, as ``"fa served_top3 0.71 < 0.9"``."""
    found = []
    for language, row in table.items():
        if language == "all":
            continue
        for name, side, bound in TARGETS:
            value = row.get(name)
            if value is None:
                continue
            if (side == "min" and value < bound) or (side == "max" and value > bound):
                found.append(f"{language} {name} {value} {'<' if side == 'min' else '>'} {bound}")
    return found


def report(outcomes: Sequence[Outcome], verbose: bool = False) -> str:
    """The per-language table (Markdown), the missed targets and, if *verbose*, the failures."""
    table = figures(outcomes)
    languages = list(table)
    lines = ["| figure | target | " + " | ".join(languages) + " |",
             "|---|---|" + "---|" * len(languages)]
    for name, label, target in ROWS:
        cells = ["—" if table[lang][name] is None else str(table[lang][name])
                 for lang in languages]
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    counts = [f"{table[lang]['n_serve']}/{table[lang]['n_handoff']}/"
              f"{table[lang]['n_offer_human']}/{table[lang]['n_smalltalk']}/"
              f"{table[lang]['n_out_of_scope']}" for lang in languages]
    lines.append("| items serve/handoff/frustration/small talk/oos | | "
                 + " | ".join(counts) + " |")
    skipped = table.get("all", {}).get("n_skipped") or 0
    if skipped:
        lines.append(f"\n{skipped} repeated-question items skipped: Bot.decide takes no history.")
    missed = misses(table)
    lines.append("\ntargets missed: " + ("; ".join(missed) if missed else "none"))
    if verbose:
        lines.append("\nfailures (language, page → expected: got, top matches — text):")
        for o in outcomes:
            if o.ok is False:
                lines.append(_failure(o))
    return "\n".join(lines)


def _failure(o: Outcome) -> str:
    item = o.item
    wanted = item.entry if item.expect == "serve" else item.intent or ""
    got = o.action + (f"/{o.reason}" if o.reason else "") + (f":{o.intent}" if o.intent else "")
    top = " · ".join(o.titles[:TOP])
    return (f"  {item.language} page {item.page_language} → {item.expect}"
            f"{' ' + repr(wanted) if wanted else ''}: got {got} [{top}] — {item.text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--devset`` and ``-v`` on the ``kb-eval`` parser."""
    parser.add_argument("--devset", type=Path, metavar="FILE",
                        help="score the default knowledge base on realistic messages "
                             "(tests/data/realistic_dev.jsonl); --train/--test not needed")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="with --devset: list every failure (text, expected, got)")


def command(args: argparse.Namespace, bot: Bot) -> int:
    """Run ``--devset`` against *bot* (already holding the knowledge base) and print the table."""
    outcomes = run(bot, load_items(args.devset))
    if getattr(args, "json", False):
        print(json.dumps(figures(outcomes), sort_keys=True))
    else:
        print(report(outcomes, verbose=args.verbose))
    return 0
