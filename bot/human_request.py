"""Recognise a visitor asking for a person ("talk to an agent") in en, fa, ar and zh.

A request needs two things close together: a word for a person who works here (agent,
operator, کارشناس, موظف, 客服) and a word for reaching them (talk, connect, صحبت, تحدث, 联系),
or a message that is little more than such a word ("human please", "اپراتور").  Requiring both
keeps ordinary questions quiet: "can another person use my card" names a person but asks for
no conversation, "transfer money to someone" has a verb but nobody who works here.

Patterns are written in plain spelling and run on :func:`bot.normalize.normalize` output, so
Arabic/Persian letter variants, diacritics, ZWNJ and traditional characters are already folded.
Every language's patterns are tried whatever the stated language: visitors switch language
mid-conversation, and an English "agent please" on a Persian page is still a request.
"""

from __future__ import annotations

import re

from bot.normalize import normalize

__all__ = ["wants_human"]

_SHORT = 4  # words: "human please", "real person now" -- nothing else to mean by it

# --- English -------------------------------------------------------------------------------
_EN_STAFF = (
    r"(?:human(?: being)?|agent|operator|representative|rep|real person|live person|"
    r"actual person|real human|live agent|live chat agent|customer (?:service|support|care)"
    r"(?: agent| rep| representative| team)?|support (?:agent|team|staff)|staff member|"
    r"employee|advisor|adviser|consultant|someone|somebody|anyone|anybody|person|people|"
    r"manager|supervisor)"
)
_EN_STRONG = (
    r"(?:human(?: being)?|agent|operator|representative|real person|live person|actual person|"
    r"real human|live agent|customer (?:service|support|care)|support (?:agent|team))"
)
_ART = r"(?:(?:a|an|the|your|some|one|real|live|actual|of|you) )*"
_EN = [
    # talk/speak/chat to|with <staff>
    rf"\b(?:talk|talking|speak|speaking|chat|chatting|communicate) (?:to|with) {_ART}{_EN_STAFF}\b",
    # connect/transfer/put me through to <staff>
    rf"\b(?:connect|transfer|put|pass|forward|escalate|switch|redirect) me"
    rf"(?: through)?(?: to| with)? {_ART}{_EN_STAFF}\b",
    # want/need/get <strong staff>
    rf"\b(?:want|need|like|have|get|give me|find|request|prefer) {_ART}(?:to )?{_EN_STRONG}\b",
    rf"\b(?:is there|are there) {_ART}{_EN_STRONG}\b",
    r"\bnot (?:a|the) (?:bot|robot|machine)\b",
]
_EN_ALONE = re.compile(
    rf"^(?:(?:please|pls|plz|i|want|need|a|an|the|now|hi|hello) )*"
    rf"{_EN_STRONG}(?: (?:please|pls|plz|now|asap))*$"
)

# --- Persian (after folding: ی ک, ZWNJ and می split off) ---------------------------------------
_FA_STAFF = (
    r"\b(?:اپراتور|اوپراتور|کارشناس|نماینده|انسان|ادم واقعی|ادم|شخص واقعی|فرد واقعی|"
    r"پشتیبان|پشتیبانی|مسئول|مسوول|کارمند|همکار(?:تون|تان)?|مشاور|یه نفر|یک نفر|"
    r"خدمات مشتری(?:ان)?)"
)
_FA_VERB = r"(?:صحبت|حرف|گفتگو|گفت و گو|وصل|متصل|ارتباط|تماس|چت)"
_FA = [
    rf"{_FA_STAFF}.{{0,30}}{_FA_VERB}",
    rf"{_FA_VERB}.{{0,30}}{_FA_STAFF}",
]
_FA_ALONE = re.compile(r"^(?:لطفا |یه |یک )*(?:اپراتور|کارشناس|نماینده|پشتیبانی)(?: لطفا)?$")

# --- Arabic (after folding: ا for أإآ, ه for ة, ی for ي ى, ک for ك) -----------------------------
# Optional clitic prefix (و ف ب ل ال), then the noun as a whole word: "بشر" must not fire
# inside "مباشر" (direct), nor "احد" inside "واحد" (one).
_AR_STAFF = (
    r"\b(?:و|ف)?(?:ب|ل|ال|بال|لل)?"
    r"(?:موظف(?:ین|ون|ه)?|شخص حقیقی|شخص|انسان|بشر|وکیل|ممثل|خدمه (?:ال)?(?:عملا|زبا)\w*|"
    r"دعم|فریق الدعم|مسوول|مسؤول|مشرف|عامل|احد)\b"
)
_AR_VERB = (
    r"(?:اتحدث|التحدث|تحدث|نتحدث|اتکلم|التکلم|تکلم|اکلم|کلم|نکلم|احکی|حولنی|حولنی|تحویلی|"
    r"حولنی|وصلنی|اوصلنی|توصیلی|الاتصال|اتصل|التواصل|اتواصل|تواصل|ابغی|ابی|ارید|اود|اریده|"
    r"محادثه|دردشه)"
)
_AR = [
    rf"{_AR_VERB}.{{0,30}}{_AR_STAFF}",
    rf"{_AR_STAFF}.{{0,20}}{_AR_VERB}",
]
# "شخص"/"احد" alone are too common ("can another person use my card"): only with talk verbs.
_AR_WEAK = re.compile(r"^(?:و|ف)?(?:ب|ل|ال|بال|لل)?(?:شخص|احد|عامل)$")
_AR_TALK = re.compile(r"(?:تحدث|تکلم|کلم|احکی|حول|وصل|تواصل|اتصل|محادثه|دردشه)")
_AR_ALONE = re.compile(
    r"^(?:من فضلک |لو سمحت )*(?:موظف|خدمه العملا\w*|ممثل خدمه العملا\w*)"
    r"(?: من فضلک| لو سمحت)?$"
)

# --- Chinese (after folding to simplified) -----------------------------------------------------
_ZH = [
    r"人工(?!智能)",
    r"真人",
    r"接线员",
    r"坐席",
    r"(?:找|联系|转|接通|转接|连接|和|跟|与|同).{0,6}(?:客服|工作人员|服务人员|客户服务|专员|经理)",
    r"(?:客服|工作人员|服务人员|专员).{0,4}(?:说话|聊|谈|沟通|对话|通话)",
]
_ZH_ALONE = re.compile(r"^(?:我要|我想要|请|给我)?(?:客服|人工)(?:谢谢)?$")


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_ANY = _compile(_EN + _FA + _ZH)
_ALONE = (_EN_ALONE, _FA_ALONE, _AR_ALONE, _ZH_ALONE)
_AR_PAIR = [re.compile(p) for p in _AR]


def _arabic(text: str) -> bool:
    for pattern in _AR_PAIR:
        for m in pattern.finditer(text):
            staff = re.search(_AR_STAFF, m.group(0))
            if staff and _AR_WEAK.match(staff.group(0)) and not _AR_TALK.search(m.group(0)):
                continue
            return True
    return False


def wants_human(text: str, language: str = "") -> bool:
    """True when *text* asks to be put through to a person.

    *language* is accepted for symmetry with the rest of the bot; every language is checked.
    """
    del language  # see docstring: a visitor may ask in any language
    norm = normalize(text)
    if not norm:
        return False
    if any(p.match(norm) for p in _ALONE):
        return True
    return bool(_ANY.search(norm)) or _arabic(norm)
