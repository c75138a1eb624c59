"""Measure the bot on labelled data: ``python -m bot.evaluate --train F --test F [--oos F]``.

Protocol (docs/bot.md): one entry per label with K example questions drawn with a fixed seed
from the training file; the entry's title is the label made readable ("card_arrival" ->
"card arrival") unless ``--no-titles``.  Each test query is matched in the entries' language.
When ``--test`` is the training file itself (xSID ships only a valid split) the K shots are
held out of the test set, and labels with K or fewer examples contribute entries but no
queries.  Mounted by the server CLI as ``chatserver kb-eval`` via :func:`add_arguments` and
:func:`command`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.engine import Bot, Entry, primary_language
from bot.policy import BotSettings

__all__ = [
    "Row",
    "add_arguments",
    "auroc",
    "build_kb",
    "command",
    "coverage_at_precision",
    "evaluate",
    "load_rows",
    "semantic_bot",
]

# Answers must be right this often; the answer threshold is chosen for it (docs/bot.md).
TARGET_PRECISION = 0.95


@dataclass(frozen=True)
class Row:
    """One labelled query."""

    text: str
    label: str
    lang: str


def load_rows(path: Path) -> list[Row]:
    """Read a JSON Lines file of ``{text, label, lang}`` objects."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                rows.append(Row(obj["text"], obj["label"], obj.get("lang", "")))
    return rows


