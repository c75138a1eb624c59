"""What the bot does with a ranked list: answer, suggest a few, or hand off to a person.

Kept apart from matching so the thresholds can be reasoned about (and tested) on plain
numbers: :func:`decide` sees only scores and the conversation's failure count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.human_request import wants_human
from bot.index import MatchSettings

__all__ = ["BotSettings", "Verdict", "confidence", "decide", "wants_human"]


# Weight of the runner-up's score in :func:`confidence` (fixed from the shapes measured in
# docs/bot.md, not a per-deployment knob).
MARGIN_WEIGHT = 0.7


@dataclass(frozen=True)
class BotSettings:
    """Policy thresholds (config.toml ``[bot]``) and matching knobs (``[bot.match]``).

    The answer threshold applies to :func:`confidence`, the suggest threshold to the best score
    (whether anything fits at all).  Defaults were read off the valid splits of all five
    datasets and CLINC150 oos_valid (Larson et al. 2019) at once; docs/bot.md has the table.
    """

    # At or above: answer with the top entry.  Chosen for answers right >= 95% of the time
    # (mean of shot seeds 0-4: Banking77 0.97, CLINC150 0.98, ArBanking77 0.95, xSID zh 1.0;
    # MASSIVE fa 0.91, whose near-duplicate intents no threshold makes 95% right); answers
    # 22-54% of in-scope queries and 2% of CLINC150 out-of-scope ones.  `kb-eval` prints the
    # threshold each data set would need (threshold_p95) and what it answers (coverage_p95).
    answer_threshold: float = 0.28
    # Best score at or above (and not confident enough to answer): offer the top `suggestions`
    # entries as choices.  Below it: hand off.  Catches 38% of out-of-scope queries at once
    # while handing off 2% of in-scope English queries (8-12% fa/ar/zh); the rest of the oos
    # are caught by the second-failure rule when the visitor ignores the suggestions.  (0.2:
    # 24% and 1% / 3-7%; 0.3: 56% and 4.5% / 15-21%; docs/bot.md.)
    suggest_threshold: float = 0.25
    # Hand off when this many rounds in a row fail (the current one included): a visitor who
    # rejected one set of suggestions rarely accepts a second.
    max_failed_rounds: int = 2
    # Choices offered when unsure: three fit a chat bubble and hold the right entry 77-98% of
    # the time (top-3 accuracy) versus 62-92% for the top one alone.
    suggestions: int = 3
    # Re-rank with multilingual sentence embeddings fused with BM25 (bot/semantic.py; needs
    # the `semantic` extra).  The thresholds above still read BM25's scores (docs/bot.md).
    semantic: bool = False
    match: MatchSettings = field(default_factory=MatchSettings)


@dataclass(frozen=True)
class Verdict:
    """The policy's choice, before the engine attaches entries to it."""

    action: str  # "answer" | "suggest" | "handoff" | "offer_human"
    # "confident" | "unsure" | "low_confidence" | "second_failure" | "asked_for_human", or for
    # offer_human what upset the visitor: "frustrated" | "insult" | "repeated"
    reason: str


def confidence(scores: Sequence[float]) -> float:
    """Confidence in [0, 1] that the best-scored entry answers the query.

    The best score says how much of the query the entry explains (it alone separates CLINC150
    out-of-scope queries best, so :func:`decide` hands off on it); the gap to the runner-up
    says whether it explains it better than anything else (it separates right from wrong top-1
    answers best).  ``top - 0.7 * second`` leans on the gap: at precision 0.95 it answers
    Banking77 0.46 of queries where ``top - second/2`` answered 0.39 (CLINC150 0.66 / 0.60,
    ArBanking77 0.20 / 0.15; docs/bot.md); 0.8-1.0 answered no more and let more out-of-scope
    queries through.
    """
    if not scores:
        return 0.0
    second = scores[1] if len(scores) > 1 else 0.0
    return max(0.0, min(1.0, scores[0] - MARGIN_WEIGHT * second))


def decide(
    conf: float, failed_rounds: int, asked_for_human: bool, settings: BotSettings,
    upset: str | None = None, scope: float | None = None, exact: bool = False,
) -> Verdict:
    """Choose the action for one visitor message.

    *failed_rounds* counts the rounds just before this one in which the bot did not answer
    (suggestions ignored or rejected); the conversation service keeps that count.  *upset*
    (bot/frustration.py: "frustrated", "insult", "repeated") means the visitor is unhappy with
    the bot: apologise and offer a person rather than another answer or a silent queue.  A
    plain request for a person still hands off at once.  *scope* is the best entry's score:
    below ``suggest_threshold`` nothing fits well enough to suggest (*conf* when not given).
    *exact*: the message repeats, word for word, a phrasing of the best entry and of no other
    -- the knowledge base's own words for that entry (docs/bot.md), answered like a confident
    match.
    """
    if asked_for_human:
        return Verdict("handoff", "asked_for_human")
    if upset is not None:
        return Verdict("offer_human", upset)
    if exact or conf >= settings.answer_threshold:
        return Verdict("answer", "confident")
    if failed_rounds + 1 >= settings.max_failed_rounds:
        return Verdict("handoff", "second_failure")
    if (conf if scope is None else scope) >= settings.suggest_threshold:
        return Verdict("suggest", "unsure")
    return Verdict("handoff", "low_confidence")
