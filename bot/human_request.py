"""Recognise a visitor asking for a person ("talk to an agent") in en, fa, ar and zh.

A request needs two things close together: a word for a person who works here (agent,
operator, کارشناس, موظف, 客服) and a word for reaching them (talk, connect, صحبت, تحدث, 联系),
or a message that is little more than such a word ("human please", "اپراتور").  Requiring both
keeps ordinary questions quiet: "can another person use my card" names a person but asks for
no conversation, "transfer money to someone" has a verb but nobody who works here.

Patterns are written in plain spelling and run on :func:`bot.phrases.fold` output, so
Arabic/Persian letter variants, diacritics, ZWNJ and traditional characters are already folded;
their Arabic-script letters are folded the same way when compiled (``مسئول`` is looked for as
``مسیول``, which is what the fold makes of every spelling of it).
Every language's patterns are tried whatever the stated language: visitors switch language
mid-conversation, and an English "agent please" on a Persian page is still a request.
"""

from __future__ import annotations

import re

from bot.phrases import fold, fold_pattern

__all__ = ["request_rest", "wants_human"]

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
_ART = r"(?:(?:a|an|the|your|ur|yr|some|one|real|live|actual|of|you) )*"
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
    r"\b(?:اپراتور|اوپراتور|کارشناس|نماینده|انسان|ادم واقعی|ادم|شخص واقعی|فرد واقعی|کسی|"
    r"پشتیبان|پشتیبانی|مسئول|مسوول|کارمند|همکار\w*|مشاور|یه نفر|یک نفر|"
    r"خدمات مشتری(?:ان)?)"
)
# ... or answering me themselves: «یکی از همکاراتون جوابمو بده».
_FA_VERB = (r"(?:صحبت|حرف|گفتگو|گفت و گو|وصل|متصل|ارتباط|تماس|چت|"
            r"جواب\w* (?:بده|بدید|بدین|بدن|بدهد|بدهید))")
# "I want / I need" right after the person ("پشتیبان آنلاین میخوام"), or before it with
# nothing but "a"/"one" between ("میخوام یه کارشناس"): wanting a person, not a fact about one.
_FA_WANT = r"(?:میخوام|میخواهم|میخواستم|میخوایم|میخواهیم|لازم دارم|نیاز دارم|بدید|بدین)"
_FA_LIVE = r"(?: (?:انلاین|واقعی|انسانی|زنده|حضوری|مربوطه|فروش|خدمات))?"
_FA = [
    rf"{_FA_STAFF}.{{0,30}}{_FA_VERB}",
    rf"{_FA_VERB}.{{0,30}}{_FA_STAFF}",
    rf"{_FA_STAFF}{_FA_LIVE} {_FA_WANT}\b",
    rf"\b{_FA_WANT}(?: یه| یک| با)? {_FA_STAFF}{_FA_LIVE}$",
]
_FA_ALONE = re.compile(
    r"^(?:لطفا |یه |یک )*(?:اپراتور|اوپراتور|کارشناس|نماینده|پشتیبانی|پشتیبان)(?: لطفا)?$")

# --- Finglish and Arabizi: the same two-part request in Latin letters ------------------------
_ROMAN = [
    r"\b(?:operator|oprator|operatoor|karshenas|poshtiban|poshtibani|adam|adame|ensan|nafar)"
    r"\b.{0,25}\b(?:sohbat|harf|chat|vasl|tamas|gap)",
    r"\b(?:sohbat|harf|vasl|tamas)\w* .{0,15}\b(?:operator|karshenas|poshtiban\w*|adam|ensan)\b",
    r"\b(?:akalem|akallem|kalem|atkalam|atkallam|a7ki|ahki|n7ki|nahki|ahdar|nahdar|atwasal)"
    r"\b.{0,25}\b(?:7ad|ahad|a7ad|mowazaf|mwazaf|mowazzaf|support|insan|ensan|shakhs|modir|"
    r"el modir|agent|operator)\b",
]

