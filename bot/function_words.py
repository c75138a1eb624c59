"""Words that carry no topic: function words and chat filler in en/fa/ar/zh.

A small knowledge base cannot learn from its own statistics that "how", "are" and "you" say
nothing about the topic (in 25 entries they are rare enough to look specific), nor that "hey",
"u" and "rn" are noise rather than words it failed to understand.  These lists are that prior
knowledge, written once for this project: pronouns, articles, prepositions, conjunctions,
auxiliaries, question words, politeness and chat filler.  The index gives them a small weight
(:mod:`bot.index`), so they neither make a generic message look answered nor make a real
question look unexplained.  Listed as typed; they are normalized like every other text.
"""

from __future__ import annotations

from bot.normalize import words

__all__ = ["FUNCTION_WORDS", "is_function_word"]

_EN = """
a an the this that these those it its it's i me my mine myself we us our you your yours u ur
he him his she her they them their what which who whom whose when where why how whats wheres
hows is am are was were be been being do does did doing done have has had having can could
will would shall should may might must im ive id youre dont doesnt didnt cant couldnt wont
isnt arent wasnt havent hasnt to of in on at by for from with about into onto over under
as than then so too very just also still yet again and or but if because while
not no yes there here any some all each every much many more most other such own same only
please pls plz thanks thank thx ty hi hello hey hiya yo ok okay k sure um uh hmm lol btw rn
tbh idk also get got tell know want wanna need like let lets one something anything thing
"""

_FA = """
من تو او ما شما آنها ایشان این آن اینجا آنجا که را رو از به با در برای بر تا و یا هم اما ولی
اگر چون چه چی چرا کجا کی چطور چطوری چگونه چند کدام آیا است هست نیست هستم هستید بود شد
شده باشد می نمی ها های یک یه هر همه خیلی لطفا ممنون مرسی سلام خب باشه آره نه بله دیگه
میخوام میخواهم خواهم میشه بگید بگین بگو کنم کنید کردم
"""

_AR = """
من في على الى إلى عن مع هل ما ماذا لماذا كيف متى اين أين أي هذا هذه ذلك تلك هو هي هم انا
أنا انت أنت نحن انتم لي لك له لها عندي عندك كان يكون كانت ان أن إن لا لم لن نعم و او أو ثم
قد كل بعض بعد قبل عند حتى اذا إذا لو يا مرحبا السلام عليكم شكرا لو سمحت من فضلك ممكن
اريد أريد بدي عايز ابغى
"""

# Chinese is matched by character unigrams and bigrams, so single characters and the common
# two-character function words are listed.
_ZH = """
的 了 吗 呢 吧 啊 呀 嘛 么 我 你 您 他 她 它 们 我们 你们 他们 是 在 有 和 与 就 也 都 还
要 想 能 会 可 可以 怎么 怎样 什么 如何 为什么 哪 哪里 哪儿 这 那 好 这个 那个 一个 一下
个 请 请问 你好 谢谢 嗯 哦 好的 吗 我的 你的 一 下 给 把 被 让 对 从 到
"""


def _build() -> frozenset[str]:
    tokens: set[str] = set()
    for block in (_EN, _FA, _AR):
        for word in block.split():
            tokens.update(words(word))
    for word in _ZH.split():
        # Only the listed unit itself: a two-character word's single characters stay topical.
        tokens.update(t for t in words(word) if len(t) == len(word))
    return frozenset(tokens)


FUNCTION_WORDS = _build()


def is_function_word(token: str) -> bool:
    """Whether a normalized token carries no topic of its own."""
    return token in FUNCTION_WORDS
