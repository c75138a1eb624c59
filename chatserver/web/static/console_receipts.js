/* Read receipts, each way: we tell the visitor which of their lines the agent has seen (this
   chat on screen, the tab visible), and mark our lines their widget has shown as "Read". A
   visitor's line the agent has not seen counts as unread and raises the alerts.

   The server keeps how far the agent side has read each chat (the welcome's read_seq) and
   passes each of our receipts on to our other consoles, so lines read on one device are not
   unread, nor alerted, on another. The visitor's mark it only passes on; both marks are also
   kept in this browser (localStorage), so a reload does not forget that the visitor read our
   lines. A read that arrives before its chat is drawn (the widget repeats its mark when a new
   agent joins, as the accept is still settling) waits for it. */

import { chats, me, view } from "./console_state.js";
import { socket } from "./console_connection.js";
import { lineBeep, notify } from "./console_alerts.js";

const STORE = `helpdesk.receipts.${me.id}.`;
// 7 days: longer than any chat stays in a console's list; older marks are dropped at load.
const KEEP_MS = 7 * 24 * 3600 * 1000;
const early = new Map(); // conversation id -> the visitor's read seq, for a chat not drawn yet

function load(cid) {
  try { return JSON.parse(localStorage.getItem(STORE + cid)) || {}; } catch (e) { return {}; }
}

function save(chat) {
  try {
    localStorage.setItem(STORE + chat.id, JSON.stringify({ readSent: chat.readSent,
      visitorRead: chat.visitorRead, at: Date.now() }));
  } catch (e) { /* storage full or refused: the marks last as long as the page */ }
}

(function prune() {
  try {
    for (const key of Object.keys(localStorage)) {
      if (!key.startsWith(STORE)) continue;
      const at = Number((JSON.parse(localStorage.getItem(key)) || {}).at) || 0;
      if (Date.now() - at > KEEP_MS) localStorage.removeItem(key);
    }
  } catch (e) { /* nothing to tidy */ }
}());

/** A new chat's marks: what this browser remembers of it, and a read that came first. */
export function restoreReceipts(cid) {
  const kept = load(cid);
  const visitorRead = Math.max(Number(kept.visitorRead) || 0, early.get(cid) || 0);
  early.delete(cid);
  return { readSent: Number(kept.readSent) || 0, visitorRead };
}

/** The chat is on screen: the open one, the tab in view, and its transcript laid out (on a
    phone or tablet the chat's view rather than the list's or the visitor panel's). */
export function onScreen(chat) {
  return chat.id === view.activeId && !document.hidden && chat.list.getClientRects().length > 0;
}

/** Whether a line shows in the transcript's view, enough to read (its first 24 px, or all of
    it): at or above the bottom edge of the transcript and of the window. A line scrolled past
    above counts: the agent saw it on the way up or chose to skip it. */
function inView(node, box) {
  const r = node.getBoundingClientRect();
  const bottom = Math.min(box.getBoundingClientRect().bottom, window.innerHeight);
  return r.height > 0 && Math.min(r.bottom, r.top + 24) <= bottom + 1;
}

/** The last visitor line the agent can see in the chat's transcript (its seq; 0: none). */
function seenUpTo(chat) {
  const lines = chat.list.querySelectorAll(".line-visitor[data-seq]");
  for (let i = lines.length - 1; i >= 0; i--) {
    if (Number(lines[i].dataset.seq) && inView(lines[i], chat.list)) return Number(lines[i].dataset.seq);
  }
  return 0;
}

/** Tell the visitor we read their lines, only those on screen: the chat on screen and each line
    in the transcript's view (scrolled up, a new line below waits until the agent scrolls to it:
    the transcript calls this on scroll). */
export function markRead(chat) {
  if (!chat || chat.state !== "assigned" || !onScreen(chat) || chat.lastVisitorSeq <= chat.readSent) return;
  const seq = Math.min(chat.lastVisitorSeq, seenUpTo(chat));
  if (seq > chat.readSent && socket.raw({ type: "read", conversation_id: chat.id, seq })) {
    chat.readSent = seq;
    save(chat);
  }
}

/** The agent side read the chat up to `seq` elsewhere: on another device (the server passes
    each receipt on to the agent's other consoles) or before this page (the welcome's
    read_seq). Those lines are not unread here either; true when the count went down. */
export function readUpTo(chat, seq) {
  if (!(Number(seq) > chat.readSent)) return false;
  chat.readSent = Number(seq);
  save(chat);
  const left = Array.from(chat.list.querySelectorAll(".line-visitor[data-seq]"))
    .filter((li) => Number(li.dataset.seq) > chat.readSent).length;
  if (chat.unread <= left) return false;
  chat.unread = left;
  return true;
}

/** The visitor's widget showed our lines up to `seq` (in chat `cid`, if not drawn yet). */
export function visitorRead(chat, seq, cid) {
  if (!chat) { early.set(cid, Math.max(early.get(cid) || 0, Number(seq) || 0)); return; }
  if (Number(seq) <= chat.visitorRead) return;
  chat.visitorRead = Number(seq);
  save(chat);
  renderReceipts(chat);
}

/** The agents' lines the visitor's widget has shown say "Read ✓✓" (the widget tells only what
    was on screen: panel open, tab visible); the word is what a screen reader says. */
export function renderReceipts(chat) {
  for (const li of chat.list.querySelectorAll(".line-agent:not(.pending):not(.failed)")) {
    const seq = Number(li.dataset.seq);
    if (!seq || seq > chat.visitorRead) continue;
    const state = li.querySelector(".delivery") || li.appendChild(el("div", { class: "delivery" }));
    if (state.dataset.state === "read") continue;
    state.dataset.state = "read";
    state.replaceChildren(el("span", {}, t("Read")), " ", el("span", { "aria-hidden": "true" }, "✓✓"));
  }
}

/** A visitor's line: unread, with a soft beep and a desktop notification, unless the agent
    sees it now (its chat on screen, the tab visible) or read it before a reload. `open` shows
    its chat (a click on the notification). */
export function visitorLine(chat, frame, open) {
  if ((frame.seq && frame.seq <= chat.readSent) || onScreen(chat)) return;
  chat.unread += 1;
  lineBeep();
  const title = chat.visitorName ? t("New message from {name}", { name: chat.visitorName })
    : t("New message from a visitor");
  const said = frame.text || (frame.attachment ? t("Sent a file: {name}", { name: frame.attachment.name }) : "");
  notify(title, said, { tag: `chat-${chat.id}`, always: true,
    onclick: () => { if (chats.has(chat.id)) open(); } });
}
