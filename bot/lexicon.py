"""Dialect and regional words, mapped to the forms a knowledge base is written in.

Knowledge bases are written in the standard language; visitors write the way they speak:
colloquial Persian (میخوام، کجاس، نمیخوره، بگین), Egyptian, Gulf, Levantine and Maghrebi
Arabic (عايز، ابغى، بدي، وين، لسه، شلون، كيفاش، ليش، هلق), Taiwan and Hong Kong Chinese
(保固, 禮物卡, 電子郵件, 宅配; Cantonese 點樣, 幾時, 冇); in Arabic also country names (each
followed by "country") and English shop nouns inside an Arabic sentence.  The folding of
:mod:`bot.normalize` (ي→ی, traditional→simplified) cannot reach these: they are other words.
Chinese first goes through OpenCC's Taiwan-to-mainland conversion (:func:`bot.hanzi.mainland`,
which knows 登入, 網路, 軟體, 設定), so the table holds only the words OpenCC leaves alone.

:func:`standardize` rewrites a text of one language with that language's table, after the
usual folding.  The bot applies it to every entry text and every query of the language's index
(:class:`bot.engine.Bot`), so an entry written in dialect still meets a query in dialect, and
both meet the standard form.  Tables are per language because the words collide across
languages: Arabic بدي "I want" is Persian بدی "you give"; Gulf ابي "I want" is Persian آبی
"blue".

Keys are written as people type them; they are folded like any text when the table is built.
A value may be several words (Persian سفارشمو -> سفارشم را).  Measured on the valid splits and
the realistic development set (docs/bot.md, "Dialect and regional words").
"""

from __future__ import annotations

import re
from functools import cache

from bot.hanzi import mainland
from bot.normalize import AR_ARTICLES, normalize

__all__ = ["AR", "AR_COUNTRIES", "AR_ENGLISH", "FA", "FA_VERBS", "ZH", "standardize"]

# Colloquial Persian verb stems -> written, only after the prefix می/نمی (میخوام, نمی‌تونم,
# نمیخوره), whichever way the prefix is joined: alone, several are other words (ده "ten",
# دین "religion", یاد "memory").
FA_VERBS: dict[str, str] = {
    "خوام": "خواهم", "خوای": "خواهی", "خواد": "خواهد", "خوایم": "خواهیم", "خواین": "خواهید",
    "خوان": "خواهند",
    "تونم": "توانم", "تونی": "توانی", "تونه": "تواند", "تونیم": "توانیم", "تونین": "توانید",
    "تونید": "توانید", "تونن": "توانند",
    "دونم": "دانم", "دونی": "دانی", "دونه": "داند", "دونین": "دانید", "دونید": "دانید",
    "شه": "شود", "شن": "شوند", "کنه": "کند", "کنن": "کنند", "کنین": "کنید",
    "ره": "رود", "رسه": "رسد", "رسن": "رسند", "گه": "گوید", "گن": "گویند", "گین": "گویید",
    "خوره": "خورد", "ده": "دهد", "دن": "دهند", "دین": "دهید", "گیره": "گیرد", "گیرن": "گیرند",
    "کشه": "کشد", "زنه": "زند", "مونه": "ماند", "افته": "افتد", "فرستین": "فرستید",
    "فرستن": "فرستند", "یاد": "آید", "یان": "آیند",
}
# Colloquial Persian words -> written Persian.
FA: dict[str, str] = {
    # imperatives and other persons
    "بگین": "بگویید", "بگید": "بگویید", "بدین": "بدهید", "بدید": "بدهید", "بکنین": "بکنید",
    "بزنین": "بزنید", "بفرستین": "بفرستید", "بذارید": "بگذارید",
    "بذارین": "بگذارید", "بذارم": "بگذارم", "بذاره": "بگذارد", "بشه": "بشود", "هستین": "هستید",
    "دارین": "دارید", "ندارین": "ندارید", "کردین": "کردید", "نکردین": "نکردید",
    "اومد": "آمد", "اومده": "آمده", "نیومد": "نیامد", "نیومده": "نیامده", "میاد": "می آید",
    "نمیاد": "نمی آید",
    # question words and pronouns
    "کجاس": "کجاست", "چیه": "چیست", "کیه": "کیست", "چطوری": "چطور", "چجوری": "چطور",
    "چطو": "چطور", "چقد": "چقدر", "چیکار": "چه کار", "چکار": "چه کار", "اینو": "این را",
    "اونو": "آن را", "اون": "آن", "اونجا": "آنجا", "همون": "همان", "یه": "یک", "هیچی": "هیچ",
    "برام": "برایم", "بهم": "به من", "ازم": "از من", "بهتون": "به شما", "ازتون": "از شما",
    "براتون": "برای شما", "رو": "را",
    # nouns
    "خونه": "خانه", "تومن": "تومان", "پسورد": "رمز عبور",
}
# Colloquial object marker: pronoun suffix + و for را (سفارشمو = سفارشم را, رمزمو, جوابمو).
_FA_OBJECT = re.compile(r"^(.{3,}م)و$")
_FA_PREFIXES = ("نمی", "می")

