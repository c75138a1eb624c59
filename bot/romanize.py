"""Persian and Arabic typed in Latin letters: Finglish and Arabizi.

Many visitors write Persian or Arabic on a Latin keyboard: "chetor order ro cancel konam",
"ramzam yadam rafte", "kif arja3 el talab", "wein el talab taba3i" (digits stand for letters
Latin lacks: 2 ء, 3 ع, 5 خ, 7 ح, 9 ق, 6 ط, 8 غ).  Two pieces:

* :func:`romanized_language` tells such a message from English (or French...): words only
  Finglish or Arabizi writes (konam, mikham, chetor; wein, kif, 3ayez, and words spelled with
  the letter digits) must outnumber English function words and make up a quarter of the
  message.  On the Banking77 and CLINC150 valid splits it fires on no message (4,155 English
  messages; a test keeps it so).
* :func:`skeleton` writes both spellings -- the Latin one and the Arabic-script one of the
  knowledge base -- as the same consonant skeleton: vowels (and ا و ی ع ء, which romanizers
  write as vowels or leave out) dropped, each letter family one symbol (ت ط and t; س ص ث and s;
  ح ه, 7 and h; خ, kh and 5; ق غ, gh, q, 8 and 9...), doubled letters single, a final h
  dropped.  "ramzam yadam rafte" and «رمزم یادم رفته» both become ``rmzm dm rft``.

The bot indexes the skeletons of its Persian and Arabic entries (:class:`bot.engine.Bot`) and
matches a romanized message's skeleton there; docs/bot.md has the comparison with transliterating
the message into Arabic script instead (tests/data/romanized_dev.jsonl).
"""

from __future__ import annotations

import re

from bot.normalize import AR_ARTICLES

__all__ = ["romanized_language", "skeleton"]


def _words(text: str) -> frozenset[str]:
    """A word list written as one string (easier to read and edit than quoted items)."""
    return frozenset(text.split())

# Symbols of the skeleton for sounds Latin spells with two letters.  Vowel letters are free
# once vowels are dropped, so they serve.
_SH, _CH, _ZH, _KH, _GH, _J = "c", "e", "o", "x", "q", "j"

_ARABIC_SCRIPT = {
    # after bot.normalize folding (ی ک ا و ه are the folded forms)
    "ب": "b", "پ": "p", "ت": "t", "ط": "t", "ث": "s", "ج": _J, "چ": _CH, "ح": "h", "ه": "h",
    "خ": _KH, "د": "d", "ذ": "z", "ر": "r", "ز": "z", "ژ": _ZH, "س": "s", "ص": "s", "ش": _SH,
    "ض": "z", "ظ": "z", "غ": _GH, "ق": _GH, "ف": "f", "ک": "k", "گ": "g", "ل": "l", "م": "m",
    "ن": "n",
    # vowel-like letters: romanizers write them as vowels or not at all
    "ا": "", "و": "", "ی": "", "ع": "", "ء": "",
}
# Arabic pronounces these as Arabizi spells them (hatha/hada, daman, tlata).
_ARABIC_SCRIPT_AR = {**_ARABIC_SCRIPT, "ث": "t", "ذ": "d", "ض": "d", "ظ": "d"}

# Latin spellings, longest first.  "ch" is چ in Finglish, ش in (Maghrebi) Arabizi; "g" is گ
# in Persian and ج in Egyptian ("montag" منتج); Arabic has no p.
_LATIN_COMMON = (
    ("sh", _SH), ("kh", _KH), ("gh", _GH), ("ph", "f"),
    ("ck", "k"), ("ou", ""), ("oo", ""), ("ee", ""),
    ("2", ""), ("3", ""), ("5", _KH), ("6", "t"), ("7", "h"), ("8", _GH), ("9", _GH),
    ("a", ""), ("e", ""), ("i", ""), ("o", ""), ("u", ""), ("y", ""), ("w", ""), ("v", ""),
    ("q", _GH), ("x", _KH), ("j", _J),
)
_LATIN = {
    "fa": (("ch", _CH), ("zh", _ZH), ("th", "t"), ("dh", "z"), *_LATIN_COMMON, ("g", "g")),
    "ar": (("ch", _SH), ("zh", _ZH), ("th", "t"), ("dh", "d"), *_LATIN_COMMON, ("g", _J),
           ("p", "b")),
}
_SOFT_C = re.compile(r"c(?=[eiy])")
_LATIN_WORD = re.compile(r"[a-z0-9']+")
# Apostrophed digits (3' غ, 7' خ, 9' ض) become a plain digit of the same skeleton symbol before
# normalization drops the apostrophe.
_APOSTROPHE_DIGITS = (("3'", "8"), ("7'", "5"), ("9'", "d"))
_ARTICLE_WORDS = frozenset(("el", "al", "il", "l"))  # Arabizi writes the article apart