def build_kb(
    rows: Sequence[Row], shots: int, seed: int, titles: bool = True
) -> tuple[Bot, list[str], set[int]]:
    """One entry per label with *shots* questions; returns (bot, labels by id, used row idx)."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_label[row.label].append(i)
    rng = random.Random(seed)
    bot = Bot()
    labels: list[str] = []
    used: set[int] = set()
    for entry_id, label in enumerate(sorted(by_label)):
        picked = rng.sample(by_label[label], min(shots, len(by_label[label])))
        used.update(picked)
        title = label.replace("_", " ").replace("/", " ").strip(" ?") if titles else ""
        bot.upsert(
            Entry(
                id=entry_id,
                language=rows[picked[0]].lang,
                title=title,
                questions=tuple(rows[i].text for i in picked),
                answer=label,
            )
        )
        labels.append(label)
    return bot, labels, used


def semantic_bot(bot: Bot) -> float:
    """Turn on the re-ranker (``--semantic``): encode every entry now; returns the seconds.

    Queries are encoded as they come (inline), so ``p50_ms``/``p99_ms`` include the encoder.
    """
    from bot.semantic import Semantic, load_encoder  # needs the semantic extra

    encoder = load_encoder()
    encoder(["warm up"])  # the first call maps the model in: not the knowledge base's cost
    start = time.perf_counter()
    semantic = Semantic(encoder, inline=True)
    bot.use_semantic(semantic)
    return time.perf_counter() - start


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    if not positives or not negatives:
        return float("nan")
    ranked = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid = (i + j + 1) / 2.0  # average 1-based rank of the tie group
        rank_sum += mid * sum(1 for _, pos in ranked[i:j] if pos)
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def coverage_at_precision(
    answers: Sequence[tuple[float, bool]], precision: float = TARGET_PRECISION
) -> tuple[float, float]:
    """(share answered, threshold): the most answered with ``confidence >= threshold`` while
    at least *precision* of those answers are right.

    *answers* holds (confidence, top entry right) per query; an out-of-scope query is never
    right.  The threshold is a confidence seen in the data, so ties are answered together;
    (0.0, 1.0) when no threshold reaches *precision*.
    """
    ordered = sorted(answers, key=lambda a: -a[0])
    best = (0.0, 1.0)
    right = 0
    for i, (conf, ok) in enumerate(ordered):
        right += ok
        if i + 1 < len(ordered) and ordered[i + 1][0] == conf:
            continue  # a threshold cannot split a tie
        if right >= precision * (i + 1):
            best = ((i + 1) / len(ordered), conf)
    return best


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate(
    train: Sequence[Row],
    test: Sequence[Row],
    shots: int = 10,
    seed: int = 0,
    oos: Iterable[Row] = (),
    same_file: bool = False,
    titles: bool = True,
    settings: BotSettings | None = None,
    semantic: bool = False,
) -> dict[str, float | int]:
    """Build the KB from *train*, run every *test* (and *oos*) query, return the figures.

    *semantic* turns on the re-ranker (bot/semantic.py; needs the ``semantic`` extra).
    """
    bot, labels, used = build_kb(train, shots, seed, titles)
    if settings is not None:
        bot.settings = settings
    encode_s = semantic_bot(bot) if semantic else None
    queries = [r for i, r in enumerate(test) if not (same_file and i in used)]
    oos_rows = list(oos)
    top1 = top3 = answered_right = 0
    actions: Counter[str] = Counter()
    in_conf: list[float] = []
    in_scope: list[float] = []  # best score: what the hand-off (out of scope) decision reads
    in_right: list[bool] = []
    in_cosine: list[float] = []  # --semantic: best cosine to an entry (reported, not used)
    latencies: list[float] = []
    for row in queries:
        start = time.perf_counter()
        decision = bot.decide(row.text, row.lang)
        latencies.append((time.perf_counter() - start) * 1000.0)
        ranked = [labels[m.entry_id] for m in bot.search(row.text, row.lang, k=3)]
        top1 += bool(ranked) and ranked[0] == row.label
        top3 += row.label in ranked
        actions[decision.action] += 1
        if decision.entry_id is not None and labels[decision.entry_id] == row.label:
            answered_right += 1
        in_conf.append(decision.confidence)
        # The best score among the matches: re-ranked (--semantic), the first is not the best.
        in_scope.append(max((m.score for m in decision.matches), default=0.0))
        in_right.append(bool(ranked) and ranked[0] == row.label)
        in_cosine.append(_cosine(bot, row))
    n = len(queries)
    answered = actions["answer"]
    result: dict[str, float | int] = {
        "queries": n,
        "entries": len(labels),
        "shots": shots,
        "top1": round(top1 / n, 4),
        "top3": round(top3 / n, 4),
        "answer": round(actions["answer"] / n, 4),
        "suggest": round(actions["suggest"] / n, 4),
        "handoff": round(actions["handoff"] / n, 4),
        "answer_accuracy": round(answered_right / answered, 4) if answered else 0.0,
    }
    # How much could be answered at TARGET_PRECISION, and from which confidence: the figure
    # the answer threshold is chosen by (coverage of in-scope queries).
    coverage, threshold = coverage_at_precision(list(zip(in_conf, in_right, strict=True)))
    result["coverage_p95"] = round(coverage, 4)
    result["threshold_p95"] = round(threshold, 4)
    if oos_rows:
        oos_conf: list[float] = []
        oos_scope: list[float] = []
        oos_cosine: list[float] = []
        oos_handoff = 0
        for row in oos_rows:
            start = time.perf_counter()
            decision = bot.decide(row.text, row.lang)
            latencies.append((time.perf_counter() - start) * 1000.0)
            oos_conf.append(decision.confidence)
            oos_scope.append(max((m.score for m in decision.matches), default=0.0))
            oos_handoff += decision.action == "handoff"
            oos_cosine.append(_cosine(bot, row))
        handoffs = oos_handoff + actions["handoff"]
        result["oos_queries"] = len(oos_rows)
        result["oos_handoff_precision"] = round(oos_handoff / handoffs, 4) if handoffs else 0.0
        result["oos_handoff_recall"] = round(oos_handoff / len(oos_rows), 4)
        result["oos_not_answered"] = round(
            sum(c < bot.settings.answer_threshold for c in oos_conf) / len(oos_rows), 4
        )
        # Separation of out-of-scope queries by the best score, which decides hand-off; and by
        # the confidence, which decides answering and leans on the runner-up's gap instead.
        result["auroc"] = round(auroc(in_scope, oos_scope), 4)
        result["auroc_confidence"] = round(auroc(in_conf, oos_conf), 4)
        if semantic:  # the best cosine alone, which the policy does not read (docs/bot.md)
            result["auroc_cosine"] = round(auroc(in_cosine, oos_cosine), 4)
        # The same with the out-of-scope queries in the pool (an answer to one is wrong).
        coverage, threshold = coverage_at_precision(
            [*zip(in_conf, in_right, strict=True), *((c, False) for c in oos_conf)]
        )
        result["coverage_p95_with_oos"] = round(coverage, 4)
        result["threshold_p95_with_oos"] = round(threshold, 4)
    result["p50_ms"] = round(statistics.median(latencies), 3)
    result["p99_ms"] = round(_percentile(latencies, 0.99), 3)
    if encode_s is not None:
        result["semantic_encode_s"] = round(encode_s, 2)  # every entry of the knowledge base
    return result


def _cosine(bot: Bot, row: Row) -> float:
    """The best cosine of *row* to an entry of its language (0 without the re-ranker)."""
    semantic = bot.semantic
    if semantic is None:
        return 0.0
    vector = semantic.query_vector(row.text)
    lang = primary_language(row.lang)
    return semantic.similarity([lang], vector) if vector is not None else 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``kb-eval`` options on *parser*."""
    # Not required=True: `kb-eval --devset` (bot/devset.py) needs neither; command() checks.
    parser.add_argument("--train", type=Path, help="JSON Lines to build the KB (required)")
    parser.add_argument("--test", type=Path, help="JSON Lines of test queries (required)")
    parser.add_argument("--shots", type=int, default=10, help="example questions per entry")
    parser.add_argument("--oos", type=Path, help="JSON Lines of out-of-scope queries")
    parser.add_argument("--seed", type=int, default=0, help="seed for picking the shots")
    parser.add_argument("--no-titles", action="store_true", help="leave entry titles empty")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--semantic", action="store_true",
                        help="with the semantic re-ranker (pip install 'chatserver[semantic]')")


def command(args: argparse.Namespace) -> int:
    """Run the evaluation described by *args*; print figures; return an exit status."""
    if args.train is None or args.test is None:
        print("kb-eval: --train and --test are required (or --devset FILE)", file=sys.stderr)
        return 2
    train = load_rows(args.train)
    same = args.test.resolve() == args.train.resolve()
    test = train if same else load_rows(args.test)
    oos = load_rows(args.oos) if args.oos else []
    if args.semantic and (problem := semantic_problem()) is not None:
        print(f"kb-eval --semantic: {problem}", file=sys.stderr)
        return 2
    result = evaluate(
        train, test, args.shots, args.seed, oos, same_file=same, titles=not args.no_titles,
        semantic=args.semantic,
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


def semantic_problem() -> str | None:
    """Why the re-ranker cannot run here (its extra is missing), or None."""
    try:
        from bot.semantic import load_encoder
        load_encoder()
    except ImportError as exc:  # numpy itself missing: the extra was never installed
        return f"{exc}; install the extra: pip install 'chatserver[semantic]'"
    except RuntimeError as exc:  # bot.semantic.SemanticUnavailable
        return str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m bot.evaluate``."""
    parser = argparse.ArgumentParser(prog="python -m bot.evaluate", description=__doc__)
    add_arguments(parser)
    return command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
