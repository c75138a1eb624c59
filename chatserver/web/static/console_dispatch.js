/* Every frame from the agent socket, handed to the part it concerns; acks and errors settle the
   frame we sent (accept, message, note, transfer, close) that they answer. */

import { chats, me, offers, pending, view } from "./console_state.js";
import { socket } from "./console_connection.js";
import { setStatus, showQueue } from "./console_status.js";
import { addOffer, removeOffer, renderOffers, takeOffer } from "./console_offers.js";
import { addChat, finish, renderTab, visitorTyping } from "./console_chats.js";
import { addFrame, markSent } from "./console_frames.js";
import { markRead, readUpTo, visitorRead } from "./console_receipts.js";
import { updateTitle } from "./console_rail.js";
import { refreshLabels } from "./console_labels.js";
import { supervised, takenOver } from "./console_whisper.js";

/** (Re)connected: the server's view of my status, queue and chats; catch up on each open chat. */
export function welcome(frame) {
  setStatus(frame.agent.status);
  showQueue(frame.queue);
  refreshLabels();
  for (const offer of offers.values()) offer.node.remove(); // the server took them back
  offers.clear();
  renderOffers();
  for (const conv of frame.conversations || []) {
    if (conv.state === "assigned" && !chats.has(conv.id)) {
      addChat({ id: conv.id, language: conv.language, topic: conv.topic, visitorId: conv.visitor_id });
    }
    readElsewhere(chats.get(conv.id), conv.read_seq); // before the resume replays its lines
  }
  for (const chat of chats.values()) {
    if (chat.state === "assigned") socket.raw({ type: "resume", conversation_id: chat.id, after_seq: chat.lastSeq });
  }
  markRead(chats.get(view.activeId));
}

export function handleFrame(frame) {
  const chat = chats.get(frame.conversation_id);
  switch (frame.type) {
    case "offer": return addOffer(frame);
    case "offer_revoked": return removeOffer(frame.conversation_id, frame.reason);
    case "status": return setStatus(frame.status, true);
    case "queue_snapshot": return showQueue(frame);
    case "ack": return acked(frame);
    case "error": return failed(frame);
    case "assigned":
      if (frame.agent_id === me.id && !chat && offers.has(frame.conversation_id)) {
        takeOffer(frame.conversation_id);
      }
      if (frame.agent_id === me.id && !chats.has(frame.conversation_id)) return takenOver(frame); // no offer: taken over
      break;
    case "typing":
      if (chat && frame.from === "visitor") visitorTyping(chat, frame.on);
      return;
    case "read":
      if (frame.from === "visitor") visitorRead(chat, frame.seq, frame.conversation_id);
      else readElsewhere(chat, frame.seq); // ours, from another of our consoles
      return;
    default:
      break;
  }
  if (chat) supervised(chat, frame); // a whisper's alert, a take-over's end (console_whisper.js)
  if (chat) addFrame(chat, frame);
}

/** Our side read a chat up to `seq` on another device or before this page: its count follows. */
function readElsewhere(chat, seq) {
  if (chat && readUpTo(chat, seq)) { renderTab(chat); updateTitle(); }
}

function acked(frame) {
  const item = pending.get(frame.id);
  if (!item) return;
  pending.delete(frame.id);
  const chat = chats.get(item.cid);
  if (item.kind === "accept") takeOffer(item.cid);
  if (item.node) markSent(item.node, frame.seq);
  if (chat && item.kind === "message" && chat.silent) { chat.silent = false; renderTab(chat); }
  if (chat && item.kind === "close") finish(chat, "closed", t("You closed this chat."));
  if (chat && item.kind === "transfer") finish(chat, "transferred", t("Transferred. The chat has left your list."));
}

/** Why the server refused a frame, in the page language: its refusals are fixed sentences in
   the catalogue, but the text checks name a limit or a position (core/frames.py). */
function reasonOf(frame) {
  if (frame.code === "too_large") return t("the text is too long to send");
  if (/^field '\w+' contains /.test(frame.message || "")) return t("the text holds a character that cannot be sent");
  return t(frame.message || "Something went wrong");
}

function failed(frame) {
  const item = frame.id && pending.get(frame.id);
  if (!item) { if (frame.code !== "not_found") toast(reasonOf(frame), "error"); return; }
  pending.delete(frame.id);
  if (item.kind === "accept" || item.kind === "decline") {
    removeOffer(item.cid);
    toast(item.kind === "accept" ? t("That chat is no longer available.") : reasonOf(frame), "info");
    return;
  }
  if (item.node) {
    item.node.classList.remove("pending");
    item.node.classList.add("failed");
    const state = item.node.querySelector(".delivery");
    if (state) state.textContent = t("Not sent: {reason}", { reason: reasonOf(frame) });
  } else {
    toast(frame.message ? reasonOf(frame) : t("Refused"), "error");
  }
}