def _latin_word(word: str, language: str) -> str:
    word = _SOFT_C.sub("s", word)
    rules = _LATIN[language]
    out: list[str] = []
    i = 0
    while i < len(word):
        for spelling, symbol in rules:
            if word.startswith(spelling, i):
                out.append(symbol)
                i += len(spelling)
                break
        else:
            ch = word[i]
            out.append("k" if ch == "c" else "" if ch == "'" else ch)
            i += 1
    return "".join(out)


def _arabic_word(word: str, language: str) -> str:
    if language == "ar":
        for article in AR_ARTICLES:
            if word.startswith(article) and len(word) - len(article) >= 2:
                word = word[len(article) :]
                break
    table = _ARABIC_SCRIPT_AR if language == "ar" else _ARABIC_SCRIPT
    return "".join(table.get(ch, ch) for ch in word)


def _tidy(key: str) -> str:
    """Doubled letters single (majjani, arajje3), a final h dropped (rafte/رفته, basteh)."""
    out = re.sub(r"(.)\1+", r"\1", key)
    return out[:-1] if len(out) > 1 and out.endswith("h") else out


def skeleton(text: str, language: str) -> str:
    """The consonant skeleton of *text* (Latin or Arabic script), read as *language* ("fa"/"ar")."""
    from bot.normalize import normalize  # normalize builds a large table; import when first used

    for spelling, digit in _APOSTROPHE_DIGITS:
        text = text.replace(spelling, digit)
    keys: list[str] = []
    for word in normalize(text).split():
        if word.isdigit():
            keys.append(word)
            continue
        if "\u0600" <= word[0] <= "\u06ff":
            key = _arabic_word(word, language)
        else:
            if word in _ARTICLE_WORDS and language == "ar":
                continue
            key = "".join(_latin_word(w, language) for w in _LATIN_WORD.findall(word))
        key = _tidy(key)
        if key:
            keys.append(key)
    return " ".join(keys)


# --- telling romanized Persian and Arabic from English --------------------------------------

