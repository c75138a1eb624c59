"""Names of other companies' products and services: "how do i reset my iphone" is not ours.

A question that names a product or company the knowledge base never mentions is usually about
that product, not the shop, even when it shares the shop's words ("reset", "password", "free
shipping").  Word statistics cannot tell "my iphone" from "my blender" (docs/bot.md measures
every unknown-word rule tried: each cost coverage on the data sets), and sentence embeddings
rate those questions as close to the entry as in-scope ones.  A name can: the bot lowers its
confidence (:data:`FOREIGN_CONFIDENCE`) when a message holds a name of :data:`BRANDS` that no
entry's title, phrasings, answer or tags mention, so it offers suggestions instead of answering.

The list is prior knowledge written once for this project, not read off any data set: phones,
computers and their systems, home networking, consoles, apps and social networks, streaming,
marketplaces, ride and food apps, telecoms, crypto, in Latin, Persian, Arabic and Chinese
spellings.  Payment providers and couriers are left out on purpose ("can i pay with klarna",
"do you ship with dhl", Google Pay ask about the shop), and so are names that are also common
words (apple, windows, zoom, steam; Persian دیوار "wall", Arabic شاهد "watch", موبايلي "my
mobile").  A shop that sells iPhones mentions them in its entries, and then "iphone" is its own
word.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from bot.phrases import HAN, fold

__all__ = ["BRANDS", "FOREIGN_CONFIDENCE", "mentioned", "names_in"]

# Confidence is multiplied by this when a message names a product or company the knowledge
# base never mentions: 0.5 takes every answer below the default answer threshold (0.28)
# unless the match is very strong (>= 0.56), and leaves suggestions and hand-offs as they were.
FOREIGN_CONFIDENCE = 0.5

_LATIN = """
iphone ipad ipod macbook imac airpods android samsung huawei xiaomi oneplus nokia motorola
playstation ps4 ps5 xbox nintendo macos ios linux chromebook kindle router modem wifi wi-fi
gmail youtube facebook instagram whatsapp telegram tiktok snapchat twitter netflix spotify
hulu disney+ amazon ebay aliexpress alibaba temu shein etsy uber lyft airbnb skype microsoft
chatgpt bitcoin ethereum fortnite minecraft roblox vodafone verizon t-mobile etisalat ooredoo
irancell digikala snapp taobao jd.com
"""
_PERSIAN = """
آیفون ایفون آیپد سامسونگ شیائومی هواوی اندروید ویندوز جیمیل یوتیوب اینستاگرام
اینستا واتساپ تلگرام تیک‌تاک نتفلیکس اسپاتیفای آمازون دیجی‌کالا دیجیکالا اسنپ تپسی
ایرانسل مودم روتر وای‌فای پلی‌استیشن ایکس‌باکس بیت‌کوین
"""
_ARABIC = """
ايفون آيفون ايباد سامسونج سامسونغ هواوي شاومي اندرويد ويندوز يوتيوب
فيسبوك انستقرام انستغرام انستا واتساب تلجرام تيليجرام تيك‌توك سناب نتفليكس سبوتيفاي
امازون ايباي اوبر راوتر مودم واي‌فاي بلايستيشن بلاي‌ستيشن اكس‌بوكس بيتكوين فودافون
"""
_CHINESE = """
苹果手机 华为 小米手机 三星 安卓 淘宝 京东 拼多多 天猫 抖音 微博 网飞 奈飞 亚马逊 路由器 无线网
宽带 王者荣耀 比特币 百度 滴滴 美团 饿了么
"""
# ZWNJ, hyphens and dots above stand for "typed with or without a space": names are kept
# folded and without spaces, and a message's words are tried alone and joined in pairs.
BRANDS: frozenset[str] = frozenset(
    fold(n).replace(" ", "") for n in (_LATIN + _PERSIAN + _ARABIC + _CHINESE).split()
)
_HAN_NAMES = tuple(n for n in BRANDS if re.search(f"[{HAN}]", n))
# Clitics glued to a name in Arabic script: the article and prepositions before (بالايفون،
# للراوتر), possessive endings after (آیفونم، آیفونمو); in Latin letters a plural or
# possessive s (iphones, netflix's).  Every decorated form is listed once, so a word costs
# one lookup.
_BEFORE = ("", "وال", "بال", "لل", "ال", "و", "ب", "ل")
_AFTER = ("", "مو", "ها", "مان", "تان", "م", "ت", "ش", "ه", "ی")
_FORMS: dict[str, str] = {}
for _name in sorted(BRANDS, key=len):
    if _name.isascii():
        _FORMS.setdefault(_name + "s", _name)
    elif _name not in _HAN_NAMES:
        _FORMS.update({b + _name + a: _name for b in _BEFORE for a in _AFTER})
_FORMS.update({n: n for n in BRANDS})  # a name is itself, whatever it looks like decorated
_WORD = re.compile(r"[a-z0-9]+|[\u0600-\u06ff]+")


def names_in(text: str) -> frozenset[str]:
    """The names of :data:`BRANDS` in *text* (any language), folded and without spaces.

    A lookup per word and per pair of adjacent words ("wi fi", «وای فای»).
    """
    folded = fold(text)
    found = {n for n in _HAN_NAMES if n in folded}
    tokens = _WORD.findall(folded)
    for word in {*tokens, *(a + b for a, b in itertools.pairwise(tokens))}:
        name = _FORMS.get(word)
        if name is not None:
            found.add(name)
    return frozenset(found)


def mentioned(texts: Iterable[str]) -> frozenset[str]:
    """The names an entry's texts (title, phrasings, answer, tags) mention."""
    return frozenset().union(*(names_in(t) for t in texts))
