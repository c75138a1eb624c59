"""Knowledge-base bot: normalization, matching with confidence, and the hand-off policy.

Pure Python (plus rapidfuzz); importable without the server.  The server uses :class:`Bot`.
"""

from bot.engine import Bot, Decision, Entry, Match, primary_language
from bot.human_request import wants_human
from bot.index import MatchSettings
from bot.policy import BotSettings

__all__ = [
    "Bot",
    "BotSettings",
    "Decision",
    "Entry",
    "Match",
    "MatchSettings",
    "primary_language",
    "wants_human",
]
