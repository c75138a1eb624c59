"""Which script, and which language, one visitor message is written in.

A widget's page language says what the shop expects, not what the visitor types: a Persian
question on an English page, an English one on a Chinese page.  :func:`detect` reads the message
itself, by its letters:

* Each letter counts for its script (digits, punctuation and emoji count for nothing); the
  script with most letters wins, so a mixed message goes by its majority -- weighed, so that a
  Han character counts as much as four Latin letters and an Arabic one as two: a brand or a
  title in Latin letters ("PayPal付不了款", "پرداخت با PayPal") does not outvote the sentence.
* Arabic script is Persian or Arabic by letters only one of them uses (Persian پ چ ژ گ, Arabic
  ة ى أ إ ؤ and tanween; the keyboards' ی ک against ي ك count little, because Persian is often
  typed on an Arabic layout) and by function words (است، را، می‌... against في، على، هل، لماذا،
  the article ال...).  Too little evidence either way (``سلام``, ``كارت بانكي``) leaves the
  language open: the caller decides with the page language.
* Han is Chinese unless kana appear (Japanese); Hangul is Korean.
* Latin is left open (English, French, Finglish and Arabizi all use it); :mod:`bot.romanize`
  recognises the romanized Persian and Arabic.

Pure and cheap: one pass over the characters, about 10 µs for a chat message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Detected", "detect"]


def _words(text: str) -> frozenset[str]:
    """A word list written as one string (easier to read and edit than quoted items)."""
    return frozenset(text.split())


@dataclass(frozen=True)
class Detected:
    """The message's majority script and, when the letters tell, its language."""

    script: str  # "latin" | "arabic" | "han" | "kana" | "hangul" | "other" | "" (no letters)
    language: str | None  # "fa" | "ar" | "zh" | "ja" | "ko", or None when the letters do not tell


# Letters only one of the two languages writes (before any folding).  پ چ ژ گ, ة ى أ إ ؤ and
# tanween are spelling; ی ک against ي ك are mostly the keyboard -- Persian typed on an Arabic
# layout is common (docs/bot.md) -- so they count a quarter.
_FA_LETTERS = {"پ": 2.0, "چ": 2.0, "ژ": 2.0, "گ": 2.0, "ۀ": 2.0, "ی": 0.25, "ک": 0.25}
_AR_LETTERS = {ch: 2.0 for ch in "ةىأإؤ\u064b\u064c\u064d"} | {"ي": 0.25, "ك": 0.25}
_MARGIN = 1.5  # evidence one side must lead by: a word, a letter, not a keyboard's ي and ك

# Function words, compared after folding ي→ی and ك→ک (so either keyboard counts).  Words both
# languages write (من، ما، یا، هم، به، او، سلام، الان) count for neither.
_FA_WORDS = _words(
    "است هست نیست را رو که این اون آن چه چی چطور چطوری چرا کجا کجاست برای برام با از "
    "تا ولی اما شما تو میشه نمیشه می نمی دارم دارید ندارم کنم کنید کردم شده شد "
    "بود نشد نشده خیلی لطفا ممنون مرسی چند چقدر هنوز"
)
_AR_WORDS = _words(
    "في على إلى الى عن هل ماذا لماذا ليش كيف كیف وين أين اين متى هذا هذه ذلك التي الذي "
    "لا لم لن مش مو انا أنا انت أنت نحن هو هي كان يمكن ممكن لو شكرا شو ايش إيش اريد أريد "
    "بدي عايز ابغى ابي مع أو".replace("ي", "ی").replace("ك", "ک")
)
# Persian words that start like the Arabic article and must not count for Arabic.
_FA_AL_WORDS = frozenset(("الان", "البته", "الکی", "الو"))

# Letters are weighed by how much of a word each carries: a Han character is about a word, an
# Arabic-script word has no short vowels to spell.  Without weights a native sentence with a
# Latin name in it ("播放 1995年 的 Luis Alfonzo Larrain", "ابحث عن مسلسل Chasing Fortune") went
# to Latin: 79 of 300 xSID zh and 39 of 300 xSID ar messages; with them 16 and 17, names and
# titles longer than the sentence around them.
_WEIGHT = {"latin": 1, "other": 1, "arabic": 2, "hangul": 2, "kana": 2, "han": 4}

_WORD = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]+")


def _script_of(ch: str) -> str | None:
    """The script a letter belongs to, None for anything that is not a letter."""
    cp = ord(ch)
    if cp < 0x80:
        return "latin" if ch.isalpha() else None
    if 0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0xFB50 <= cp <= 0xFEFF:
        # Arabic letters (the marks and digits in these blocks are not letters).
        return "arabic" if ch.isalpha() else None
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF:
        return "han"
    if 0x20000 <= cp <= 0x2FFFF:
        return "han"
    if 0x3040 <= cp <= 0x30FF:
        return "kana"
    if 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "hangul"
    if not ch.isalpha():
        return None
    if cp <= 0x024F or 0x1E00 <= cp <= 0x1EFF or 0xFF21 <= cp <= 0xFF5A:
        return "latin"  # Latin-1, Extended-A/B, Extended Additional, full-width
    return "other"


def _persian_or_arabic(text: str) -> str | None:
    """Persian ("fa") or Arabic ("ar"); None when nothing in *text* tells the two apart."""
    fa = ar = 0.0
    for ch in text:
        fa += _FA_LETTERS.get(ch, 0.0)
        ar += _AR_LETTERS.get(ch, 0.0)
    fa += 2.0 * text.count("\u0647\u0654")  # Persian ezafe هٔ (پنجرهٔ); Arabic writes ة
    for word in _WORD.findall(text):
        folded = word.replace("ي", "ی").replace("ك", "ک")
        if folded in _FA_WORDS:
            fa += 2
        elif folded in _AR_WORDS:
            ar += 2
        elif folded.startswith("ال") and len(folded) > 3 and folded not in _FA_AL_WORDS:
            ar += 1  # the Arabic article; Persian borrows a few such words, hence only 1
        elif folded.startswith(("می", "نمی")) and len(folded) > 3:
            fa += 1  # Persian verbal prefix (Arabic has few words starting with می)
    if abs(fa - ar) < _MARGIN:
        return None
    return "fa" if fa > ar else "ar"


def detect(text: str) -> Detected:
    """The majority script of *text* and, when its letters tell, its language."""
    counts: dict[str, int] = {}
    for ch in text:
        script = _script_of(ch)
        if script is not None:
            counts[script] = counts.get(script, 0) + _WEIGHT.get(script, 1)
    if not counts:
        return Detected("", None)
    script = max(counts, key=lambda s: (counts[s], s))
    if script == "han":
        return Detected("han", "ja" if counts.get("kana") else "zh")
    if script == "kana":
        return Detected("kana", "ja")
    if script == "hangul":
        return Detected("hangul", "ko")
    if script == "arabic":
        return Detected("arabic", _persian_or_arabic(text))
    return Detected(script, None)
