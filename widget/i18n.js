// UI strings per language, and picking the language. Pure: no DOM, no storage.

const RTL = ["fa", "ar", "he", "ur"];

export const STRINGS = {
  en: {
    title: "Chat with us", close: "Close chat", send: "Send",
    consent: "Before we chat, please accept how we handle your data.", privacy: "Privacy notice",
    accept: "Accept",
    placeholder: "Type your message…", human: "Talk to a person", you: "You", bot: "Bot",
    queue: "You are number {p} in line", eta: "about {m} min", eta_unknown: "waiting for an agent",
    connecting: "Connecting you to an agent…",
    joined: "{a} joined the chat", typing: "{a} is typing…", ended: "The chat has ended",
    read: "Read", sent: "Sent", sending: "Sending", offline: "Reconnecting…",
    name: "Name", email: "Email", topic: "Topic", start: "Start chat", skip: "Skip",
    leave: "Nobody is available right now. Leave a message and we will email you.",
    message: "Message", leave_send: "Send message", left: "Thanks! We will get back to you.",
    rate: "How did we do?", nps: "How likely are you to recommend us? (0–10)",
    comment: "Comment (optional)", submit: "Submit", thanks: "Thanks for your feedback!",
    stars: "{n} of 5 stars", transcript: "Download transcript", new_chat: "New chat",
    end: "End chat",
  },
  fa: {
    title: "گفتگو با ما", close: "بستن گفتگو", send: "ارسال",
    consent: "پیش از گفتگو، لطفاً شیوهٔ رسیدگی ما به داده‌هایتان را بپذیرید.",
    privacy: "سیاست حریم خصوصی", accept: "می‌پذیرم",
    placeholder: "پیام خود را بنویسید…", human: "صحبت با پشتیبان", you: "شما", bot: "ربات",
    queue: "شما نفر {p} در صف هستید", eta: "حدود {m} دقیقه", eta_unknown: "در انتظار پشتیبان",
    connecting: "در حال اتصال شما به پشتیبان…",
    joined: "{a} به گفتگو پیوست", typing: "{a} در حال نوشتن…", ended: "گفتگو به پایان رسید",
    read: "خوانده شد", sent: "ارسال شد", sending: "در حال ارسال", offline: "در حال اتصال دوباره…",
    name: "نام", email: "ایمیل", topic: "موضوع", start: "شروع گفتگو", skip: "رد کردن",
    leave: "اکنون کسی در دسترس نیست. پیام بگذارید تا با ایمیل پاسخ دهیم.",
    message: "پیام", leave_send: "ارسال پیام", left: "سپاس! به‌زودی پاسخ می‌دهیم.",
    rate: "از گفتگو راضی بودید؟", nps: "چقدر ما را به دیگران پیشنهاد می‌کنید؟ (۰ تا ۱۰)",
    comment: "نظر (اختیاری)", submit: "ثبت", thanks: "از نظر شما سپاسگزاریم!",
    stars: "{n} از ۵ ستاره", transcript: "دریافت متن گفتگو", new_chat: "گفتگوی تازه",
    end: "پایان گفتگو",
  },
  ar: {
    title: "تحدث معنا", close: "إغلاق المحادثة", send: "إرسال",
    consent: "قبل أن نبدأ، يرجى الموافقة على طريقة تعاملنا مع بياناتك.",
    privacy: "إشعار الخصوصية", accept: "أوافق",
    placeholder: "اكتب رسالتك…", human: "التحدث إلى موظف", you: "أنت", bot: "المساعد الآلي",
    queue: "ترتيبك {p} في قائمة الانتظار", eta: "حوالي {m} دقيقة", eta_unknown: "بانتظار موظف",
    connecting: "جارٍ توصيلك بموظف…",
    joined: "انضم {a} إلى المحادثة", typing: "{a} يكتب…", ended: "انتهت المحادثة",
    read: "مقروءة", sent: "أُرسلت", sending: "جارٍ الإرسال", offline: "جارٍ إعادة الاتصال…",
    name: "الاسم", email: "البريد الإلكتروني", topic: "الموضوع", start: "بدء المحادثة",
    skip: "تخطٍّ", leave: "لا أحد متاح الآن. اترك رسالة وسنرد عليك بالبريد.",
    message: "الرسالة", leave_send: "إرسال الرسالة", left: "شكرًا! سنعود إليك قريبًا.",
    rate: "كيف كانت تجربتك؟", nps: "ما مدى احتمال أن توصي بنا؟ (٠–١٠)",
    comment: "تعليق (اختياري)", submit: "إرسال", thanks: "شكرًا لملاحظاتك!",
    stars: "{n} من ٥ نجوم", transcript: "تنزيل نص المحادثة", new_chat: "محادثة جديدة",
    end: "إنهاء المحادثة",
  },
  zh: {
    title: "在线客服", close: "关闭聊天", send: "发送",
    consent: "开始聊天前，请同意我们处理您数据的方式。", privacy: "隐私声明", accept: "同意",
    placeholder: "请输入消息…", human: "转人工客服", you: "我", bot: "智能客服",
    queue: "您排在第 {p} 位", eta: "约 {m} 分钟", eta_unknown: "正在等待客服",
    connecting: "正在为您转接客服…",
    joined: "{a} 已加入对话", typing: "{a} 正在输入…", ended: "对话已结束",
    read: "已读", sent: "已发送", sending: "发送中", offline: "正在重新连接…",
    name: "姓名", email: "邮箱", topic: "主题", start: "开始聊天", skip: "跳过",
    leave: "当前没有客服在线。请留言，我们会通过邮件回复您。",
    message: "留言", leave_send: "提交留言", left: "谢谢！我们会尽快回复您。",
    rate: "您对本次服务满意吗？", nps: "您有多大可能向朋友推荐我们？（0–10）",
    comment: "意见（可选）", submit: "提交", thanks: "感谢您的反馈！",
    stars: "{n} 星（共 5 星）", transcript: "下载聊天记录", new_chat: "新对话",
    end: "结束对话",
  },
};

/** The first supported primary language among the candidates ("fa-IR" → "fa"), else English. */
export function pickLanguage(...candidates) {
  for (const tag of candidates.flat()) {
    const primary = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (STRINGS[primary]) return primary;
  }
  return "en";
}

export const isRtl = (lang) => RTL.includes(lang);

/** The string `key` in `lang` with {placeholders} filled; English when a key is missing. */
export function t(lang, key, vars) {
  const text = (STRINGS[lang] || STRINGS.en)[key] || STRINGS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ""));
}
