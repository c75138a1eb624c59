// Attachments, loaded on first use: app.js imports this module when a file is picked, dropped
// or pasted, or when a line with a file must be shown, so what every visitor loads at start
// stays within its 15 KB. Three parts: pure state changes (applied through the reducer's
// `apply` action, tested like the reducer), the upload queue (XMLHttpRequest: fetch reports no
// upload progress), and the DOM of a line's file (text nodes and attributes only).

import { adopt } from "./reducer.js";
import { backoff } from "./transport.js";
import { h } from "./view.js";

// Kept here, not in i18n.js: only a visitor who sends or gets a file needs them. The keys
// of refusals are the server's error codes (docs/protocol.md, "Attachments").
export const STRINGS = {
  en: {
    sending: "Sending the file", too_large: "Not sent: the file is too large.",
    unsupported_type: "Not sent: files of this type are not accepted.",
    damaged_file: "Not sent: the file seems damaged.",
    polyglot: "Not sent: the file hides another file inside it.",
    pdf_script: "Not sent: PDFs that contain scripts are not accepted.",
    too_many_pixels: "Not sent: the image has too many pixels.",
    empty_file: "Not sent: the file is empty.",
    unauthorized: "Not sent: this chat session has expired. Please reload the page.",
    forbidden: "Not sent: files cannot be sent in this chat.",
    consent_required: "Waiting for you to accept the privacy notice…",
    conflict: "Not sent: this chat had ended. Start a new chat to send it.",
    unreadable: "Not sent: the file could not be read. Was it changed or moved? Please attach it again.",
    rate_limited: "Too many files at once: sending again in a moment…",
    retry: "Connection problem: trying again…",
    lost: "Not sent: the page was left before it finished. Please attach the file again.",
    error: "The file could not be sent.",
  },
  fa: {
    sending: "در حال ارسال فایل", too_large: "ارسال نشد: حجم فایل بیش از حد مجاز است.",
    unsupported_type: "ارسال نشد: این نوع فایل پذیرفته نمی‌شود.",
    damaged_file: "ارسال نشد: فایل خراب به نظر می‌رسد.",
    polyglot: "ارسال نشد: درون این فایل، فایل دیگری پنهان است.",
    pdf_script: "ارسال نشد: فایل PDF دارای اسکریپت پذیرفته نمی‌شود.",
    too_many_pixels: "ارسال نشد: تعداد پیکسل‌های تصویر بیش از حد است.",
    empty_file: "ارسال نشد: فایل خالی است.",
    unauthorized: "ارسال نشد: نشست گفتگو منقضی شده است. لطفاً صفحه را دوباره بارگذاری کنید.",
    forbidden: "ارسال نشد: در این گفتگو نمی‌توان فایل فرستاد.",
    consent_required: "در انتظار پذیرش سیاست حریم خصوصی از سوی شما…",
    conflict: "ارسال نشد: این گفتگو به پایان رسیده بود. برای ارسال، گفتگوی تازه‌ای آغاز کنید.",
    unreadable: "ارسال نشد: فایل خوانده نشد. آیا تغییر کرده یا جابه‌جا شده است؟ لطفاً دوباره پیوست کنید.",
    rate_limited: "فایل‌های زیادی پشت سر هم فرستادید؛ کمی بعد دوباره ارسال می‌شود…",
    retry: "اشکال در اتصال؛ دوباره تلاش می‌کنیم…",
    lost: "ارسال نشد: صفحه پیش از پایان ارسال ترک شد. لطفاً فایل را دوباره پیوست کنید.",
    error: "ارسال فایل ممکن نشد.",
  },
  ar: {
    sending: "جارٍ إرسال الملف", too_large: "لم يُرسل: حجم الملف أكبر من المسموح.",
    unsupported_type: "لم يُرسل: هذا النوع من الملفات غير مقبول.",
    damaged_file: "لم يُرسل: يبدو أن الملف تالف.",
    polyglot: "لم يُرسل: يخفي هذا الملف ملفًا آخر بداخله.",
    pdf_script: "لم يُرسل: لا تُقبل ملفات PDF التي تحتوي على نصوص برمجية.",
    too_many_pixels: "لم يُرسل: عدد بكسلات الصورة أكبر من المسموح.",
    empty_file: "لم يُرسل: الملف فارغ.",
    unauthorized: "لم يُرسل: انتهت جلسة المحادثة. يرجى إعادة تحميل الصفحة.",
    forbidden: "لم يُرسل: لا يمكن إرسال الملفات في هذه المحادثة.",
    consent_required: "بانتظار موافقتك على إشعار الخصوصية…",
    conflict: "لم يُرسل: كانت هذه المحادثة قد انتهت. ابدأ محادثة جديدة لإرساله.",
    unreadable: "لم يُرسل: تعذّرت قراءة الملف. هل تغيّر أو نُقل؟ يرجى إرفاقه مرة أخرى.",
    rate_limited: "ملفات كثيرة دفعة واحدة؛ سيُعاد الإرسال بعد قليل…",
    retry: "مشكلة في الاتصال؛ نحاول مرة أخرى…",
    lost: "لم يُرسل: غادرت الصفحة قبل اكتمال الإرسال. يرجى إرفاق الملف مرة أخرى.",
    error: "تعذّر إرسال الملف.",
  },
  zh: {
    sending: "正在发送文件", too_large: "未发送：文件太大。",
    unsupported_type: "未发送：不支持此类型的文件。", damaged_file: "未发送：文件似乎已损坏。",
    polyglot: "未发送：此文件中藏有另一个文件。", too_many_pixels: "未发送：图片像素过多。",
    pdf_script: "未发送：不接受包含脚本的 PDF 文件。",
    empty_file: "未发送：文件为空。", unauthorized: "未发送：会话已过期，请刷新页面。",
    forbidden: "未发送：此对话中不能发送文件。", consent_required: "等待您接受隐私声明…",
    conflict: "未发送：此对话已结束，请开始新的对话后再发送。",
    unreadable: "未发送：无法读取该文件，它是否已被修改或移动？请重新添加附件。",
    rate_limited: "短时间内发送的文件太多，稍后将自动重试…", retry: "网络连接有问题，正在重试…",
    lost: "未发送：上传完成前已离开页面，请重新添加附件。", error: "文件发送失败。",
  },
};