# Dialect Arabic -> Modern Standard Arabic.  Egyptian (eg), Gulf (gu), Levantine (lv), Iraqi
# (iq), Maghrebi (ma).
AR: dict[str, str] = {
    # want
    "عايز": "أريد", "عاوز": "أريد", "عايزه": "أريد", "عاوزه": "أريد",  # eg
    "ابغى": "أريد", "ابغا": "أريد", "ابي": "أريد", "ودي": "أريد",  # gu
    "بدي": "أريد", "بدنا": "نريد",  # lv
    "بغيت": "أريد", "حاب": "أريد",  # ma, lv
    # where / how / what / why / when / now
    "وين": "أين", "وينه": "أين", "فين": "أين", "فينه": "أين",
    "شلون": "كيف", "اشلون": "كيف", "كيفاش": "كيف", "ازاي": "كيف", "إزاي": "كيف",
    "شو": "ماذا", "ايش": "ماذا", "إيش": "ماذا", "وش": "ماذا", "شنو": "ماذا", "شنهو": "ماذا",
    "ايه": "ماذا", "إيه": "ماذا", "واش": "هل",
    "ليش": "لماذا", "ليه": "لماذا", "علاش": "لماذا", "لاش": "لماذا",
    "امتى": "متى", "إمتى": "متى", "ايمتى": "متى", "امتا": "متى", "وقتاش": "متى",
    "هلق": "الآن", "هلأ": "الآن", "هسه": "الآن", "هسا": "الآن", "دلوقتي": "الآن",
    "دحين": "الآن", "الحين": "الآن", "توا": "الآن", "دابا": "الآن",
    # still / not / there is (not)
    "لسه": "بعد", "لسا": "بعد", "لسة": "بعد",
    "مش": "لا", "مو": "لا", "موش": "لا",
    "فيه": "يوجد", "كاين": "يوجد", "اكو": "يوجد", "مافي": "لا يوجد", "مفيش": "لا يوجد",
    "ماكو": "لا يوجد", "مكانش": "لا يوجد",
    # verbs and nouns of a shop
    "شغال": "يعمل", "شغاله": "يعمل", "بيشتغل": "يعمل", "يشتغل": "يعمل", "يخدم": "يعمل",
    "ابعت": "أرسل", "ابعتلي": "أرسل لي", "بعتولي": "أرسلوا لي", "بعتلي": "أرسل لي",
    "جاني": "وصلني", "اجاني": "وصلني",
    "فلوس": "أموال", "فلوسي": "أموالي", "مصاري": "أموال", "مصاريي": "أموالي",
    "اوردر": "طلب", "الاوردر": "الطلب", "باسورد": "كلمة المرور", "الباسورد": "كلمة المرور",
    "اكونت": "حساب", "الاكونت": "الحساب", "كنسل": "إلغاء", "اكنسل": "ألغي",
    "امبارح": "أمس", "مبارح": "أمس", "بكره": "غدا", "بكرا": "غدا", "بس": "فقط",
    "كتير": "كثير", "واجد": "كثير", "برشا": "كثير", "هاد": "هذا", "هادا": "هذا",
    "هيدا": "هذا", "هيدي": "هذه", "ده": "هذا", "دي": "هذه",
    "تبعي": "لي", "تاعي": "لي", "بتاعي": "لي", "ديالي": "لي", "حقي": "لي", "متاعي": "لي",
    # can / able / possible
    "ينفع": "يمكن", "ينفعش": "لا يمكن", "يصير": "يمكن", "يصح": "يمكن",
    "قادر": "أستطيع", "قادرة": "أستطيع", "اقدر": "أستطيع", "نقدر": "أستطيع", "اگدر": "أستطيع",
    # came / arrived; broke / broken; thing; inside; which; because
    "جا": "وصل", "اجا": "وصل", "جت": "وصلت", "اجت": "وصلت", "جاتني": "وصلتني",
    "باظ": "تعطل", "باظت": "تعطل", "بايظ": "تالف", "بايظه": "تالف", "خرب": "تعطل",
    "خربت": "تعطل", "خربان": "تالف", "خربانه": "تالف", "عطلان": "تالف", "عطلانه": "تالف",
    "مضروب": "تالف", "مضروبه": "تالف", "معطوب": "تالف", "معطوبه": "تالف",
    "حاجه": "شيء", "حاجات": "أشياء", "اشي": "شيء", "شي": "شيء",
    "جوا": "داخل", "جوه": "داخل", "جواها": "داخلها", "جواه": "داخله",
    "اللي": "الذي", "عشان": "لأن", "علشان": "لأن",
    # the order (Levantine/Gulf طلبية, Maghrebi from French commande)
    "طلبيه": "طلب", "الطلبيه": "الطلب", "كوموند": "طلب", "الكوموند": "الطلب",
    "كومند": "طلب", "الكومند": "الطلب",
}
# English shop words inside an Arabic sentence (الgift card مش شغالة، الorder اتأخر): online
# shopping is often talked about in English nouns.  Only in a text that has Arabic letters,
# so an English message on an Arabic page is still matched as English (bot/engine.py).
AR_ENGLISH: dict[str, str] = {
    "order": "طلب", "orders": "طلبات", "tracking": "تتبع", "track": "تتبع", "refund": "استرداد",
    "password": "كلمة المرور", "account": "حساب", "email": "بريد إلكتروني",
    "e mail": "بريد إلكتروني", "gift card": "بطاقة هدايا", "voucher": "قسيمة", "coupon": "كوبون",
    "promo code": "كود خصم", "discount code": "كود خصم", "code": "كود", "discount": "خصم",
    "size": "مقاس", "invoice": "فاتورة", "receipt": "إيصال", "delivery": "توصيل",
    "shipping": "شحن", "cancel": "إلغاء", "return": "إرجاع", "warranty": "ضمان",
    "login": "تسجيل الدخول", "log in": "تسجيل الدخول", "payment": "دفع", "card": "بطاقة",
    "price": "سعر", "sale": "تخفيضات", "package": "طرد", "parcel": "طرد",
    "customer service": "خدمة العملاء",
}

