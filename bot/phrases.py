"""Phrase matching for the conversational detectors (small talk, frustration, "a person").

The detectors read the same folded text the matcher does (:func:`bot.normalize.normalize`), with
one more fold: the Persian verbal prefix is joined to its verb (``می خوام`` -> ``میخوام``), so a
phrase list needs one spelling where writers use three (with ZWNJ, with a space, joined).
Phrases are written in plain spelling and folded the same way when compiled, so an author never
has to remember that ``مسئول`` is matched as ``مسیول`` or ``شكرا`` as ``شکرا``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.normalize import normalize

__all__ = ["HAN", "fold", "fold_pattern", "phrase_regex"]

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# "می خوام" (from ZWNJ or a typed space) and "میخوام" are one word to the detectors.
_VERB_PREFIX = re.compile(r"(?<!\w)(ن?می) (?=\w)")


def fold(text: str) -> str:
    """The matching form of *text* (normalize) with Persian ``می``/``نمی`` joined to the verb."""
    return _VERB_PREFIX.sub(r"\1", normalize(text))


def fold_pattern(pattern: str) -> str:
    """Fold the Arabic-script letters of a regex (``ئ`` -> ``ی``, ``ة`` -> ``ه``...).

    Only those letters change, so the regex syntax around them stays intact.
    """
    return "".join(
        (normalize(ch) or "") if "\u0600" <= ch <= "\u06ff" else ch for ch in pattern
    )


def phrase_regex(phrases: Iterable[str]) -> str:
    """One regex alternation of folded *phrases*, longest first, each with word boundaries.

    A phrase in a spaced script must stand as whole words ("hi" is not in "hiking"); one of two
    or more Han characters needs no boundary (Chinese has none), but a single Han character
    does ("好" alone, not the one in "好像").
    """
    folded = {fold(p) for p in phrases}
    parts = []
    for phrase in sorted((p for p in folded if p), key=lambda p: (-len(p), p)):
        body = re.escape(phrase)
        if re.fullmatch(f"[{HAN}]{{2,}}", phrase):
            parts.append(body)
        elif re.search(f"[{HAN}]", phrase):
            parts.append(f"(?<!\\S){body}(?!\\S)")
        else:
            parts.append(f"(?<![^\\s{HAN}]){body}(?![^\\s{HAN}])")
    return "|".join(parts) if parts else "(?!)"
