"""What the server itself says to visitors, in every supported language.

Kept apart from the logic so a translator edits one file. English is the fallback.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "suggest": {
        "en": "I'm not sure I understood. Did you mean one of these?",
        "fa": "مطمئن نیستم منظورتان را درست فهمیده باشم. آیا منظورتان یکی از این‌هاست؟",
        "ar": "لست متأكدًا من أنني فهمت سؤالك. هل تقصد أحد هذه المواضيع؟",
        "zh": "我不太确定是否理解了您的问题。您是想问以下哪一项？",
    },
    "handoff": {
        "en": "Let me find a person who can help you.",
        "fa": "اجازه دهید یکی از همکارانم را برای کمک به شما پیدا کنم.",
        "ar": "دعني أجد أحد الموظفين لمساعدتك.",
        "zh": "我来为您转接人工客服。",
    },
}


def say(key: str, language: str) -> str:
    """The `key` message in `language` (a BCP-47 tag; only its primary subtag counts)."""
    texts = MESSAGES[key]
    return texts.get(language.split("-")[0].lower(), texts["en"])
