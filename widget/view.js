// The widget's DOM, inside a shadow root. Built once per language; render(state) updates it.
// Every piece of text from the server or the visitor goes in through text nodes, never markup.

import { isRtl, t } from "./i18n.js";

/** createElement with attributes (on* become listeners) and children (strings become text). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

// Bot answers are in the knowledge base's Markdown subset, whose renderer of record is the
// server's (knowledge_base/markdown.py, CommonMark by markdown-it-py); this reads the same
// answers alike in a few hundred bytes: **bold** or __bold__, *italic* or _italic_ (inside
// a word for "*" only, across lines, nested as the server nests them), `code`, [links](…)
// with one level of (parentheses) in the URL, "-", "*", "+" bullets (nested ones flattened);
// paragraphs, line breaks and numbered lists read right as typed. Nothing else is interpreted
// (not backslash escapes, nor ***both***: 18 and 16 gzipped bytes more).
// tests/data/markdown_corpus.json holds what both show, where they differ too.
// Links only to http(s) or mailto, and no backslash: browsers read it as "/", so "/" +
// backslash would be "//evil.example". rel=noreferrer implies noopener. A backtick is \x60
// here: lean() (the server) counts backticks to tell template literals apart. Bullets are
// spaces then "-", "*" or "+" then spaces (the server also takes tabs). Emphasis holds at
// most 300 characters: from each marker the pattern looks that far for its closer, so a run
// of markers with none (an answer of 10,000 "*") takes 0.1 s, not 3 s of the visitor's page;
// a longer emphasized passage shows its markers (the server's parser has no such bound).
const MARKS = /\x60([^\x60]+)\x60|\[([^[\]]+)\]\(((?:https?:\/\/|mailto:)(?:[^()\s\\]|\([^()\s\\]*\))*)\)|(\*\*?|(?<!\w)__?)(?=\S)([^]{1,300}?)(?<=[^\s*_])\4(?![*_]|(?<=_)\w)/gi;

// Strings and elements: the text around the marks, and an element for each.
export function rich(text) {
  const out = [];
  let last = 0;
  text = text.replace(/^ *[-*+] +(?=\S)/gm, "• ");
  for (const m of text.matchAll(MARKS)) {
    out.push(text.slice(last, m.index), m[1] ? h("code", null, m[1])
      : m[2] ? h("a", { href: m[3], target: "_blank", rel: "noreferrer" }, rich(m[2]))
        : h(m[4][1] ? "strong" : "em", null, rich(m[5])));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

// Pieces the forms are made of, here and in forms.js.
export const field = (label, input) => h("label", { class: "field" }, h("span", null, label),
  input);
export const btn = (cls, label, fn, attrs) => h("button", { type: "button", class: cls,
  onclick: fn, ...attrs }, label);
export const go = (label) => h("button", { type: "submit", class: "primary" }, label);
export const form = (cls, fn, ...children) => h("form", { class: cls, onsubmit: (e) => {
  e.preventDefault();
  fn();
} }, ...children);
export const val = (el) => el.value.trim();
export const options = (list) => [h("option", { value: "" }, "—"),
  ...list.map(([v, label]) => h("option", { value: v }, label))];

/** The custom properties for a site's own colour (data-color): the text on it black or white,
 * whichever reads better by WCAG luminance (4.5:1 at least, for any colour); as a link, chip
 * or focus outline the colour itself where it reads 4.5:1 on that scheme's backgrounds (light
 * up to luminance 0.16, dark from 0.3), else the text colour. */
export function brand(hex) {
  const c = hex.slice(1);
  const n = c.length < 5 ? 1 : 2;
  const y = [0.2126, 0.7152, 0.0722].reduce((sum, w, i) => {
    const v = parseInt(c.substr(i * n, n).repeat(3 - n), 16) / 255;
    return sum + w * (v < 0.04 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  }, 0);
  const vars = { "--accent": hex, "--on": y > 0.179 ? "#000" : "#fff" };
  if (y > 0.16) vars["--link-light"] = "var(--ink)";
  if (y < 0.3) vars["--link-dark"] = "var(--ink)";
  return vars;
}

const time = (ts, lang) => {
  const d = ts ? new Date(ts) : null;
  return d && !isNaN(d) ? d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }) : "";
};

