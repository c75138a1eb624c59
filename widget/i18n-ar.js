// The widget's Arabic strings, imported by i18n.js's loadStrings() only for a visitor who
// reads Arabic: the keys of STRINGS.en in i18n.js.

export default {
  title: "تحدث معنا", close: "إغلاق المحادثة", send: "إرسال",
  consent: "قبل أن نبدأ، يرجى الموافقة على طريقة تعاملنا مع بياناتك.",
  privacy: "إشعار الخصوصية", accept: "أوافق",
  placeholder: "اكتب رسالتك…", human: "التحدث إلى موظف", you: "أنت", bot: "المساعد الآلي",
  queue: "ترتيبك {p} في قائمة الانتظار", eta: "حوالي {m} دقيقة", eta_unknown: "بانتظار موظف",
  connecting: "جارٍ توصيلك بموظف…",
  joined: "انضم {a} إلى المحادثة", typing: "{a} يكتب…", ended: "انتهت المحادثة",
  read: "مقروءة", sent: "أُرسلت", sending: "جارٍ الإرسال", failed: "لم تُرسل",
  offline: "جارٍ إعادة الاتصال…",
  name: "الاسم", email: "البريد الإلكتروني", topic: "الموضوع", start: "بدء المحادثة",
  skip: "تخطٍّ", message: "الرسالة", transcript: "تنزيل نص المحادثة", new_chat: "محادثة جديدة",
  end: "إنهاء المحادثة", attach: "إرفاق ملف",
  unread: "تحدث معنا، رسائل جديدة: {n}",
};
