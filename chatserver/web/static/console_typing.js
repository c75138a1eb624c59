/* Our typing indicator: the visitor sees "typing" while we write a reply, not a note. */

import { chats, view } from "./console_state.js";
import { socket } from "./console_connection.js";

const TYPING_IDLE_MS = 2500; // stop "typing" this long after the last key

let myTyping = null; // {cid, timer} while we told the visitor we are typing

export function typed() {
  const chat = chats.get(view.activeId);
  if (!chat || chat.state !== "assigned" || view.mode !== "reply") return;
  if (!myTyping || myTyping.cid !== chat.id) {
    stopTyping();
    socket.raw({ type: "typing", conversation_id: chat.id, on: true });
    myTyping = { cid: chat.id, timer: null };
  }
  clearTimeout(myTyping.timer);
  myTyping.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

export function stopTyping() {
  if (!myTyping) return;
  clearTimeout(myTyping.timer);
  const chat = chats.get(myTyping.cid);
  if (chat && chat.state === "assigned") socket.raw({ type: "typing", conversation_id: myTyping.cid, on: false });
  myTyping = null;
}