// A refusal (any 4xx but 408 and 429) is final: sending the same file again cannot help.
// No answer at all (status 0: the network), 408, 429 and 5xx are tried again with the same
// X-Client-Id, which the server stores once.
const final = (status) => status >= 400 && status < 500 && status !== 408 && status !== 429;
// An upload with no answer while the chat's socket is up and the browser online, this many
// times in a row (about 15 s of backoff), is not a network cut: a CSP or an extension blocks
// it. The line says so and the files after it go.
const STRIKES = 6;
// Each tab writes, every BEAT_MS, the ids of the uploads it holds to localStorage: another tab
// of the site (the chat is shared) calls one lost only when no tab has done so for 3 beats, or
// at once when the page that held it was left (its id written as minus the time).
const BEAT_MS = 5000;
const STALE_MS = 3 * BEAT_MS;
const BEATS = "chatwidget:uploads";
// A thumbnail's box in the line, so it takes its place before attach.css arrives.
const BOX = [220, 200];

const patch = (s, id, fields) => ({ ...s,
  messages: s.messages.map((m) => (m.id === id ? { ...m, ...fields } : m)) });

/** The server stored it (the POST's answer): the line gets its seq and the file as served. The
 * first thing sent may start the chat; a chat already known (closed since, say) stays. */
export const stored = (s, id, answer) => patch(s.conversationId ? s
  : adopt(s, answer.conversation_id), id, {
  pending: false, error: null, seq: answer.seq, conversationId: answer.conversation_id,
  attachment: answer.attachment });

/** Refused for good: the line says why, in the visitor's language. */
export const refused = (s, id, error) => patch(s, id, { pending: false, failed: true, error });

