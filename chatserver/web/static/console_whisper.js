/* A supervisor's hand in my chats (docs/protocol.md, "Whisper and take-over"). Their whisper is
   drawn in the transcript like any line (transcript.js) and alerts me: a beep and a toast. A chat
   a supervisor took over from me ends with their name. A chat I took over from the supervisor
   view comes as `assigned` with no offer before it: it opens here at once, with its transcript.
   Two calls from console_dispatch.js: supervised() before a frame is drawn, takenOver(). */

import { chats, me } from "./console_state.js";
import { socket } from "./console_connection.js";
import { beep } from "./console_alerts.js";
import { addChat, finish, select } from "./console_chats.js";
import { addFrame } from "./console_frames.js";

// A whisper older than this came with a reload's catch-up: drawn, not announced again.
const FRESH_MS = 60000;
const taking = new Set(); // chats being opened after a take-over (their transcript loading)

/** Before `frame` is drawn in `chat`: announce a new whisper; end a chat taken from me. */
export function supervised(chat, frame) {
  if (frame.type === "whisper" && frame.author_id !== me.id && !chat.seqs.has(frame.seq)
      && Date.now() - Date.parse(frame.ts) < FRESH_MS) {
    beep();
    toast(t("{name} whispered: {text}", { name: isolate(frame.author || t("A supervisor")), text: isolate(frame.text) }), "info", 8000);
  }
  const p = frame.payload || {};
  if (frame.type === "event" && frame.event === "transferred" && p.take_over && p.from_agent === me.id) {
    finish(chat, "transferred", t("{name} took over this chat. It has left your list.", { name: isolate(p.by || t("A supervisor")) }));
  }
}

/** `assigned` to me for a chat I was not offered: I took it over. Open it with its transcript,
    then follow it live from there. */
export async function takenOver(frame) {
  const cid = frame.conversation_id;
  if (chats.has(cid) || taking.has(cid)) return;
  taking.add(cid);
  const result = await api("GET", `/api/conversations/${encodeURIComponent(cid)}/transcript`);
  taking.delete(cid);
  if (chats.has(cid)) return;
  const conv = (result.ok && result.data.conversation) || {};
  const chat = addChat({ id: cid, language: conv.language || "", topic: conv.topic || "", visitorId: conv.visitor_id || "" });
  for (const f of (result.ok && result.data.events) || []) addFrame(chat, f, { quiet: true });
  select(cid);
  socket.raw({ type: "resume", conversation_id: cid, after_seq: chat.lastSeq });
}
