/* My chats: one tab each in the rail, the open chat's header and side card, the visitor's typing
   indicator, and a chat's end (closed, transferred) and removal from the list. */

import { chats, languageShort, view, $ } from "./console_state.js";
import { renderRail, updateTitle } from "./console_rail.js";
import { markRead, onScreen, restoreReceipts } from "./console_receipts.js";
import { assist, renderAssist } from "./console_assist.js";
import { fetchLabels, renderLabels } from "./console_labels.js";
import { identityFacts, loadHistory, mark, renderHistory } from "./console_visitor.js";
import { showView } from "./console_views.js";

const VISITOR_TYPING_MS = 8000; // hide the visitor's indicator if no "off" arrives

export function addChat({ id, visitorName = "", language = "", topic = "", skills = [], visitor = null, visitorId = "" }) {
  const list = el("ol", { class: "transcript", hidden: true, dataset: { cid: id } });
  const chat = { id, visitorName, language, topic, skills, state: "assigned", seqs: new Set(),
    visitor, visitorId: visitorId || (visitor && visitor.id) || "", history: null, // console_visitor.js
    lastSeq: 0, unread: 0, draft: "", list, typing: false, typingTimer: null,
    lastVisitorText: "", assistFor: null, preview: "",
    lastVisitorSeq: 0, ...restoreReceipts(id), // read receipts, each way: readSent, visitorRead
    fromEntry: null, usedEntries: new Map() }; // entry id -> title, for the close dialog
  chat.tab = el("li", { role: "presentation" });
  // Scrolled down to lines that came below the fold: now they are read.
  list.addEventListener("scroll", () => markRead(chat), { passive: true });
  chats.set(id, chat);
  fetchLabels(chat);
  $("transcripts").append(list);
  $("chat-tabs").append(chat.tab);
  renderTab(chat);
  renderRail();
  if (!view.activeId) select(id);
  return chat;
}

export function renderTab(chat) {
  const badge = chat.unread ? el("span", { class: "unread", "aria-label": t("{n} unread", { n: fmtNumber(chat.unread) }) }, fmtNumber(chat.unread)) : null;
  const meta = [chat.language ? languageShort(chat.language) : null, chat.topic ? isolate(chat.topic) : null,
    chat.state === "closed" ? t("closed") : null, chat.state === "transferred" ? t("transferred") : null,
    chat.state === "assigned" && chat.silent ? t("waiting for your reply") : null]
    .filter(Boolean).join(" · ");
  const button = el("button", { type: "button", role: "tab", class: `tab tab-${chat.state}${chat.silent && chat.state === "assigned" ? " tab-silent" : ""}`,
    "aria-selected": String(chat.id === view.activeId), dataset: { cid: chat.id }, onclick: () => select(chat.id) },
  el("span", { class: "tab-top" }, el("span", { class: "avatar avatar-small", "aria-hidden": "true" }, (chat.visitorName || "V").slice(0, 1).toUpperCase()),
    el("span", { class: "tab-name", dir: "auto" }, chat.visitorName || t("Visitor")),
    chat.visitor && chat.visitor.verified ? mark(chat.visitor) : null, badge),
  el("span", { class: "tab-meta" }, meta),
  chat.typing ? el("span", { class: "tab-preview" }, t("typing…")) : el("span", { class: "tab-preview", dir: "auto" }, ...previewParts(chat.preview)));
  chat.tab.replaceChildren(button);
}

/** A tab's last line: "You: …" and "Bot: …" in the page language, the line itself in its own. */
function previewParts(preview) {
  if (!preview || typeof preview === "string") return [preview || ""];
  if (preview.who === "name") return tParts(t("{name}: {text}"), { name: preview.name, text: preview.text });
  return tParts(preview.who === "bot" ? t("Bot: {text}") : t("You: {text}"), { text: preview.text });
}

export function select(cid) {
  const prev = chats.get(view.activeId);
  if (prev) { prev.draft = $("composer-text").value; prev.list.hidden = true; }
  view.activeId = cid;
  const chat = chats.get(cid);
  for (const other of chats.values()) renderTab(other);
  $("empty-state").hidden = Boolean(chat);
  $("chat").hidden = !chat;
  $("visitor-card").hidden = !chat;
  if (!chat) { $("assist-card").hidden = true; return; }
  chat.unread = 0;
  renderTab(chat);
  updateTitle();
  chat.list.hidden = false;
  $("composer-text").value = chat.draft;
  renderHeader(chat);
  renderHistory(chat);
  loadHistory(chat).then(() => { renderTab(chat); if (chat.id === view.activeId) renderHeader(chat); });
  scrollDown(chat, true);
  if (chat.lastVisitorText && chat.assistFor !== chat.lastVisitorText) assist(chat);
  else renderAssist(chat);
  $("composer-text").focus();
  markRead(chat);
}