/** Not sent yet and tried again soon (`rate_limited`, `retry`): the line says so meanwhile. */
export const waiting = (s, id, error) => patch(s, id, { error });

/** Uploads still pending whose File no tab holds (the page was reloaded or left mid-upload: a
 * File cannot be stored): failed, visibly, never silently gone. beats: line id -> when a tab
 * last said it holds it (negative: when that page was left); a line attached under STALE_MS
 * ago with none yet may still be another tab's, loading attach.js. */
export const orphaned = (s, held, beats = {}, now = 0) => {
  const alive = (m) => beats[m.id] > now - STALE_MS
    || (beats[m.id] == null && Date.parse(m.ts) > now - STALE_MS);
  const lost = s.messages.filter((m) => m.file && m.pending && !held.has(m.id) && !alive(m));
  return lost.length ? lost.reduce((t, m) => refused(t, m.id, "lost"), s) : s;
};

/** "1.2 MB" in the visitor's language and digits. */
export function size(bytes, lang) {
  const [n, unit] = bytes < 1e3 ? [bytes, "byte"] : bytes < 1e6 ? [bytes / 1e3, "kilobyte"]
    : [bytes / 1e6, "megabyte"];
  return new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "short",
    maximumFractionDigits: 1 }).format(n);
}

/**
 * base: the widget's URL (uploads and file links go to its server); held: line id -> File,
 * the files attached and not yet sent (app.js adds them with their lines); lang(), get(): the
 * current language and state; update(fn): apply a pure state change.
 */