# Words Finglish writes and English does not (grammar words, common verbs, support nouns).
_FINGLISH = _words(
    """
    chetor chetori chetoor chetoori chera cheraa koja kojast kojas kojaast kojaye chi chie chiye
    chikar chejoori chand chande chanderooz cheghadr cheqadr cheghad
    mikham mikhay mikhaym mikhastam mikhan mikhad mishe mishod nemishe mitunam mitoonam mitonam
    nemitunam nemitoonam nemitonam mitunid mitoonid mikonam mikonid mikone nemikone nemikonam
    konam konid konin kardam kardin kardid nakardam bokonam bokonid
    shode shodam shodeh nashod nashode shodan begiram begirim bedam bedid bedin bedim bede
    bebinam bezanam befrestam befrestid mifrestid mifrestin mirese naresid naresideh
    narside resid reside rafte raftam yadam yadet yadam yadem
    darid darin daram darim nadaram nadarid nadare hastam hastin hastid nistam nist ast
    ro ra baraye barai baram barat vali hanooz hanuz faghat dige digeh az ba ke shod chi
    az yek hich hichi alan emrooz farda dirooz
    lotfan lotfa mamnoon mamnun mersi salam khoobi khubi chetorin
    sefaresh sefaresham sefareshe sefareshi kala kalaye ersal hazine pardakht pul pool pulam
    poolam ramz ramzam hesab hesabam takhfif marjoo marjooi marjuee bargasht peygiri rahgiri
    kharab eshtebah eshtebahi avaz taghir laghv mahsool mahsul jens baste bastam
    """
)
# Words Arabizi writes and English does not.
_ARABIZI = _words(
    """
    el wein wen weyn fein fen feen kif keef kaif kef izay ezay ezzay izzay shu shou shoo eish
    aish esh leish lesh leh lih 3ayez 3ayz 3awz 3awez 3ayza bdi baddi biddi abgha abga abi ana
    enta enti inta inti ehna ni7na lessa lissa lsa mesh msh mish mush mafi mafish 3ala 3la 3an
    ma3 momken mumkin mmkn emta imta amta hada hatha hadi hay hek heik hik kaman kamaan yalla
    shlon shlonak keefak kifak kifik ahlan marhaba shukran shokran shokran mashkour taba3i
    tab3i taba3ak beta3i bta3i ta3i ta3y talab talabi flousi floos fulus bade badi 3ndi 3andi
    wala walla akhi ya3ni y3ni m3a ba3d fi bas wasal wesel wsel weslet yewsal yakhod
    tawseel tawsil majjani majani khasm fatoura fatora daman hadaya montag montaj mandoob tard
    terd flous
    """
)
# English words whose presence says the message is English, whatever else it holds.
_ENGLISH = _words(
    """
    the a an is are was were be been being i you he she it we they my your our their me him her
    us them this that these those what which who how when where why can could would should will
    do does did have has had not no yes of to in on at for from with by about as into and or but
    if so than then there here please hi hello thanks thank get got want need help am dont cant
    isnt didnt wont doesnt im its any some all just still yet
    """
)
# English words that are also Persian words in Finglish (به، این، تو، دو، من، آره، هم): they
# count for neither side.
_SHARED = _words("be in to do man are ham bad ye")
# Persian verb shapes: mi-/nemi-/be-/na- + stem + person ending (mifrestid, nemitoonam, bedin).
_FINGLISH_VERB = re.compile(r"^(?:mi|nemi|be|bi|na)[a-z]{3,}(?:am|id|in|im|and|ad|an)$")
# Arabizi verb shapes: b- + person prefix (btewaslo, byeshtaghel, bneftah).
_ARABIZI_VERB = re.compile(r"^b(?:t|y|n)[a-z0-9]{4,}$")
# A digit standing for a letter: in a word with at least two letters, and not an ordinal, a
# unit or a product name (2nd, 3d, 5g, 10am, mp3, ps5).
_LETTER_DIGIT = re.compile(r"^(?=(?:.*[a-z]){2})[a-z]*[235789][a-z0-9']*$")
_NOT_ARABIZI = re.compile(
    r"^\d+(?:st|nd|rd|th|d|g|k|m|x|s|am|pm|kg|cm|mm|gb|mb|tb|hz|ml|h|min|yr|yrs|days?)$"
    r"|^(?:mp|ps|ipv|h|usb|covid)\d+$"
)
_MIN_SHARE = 0.25  # of the message's words: "in mahsul garanti dare" has one in four


def romanized_language(text: str) -> str | None:
    """The language of a romanized message: "fa" (Finglish), "ar" (Arabizi), else None."""
    tokens = _LATIN_WORD.findall(text.casefold())
    if not tokens:
        return None
    fa = ar = en = 0
    for tok in tokens:
        if tok in _SHARED:
            continue
        if tok.replace("'", "") in _ENGLISH:
            en += 1
        elif tok in _FINGLISH or _FINGLISH_VERB.match(tok):
            fa += 1
        elif (
            tok in _ARABIZI
            or _ARABIZI_VERB.match(tok)
            or (_LETTER_DIGIT.match(tok) and not _NOT_ARABIZI.match(tok))
        ):
            ar += 1
    best, score = ("fa", fa) if fa > ar else ("ar", ar) if ar > fa else (None, 0)
    if best is None or score <= en or score < _MIN_SHARE * len(tokens):
        return None
    return best
