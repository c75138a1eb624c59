/* Read receipts: ours when the visitor's lines are on screen, theirs on our lines. */

import { view } from "./console_state.js";
import { socket } from "./console_connection.js";

/** Tell the visitor we read their lines, only when they are on screen: this chat, tab visible. */
export function markRead(chat) {
  if (!chat || chat.id !== view.activeId || document.hidden || chat.state !== "assigned") return;
  if (chat.lastVisitorSeq > chat.readSent
      && socket.raw({ type: "read", conversation_id: chat.id, seq: chat.lastVisitorSeq })) {
    chat.readSent = chat.lastVisitorSeq;
  }
}

export function visitorRead(chat, seq) {
  chat.visitorRead = Math.max(chat.visitorRead, Number(seq) || 0);
  renderReceipts(chat);
}

/** The agents' lines the visitor's widget has shown say "Read ✓✓" (the widget tells only what
    was on screen: panel open, tab visible). */
export function renderReceipts(chat) {
  for (const li of chat.list.querySelectorAll(".line-agent:not(.pending):not(.failed)")) {
    const seq = Number(li.dataset.seq);
    if (!seq || seq > chat.visitorRead) continue;
    const state = li.querySelector(".delivery") || li.appendChild(el("div", { class: "delivery" }));
    if (state.textContent !== "Read ✓✓") state.textContent = "Read ✓✓";
  }
}
