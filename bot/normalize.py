"""Text normalization and tokenization for matching (never for display).

Every string the bot compares -- knowledge-base questions and visitor queries -- goes through
:func:`normalize` and :func:`features`, so two spellings a reader would call "the same" end up
as the same features.  What counts as "the same" is decided here, once:

* Unicode NFKC and case folding (full-width Latin, ligatures, Arabic presentation forms).
* Latin/Greek/Cyrillic accents dropped (``café`` = ``cafe``): visitors often type without them.
* Arabic script: harakat and tatweel removed; alef/yeh/kaf/teh-marbuta/heh variants folded to one
  letter each, so Persian typed on an Arabic keyboard (ي ك) meets a Persian entry (ی ک).
* Persian zero-width non-joiner: ``می‌خواهم``, ``میخواهم`` and ``می خواهم`` must match.  Writers
  use all three, so we segment all three the same way: ZWNJ is a word break, and the verbal prefix
  ``می``/``نمی`` and plural suffix ``ها``/``های`` are split off a longer word.  A split that is
  "wrong" linguistically (``میلیون``) is harmless because queries and entries are split alike.
* The Arabic definite article (``ال``, ``وال``, ``بال``...) is dropped from longer words.
* Digits of every script (Arabic-Indic, Persian, Devanagari, ...) become ASCII.
* Punctuation and symbols of every script become spaces; apostrophes inside words vanish
  (``don't`` = ``dont``).
* Traditional Chinese folds to simplified characters (OpenCC, :func:`bot.hanzi.simplified`).

Tokenization: spaced scripts give words; runs of unspaced scripts (Han, Kana, Thai, Lao, Khmer,
Myanmar) give character unigrams and bigrams, because there is no word boundary to trust.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.hanzi import simplified

__all__ = ["AR_ARTICLES", "char_ngrams", "features", "normalize", "unspaced", "words"]

_ZWNJ = "\u200c"

# Arabic-script folding: one letter per family.  Persian yeh/keheh are the targets because they
# are what both Persian keyboards and (after this fold) Arabic text agree on for matching.
_LETTER_FOLDS = {
    "\u064a": "\u06cc",  # ARABIC YEH -> FARSI YEH
    "\u0649": "\u06cc",  # ALEF MAKSURA -> FARSI YEH
    "\u0626": "\u06cc",  # YEH WITH HAMZA ABOVE -> FARSI YEH
    "\u06d2": "\u06cc",  # YEH BARREE (Urdu) -> FARSI YEH
    "\u0643": "\u06a9",  # ARABIC KAF -> KEHEH
    "\u0623": "\u0627",  # ALEF WITH HAMZA ABOVE -> ALEF
    "\u0625": "\u0627",  # ALEF WITH HAMZA BELOW -> ALEF
    "\u0622": "\u0627",  # ALEF WITH MADDA -> ALEF
    "\u0671": "\u0627",  # ALEF WASLA -> ALEF
    "\u0624": "\u0648",  # WAW WITH HAMZA -> WAW
    "\u0629": "\u0647",  # TEH MARBUTA -> HEH
    "\u06c0": "\u0647",  # HEH WITH YEH ABOVE (Persian ezafe) -> HEH
    "\u06c1": "\u0647",  # HEH GOAL -> HEH
    "\u06d5": "\u0647",  # AE -> HEH
}

# Harakat, superscript alef, Quranic annotation marks, tatweel: decoration, not spelling.
_ARABIC_MARKS = [
    *range(0x0610, 0x061B),
    *range(0x064B, 0x0660),
    0x0670,
    *range(0x06D6, 0x06EE),
    0x0640,
]

# Characters that join a word rather than break it (English contractions, Arabic/Latin quotes
# typed as apostrophes).
_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4"


class _Folds(dict[int, str | None]):
    """One str.translate table for every per-character fold (a single C-level pass). The
    explicit folds are entered up front; a character met for the first time is classified by
    its Unicode category then and remembered (itself when unchanged), instead of classifying
    all 1.1 million code points at import, which cost every server process half a second."""

    def __init__(self) -> None:
        super().__init__({ord(k): v for k, v in _LETTER_FOLDS.items()})
        for cp in _ARABIC_MARKS:
            self[cp] = None
        for cp in range(0x0300, 0x0370):  # combining diacritical marks (Latin, Greek, Cyrillic)
            self[cp] = None
        for ch in _APOSTROPHES:
            self[ord(ch)] = None
        self[ord(_ZWNJ)] = " "
        for cp in (0x200B, 0x200D, 0x2060, 0xFEFF, 0x00AD):  # ZWSP, ZWJ, word joiner, BOM, SHY
            self[cp] = None

    def __missing__(self, cp: int) -> str | None:
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat == "Nd":
            folded: str | None = str(unicodedata.decimal(ch))
        elif cat[0] in "PSZ" or cat in ("Cc", "Cf"):
            folded = " "
        else:
            folded = ch
        self[cp] = folded
        return folded


_TABLE = _Folds()

# Scripts written without spaces between words: tokenized as character uni+bigrams.
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U0002ffff"  # CJK Extensions B..
)
_RUN = re.compile(f"[{_UNSPACED}]+|[^\\s{_UNSPACED}]+")
_UNSPACED_RUN = re.compile(f"[{_UNSPACED}]")

# Arabic definite article with its attached conjunctions/prepositions (و ب ف ک ل), after
# letter folding (ك -> ک).  Light stemming in the manner of Larkey et al.'s "light10":
# +0.6-0.7 point top-1 on ArBanking77 (mean over shot draws), flat on MASSIVE fa.
AR_ARTICLES = ("وال", "بال", "فال", "کال", "لل", "ال")
_FA_PREFIXES = ("نمی", "می")
_FA_SUFFIXES = ("هایی", "های", "ها")
_MIN_STEM = 3  # letters left after a split; shorter stems are more often whole words (میز)


def normalize(text: str) -> str:
    """Fold *text* to its matching form: one space between words, no punctuation."""
    text = simplified(unicodedata.normalize("NFKC", text).casefold())
    # NFD exposes Latin accents as combining marks for the table to drop; NFC puts back what
    # must stay composed (Hangul, and Indic vowel signs the table leaves alone).
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(_TABLE))
    return " ".join(text.split())


def unspaced(token: str) -> bool:
    """Whether *token* (from :func:`words`) is a character uni/bigram of an unspaced script."""
    return _UNSPACED_RUN.match(token) is not None


def _split_affixes(word: str) -> list[str]:
    """Drop an Arabic article; split the Persian verbal prefix and plural suffix off *word*.

    Both sides of every comparison go through this, so a split that is linguistically wrong for
    one word only has to be consistent, not right.
    """
    for article in AR_ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= _MIN_STEM:
            word = word[len(article) :]
            break
    parts = [word]
    for prefix in _FA_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            parts = [prefix, word[len(prefix) :]]
            break
    stem = parts[-1]
    for suffix in _FA_SUFFIXES:
        if stem.endswith(suffix) and len(stem) - len(suffix) >= _MIN_STEM:
            parts[-1:] = [stem[: -len(suffix)], suffix]
            break
    return parts


def _is_arabic_script(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff"


@lru_cache(maxsize=4096)  # repeated queries (greetings, FAQ titles) skip re-tokenizing
def words(text: str) -> tuple[str, ...]:
    """Word tokens of normalized *text*; unspaced-script runs become character uni+bigrams."""
    out: list[str] = []
    for run in _RUN.findall(normalize(text)):
        if _UNSPACED_RUN.match(run):
            out.extend(run)
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif _is_arabic_script(run):
            out.extend(_split_affixes(run))
        else:
            out.append(run)
    return tuple(out)


def char_ngrams(tokens: tuple[str, ...], low: int = 2, high: int = 4) -> list[str]:
    """Character n-grams of the spaced-script words, read as one padded string.

    ``("top", "up")`` -> ``" t"``, ``"to"``, ..., ``"p u"``, ``" up "``.  They catch shared
    stems across inflection (Arabic/Persian affixes, English plurals) and typos that whole-word
    matching misses; grams spanning a space also catch short phrases ("top up" vs "top of").
    Measured against grams kept inside each word: +0.8 point top-1 on average over the five
    datasets (docs/bot.md).  Unspaced-script tokens (already character uni/bigrams) pass
    through unchanged, so this view covers every script.
    """
    grams = [tok for tok in tokens if _UNSPACED_RUN.match(tok)]
    spaced = " ".join(tok for tok in tokens if not _UNSPACED_RUN.match(tok))
    if spaced:
        padded = f" {spaced} "
        size = len(padded)
        for n in range(low, min(high, size) + 1):
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def features(text: str) -> tuple[tuple[str, ...], list[str]]:
    """Both feature streams of *text*: (word tokens, character n-grams)."""
    toks = words(text)
    return toks, char_ngrams(toks)
