/* The open chat's labels: coloured chips under the visitor's name, × to take one off, a picker
   to add one. A change goes as a `label` frame (acked like any change; a failure is a toast)
   and comes back as a `label` frame, which every staff socket watching the chat receives: the
   chips follow the frames, never the click, so every screen shows the same. */

import { chats, pending, view, $ } from "./console_state.js";
import { socket } from "./console_connection.js";

/** The desk's list, again (at start and after each reconnect: an admin may have changed it). */
export function refreshLabels() {
  Labels.load(true).then(() => { const chat = chats.get(view.activeId); if (chat) renderLabels(chat); });
}

export function renderLabels(chat) {
  const box = $("chat-labels");
  // Keyboard users keep their place: focus goes back to the picker, or to the next ×.
  const active = document.activeElement;
  const had = box.contains(active) ? (active.classList.contains("label-remove") ? ".label-remove" : ".label-picker") : null;
  box.replaceChildren(Labels.bar(labelsOf(chat), (labelId, on) => setLabel(chat, labelId, on)));
  if (had) (box.querySelector(had) || box.querySelector(".label-picker")).focus();
}

/** A `label` frame of this chat (live or from the backlog, in seq order). */
export function labelFrame(chat, frame) {
  framed(chat).add(frame.label_id);
  if (!Labels.fold(labelsOf(chat), frame)) return;
  if (!Labels.known.has(frame.label_id)) refreshLabels(); // made after this page loaded
  else if (chat.id === view.activeId) renderLabels(chat);
}

/** Labels put on before this console had the chat (say by a supervisor while it queued): an
    offer's transcript holds its lines only, and catching up starts after them. A label a
    frame has spoken of since is left as the frame said (the frame is newer). */
export function fetchLabels(chat) {
  api("GET", `/api/conversations/${encodeURIComponent(chat.id)}/labels`).then((result) => {
    if (!result.ok) return;
    const labels = labelsOf(chat);
    let changed = false;
    for (const label of result.data.labels) {
      if (framed(chat).has(label.id)) continue;
      labels.set(label.id, { id: label.id, name: label.name, colour: label.colour });
      changed = true;
    }
    if (changed && chat.id === view.activeId) renderLabels(chat);
  });
}

function framed(chat) {
  if (!chat.labelFrames) chat.labelFrames = new Set(); // label ids a frame has spoken of
  return chat.labelFrames;
}

function labelsOf(chat) {
  if (!chat.labels) chat.labels = new Map();
  return chat.labels;
}

function setLabel(chat, labelId, on) {
  const id = socket.request("label", { conversation_id: chat.id, label_id: labelId, on });
  pending.set(id, { kind: "label", cid: chat.id });
}
