// The widget's Persian strings, imported by i18n.js's loadStrings() only for a visitor who
// reads Persian: the keys of STRINGS.en in i18n.js.

export default {
  title: "گفتگو با ما", close: "بستن گفتگو", send: "ارسال",
  consent: "پیش از گفتگو، لطفاً شیوهٔ رسیدگی ما به داده‌هایتان را بپذیرید.",
  privacy: "سیاست حریم خصوصی", accept: "می‌پذیرم",
  placeholder: "پیام خود را بنویسید…", human: "صحبت با پشتیبان", you: "شما", bot: "ربات",
  queue: "شما نفر {p} در صف هستید", eta: "حدود {m} دقیقه", eta_unknown: "در انتظار پشتیبان",
  connecting: "در حال اتصال شما به پشتیبان…",
  joined: "{a} به گفتگو پیوست", typing: "{a} در حال نوشتن…", ended: "گفتگو به پایان رسید",
  read: "خوانده شد", sent: "ارسال شد", sending: "در حال ارسال", failed: "ارسال نشد",
  offline: "در حال اتصال دوباره…",
  name: "نام", email: "ایمیل", topic: "موضوع", start: "شروع گفتگو", skip: "رد کردن",
  message: "پیام", transcript: "دریافت متن گفتگو", new_chat: "گفتگوی تازه",
  end: "پایان گفتگو", attach: "پیوست فایل",
  unread: "گفتگو با ما، {n} پیام تازه",
};
