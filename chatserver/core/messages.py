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
    "offer_human": {
        "en": "I'm sorry this has been frustrating. Would you like to talk to a person?",
        "fa": "متأسفم که این‌قدر آزارتان داده است. می‌خواهید با یکی از همکاران صحبت کنید؟",
        "ar": "أنا آسف لأن هذا كان مزعجًا. هل تريد التحدث إلى أحد الموظفين؟",
        "zh": "很抱歉给您带来不便。需要为您转接人工客服吗？",
    },
    "offer_human_repeated": {
        "en": "Sorry, it looks like my answer didn't help. Would you like to talk to a person?",
        "fa": "متأسفم، به نظر می‌رسد پاسخم کمکی نکرد. می‌خواهید با یکی از همکاران صحبت کنید؟",
        "ar": "عذرًا، يبدو أن إجابتي لم تساعدك. هل تريد التحدث إلى أحد الموظفين؟",
        "zh": "抱歉，我的回答好像没能帮到您。需要为您转接人工客服吗？",
    },
    "cannot_read_files": {  # the bot's answer to a file sent while it answers
        "en": "I can't read files, but a person can. Would you like to talk to one?",
        "fa": "من نمی‌توانم فایل‌ها را بخوانم، اما همکارانم می‌توانند. می‌خواهید با یکی از آن‌ها "
              "صحبت کنید؟",
        "ar": "لا أستطيع قراءة الملفات، لكن أحد الموظفين يستطيع. هل تريد التحدث إلى أحدهم؟",
        "zh": "我无法读取文件，但人工客服可以。需要为您转接人工客服吗？",
    },
    "offline_closed": {
        "en": "We're closed right now. Leave us a message and we'll reply by email.",
        "fa": "در حال حاضر خارج از ساعت کاری هستیم. پیام بگذارید تا از طریق ایمیل پاسخ دهیم.",
        "ar": "نحن خارج ساعات العمل الآن. اترك لنا رسالة وسنرد عليك عبر البريد الإلكتروني.",
        "zh": "我们现在不在工作时间。请留言，我们会通过电子邮件回复您。",
    },
    "offline_no_agents": {
        "en": "No one who can help with this is available right now. Leave us a message and "
              "we'll reply by email.",
        "fa": "در حال حاضر همکاری برای پاسخ به این موضوع در دسترس نیست. پیام بگذارید تا از "
              "طریق ایمیل پاسخ دهیم.",
        "ar": "لا يوجد حاليًا موظف متاح للمساعدة في هذا الموضوع. اترك لنا رسالة وسنرد عليك عبر "
              "البريد الإلكتروني.",
        "zh": "目前没有可以处理此问题的客服。请留言，我们会通过电子邮件回复您。",
    },
    "offline_no_language": {
        "en": "No one who speaks your language is available right now. Leave us a message and "
              "we'll reply by email.",
        "fa": "در حال حاضر همکاری که به زبان شما صحبت کند در دسترس نیست. پیام بگذارید تا از "
              "طریق ایمیل پاسخ دهیم.",
        "ar": "لا يوجد حاليًا موظف متاح يتحدث لغتك. اترك لنا رسالة وسنرد عليك عبر البريد "
              "الإلكتروني.",
        "zh": "目前没有会说您的语言的客服。请留言，我们会通过电子邮件回复您。",
    },
    "other_language": {  # above an answer from the page's language: none in the visitor's
        "en": "This answer isn't available in your language yet, so here it is in this page's "
              "language.",
        "fa": "این پاسخ هنوز به زبان شما موجود نیست؛ برای همین به زبان این صفحه آمده است.",
        "ar": "هذه الإجابة غير متوفرة بلغتك بعد، لذلك نعرضها بلغة هذه الصفحة.",
        "zh": "此回答暂时没有您所用语言的版本，以下是本页面语言的内容。",
    },
    "survey_rating": {
        "en": "How would you rate this chat?",
        "fa": "به این گفت‌وگو چه امتیازی می‌دهید؟",
        "ar": "كيف تقيّم هذه المحادثة؟",
        "zh": "您如何评价本次对话？",
    },
    "survey_nps": {
        "en": "How likely are you to recommend us to a friend?",
        "fa": "چقدر احتمال دارد ما را به دوستانتان پیشنهاد کنید؟",
        "ar": "ما مدى احتمال أن توصي بنا لصديق؟",
        "zh": "您向朋友推荐我们的可能性有多大？",
    },
    "survey_comment": {
        "en": "Anything we could do better?",
        "fa": "چه چیزی را می‌توانستیم بهتر انجام دهیم؟",
        "ar": "هل هناك ما يمكننا تحسينه؟",
        "zh": "我们还有哪些可以改进的地方？",
    },
}


def say(key: str, language: str) -> str:
    """The `key` message in `language` (a BCP-47 tag; only its primary subtag counts)."""
    texts = MESSAGES[key]
    return texts.get(language.split("-")[0].lower(), texts["en"])