export function create({ base, held, lang, get, update }) {
  const url = new URL("/api/visitor/attachments", base).href;
  // a code this version does not know (the server grows) reads as the general failure
  const say = (key) => {
    const strings = STRINGS[lang()] || STRINGS.en;
    return Object.hasOwn(strings, key) ? strings[key] : strings.error;
  };
  const sent = new Map(); // line id -> the fraction uploaded so far
  const slots = new Map(); // line id -> its element, for the progress bar
  let busy = false;
  let timer = null;
  let attempt = 0;
  let styled = false;
  let strikes = 0;

  const beats = () => {
    try {
      return JSON.parse(localStorage.getItem(BEATS)) || {};
    } catch {
      return {};
    }
  };
  /** Say which uploads this page holds (left: it is being left), drop what is stale, and
   * fail the lines no tab holds. */
  function beat(left) {
    const now = Date.now();
    const out = {};
    for (const [id, at] of Object.entries(beats())) if (Math.abs(at) > now - STALE_MS) out[id] = at;
    for (const id of held.keys()) out[id] = left ? -now : now;
    try {
      localStorage.setItem(BEATS, JSON.stringify(out));
    } catch {
      // storage full or disabled: other tabs fall back on the line's age
    }
    update((s) => orphaned(s, held, out, now));
  }
  beat();
  setInterval(beat, BEAT_MS);
  addEventListener("pagehide", () => beat(true));

  const line = (id) => get().messages.find((m) => m.id === id);
  /** The file left the queue: stored, refused, or its line came back over the socket. */
  function drop(id) {
    held.delete(id);
    attempt = strikes = 0;
  }

  /** Send the oldest held file, one at a time (they arrive in the order attached), and only
   * while the socket is up and the privacy notice accepted (its `consent` frame acked): a
   * file attached before either goes after, as lines do. */
  function sync() {
    const s = get();
    const [id, file] = held.entries().next().value || [];
    if (busy || timer || !id || !s.online || !s.token || s.consent != null
      || s.outbox.some((o) => o.type === "consent")) return;
    // a retry whose line the socket brought back (stored, the answer lost) is not sent again
    const m = line(id);
    if (m && !m.pending) {
      drop(id);
      return sync();
    }
    busy = true;
    const x = new XMLHttpRequest();
    x.open("POST", url);
    x.setRequestHeader("Authorization", `Bearer ${s.token}`);
    x.setRequestHeader("X-Client-Id", id);
    x.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    // to the chat it was attached in, or nowhere (409 once that chat has ended)
    if (s.conversationId) x.setRequestHeader("X-Conversation-Id", s.conversationId);
    x.upload.onprogress = (e) => {
      sent.set(id, e.total ? e.loaded / e.total : 0);
      const bar = slots.get(id) && slots.get(id).querySelector("progress");
      if (bar) bar.value = sent.get(id);
    };
    x.onloadend = () => {
      // No answer is a network cut, or a file the browser can no longer read (changed on
      // disk after it was picked, on a removed stick): that fails alike for ever, so try it.
      if (x.status) done(id, x);
      else file.slice(0, 1).arrayBuffer().then(() => done(id, x), () => done(id, x, 1));
    };
    x.send(file);
  }

  function done(id, x, unreadable) {
    busy = false;
    let answer = {};
    try {
      answer = JSON.parse(x.responseText) || {};
    } catch {
      // not JSON: a proxy's error page, or no answer at all
    }
    const status = x.status;
    const m = line(id);
    // no answer while the chat's socket is up and the browser says it is online
    if (!status && get().online && navigator.onLine) strikes++;
    if (status === 200 && answer.attachment) {
      drop(id);
      update((s) => stored(s, id, answer));
    } else if (m && !m.pending) {
      drop(id);
    } else if (unreadable || strikes >= STRIKES
      || (final(status) && answer.error !== "consent_required")) {
      drop(id);
      update((s) => refused(s, id, unreadable ? "unreadable" : answer.error || "error"));
    } else {
      sent.delete(id);
      update((s) => waiting(s, id, status === 429 ? "rate_limited" : status === 403
        ? "consent_required" : "retry"));
      // The server's Retry-After when the browser lets us read it (same origin), else the
      // socket's backoff.
      const after = Number(x.getResponseHeader("Retry-After"));
      timer = setTimeout(() => {
        timer = null;
        sync();
      }, after > 0 ? after * 1e3 : backoff(attempt++));
    }
    sync();
  }

  /** Fill a line's file element: a thumbnail linking to the full image (a new tab), a
   * download link with name and size, or while sending its progress, and why it failed. */
  function show(slot, m) {
    const key = JSON.stringify([m.attachment, m.pending, m.error]);
    if (m.pending) slots.set(m.id, slot);
    else slots.delete(m.id);
    if (slot.key === key) return;
    slot.key = key;
    if (!styled) {
      styled = true;
      slot.getRootNode().append(h("link", { rel: "stylesheet",
        href: new URL("attach.css", base).href }));
    }
    const a = m.attachment;
    const f = a || m.file;
    // the server's links are relative to it, not to the host page; only http(s) is followed
    const abs = (u) => {
      const url = new URL(u, base);
      return /^https?:$/.test(url.protocol) ? url.href : null;
    };
    const image = a && /^image\//.test(a.media_type);
    const fit = a && a.width && a.height ? Math.min(1, BOX[0] / a.width, BOX[1] / a.height) : 0;
    // filled after the view scrolled to the newest line: keep it there (the bottom 40 px, as
    // view.js reads "at the end")
    const log = slot.closest(".log");
    const stick = log && log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    slot.replaceChildren(...[image
      ? h("a", { href: abs(a.url), target: "_blank", rel: "noopener noreferrer" },
        h("img", { src: abs(a.thumbnail_url || a.url), alt: a.name,
          width: fit ? Math.round(a.width * fit) : null,
          height: fit ? Math.round(a.height * fit) : null }))
      : h(a ? "a" : "span", { class: "doc", href: a && abs(a.url), target: a && "_blank",
        rel: a && "noopener noreferrer" }, h("bdi", null, f.name), " ",
      h("span", { class: "size" }, size(f.size, lang()))),
    !a && m.pending && h("progress", { max: 1, value: sent.get(m.id) || 0,
      "aria-label": say("sending") }),
    !a && m.error && h("p", { class: "error", role: m.failed ? "alert" : "status" },
      say(m.error))].filter(Boolean));
    if (stick) log.scrollTop = log.scrollHeight;
  }

  return { sync, show };
}
