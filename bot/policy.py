"""What the bot does with a ranked list: answer, suggest a few, or hand off to a person.

Kept apart from matching so the thresholds can be reasoned about (and tested) on plain
numbers: :func:`decide` sees only scores and the conversation's failure count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.human_request import wants_human
from bot.index import MatchSettings

__all__ = ["BotSettings", "Verdict", "confidence", "decide", "wants_human"]


@dataclass(frozen=True)
class BotSettings:
    """Policy thresholds (config.toml ``[bot]``) and matching knobs (``[bot.match]``).

    Thresholds apply to :func:`confidence`.  Defaults come from CLINC150 valid + oos_valid
    (Larson et al. 2019) and hold across the other datasets; see docs/bot.md for the figures.
    """

    # At or above: answer with the top entry.  Chosen so answered queries are right >= ~90% of
    # the time on the in-scope sets while still answering about half of them.
    answer_threshold: float = 0.55
    # At or above (and below answer_threshold): offer the top `suggestions` entries as choices.
    # Below it most queries are out of scope (CLINC150 oos), so a person helps more.
    suggest_threshold: float = 0.30
    # Hand off when this many rounds in a row fail (the current one included): a visitor who
    # rejected one set of suggestions rarely accepts a second.
    max_failed_rounds: int = 2
    # Choices offered when unsure: three fit a chat bubble and hold the right entry ~85% of the
    # time (top-3 accuracy) versus ~72% for the top one alone.
    suggestions: int = 3
    match: MatchSettings = field(default_factory=MatchSettings)


@dataclass(frozen=True)
class Verdict:
    """The policy's choice, before the engine attaches entries to it."""

    action: str  # "answer" | "suggest" | "handoff"
    reason: str  # "confident" | "unsure" | "low_confidence" | "second_failure" | "asked_for_human"


def confidence(scores: Sequence[float]) -> float:
    """Confidence in [0, 1] that the best-scored entry answers the query.

    The best fused score says how much of the query the entry explains; the gap to the runner-up
    says whether it explains it better than anything else.  Both matter: an out-of-scope query
    often half-matches several entries equally (low top score, small gap).  The geometric blend
    below separated CLINC150 oos from in-scope queries best of the forms measured (AUROC in
    docs/bot.md).
    """
    if not scores:
        return 0.0
    top = scores[0]
    if top <= 0.0:
        return 0.0
    second = scores[1] if len(scores) > 1 else 0.0
    margin = (top - second) / top
    return max(0.0, min(1.0, top * math.sqrt(0.5 + 0.5 * margin)))


def decide(
    conf: float, failed_rounds: int, asked_for_human: bool, settings: BotSettings
) -> Verdict:
    """Choose the action for one visitor message.

    *failed_rounds* counts the rounds just before this one in which the bot did not answer
    (suggestions ignored or rejected); the conversation service keeps that count.
    """
    if asked_for_human:
        return Verdict("handoff", "asked_for_human")
    if conf >= settings.answer_threshold:
        return Verdict("answer", "confident")
    if failed_rounds + 1 >= settings.max_failed_rounds:
        return Verdict("handoff", "second_failure")
    if conf >= settings.suggest_threshold:
        return Verdict("suggest", "unsure")
    return Verdict("handoff", "low_confidence")
