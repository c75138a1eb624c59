/* A chat's transcript: each conversation frame drawn once (by seq, in seq order) with
   renderFrame (transcript.js), our own lines marked sent, and the chat's facts kept current. */

import { chats, me, pending, view } from "./console_state.js";
import { finish, openChat, renderHeader, renderTab, scrollDown, visitorTyping } from "./console_chats.js";
import { updateTitle } from "./console_rail.js";
import { markRead, renderReceipts, visitorLine } from "./console_receipts.js";
import { assist } from "./console_assist.js";
import { notify } from "./console_alerts.js";
import { labelFrame } from "./console_labels.js";
import { visitorMoved } from "./console_visitor.js";

/** Add one conversation frame to a chat, once (by seq), and keep the chat's facts current. */
export function addFrame(chat, frame, { quiet = false } = {}) {
  if (frame.seq) {
    if (chat.seqs.has(frame.seq)) return;
    chat.seqs.add(frame.seq);
    chat.lastSeq = Math.max(chat.lastSeq, frame.seq);
  }
  if (frame.type === "event" && frame.event === "started") {
    const p = frame.payload || {};
    chat.visitorName = chat.visitorName || p.visitor_name || "";
    chat.language = chat.language || p.language || "";
    chat.topic = chat.topic || p.topic || "";
    if (chat.id === view.activeId) renderHeader(chat);
  }
  // Our own line, drawn when sent, arrives back from the server: just mark it delivered.
  if (frame.type === "message" && frame.id) {
    const mine = chat.list.querySelector(`li[data-id="${CSS.escape(frame.id)}"]`);
    if (mine) { markSent(mine, frame.seq); return; }
  }
  if (frame.type === "note") { // note frames carry no id: match our unsent note by its text
    for (const [id, item] of pending) {
      if (item.kind === "note" && item.cid === chat.id && item.text === frame.text) {
        pending.delete(id);
        markSent(item.node, frame.seq);
        return;
      }
    }
  }
  if (frame.type === "label") labelFrame(chat, frame);
  if (frame.type === "event" && frame.event === "rehomed") { // the visitor logged in
    visitorMoved(chat, (frame.payload || {}).visitor_id)
      .then(() => { renderTab(chat); if (chat.id === view.activeId) renderHeader(chat); });
  }
  const node = renderFrame(frame);
  // The visitor's and the bot's words are in the chat's language, the page in the agent's: marked,
  // a screen reader reads them in that language's voice (WCAG 3.1.2).
  const bubble = node && chat.language && /^(visitor|bot)$/.test(frame.from) && node.querySelector(".bubble");
  if (bubble) bubble.lang = chat.language;
  if (node) insertBySeq(chat, node, frame.seq);
  if (node && frame.from === "agent") renderReceipts(chat);
  if (frame.type === "message") {
    const said = frame.text || (frame.attachment ? t("File: {name}", { name: isolate(frame.attachment.name) }) : "");
    // An integration's line is under its own name: never "You", which the agent did not say.
    const who = frame.from === "bot" ? "bot" : frame.from === "integration" ? "name" : "you";
    chat.preview = frame.from === "visitor" ? said : { who, name: frame.author || "", text: said };
    if (frame.from === "visitor") {
      if (frame.text) chat.lastVisitorText = frame.text; // a file alone asks the assist nothing
      chat.lastVisitorSeq = Math.max(chat.lastVisitorSeq, frame.seq || 0);
      visitorTyping(chat, false);
      if (!quiet) visitorLine(chat, frame, () => openChat(chat.id));
      if (chat.id === view.activeId && !quiet) assist(chat);
    }
  }
  if (frame.type === "closed" && chat.state === "assigned") {
    finish(chat, "closed", frame.by !== "visitor" ? t("This chat was closed.")
      : (chat.visitorName ? tParts(t("{name} left the chat."), { name: chat.visitorName }) : t("The visitor left the chat.")));
  }
  if (frame.type === "event" && frame.event === "transferred" && (frame.payload || {}).from_agent === me.id) {
    finish(chat, "transferred", t("Transferred. The chat has left your list."));
  }
  // Silent too long (docs/routing.md): a nudge, then (if the desk says so) the chat moves on.
  if (frame.type === "event" && frame.event === "silent" && (frame.payload || {}).agent_id === me.id) {
    chat.silent = true;
    if (!quiet) {
      toast(chat.visitorName ? t("{name} is waiting for your reply", { name: isolate(chat.visitorName) })
        : t("The visitor is waiting for your reply"), "info", 6000);
      notify(t("A visitor is waiting for your reply"), chat.visitorName || "");
    }
  }
  if (frame.type === "message" && frame.from === "agent") chat.silent = false;
  if (frame.type === "event" && frame.event === "queued" && (frame.payload || {}).reason === "silent_agent"
      && frame.payload.from_agent === me.id) {
    finish(chat, "transferred", t("No reply in time: the chat was offered to another agent."));
  }
  renderTab(chat);
  updateTitle();
  if (chat.id === view.activeId) scrollDown(chat);
  // after the scroll: a visitor's line is read only once it is in the transcript's view
  if (frame.type === "message" && frame.from === "visitor") markRead(chat);
}

function insertBySeq(chat, node, seq) {
  if (seq) {
    node.dataset.seq = String(seq);
    const later = Array.from(chat.list.children).reverse().find((li) => li.dataset.seq && Number(li.dataset.seq) <= seq);
    if (later) { later.after(node); return; }
    if (chat.list.firstChild && chat.list.firstChild.dataset.seq) { chat.list.prepend(node); return; }
  }
  chat.list.append(node);
}

export function markSent(node, seq) {
  node.classList.remove("pending");
  if (seq) node.dataset.seq = String(seq);
  const state = node.querySelector(".delivery");
  // The word is what a screen reader says; the tick is for the eye (as "Read ✓✓" is).
  if (state) state.replaceChildren(el("span", {}, t("Sent")), " ", el("span", { "aria-hidden": "true" }, "✓"));
  const chat = chats.get(node.closest("ol").dataset.cid);
  if (chat && seq) { chat.seqs.add(seq); chat.lastSeq = Math.max(chat.lastSeq, seq); renderReceipts(chat); }
}