# --- Arabic (after folding: ا for أإآ, ه for ة, ی for ي ى, ک for ك) -----------------------------
# Optional clitic prefix (و ف ب ل ال), then the noun as a whole word: "بشر" must not fire
# inside "مباشر" (direct), nor "احد" inside "واحد" (one).
_AR_STAFF = (
    r"\b(?:و|ف)?(?:ب|ل|ال|بال|لل)?"
    r"(?:موظف(?:ین|ون|ه)?|شخص حقیقی|شخص|انسان|بشر|وکیل|ممثل|خدمه (?:ال)?(?:عملا|زبا)\w*|"
    r"دعم|فریق الدعم|مسوول|مسؤول|مشرف|مدیر|عامل|احد|حد|"
    r"واحد من (?:ال)?(?:خدمه|دعم|موظفین|فریق)\w*)\b"
)
_AR_VERB = (
    r"(?:اتحدث|التحدث|تحدث|نتحدث|اتکلم|التکلم|تکلم|اکلم|کلم|نکلم|احکی|حولنی|حولنی|تحویلی|"
    r"حولنی|وصلنی|اوصلنی|توصیلی|الاتصال|اتصل|التواصل|اتواصل|تواصل|ابغی|ابی|ارید|اود|اریده|"
    r"محادثه|دردشه|"
    # Egyptian, Levantine, Gulf and Maghrebi "I want / talk": عايز اتكلم، بدي احكي، نهضر
    r"اتکلم|بکلم|احاکی|نحکی|نهضر|نهدر|اهضر|اهدر|بغیت|عایز|عاوز|ابغا|بدی)"
)
_AR = [
    rf"{_AR_VERB}.{{0,30}}{_AR_STAFF}",
    rf"{_AR_STAFF}.{{0,20}}{_AR_VERB}",
]
# "شخص"/"احد" alone are too common ("can another person use my card"): only with talk verbs.
_AR_WEAK = re.compile(r"^(?:و|ف)?(?:ب|ل|ال|بال|لل)?(?:شخص|احد|عامل)$")
_AR_TALK = re.compile(r"(?:تحدث|تکلم|کلم|احکی|حکی|حول|وصل|تواصل|اتصل|محادثه|دردشه|هضر|هدر)")
_AR_ALONE = re.compile(
    r"^(?:من فضلک |لو سمحت )*(?:موظف|خدمه العملا\w*|ممثل خدمه العملا\w*)"
    r"(?: من فضلک| لو سمحت)?$"
)

# --- Chinese (after folding to simplified) -----------------------------------------------------
_ZH = [
    r"人工(?!智能)",
    r"(?<!是)真人(?!吗|还是)",  # not "你是真人吗" (are you a real person?): small talk
    r"接线员",
    r"坐席",
    r"(?:找|联系|转|接通|转接|连接|和|跟|与|同).{0,6}(?:客服|工作人员|服务人员|客户服务|专员|经理)",
    r"(?:客服|工作人员|服务人员|专员).{0,4}(?:说话|聊|谈|沟通|对话|通话)",
    # Summoning someone: 叫/让/喊/换 ... 工作人员 (来), "叫你们的工作人员来".
    r"(?:叫|让|喊|换|请你们).{0,6}(?:客服|工作人员|服务人员|客户服务|专员|经理|负责人|主管)",
    # Asking whether the staff are there: 客服在吗, 人工客服在不在, 有客服吗.
    r"(?:客服|工作人员|服务人员|专员|负责人)(?:人员)?.{0,2}(?:在吗|在不在|在么|在嘛|在线吗|呢)",
    r"有(?:没有)?(?:客服|工作人员|人工客服)(?:吗|在吗|么)",
]
_ZH_ALONE = re.compile(r"^(?:我要|我想要|请|给我)?(?:客服|人工)(?:谢谢)?$")


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fold_pattern(p)})" for p in patterns))


_ANY = _compile(_EN + _FA + _ZH + _ROMAN)
# Every word for a person who works here, to take out of the rest of a request as well: in
# "我要人工客服" the pattern takes 人工, and 客服 is the request too, not a topic.
_ZH_STAFF = r"(?:人工|真人|客服|工作人员|服务人员|客户服务|专员|经理|人员|负责人|主管)"
_STAFF = re.compile(fold_pattern(
    f"\\b{_EN_STAFF}\\b|{_FA_STAFF}(?:{_FA_LIVE})?\\b|{_AR_STAFF}|{_ZH_STAFF}"))
_ALONE = tuple(re.compile(fold_pattern(p.pattern)) for p in
               (_EN_ALONE, _FA_ALONE, _AR_ALONE, _ZH_ALONE))
_AR_PAIR = [re.compile(fold_pattern(p)) for p in _AR]
_AR_STAFF_RE = re.compile(fold_pattern(_AR_STAFF))


def _arabic(text: str) -> re.Match[str] | None:
    for pattern in _AR_PAIR:
        for m in pattern.finditer(text):
            staff = _AR_STAFF_RE.search(m.group(0))
            if staff and _AR_WEAK.match(staff.group(0)) and not _AR_TALK.search(m.group(0)):
                continue
            return m
    return None


def request_rest(text: str) -> str | None:
    """None unless *text* asks for a person; else what the message says besides the request.

    "i want to speak to someone on the phone" -> "i want to on the phone": the engine scores
    that rest against the knowledge base, because a message can ask for a person *and* match
    an entry that answers it (the phone number) better than a queue does.
    """
    norm = fold(text)
    if not norm:
        return None
    if any(p.match(norm) for p in _ALONE):
        return ""
    m = _ANY.search(norm) or _arabic(norm)
    if m is None:
        return None
    return " ".join(_STAFF.sub(" ", f"{norm[: m.start()]} {norm[m.end() :]}").split())


def wants_human(text: str, language: str = "") -> bool:
    """True when *text* asks to be put through to a person.

    *language* is accepted for symmetry with the rest of the bot; every language is checked.
    """
    del language  # see docstring: a visitor may ask in any language
    return request_rest(text) is not None
