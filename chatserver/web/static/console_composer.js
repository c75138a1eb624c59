/* The composer: reply or private note, Enter to send, the canned picker's keys; a reply that
   began as an entry's answer is sent with that entry_id. */

import { chats, me, pending, view, $ } from "./console_state.js";
import { socket } from "./console_connection.js";
import { stopTyping, typed } from "./console_typing.js";
import { choosePick, hidePicker, movePick, updatePicker } from "./console_canned.js";
import { renderTab, scrollDown } from "./console_chats.js";

export function setMode(next) {
  view.mode = next;
  const mode = view.mode;
  $("mode-reply").setAttribute("aria-selected", String(mode === "reply"));
  $("mode-note").setAttribute("aria-selected", String(mode === "note"));
  $("composer").classList.toggle("composer-note", mode === "note");
  $("composer-text").placeholder = mode === "note" ? t("Private note — only your team sees it") : t("Write a reply… type / for canned responses");
  $("send-btn").textContent = mode === "note" ? t("Add note") : t("Send");
  if (mode === "note") stopTyping();
}

function send() {
  const chat = chats.get(view.activeId);
  const box = $("composer-text");
  const text = box.value.trim();
  if (!chat || !text || chat.state !== "assigned") return;
  const kind = view.mode === "note" ? "note" : "message";
  const fields = { conversation_id: chat.id, text };
  // A reply that began as an entry's answer (Insert, a linked canned response) says so: the
  // visitor's question becomes a proposed phrasing of that entry for an admin to approve.
  if (kind === "message" && chat.fromEntry) {
    fields.entry_id = chat.fromEntry.id;
    chat.usedEntries.set(chat.fromEntry.id, chat.fromEntry.title);
  }
  if (kind === "message") chat.fromEntry = null;
  const id = socket.request(kind, fields);
  const node = kind === "note"
    ? renderFrame({ type: "note", author: me.name, text, id, ts: Date.now() })
    : renderFrame({ type: "message", from: "agent", author: me.name, text, id, ts: Date.now() });
  node.classList.add("pending");
  node.append(el("div", { class: "delivery" }, t("Sending…")));
  chat.list.append(node);
  pending.set(id, { kind, cid: chat.id, node, text });
  if (kind === "message") chat.preview = { who: "you", text };
  renderTab(chat);
  box.value = "";
  chat.draft = "";
  stopTyping();
  hidePicker();
  scrollDown(chat, true);
}

export function wireComposer() {
  $("mode-reply").addEventListener("click", () => { setMode("reply"); $("composer-text").focus(); });
  $("mode-note").addEventListener("click", () => { setMode("note"); $("composer-text").focus(); });
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("composer-text").addEventListener("input", () => {
    const chat = chats.get(view.activeId);
    if (chat && !$("composer-text").value.trim()) chat.fromEntry = null; // cleared: not the entry's
    typed(); updatePicker();
  });
  $("composer-text").addEventListener("keydown", (e) => {
    if (!$("canned-picker").hidden) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); movePick(e.key === "ArrowDown" ? 1 : -1); return; }
      if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choosePick(); return; }
      if (e.key === "Escape") { e.preventDefault(); hidePicker(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
}
