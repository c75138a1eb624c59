/* Shared by every page: the CSRF token, the page language's words and formats, a JSON fetch
   helper, safe DOM building, toasts.
   Data is only ever put in the page as text (textContent / createElement), never as HTML. */
"use strict";

const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

/* The page's language (base.html sets <html lang dir> from the user's choice or browser) and its
   messages: a JSON data block, not a script, so the CSP's script-src stays 'self'. English pages
   carry none: a msgid is its own English text. */
const LANG = document.documentElement.lang || "en";
const MESSAGES = (() => {
  const block = document.getElementById("i18n-messages");
  try { return block ? JSON.parse(block.textContent) : {}; } catch (e) { return {}; }
})();
/* Dates and numbers through Intl: Persian readers get the Persian calendar and digits. English
   follows the browser's own conventions (12- or 24-hour clock). */
const LOCALE = { fa: "fa-IR-u-ca-persian-nu-arabext", ar: "ar", zh: "zh-CN" }[LANG];

/** The text of `msgid` in the page language, `{name}` placeholders filled from `values`. */
function t(msgid, values) {
  const text = Object.prototype.hasOwnProperty.call(MESSAGES, msgid) ? MESSAGES[msgid] : msgid;
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

/* User data inside a translated sentence (a visitor's name, a label, an order number, a URL)
   keeps its own direction: a Persian name in an English line, or a Latin one in a Persian line,
   would otherwise take the words around it along (Unicode bidi). In the DOM each value is a
   <bdi> (transcript.js tParts); in plain strings (titles, toasts, notifications, confirm()) it
   is wrapped in FSI…PDI where the two directions can meet, so English pages with Latin names
   read exactly as before. A dialog takes its direction from its first strong letter: a name
   that starts a Persian question must be isolated or the question reads left to right. */
const RTL_PAGE = document.documentElement.dir === "rtl";
const RTL_CHAR = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]/;

/** `text` isolated from the sentence around it, when its direction may differ from the page's. */
function isolate(text) {
  const s = String(text ?? "");
  return s && (RTL_PAGE || RTL_CHAR.test(s)) ? `\u2068${s}\u2069` : s;
}

function fmtNumber(n, options) { return new Intl.NumberFormat(LOCALE, options).format(n); }
function fmtDate(ts) {
  return new Date(ts).toLocaleDateString(LOCALE, { year: "numeric", month: "short", day: "numeric" });
}
function fmtDateTime(ts) {
  return new Date(ts).toLocaleString(LOCALE, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit" });
}

/** A fresh UUID for each changing frame (crypto.randomUUID needs a secure context). */
function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** el("li", {class: "x", dataset: {id: 1}, onclick: f}, "text", child) */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    // Through the CSSOM, which the pages' CSP allows; it refuses style="" attributes.
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** JSON API call with the session's CSRF token; resolves to {ok, status, data}. */
async function api(method, url, body, { raw = false } = {}) {
  const headers = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = CSRF;
  let payload;
  if (body !== undefined) {
    if (raw) payload = body;
    else { headers["content-type"] = "application/json"; payload = JSON.stringify(body); }
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  } catch (e) {
    return { ok: false, status: 0, data: { error: "network", message: t("The server cannot be reached. Check your connection.") } };
  }
  if (response.status === 401) { window.location.assign("/login"); }
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (e) { data = null; }
  }
  return { ok: response.ok, status: response.status, data };
}

function toast(message, kind = "info", ms = 2600) {
  const box = document.getElementById("toasts");
  if (!box) return;
  while (box.children.length >= 2) box.firstChild.remove(); // the newest news matters most
  const item = el("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

/** A refusal's {message, values}: the msgid translated, numbers in the page's digits and
    other values (an address, a name) isolated so a Latin one keeps a right-to-left line in order. */
function refusalText(data) {
  const values = {};
  for (const [key, value] of Object.entries(data.values || {})) values[key] = typeof value === "number" ? fmtNumber(value) : isolate(value);
  return t(data.message, values);
}

/** Show a 422 {field, message} beside the named field; anything else as a form error. */
function showErrors(form, data, fallbackEl) {
  form.querySelectorAll(".field-error").forEach((n) => { n.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  if (!data) return;
  const slot = data.field && form.querySelector(`.field-error[data-for="${CSS.escape(data.field)}"]`);
  if (slot) {
    slot.textContent = data.message ? refusalText(data) : t("Not valid");
    const input = form.querySelector(`[name="${CSS.escape(data.field)}"]`);
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  } else if (fallbackEl) {
    fallbackEl.textContent = data.message ? refusalText(data) : t("Something went wrong");
    fallbackEl.hidden = false;
  } else {
    toast(data.message ? refusalText(data) : t("Something went wrong"), "error");
  }
}

function fmtWait(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  const two = (n) => fmtNumber(n, { minimumIntegerDigits: 2 });
  if (s < 60) return t("{s}s", { s: fmtNumber(s) });
  const m = Math.floor(s / 60);
  if (m < 60) return t("{m}m {s}s", { m: fmtNumber(m), s: two(s % 60) });
  return t("{h}h {m}m", { h: fmtNumber(Math.floor(m / 60)), m: two(m % 60) });
}

function fmtTime(ts) {
  const d = typeof ts === "number" ? new Date(ts) : new Date(ts || Date.now());
  return d.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
}

/** A language tag as its name in the page language: "Persian (fa-IR)", «فارسی (fa-IR)». */
function languageName(tag) {
  if (!tag) return "–";
  let name = "";
  try { name = new Intl.DisplayNames(LOCALE || "en", { type: "language" }).of(tag.split("-")[0]); } catch (e) { name = ""; }
  return name && name !== tag ? `${name} (${tag})` : tag;
}

/* On a phone the menu is a row that scrolls sideways: keep the current page's link in view
   (on right-to-left pages it would start off screen). */
const currentNav = document.querySelector('.nav a[aria-current="page"]');
if (currentNav) currentNav.scrollIntoView({ block: "nearest", inline: "nearest" });
