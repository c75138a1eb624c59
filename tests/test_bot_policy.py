"""The policy on plain numbers: confidence from the ranked scores, and the two thresholds."""

from __future__ import annotations

import pytest

from bot.policy import MARGIN_WEIGHT, BotSettings, confidence, decide

SETTINGS = BotSettings(answer_threshold=0.28, suggest_threshold=0.25)


def test_confidence_leans_on_the_gap_to_the_runner_up() -> None:
    assert confidence([]) == 0.0
    assert confidence([0.6]) == 0.6
    assert confidence([0.6, 0.5]) == pytest.approx(0.6 - MARGIN_WEIGHT * 0.5)
    # A strong match with a close rival is less sure than a weaker one alone.
    assert confidence([0.7, 0.65]) < confidence([0.4, 0.05])


def test_the_best_score_decides_whether_anything_fits() -> None:
    # Two entries fit equally well: not sure which (suggest), though each fits.
    assert decide(confidence([0.7, 0.68]), 0, False, SETTINGS, scope=0.7).action == "suggest"
    # Nothing fits: hand off, whatever the gap.
    low = decide(confidence([0.24, 0.0]), 0, False, SETTINGS, scope=0.24)
    assert (low.action, low.reason) == ("handoff", "low_confidence")
    assert decide(confidence([0.5, 0.1]), 0, False, SETTINGS, scope=0.5).action == "answer"
    # Without a scope the confidence stands in for it.
    assert decide(0.26, 0, False, SETTINGS).action == "suggest"


def test_an_entrys_own_phrasing_is_answered_whatever_the_gap() -> None:
    close = confidence([0.81, 0.79])  # "change address": delivery or email address
    assert decide(close, 0, False, SETTINGS, scope=0.81).action == "suggest"
    exact = decide(close, 0, False, SETTINGS, scope=0.81, exact=True)
    assert (exact.action, exact.reason) == ("answer", "confident")
    # A request for a person and an upset visitor still come first.
    assert decide(close, 0, True, SETTINGS, exact=True).action == "handoff"
    assert decide(close, 0, False, SETTINGS, upset="frustrated", exact=True).action == "offer_human"
