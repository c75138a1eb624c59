"""Frustration, insults and repeated questions, in en, fa, ar and zh.

A visitor who writes "this is useless", «جواب سوالمو ندادی», "هذا ما يفيد" or 没用 is not asking
a knowledge-base question: three more suggestions make it worse.  The bot apologises and offers a
person instead (``Decision.action == "offer_human"``).  The patterns aim at the bot and the
service ("you didn't answer", "useless bot"), not at products: "my code doesn't work" and "the
item arrived broken" are questions the knowledge base answers, and a test runs every default
phrasing through :func:`frustration` to keep it that way.

Patterns run on :func:`bot.phrases.fold` output, so letter variants, diacritics, ZWNJ and
traditional characters are folded already; Arabic-script literals are folded when compiled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.phrases import HAN, fold, fold_pattern

__all__ = ["frustration", "repeats"]

_B = f"(?<![^\\s{HAN}])"  # word start (Han counts as a boundary)
_E = f"(?![^\\s{HAN}])"  # word end

# --- insults: at the bot, the company, or plain swearing ------------------------------------
_INSULT = [
    # English (apostrophes are already gone: "you're" -> "youre")
    r"(?:you|u|ur|youre|your|this|what an?|such an?)(?: are| r| is)?(?: an?| so| such an?)?"
    r" (?:stupid|dumb|idiot\w*|moron\w*|retard\w*|pathetic|incompetent|clown\w*)",
    r"(?:stupid|dumb|idiotic|useless|pathetic|worthless|crappy|shitty|fucking|damn|bloody)"
    r" (?:bot|robot|machine|thing|ai|app|site|website|company|shop|store|service|chat)",
    r"f+u+c*k+\w*|fck\w*|wtf|stfu|shit\w*|bullshit|crap|screw you|piss off|go to hell|"
    r"dumbass|jackass|asshole|bitch\w*",
    # Persian («خر» only alone: «خرید» is to buy)
    r"احمق\w*|نفهم\w*|بیشعور\w*|بی شعور\w*|کودن\w*|خفه شو\w*|لعنتی|کثافت\w*|گمشو|گم شو|"
    r"خر|الاغ|مزخرف\w*|چرت و پرت|چرند\w*|ابله\w*|اسکل\w*|دیوانه\w*",
    # Arabic («كلب» only alone)
    r"(?:ال)?(?:غبی|غبیه|اغبیا|حمار|احمق|تافه|زفت|خرا)|یا غبی|یا حمار|یا کلب|اسکت|انقلع|"
    r"یلعن\w*|لعنه|"
    r"حقیر|سخیف|غبا|یا حیوان",
    # Chinese
    r"傻[逼比bB]|傻|笨蛋|白痴|智障|蠢|废物|滚开|滚蛋|你滚|滚吧|^滚$|去死|妈的|他妈|垃圾(?!邮件|箱|信息|短信)|有病|"
    r"神经病|弱智|脑残",
]

# --- frustration with the bot or the service --------------------------------------------------
_FRUSTRATED = [
    # English
    r"(?:this|that|it|you|u|bot|this bot|the bot|this chat|your bot|this service|you guys)"
    r"(?: is| are|s|re| was| were)?(?: so| really| completely| totally| absolutely| just| still)*"
    r" (?:useless|pointless|worthless|hopeless|ridiculous|terrible|awful|a joke|a waste of time|"
    r"annoying|frustrating|not helpful|unhelpful|no help|no use|not helping|not working for me)",
    r"(?:you|u|bot|this|that|it)(?: still| just| really)?"
    r" (?:dont|doesnt|didnt|do not|does not|did not|cant|cannot|can not|arent|isnt|wasnt|"
    r"are not|is not|was not|never|wont)"
    r" (?:help\w*|understand\w*|listen\w*|answer\w*|get it|make sense)",
    r"(?:thats|that is|this is|its|it is|it was|that was)? ?not what i (?:asked|meant|wanted|said)",
    r"i (?:asked|said|meant|wanted|was asking) (?:about |for )?(?:\w+ ){0,5}not (?:about )?\w+",
    r"not (?:my question|what i asked|what i meant|helpful|helping|useful)",
    r"i (?:already|just) (?:asked|said|told you|told|explained)",
    r"(?:i|ive) (?:asked|said) (?:this|that|it) (?:already|before|twice|\w+ times)",
    r"are you (?:even )?(?:listening|reading|kidding|serious)",
    r"waste of (?:my )?time|wasting my time|fed up|sick (?:of|and tired)|so annoying|"
    r"frustrat\w+|useless|unhelpful|thanks for nothing|no help at all|nothing helps|"
    r"nothing works|none of (?:these|those|this|that)|still no (?:answer|help|reply)|"
    r"(?:this|that|it) (?:didnt|did not|doesnt|does not) help|ridiculous|unbelievable|"
    r"omg|ffs|smh|ugh+|argh+|seriously|are you kidding me|what the hell|"
    r"i give up|(?:terrible|awful|horrible|worst) (?:service|support|bot|chat|experience)",
    # Persian (after folding: «نمی‌خوره», «نمی خوره», «نمیخوره» are all «نمیخوره»)
    r"ب(?:ه)? ?(?:هیچ )?درد(?:ی)? ?(?:نمیخور|نخور|نمی ?خور)\w*|بدردنخور|بی ?فایده|"
    r"ربط\w* (?:به )?(?:سوال\w*|حرف\w*|موضوع) ?(?:من )?(?:نداره|نداشت|ندارد)|بی ربط|"
    r"فایده(?: ای)? ?نداره|فایده(?: ای)? ?نداشت|کمکی نکرد\w*|کمک نکرد\w*|کمکم نکرد\w*|"
    r"جواب.{0,20}(?:ندادی|ندادید|ندادین|نمیدی|نمیدید|نمیدین|نداد|نگرفتم)|"
    r"(?:نمیفهمی|نمیفهمید|نمیفهمین|نفهمیدی|نفهمیدید|نفهمیدین)|"
    r"متوجه (?:نمیشی|نمیشید|نمیشین|نشدی|نشدید|نشدین)|"
    r"(?:اینو|این را|اینا رو|همینو) (?:قبلا|الان|که) (?:گفتم|پرسیدم)|چند بار (?:گفتم|پرسیدم)|"
    r"مسخر\w*|افتضاح\w*|داغون\w*|اعصاب\w* (?:خورد|خرد|داغون)|کلافه\w*|خسته شدم|"
    r"این چه وضع\w*|این چه (?:سیستم|رباتی|پشتیبانی)\w*|اصلا (?:کمک|جواب)|"
    r"(?:هیچ|اصلا) (?:به درد|بدرد)|ربات بی مصرف|بی مصرف\w*|حرصم|عصبانی\w*|"
    r"(?:منظورم|سوالم) این نبود|این جواب سوال من نیست|جواب سوال من نبود",
    # Arabic
    r"(?:ما|لا|مو|مش|ماش|مب|غیر) ?(?:یفید|تفید|مفید|مفیده|نافع|تساعد|یساعد|ساعدت|ساعدتنی)|"
    r"(?:بلا|ما فی|مافی|ما|لا|مش|مو) ?(?:ای |اي )?فاید\w*|"
    r"(?:مش|مو|موب|لیس|ما) (?:ده|دا|هذا|هاد|هذی|هيدا) (?:اللی|الذی|ما|یلی) ?(?:سالت|طلبت|قصدت)\w*|"
    r"کلام (?:فاضی|فارغ)|"
    r"(?:لم|ما|مش|لا|ما انت) ?(?:تجب|تجاوب|جاوبت|جاوبتنی|ترد|ردیت|تفهم|فهمت[نی]\w*|فاهم|فاهمنی)|"
    r"هذا لیس (?:سوالی|ما سالت|ما طلبت)|مش هذا (?:سوالی|اللی سالت)|مو هذا (?:سوالی|اللی سالت)|"
    r"(?:سالت|قلت) (?:هذا|هاد|ذا) (?:من قبل|قبل|مره)|قلت لک|"
    r"سخیف|مزعج|زهقت|طفشت|تعبت منک|ملیت|مضیعه (?:لل|ال)?وقت|ضیعت وقتی|"
    r"یا ربی|حرام علیکم|شی مقرف|خدمه (?:سییه|زفت|سیییه)|سیی جدا|اسوا خدمه|"
    r"الله یاخذکم|مو معقول|مش معقول|غیر معقول",
    # Finglish and Arabizi
    r"javab (?:nemidi|nemide|nemidin|nadadi|nadadin)|be dard nemikhore|bi ?fayde|fayde nadare|"
    r"mafi fayd[ae]|ma fi fayd[ae]|bala fayd[ae]|mish fahem|mesh fahem|mush mufid|mish mufid|"
    r"useless bot",
    # Chinese
    r"没用|没有用|沒用|有什么用|有啥用|一点用都没有|毫无用处|不管用|没帮助|没有帮助|帮不上|"
    r"答非所问|(?:你|都)?没(?:有)?回答|不回答|你(?:根本|完全|都)?(?:听|看)?不懂|"
    r"(?:听|看)不懂你|不知道你在说什么|你在说什么|一点(?:帮助|用|用处)(?:都|也)没有|没有任何帮助|"
    r"[烂爛](?:服务|客服|机器人|系统|回答)|什么[烂爛]|"
    r"(?:不是|并不是)我(?:问|要|想问)的|我(?:都|已经)(?:说|问)(?:了|过)|"
    r"说了(?:多少|几)(?:遍|次)|问了(?:多少|几)(?:遍|次)|太差|真差|很差劲|差劲|烦死|烦人|好烦|"
    r"气死|无语|搞什么|搞啥|什么破|破(?:机器人|系统|客服)|坑人|坑爹|浪费(?:我的)?时间|"
    r"服了|受不了|什么鬼|(?:真|太)(?:糟糕|烂)|艹|卧槽",
]


def _compile(patterns: list[str]) -> re.Pattern[str]:
    joined = "|".join(f"(?:{fold_pattern(p)})" for p in patterns)
    return re.compile(f"{_B}(?:{joined}){_E}")


# Chinese runs have no word boundaries: their patterns match anywhere.
_ZH = re.compile(f"[{HAN}]")
_INSULT_RE = _compile(_INSULT[:-1])
_INSULT_ZH = re.compile(_INSULT[-1])
_FRUSTRATED_RE = _compile(_FRUSTRATED[:-1])
_FRUSTRATED_ZH = re.compile(_FRUSTRATED[-1])
# Emoji of anger: normalization drops symbols, so they are read from the raw text.
_ANGRY = frozenset("😡😠🤬😤👎🙄😒💢")
# "😡", "seriously 😡", "真的吗😡": at most this much text beside an angry face.
_EMOJI_WORDS = 2
_EMOJI_HAN = 4


def frustration(text: str) -> str | None:
    """``"insult"``, ``"frustrated"`` or None for one visitor message."""
    folded = fold(text)
    han = bool(_ZH.search(folded))
    if _INSULT_RE.search(folded) or (han and _INSULT_ZH.search(folded)):
        return "insult"
    if _FRUSTRATED_RE.search(folded) or (han and _FRUSTRATED_ZH.search(folded)):
        return "frustrated"
    # An angry face on a real question ("the item came broken 😡") is a question first.
    short = len(folded.split()) <= _EMOJI_WORDS and len(_ZH.findall(folded)) <= _EMOJI_HAN
    if short and any(ch in _ANGRY for ch in text):
        return "frustrated"
    return None


# Two messages are the same question when their character bigrams and trigrams (spaces
# dropped, so "where's" meets "where is") overlap this much (Dice).  "where is my order" vs
# "where is my order??" is 1.0, vs "wheres my order" 0.83; "where is my order" vs
# "where is my refund" is 0.60 and "how do i return an item" vs "how do i return a gift card"
# 0.64: different questions stay below.
REPEAT_SIMILARITY = 0.75
_MIN_CHARS = 4  # "ok" twice is not a repeated question (and small talk is read first anyway)


def _grams(folded: str) -> set[str]:
    s = folded.replace(" ", "")
    return {s[i : i + n] for n in (2, 3) for i in range(len(s) - n + 1)}


def repeats(text: str, previous: Sequence[str]) -> bool:
    """Whether *text* asks again what one of the *previous* visitor lines asked."""
    folded = fold(text)
    if len(folded.replace(" ", "")) < _MIN_CHARS:
        return False
    mine = _grams(folded)
    for line in previous:
        theirs = _grams(fold(line))
        if mine and theirs and 2 * len(mine & theirs) / (len(mine) + len(theirs)) >= (
            REPEAT_SIMILARITY
        ):
            return True
    return False
