// The survey after a chat, the leave-a-message form for when nobody is online and the chat's
// transcript: few visitors use any, so view.js imports this module the first time one is due
// (or asked for), and the 15 KB every visitor loads at start does not carry them
// (tests/test_widget_files.py).

import { t } from "./i18n.js";
import { btn, field, form, go, h, options, val } from "./view.js";

// Kept here, not in i18n.js, as attach.js keeps its own; "Email", "Message" and "Send" are
// i18n.js's.
export const STRINGS = {
  en: {
    leave: "Nobody is available right now. Leave a message and we will email you.",
    left: "Thanks! We will get back to you.", rate: "How did we do?",
    nps: "How likely are you to recommend us? (0–10)", comment: "Comment (optional)",
    submit: "Submit", thanks: "Thanks for your feedback!", stars: "{n} of 5 stars", back: "Back",
  },
  fa: {
    leave: "اکنون کسی در دسترس نیست. پیام بگذارید تا با ایمیل پاسخ دهیم.",
    left: "سپاس! به‌زودی پاسخ می‌دهیم.", rate: "از گفتگو راضی بودید؟",
    nps: "چقدر ما را به دیگران پیشنهاد می‌کنید؟ (۰ تا ۱۰)", comment: "نظر (اختیاری)",
    submit: "ثبت", thanks: "از نظر شما سپاسگزاریم!", stars: "{n} از ۵ ستاره",
    back: "بازگشت",
  },
  ar: {
    leave: "لا أحد متاح الآن. اترك رسالة وسنرد عليك بالبريد.",
    left: "شكرًا! سنعود إليك قريبًا.", rate: "كيف كانت تجربتك؟",
    nps: "ما مدى احتمال أن توصي بنا؟ (٠–١٠)", comment: "تعليق (اختياري)", submit: "إرسال",
    thanks: "شكرًا لملاحظاتك!", stars: "{n} من ٥ نجوم", back: "رجوع",
  },
  zh: {
    leave: "当前没有客服在线。请留言，我们会通过邮件回复您。",
    left: "谢谢！我们会尽快回复您。", rate: "您对本次服务满意吗？",
    nps: "您有多大可能向朋友推荐我们？（0–10）", comment: "意见（可选）", submit: "提交",
    thanks: "感谢您的反馈！", stars: "{n} 星（共 5 星）", back: "返回",
  },
};

/** The conversation as plain text, for the visitor's own download. */
export function transcript(s, you, bot) {
  return s.messages.filter((m) => m.text || m.attachment).map((m) => {
    const who = { visitor: you, bot }[m.from] || m.author || m.from;
    // a file by its name (the links are signed for this visitor, not for sharing)
    return `[${m.ts || ""}] ${who}: ${m.text || `📎 ${m.attachment.name}`}\n`;
  }).join("");
}

/** The forms in `lang`, each an element for the panel's footer, and render(state, surveyDue)
 * to show the one the state asks for. `on` is the view's handlers (leave, back, survey). */
export function create(lang, on) {
  const S = STRINGS[lang] || STRINGS.en;
  const num = (n) => Number(n).toLocaleString(lang);

  // Nobody online: leave a message to be answered by email.
  const email = h("input", { name: "email", type: "email", required: true,
    autocomplete: "email" });
  const text = h("textarea", { name: "text", required: true, rows: 4, maxlength: 4000 });
  // a message of spaces is none: trimmed to nothing, the browser says the field is required
  const offline = form("form offline", () => ((text.value = val(text))
    ? on.leave(val(email), text.value) : text.reportValidity()),
    h("p", null, S.leave), field(t(lang, "email"), email), field(t(lang, "message"), text),
    h("div", { class: "row" }, go(t(lang, "send")), btn("link", S.back, on.back)));
  const left = h("p", { class: "notice", role: "status" }, S.left);

  // After the chat: 1-5 stars, optional NPS 0-10 and a comment.
  let rating = 0;
  const stars = [1, 2, 3, 4, 5].map((n) => btn("star", "★", () => {
    rating = n;
    stars.forEach((b, i) => b.setAttribute("aria-pressed", String(i < n)));
  }, { "aria-label": S.stars.replace("{n}", num(n)), "aria-pressed": "false" }));
  const nps = h("select", { name: "nps" }, options([...Array(11).keys()].map((i) => [i, num(i)])));
  const npsField = field(S.nps, nps);
  const comment = h("textarea", { name: "comment", rows: 2, maxlength: 2000 });
  const survey = form("form survey", () => (rating ? on.survey({ rating, comment: val(comment),
    nps: nps.value === "" ? null : Number(nps.value) }) : stars[0].focus()),
  h("fieldset", null, h("legend", null, S.rate), h("div", { class: "stars" }, stars)),
  npsField, field(S.comment, comment), go(S.submit));
  const thanks = h("p", { class: "notice", role: "status" }, S.thanks);

  // After the chat: its transcript by email, to a signed-in visitor's verified address (the
  // server sends it nowhere else, never to a typed one; docs/email.md). Shown once the server said where it would go; its
  // words come with that answer, in `lang`, so this lazy file does not carry them.
  const api = new URL("../api/visitor/transcript-email", import.meta.url);
  const mail = btn("link", "", () => ask("POST"), { "aria-live": "polite", hidden: true });
  // the conversation the server was asked about, the state last rendered, the server's words
  // (offer, sent, later, failed)
  let asked, now, W;
  const ask = (method) => fetch(method === "GET" ? `${api}?lang=${lang}` : api, { method,
    headers: { authorization: `Bearer ${now.token}`, "x-conversation-id": now.conversationId },
  }).then(async (r) => {
    if (method === "GET") {
      W = r.ok && (await r.json()).words;
      mail.hidden = !W;
      if (W) mail.textContent = W.offer;
    } else {
      mail.disabled = r.ok;
      mail.textContent = W[r.ok ? "sent" : r.status === 429 ? "later" : "failed"];
    }
  }).catch(() => W && (mail.textContent = W.failed));

  return {
    offline, left, survey, thanks, mail,
    // the chat as a text file; the BOM makes Windows editors read it as UTF-8
    download() {
      const url = URL.createObjectURL(new Blob(["\ufeff", transcript(now, t(lang, "you"),
        t(lang, "bot"))], { type: "text/plain" }));
      h("a", { href: url, download: `chat-${new Date().toISOString().slice(0, 10)}.txt` }).click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
    render(s, surveyDue) {
      now = s;
      const ended = s.view === "chat" && s.closed && s.token && s.conversationId;
      if (ended && asked !== s.conversationId) {
        asked = s.conversationId;
        mail.disabled = false;
        ask("GET");
      }
      if (!ended) mail.hidden = true;
      offline.hidden = s.view !== "offline";
      left.hidden = s.view !== "left";
      survey.hidden = !(surveyDue && !s.survey.done);
      npsField.hidden = !(s.survey && s.survey.nps);
      thanks.hidden = !(surveyDue && s.survey.done);
      if (s.view === "offline" && !email.value) email.value = s.profile.email || "";
    },
  };
}