# Country names, each followed by the word "country" (دولة): a knowledge base names a few of
# the countries it ships to ("هل تشحنون إلى فرنسا"), a visitor names theirs (بتوصلوا لمصر؟)
# and the two share no other word.  The name is kept, so an entry about that very country
# still matches it best.  Written without the article; ال، لل and a preposition are read off.
AR_COUNTRIES = (
    "مصر", "مغرب", "سعودية", "امارات", "كويت", "قطر", "بحرين", "عمان", "اردن", "لبنان",
    "سوريا", "عراق", "فلسطين", "يمن", "ليبيا", "تونس", "جزائر", "سودان", "موريتانيا",
    "تركيا", "ايران", "المانيا", "فرنسا", "بريطانيا", "انجلترا", "انكلترا", "اسبانيا",
    "ايطاليا", "هولندا", "بلجيكا", "نمسا", "سويسرا", "سويد", "نرويج", "دنمارك", "بولندا",
    "يونان", "برتغال", "روسيا", "امريكا", "اميركا", "كندا", "مكسيك", "برازيل", "صين",
    "يابان", "هند", "باكستان", "استراليا", "ماليزيا", "اندونيسيا",
)
_COUNTRY = "دولة"

# The dialect negation circumfix ما...ش / م...ش (Egyptian, Levantine, Maghrebi: موصلش،
# ماوصلتش، مرجعتوش = لا وصل...), on words the table does not know.  Entries and queries are
# rewritten alike, so a standard word of that shape (مرتعش) still meets itself.  Stripping the
# indicative prefixes ب/ک (بتوصلوا، کتوصلو) as well was measured and left out: the character
# n-grams already match those, and it cost xSID ar 2 of 835 queries (docs/bot.md).
_AR_NEGATED = re.compile(r"^ما?(.{3,})ش$")