export function createView(shadow, lang, cfg, on) {
  const T = (key, vars) => t(lang, key, vars);
  const num = (n) => Number(n).toLocaleString(lang);
  const icon = (glyph, label, fn) => btn("icon", glyph, fn, { title: label, "aria-label": label });
  // Icons are SVG: emoji fonts are missing on many systems.
  const svg = (tag, attrs) => {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  };

  // Files go to on.attach (attach.js loads then): picked, dropped on the panel, or pasted
  // (a screenshot: files and no text, as copying an image gives; Office text carries both).
  const attach = (list) => list.length && !clipBtn.hidden && !composer.hidden
    && on.attach([...list]);
  const input = h("textarea", { rows: 1, "aria-label": T("message"), placeholder: T("placeholder"),
    maxlength: 4000, oninput: () => on.typing(val(input) !== ""),
    onpaste: (e) => e.clipboardData.getData("text") || attach(e.clipboardData.files),
    onkeydown: (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    } });
  const submit = () => {
    const text = val(input);
    input.value = "";
    if (text) on.send(text);
  };
  const picker = h("input", { type: "file", multiple: true, hidden: true, onchange: () => {
    attach(picker.files);
    picker.value = "";
  } });
  const clip = svg("svg", { viewBox: "0 0 24 24", width: 22, height: 22, "aria-hidden": "true",
    fill: "none", stroke: "currentColor", "stroke-width": 2 });
  // a paperclip
  clip.append(svg("path", { d: "M16 7v9a4 4 0 0 1-8 0V5a3 3 0 0 1 6 0v10a1 1 0 0 1-2 0V7" }));
  // after the text box: opening the chat focuses the composer's first field
  const clipBtn = icon(clip, T("attach"), () => picker.click());
  const composer = form("composer", submit, input, clipBtn, picker, go(T("send")));

  const log = h("div", { class: "log", role: "log", "aria-live": "polite", tabindex: 0,
    "aria-label": T("title"), onscroll: on.scroll });
  const status = h("p", { class: "status", role: "status" });
  const typing = h("p", { class: "typing", "aria-live": "polite" });
  const chips = h("div", { class: "chips" });
  const human = btn("link", T("human"), on.human);
  const endBtn = btn("link", T("end"), on.end);

  // Pre-chat: name, email and (when the site lists some) a topic.
  const pName = h("input", { name: "name", autocomplete: "name", maxlength: 100 });
  const pEmail = h("input", { name: "email", type: "email", autocomplete: "email" });
  const pTopic = cfg.topics.length
    ? h("select", { name: "topic" }, options(cfg.topics)) : null;
  const prechat = form("form prechat", () => on.prechat({ name: val(pName), email: val(pEmail),
    topic: pTopic ? pTopic.value : "" }),
  field(T("name"), pName), field(T("email"), pEmail), pTopic && field(T("topic"), pTopic),
  h("div", { class: "row" }, go(T("start")), btn("link", T("skip"), () => on.prechat({}))));

  // the transcript's file is made by forms.js
  const save = () => more().then(() => forms && forms.download());
  const after = h("div", { class: "row" }, btn("link", T("transcript"), save),
    btn("primary", T("new_chat"), on.newChat));

  const notice = h("a", { target: "_blank", rel: "noreferrer" }, T("privacy"));
  const consent = h("div", { class: "notice" }, h("p", null, T("consent"), " ", notice),
    btn("primary", T("accept"), on.consent));

  let dragging;
  const panel = h("section", { class: "panel", role: "dialog", "aria-labelledby": "cw-title",
    hidden: true,
    // a file dropped anywhere on the panel, never opened by the browser in the host's tab;
    // text dropped in the message box stays the browser's. Files over it outline the panel
    // until 0.2 s after the last dragover (dragleave fires on every child crossed).
    ondragover: (e) => {
      e.preventDefault();
      if (!e.dataTransfer.types.includes("Files")) return;
      panel.classList.add("drop");
      clearTimeout(dragging);
      dragging = setTimeout(() => panel.classList.remove("drop"), 200);
    },
    ondrop: (e) => {
      if (e.dataTransfer.files.length) {
        e.preventDefault();
        attach(e.dataTransfer.files);
      }
    } },
  h("header", null, h("div", null, h("h2", { id: "cw-title" }, T("title")), status),
    icon("⤓", T("transcript"), save), icon("×", T("close"), on.hide)),
  log, h("div", { class: "foot" }, typing, chips, consent, prechat, after,
    h("div", { class: "row" }, human, endBtn), composer));

  const badge = h("span", { class: "badge", hidden: true });
  // An SVG speech bubble: emoji fonts are missing on many systems.
  const bubbleIcon = svg("svg", { viewBox: "0 0 24 24", width: 26, height: 26,
    "aria-hidden": "true", fill: "currentColor" });
  bubbleIcon.append(svg("path", {
    d: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z" }));
  const launcher = btn("launcher", [bubbleIcon, badge], on.toggle, { "aria-expanded": "false" });
  // A reply while the panel is closed: said here, as the panel's log is hidden then.
  const news = h("p", { class: "sr", role: "status" });
  const bubble = h("div", { class: "bubble", hidden: true },
    btn("greet", cfg.greeting, on.show), icon("×", T("close"), on.dismissGreeting));

  // Open, the panel keeps the keyboard as a dialog would: Tab goes round its controls and the
  // launcher (which closes it), never out to the host page; Escape closes it (docs/widget.md).
  const root = h("div", { class: "cw", dir: isRtl(lang) ? "rtl" : "ltr", lang, onkeydown: (e) => {
    if (panel.hidden) return;
    if (e.key === "Escape") return on.hide();
    // (the first and last are never disabled)
    const stops = [...root.querySelectorAll("*")].filter((el) => el.tabIndex >= 0
      && el.getClientRects().length);
    if (e.key === "Tab" && shadow.activeElement === stops.at(e.shiftKey ? 0 : -1)) {
      e.preventDefault();
      stops.at(e.shiftKey ? -1 : 0).focus();
    }
  } }, bubble, panel, launcher, news);
  for (const [k, v] of Object.entries(cfg.color ? brand(cfg.color) : {})) {
    root.style.setProperty(k, v);
  }
  shadow.append(root);

  // The survey, the leave-a-message form and the transcript: few visitors use any, so
  // forms.js is imported when one is first due or asked for; after a failure, at a render 5 s
  // on, under a new URL (see app.js).
  let forms;
  let loading;
  let tries = 0;
  let current;
  const more = () => loading || (loading = import("./forms.js" + (tries ? "?" + tries : ""))
    .then((m) => {
      forms = m.create(lang, on);
      after.before(forms.offline, forms.left, forms.survey, forms.thanks, forms.mail);
      render(current);
    }, () => {
      tries++;
      loading = null;
      setTimeout(() => render(current), 5e3);
    }));

  // message id -> its element, so a render touches only what changed
  const rows = new Map();
  let wasOpen = false;
  // the section focus was last moved into (undefined until the first render)
  let focused;

  function line(m) {
    if (m.note) {
      return h("p", { class: "note" }, m.note === "joined" ? T("joined", { a: m.author })
        : T("ended"));
    }
    const mine = m.from === "visitor";
    return h("div", { class: `msg ${mine ? "mine" : m.from}` },
      !mine && h("span", { class: "who" }, m.from === "bot" ? T("bot") : m.author || ""),
      // filled by attach.js: a thumbnail, a download link, progress or why it was refused
      (m.file || m.attachment) && h("div", { class: "file" }, m.file && m.file.name),
      h("div", { class: "text" }, m.from === "bot" ? rich(m.text || "") : m.text || ""),
      // A bot line's buttons: end the chat, talk to a person (any other action is ignored).
      m.actions && h("div", { class: "chips" }, m.actions.map((a) => (a === "human"
        ? btn("chip", T(a), on.human) : a === "close" && btn("chip", T("end"), on.end)))),
      h("span", { class: "meta" }, h("time", null, time(m.ts, lang)),
        mine && h("span", { class: "tick", role: "img" })));
  }

  function render(s) {
    current = s;
    // the control focused before: it may go now (asked for a person, the button hides)
    const had = shadow.activeElement;
    const view = s.view;
    panel.hidden = !s.open;
    launcher.setAttribute("aria-expanded", String(s.open));
    badge.hidden = s.open || !s.unread;
    badge.textContent = num(s.unread);
    // "…, 1 new message|…, {n} new messages": a language gives the forms its words take for
    // one and for more (English two, the others one)
    const said = T("unread", { n: num(s.unread) }).split("|");
    news.textContent = badge.hidden ? "" : said[Math.min(s.unread, said.length) - 1];
    launcher.setAttribute("aria-label", news.textContent || T("title"));

    const ids = new Set(s.messages.map((m) => m.id));
    for (const [id, el] of rows) {
      if (!ids.has(id)) {
        el.remove();
        rows.delete(id);
      }
    }
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    for (const m of s.messages) {
      let el = rows.get(m.id);
      if (!el) {
        el = line(m);
        rows.set(m.id, el);
        log.append(el);
      }
      const file = el.querySelector(".file");
      if (file) on.file(file, m);
      const tick = el.querySelector(".tick");
      if (tick) {
        // an image named by its word (role img: the title is its name)
        const [mark, label] = m.failed ? ["!", "failed"] : m.pending ? ["◷", "sending"]
          : m.seq && m.seq <= s.agentRead ? ["✓✓", "read"] : ["✓", "sent"];
        if (tick.textContent !== mark) {
          tick.textContent = mark;
          tick.title = T(label);
        }
      }
    }
    if (stick || !wasOpen) log.scrollTop = log.scrollHeight;

    const last = s.messages[s.messages.length - 1];
    chips.replaceChildren(...(last && last.suggestions && !s.closed ? last.suggestions : [])
      .map((x) => h("button", { type: "button", class: "chip",
        onclick: () => on.choose(x.entry_id) }, x.title)));

    status.textContent = !s.online && (s.conversationId || s.outbox.length) ? T("offline")
      : s.agent ? s.agent
        : s.queue && s.queue.position && s.queue.state !== "offered"
          ? `${T("queue", { p: num(s.queue.position) })} · ${s.queue.eta == null
            ? T("eta_unknown") : T("eta", { m: num(Math.max(1, Math.round(s.queue.eta / 60))) })}`
          : s.queue || s.asked ? T("connecting") : "";
    typing.textContent = s.agentTyping && s.agent ? T("typing", { a: s.agent }) : "";

    const surveyDue = view === "chat" && s.closed && s.survey
      && s.survey.conversation_id === s.conversationId;
    // due and not here yet: focus waits for it
    const waiting = !forms && (s.closed || view === "offline" || view === "left");
    if (forms) forms.render(s, surveyDue);
    else if (waiting) more();
    prechat.hidden = view !== "prechat";
    after.hidden = !(view === "chat" && s.closed);
    consent.hidden = view !== "chat" || s.consent == null;
    if (/^https?:\/\//.test(s.consent || "")) notice.href = s.consent;
    notice.hidden = !notice.href;
    composer.hidden = view !== "chat" || s.closed || !consent.hidden;
    // the server's welcome says whether it takes files
    clipBtn.hidden = s.files === false;
    human.hidden = composer.hidden || s.asked || !!s.agent || !!s.queue;
    endBtn.hidden = !s.conversationId || s.closed;
    // A line's buttons go with the footer's: chat ended, a person asked for or here (css).
    root.classList.toggle("busy", human.hidden);
    log.hidden = view === "prechat";

    // Focus follows what the panel shows: into the first field when it opens or switches (form
    // to chat, chat to survey), back to the button when it closes; never on page load.
    const showing = s.open && [consent, prechat, ...forms ? [forms.offline, forms.survey] : [],
      after, composer].find((f) => !f.hidden);
    // and from a control that went to that first field
    if (focused !== undefined && !waiting && (showing !== focused
      || s.open && had && !had.getClientRects().length)) {
      if (showing) {
        queueMicrotask(() => showing.querySelector("input,select,textarea,button").focus());
      } else if (s.open) {
        queueMicrotask(() => panel.querySelector("button").focus());
      } else {
        launcher.focus();
      }
    }
    if (!waiting) focused = showing;
    wasOpen = s.open;
  }

  return {
    render,
    // a line shows in the log's view: its first 24 px (or all of it) above the log's bottom
    shown(m) {
      const r = rows.get(m.id)?.getBoundingClientRect();
      return r && r.height && Math.min(r.bottom, r.top + 24) <= log.getBoundingClientRect().bottom + 1;
    },
    showGreeting(show) {
      bubble.hidden = !show;
    },
    destroy() {
      root.remove();
    },
  };
}
