"""bot.evaluate's figures on hand-made numbers."""

from __future__ import annotations

from bot.evaluate import auroc, coverage_at_precision


def test_coverage_at_precision_answers_the_most_that_stay_precise() -> None:
    # The 20 most confident hold one wrong answer (19/20 = 0.95); two more wrong ones follow.
    answers = [(1.0 - i / 100, i != 5) for i in range(20)] + [(0.5, False), (0.4, False)]
    assert coverage_at_precision(answers, 0.95) == (20 / 22, 1.0 - 19 / 100)
    # Stricter: only the five before the wrong one.
    assert coverage_at_precision(answers, 0.99) == (5 / 22, 1.0 - 4 / 100)


def test_coverage_at_precision_never_splits_a_tie() -> None:
    answers = [(0.9, True), (0.8, True), (0.8, False), (0.8, False)]
    assert coverage_at_precision(answers, 0.95) == (0.25, 0.9)
    assert coverage_at_precision(answers, 0.5) == (1.0, 0.8)
    assert coverage_at_precision([(0.3, False)], 0.95) == (0.0, 1.0)


def test_auroc_counts_ties_half() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.5], [0.5]) == 0.5
