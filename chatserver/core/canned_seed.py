"""The team's canned responses a new desk starts with (once; admins edit them on /admin/canned).

These were chatserver/web/static/canned.json before issue 20, English only, written with its
`{visitor_name}`/`{agent_name}` placeholders; they are kept in that form and converted when
seeding (canned.convert_legacy). The Persian, Arabic and Chinese texts read well with the
name's fallback too ("سلام دوست عزیز", "مرحبًا عزيزي العميل", "亲您好").
"""

from __future__ import annotations

SEED: tuple[dict[str, object], ...] = (
    {"shortcut": "hi", "title": "Greeting", "variants": {
        "en": "Hi {visitor_name}, thanks for reaching out! I'm {agent_name} and I'll help you "
              "today.",
        "fa": "سلام {visitor_name}، ممنون که با ما تماس گرفتید! من {agent_name} هستم و امروز "
              "در خدمت شما هستم.",
        "ar": "مرحبًا {visitor_name}، شكرًا لتواصلك معنا! أنا {agent_name} وسأساعدك اليوم.",
        "zh": "{visitor_name}您好，感谢您的咨询！我是{agent_name}，今天由我为您服务。"}},
    {"shortcut": "look", "title": "Looking into it", "variants": {
        "en": "Thanks, {visitor_name}. Give me a moment while I look into this for you.",
        "fa": "ممنونم {visitor_name}. لطفاً چند لحظه به من فرصت بدهید تا موضوع را بررسی کنم.",
        "ar": "شكرًا {visitor_name}. امنحني لحظة من فضلك ريثما أتحقق من الأمر.",
        "zh": "谢谢{visitor_name}，请稍等，我马上为您查询。"}},
    {"shortcut": "order", "title": "Ask for order number", "variants": {
        "en": "Could you share your order number, {visitor_name}? You'll find it in your "
              "confirmation email.",
        "fa": "{visitor_name}، لطفاً شماره سفارشتان را بفرمایید. آن را در ایمیل تأیید سفارش "
              "پیدا می‌کنید.",
        "ar": "{visitor_name}، هل يمكنك تزويدي برقم طلبك؟ ستجده في رسالة التأكيد المرسلة إلى "
              "بريدك الإلكتروني.",
        "zh": "{visitor_name}，麻烦提供一下您的订单号，可以在订单确认邮件中找到。"}},
    {"shortcut": "wait", "title": "Still here", "variants": {
        "en": "I'm still here, {visitor_name} — checking with the team. Thanks for your "
              "patience.",
        "fa": "{visitor_name}، هنوز در خدمتتان هستم و دارم با همکارانم بررسی می‌کنم. از صبر و "
              "شکیبایی‌تان ممنونم.",
        "ar": "{visitor_name}، ما زلت معك، وأتحقق من الأمر مع الفريق. شكرًا لصبرك.",
        "zh": "{visitor_name}，我还在的，正在和同事确认，感谢您的耐心等待。"}},
    {"shortcut": "refund", "title": "Refund started", "variants": {
        "en": "I've started your refund, {visitor_name}. It usually reaches your account "
              "within 5–7 business days.",
        "fa": "{visitor_name}، فرایند بازگشت وجه را برایتان شروع کردم. مبلغ معمولاً ظرف ۵ تا ۷ "
              "روز کاری به حسابتان واریز می‌شود.",
        "ar": "{visitor_name}، بدأتُ إجراءات استرداد المبلغ. يصل عادةً إلى حسابك خلال 5 إلى 7 "
              "أيام عمل.",
        "zh": "{visitor_name}，已为您发起退款，款项通常会在5–7个工作日内退回您的账户。"}},
    {"shortcut": "else", "title": "Anything else?", "variants": {
        "en": "Is there anything else I can help you with, {visitor_name}?",
        "fa": "{visitor_name}، کار دیگری هست که بتوانم برایتان انجام دهم؟",
        "ar": "{visitor_name}، هل هناك أي شيء آخر يمكنني مساعدتك به؟",
        "zh": "{visitor_name}，请问还有其他可以帮您的吗？"}},
    {"shortcut": "bye", "title": "Goodbye", "variants": {
        "en": "Thanks for chatting with us, {visitor_name}. Have a great day!",
        "fa": "{visitor_name}، از اینکه با ما گفت‌وگو کردید سپاسگزاریم. روز خوبی داشته باشید!",
        "ar": "{visitor_name}، شكرًا لتواصلك معنا. نتمنى لك يومًا سعيدًا!",
        "zh": "{visitor_name}，感谢您的咨询，祝您生活愉快！"}},
)