# Taiwan, Hong Kong and Cantonese -> mainland usage, after OpenCC's tw2sp (keys are folded so).
ZH: dict[str, str] = {
    # Taiwan vocabulary OpenCC's tw2sp leaves as it is (登入, 網路, 簡訊, 軟體 it converts).
    "保固": "保修", "禮物卡": "礼品卡", "禮券": "礼品卡", "電子郵件": "邮件", "電郵": "邮件",
    "信箱": "邮箱", "追蹤": "查询", "出貨": "发货",
    "寄錯": "发错", "運送": "配送", "宅配": "配送", "退費": "退款", "刷退": "退款",
    "折價券": "优惠券", "個資": "个人信息", "瑕疵": "损坏",
    "客服人員": "客服", "行動電話": "手机",
    # Cantonese (Hong Kong)
    "點樣": "怎么", "點解": "为什么", "幾時": "什么时候", "幾多錢": "多少钱", "幾多": "多少",
    # 係 "is" is left out: it folds to 系, a common simplified character (联系, 系统).
    "邊度": "哪里", "邊個": "哪个", "咩": "什么", "冇": "没有", "唔": "不", "喺": "在",
    "嘅": "的", "俾": "给", "畀": "给", "攞": "拿", "搵": "找", "嘢": "东西", "咗": "了",
    "睇": "看", "佢": "他",
}

_TABLES = {"fa": FA, "fa_verbs": FA_VERBS, "ar": AR, "zh": ZH, "ar_english": AR_ENGLISH}
_ARABIC_WORD = re.compile(r"[\u0600-\u06ff]+")


@cache
def _folded(language: str) -> dict[str, str]:
    """The table with keys and values folded as the bot folds text."""
    fold = _zh_fold if language == "zh" else normalize
    table = {fold(k): fold(v) for k, v in _TABLES[language].items()}
    if language == "ar":
        table.update({normalize(c): normalize(f"{c} {_COUNTRY}") for c in AR_COUNTRIES})
    return table


def _zh_fold(text: str) -> str:
    """Chinese folded with Taiwan variants and words in their mainland form (OpenCC tw2sp)."""
    return normalize(mainland(text))


@cache
def _han_pattern() -> re.Pattern[str]:
    keys = sorted(_folded("zh"), key=len, reverse=True)  # longest first: 幾多錢 before 幾多
    return re.compile("|".join(map(re.escape, keys)))


@cache
def _latin_pattern() -> re.Pattern[str]:
    keys = sorted(_folded("ar_english"), key=len, reverse=True)  # "gift card" before "card"
    return re.compile("|".join(rf"(?<![a-z]){re.escape(k)}(?![a-z])" for k in keys))


def _fa_word(match: re.Match[str]) -> str:
    table = _folded("fa")
    word = match.group()
    if word in table:
        return table[word]
    verbs = _folded("fa_verbs")
    for prefix in _FA_PREFIXES:
        if word.startswith(prefix) and word[len(prefix) :] in verbs:
            return prefix + " " + verbs[word[len(prefix) :]]
    obj = _FA_OBJECT.match(word)
    if obj is not None:
        return obj.group(1) + " را"
    return word


def _ar_word(match: re.Match[str]) -> str:
    table = _folded("ar")
    word = match.group()
    if word in table:
        return table[word]
    if word[:1] in ("و", "ف") and word[1:] in table:  # the conjunction: ولسه، وعايز، فين is in
        return word[0] + " " + table[word[1:]]
    if word[:1] in ("ل", "ب") and len(word) > 3 and word[1:] in table:  # لهلق، لمصر
        return word[0] + " " + table[word[1:]]
    for article in AR_ARTICLES:  # الفلوس، للمغرب، بالمغرب: as the words drop it
        if word.startswith(article) and word[len(article):] in table:
            return table[word[len(article):]]
    negated = _AR_NEGATED.match(word)
    if negated is not None:
        return "لا " + table.get(negated.group(1), negated.group(1))
    return word


def standardize(text: str, language: str) -> str:
    """*text* folded, with *language*'s dialect and regional words in their standard form."""
    if language not in ("fa", "ar", "zh"):
        return text
    if language == "zh":
        folded = _zh_fold(text)
        table = _folded("zh")
        return _han_pattern().sub(lambda m: table[m.group()], folded)
    folded = normalize(text)
    if language == "fa":
        # A prefix written apart (می خوام, ZWNJ already a space) joins its verb for the lookup.
        folded = re.sub(r"\b(نمی|می) (?=\S)", r"\1", folded)
        return _ARABIC_WORD.sub(_fa_word, folded)
    if _ARABIC_WORD.search(folded):
        table = _folded("ar_english")
        folded = _latin_pattern().sub(lambda m: table[m.group()], folded)
    return _ARABIC_WORD.sub(_ar_word, folded)