/** Select a chat and bring it on screen (a phone shows it instead of the list). */
export function openChat(cid) {
  select(cid);
  showView("chat");
}

export function renderHeader(chat) {
  $("chat-name").textContent = chat.visitorName || t("Visitor");
  const meta = [[languageName(chat.language)], chat.topic ? tParts(t("Topic: {topic}"), { topic: chat.topic }) : null,
    chat.skills && chat.skills.length ? tParts(t("Skills: {skills}"), { skills: chat.skills.join(t(", ")) }) : null].filter(Boolean);
  $("chat-meta").replaceChildren(...meta.map((m) => el("span", { class: "meta-item" }, ...m)));
  renderLabels(chat);
  const facts = [[t("Name"), chat.visitorName || "–"], ...identityFacts(chat),
    [t("Language"), languageName(chat.language)], [t("Topic"), chat.topic || "–"],
    [t("Conversation"), chat.id.slice(0, 8)]];
  $("visitor-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { dir: "auto" }, v)]));
  const open = chat.state === "assigned";
  $("composer").hidden = !open;
  $("transfer-btn").disabled = !open;
  $("close-btn").disabled = !open;
  $("closed-bar").hidden = open;
  if (!open) {
    $("closed-bar").replaceChildren(el("span", {}, ...[].concat(chat.endText || t("This chat has ended."))),
      el("button", { type: "button", class: "btn btn-small", onclick: () => removeChat(chat.id) }, t("Remove from list")));
  }
  renderTyping(chat);
}

function removeChat(cid) {
  const chat = chats.get(cid);
  if (!chat) return;
  chat.list.remove();
  chat.tab.remove();
  chats.delete(cid);
  if (view.activeId === cid) {
    view.activeId = null;
    const next = chats.keys().next();
    select(next.done ? null : next.value);
    if (next.done) showView("list", { push: false });
  }
  renderRail();
}

/** The chat has left the agent's hands. Its composer and buttons go; a focus on them (or
    already lost to the page) moves to the ended chat's bar, so the keyboard is not left on
    nothing (a screen reader would start again from the top of the page). */
export function finish(chat, state, text) {
  if (chat.state !== "assigned") return;
  chat.state = state;
  chat.endText = text;
  chat.typing = false;
  renderTab(chat);
  if (chat.id !== view.activeId) return;
  const focus = document.activeElement;
  const stranded = !focus || focus === document.body || $("chat").contains(focus);
  renderHeader(chat);
  if (stranded) $("closed-bar").querySelector("button").focus();
}

export function scrollDown(chat, force) {
  const list = chat.list;
  const near = list.scrollHeight - list.scrollTop - list.clientHeight < 160;
  if (force || near) list.scrollTop = list.scrollHeight;
}

export function visitorTyping(chat, on) {
  clearTimeout(chat.typingTimer);
  chat.typing = Boolean(on) && chat.state === "assigned";
  if (chat.typing) chat.typingTimer = setTimeout(() => visitorTyping(chat, false), VISITOR_TYPING_MS);
  renderTab(chat);
  if (chat.id === view.activeId) renderTyping(chat);
}

function renderTyping(chat) {
  $("typing").hidden = !chat.typing;
  $("typing-text").replaceChildren(...(chat.visitorName ? tParts(t("{name} is typing…"), { name: chat.visitorName })
    : [t("The visitor is typing…")]));
}

/** Back on the tab, or (on a narrow screen) back on the chat's view: its lines are now seen. */
export function watchVisibility() {
  const seen = () => {
    const chat = chats.get(view.activeId);
    if (chat && onScreen(chat)) { chat.unread = 0; renderTab(chat); updateTitle(); markRead(chat); }
  };
  document.addEventListener("visibilitychange", seen);
  // On a narrow screen the open chat comes on screen with its view (console_views.js).
  new MutationObserver(seen).observe($("console"), { attributes: true, attributeFilter: ["data-view"] });
}
