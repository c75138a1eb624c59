"""The fixed words of the e-mails the server sends, in the languages the staff pages speak.

A catalogue of its own (English source text -> fa, ar, zh), as the widget keeps its own
strings: mails are composed in the service, away from the pages' `chatserver/web/i18n`. Values
in {braces} are filled after translation and escaped by the composer, never here.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "fa", "ar", "zh")
RTL = frozenset({"fa", "ar"})

WORDS: Mapping[str, Mapping[str, str]] = {
    "Your chat transcript": {
        "fa": "متن گفتگوی شما",
        "ar": "نص محادثتك",
        "zh": "您的聊天记录",
    },
    "Here is the chat you had with us on {date}, as you saw it.": {
        "fa": "این متن گفتگوی شما با ما در {date} است، همان‌طور که آن را دیدید.",
        "ar": "إليك محادثتك معنا بتاريخ {date} كما ظهرت لك.",
        "zh": "以下是您于 {date} 与我们的聊天记录，与您当时看到的一致。",
    },
    "You": {"fa": "شما", "ar": "أنت", "zh": "您"},
    "Bot": {"fa": "ربات", "ar": "الروبوت", "zh": "机器人"},
    "Agent": {"fa": "پشتیبان", "ar": "موظف الدعم", "zh": "客服"},
    "File: {name}": {"fa": "فایل: {name}", "ar": "ملف: {name}", "zh": "文件：{name}"},
    "You asked for this e-mail at the end of the chat. If you did not, you can ignore it.": {
        "fa": "این ایمیل را در پایان گفتگو درخواست کردید. اگر شما درخواست نکرده‌اید، "
              "می‌توانید آن را نادیده بگیرید.",
        "ar": "طلبت هذه الرسالة في نهاية المحادثة. إن لم تطلبها فيمكنك تجاهلها.",
        "zh": "这封邮件是您在聊天结束时申请的。如果不是您本人申请，请忽略。",
    },
    "Message left while nobody was online, from {email}": {
        "fa": "پیام گذاشته‌شده هنگامی که کسی در دسترس نبود، از {email}",
        "ar": "رسالة تُركت حين لم يكن أحد متاحًا، من {email}",
        "zh": "无人在线时的留言，来自 {email}",
    },
    "A visitor left this message while nobody could answer.": {
        "fa": "یک بازدیدکننده هنگامی که کسی نمی‌توانست پاسخ دهد این پیام را گذاشت.",
        "ar": "ترك زائر هذه الرسالة حين لم يكن أحد يستطيع الرد.",
        "zh": "一位访客在无人应答时留下了这条消息。",
    },
    "Reply to this e-mail to answer them.": {
        "fa": "برای پاسخ به او، به همین ایمیل پاسخ دهید.",
        "ar": "للرد عليه، أجب على هذه الرسالة.",
        "zh": "直接回复这封邮件即可答复访客。",
    },
    "E-mail": {"fa": "ایمیل", "ar": "البريد الإلكتروني", "zh": "电子邮件"},
    "Topic": {"fa": "موضوع", "ar": "الموضوع", "zh": "主题"},
    "Language": {"fa": "زبان", "ar": "اللغة", "zh": "语言"},
    "Page": {"fa": "صفحه", "ar": "الصفحة", "zh": "页面"},
    "Sent": {"fa": "زمان ارسال", "ar": "وقت الإرسال", "zh": "发送时间"},
    # The widget's offer after a chat (forms.js shows what GET /api/visitor/transcript-email
    # says, so the lazily loaded file does not carry four languages of it).
    "Email me this chat ({email})": {
        "fa": "ارسال این گفتگو به ایمیلم ({email})",
        "ar": "أرسل هذه المحادثة إلى بريدي ({email})",
        "zh": "将本次聊天发送到我的邮箱（{email}）",
    },
    "Sent to {email}.": {"fa": "به {email} فرستاده شد.", "ar": "أُرسلت إلى {email}.",
                         "zh": "已发送至 {email}。"},
    "Too many requests. Please try again later.": {
        "fa": "درخواست‌ها زیاد است. لطفاً بعداً دوباره امتحان کنید.",
        "ar": "طلبات كثيرة. يُرجى المحاولة لاحقًا.",
        "zh": "请求过多，请稍后再试。",
    },
    "It could not be sent.": {"fa": "ارسال نشد.", "ar": "تعذّر الإرسال.", "zh": "发送失败。"},
}


def language_of(tag: str) -> str:
    """The catalogue's language for a BCP-47 tag ("fa-IR" -> "fa"); English otherwise."""
    primary = tag.lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else "en"


def word(msgid: str, language: str, **values: str) -> str:
    """`msgid` in `language` (English when it has no translation), placeholders filled."""
    text = WORDS.get(msgid, {}).get(language, msgid) if language != "en" else msgid
    return text.format(**values) if values else text


def offer_words(language: str, email: str) -> dict[str, str]:
    """The widget's words for the e-mail offer, in `language`, the masked address filled in."""
    lang = language_of(language)
    return {"offer": word("Email me this chat ({email})", lang, email=email),
            "sent": word("Sent to {email}.", lang, email=email),
            "later": word("Too many requests. Please try again later.", lang),
            "failed": word("It could not be sent.", lang)}
