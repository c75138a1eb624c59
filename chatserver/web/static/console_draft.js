/* What goes into the composer from elsewhere (a canned response, an assist entry): filled for
   this visitor, and remembered as the entry it came from so the reply can carry its entry_id. */

import { chats, me, view, $ } from "./console_state.js";
import { typed } from "./console_typing.js";

/** A canned text's placeholders ({visitor_name}, {agent_name}, {topic}, {language}) filled. */
export function fill(text, chat) {
  const values = { visitor_name: chat.visitorName || "there", agent_name: me.name,
    topic: chat.topic || "your question", language: languageName(chat.language) };
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? values[key] : whole));
}

/** The composer now holds this entry's answer (canned responses may name one: `entry_id`). */
export function usedEntry(entryId, title) {
  const chat = chats.get(view.activeId);
  if (chat && entryId) chat.fromEntry = { id: Number(entryId), title: title || `Entry ${entryId}` };
}

export function insertText(text, replaceAll) {
  const chat = chats.get(view.activeId);
  if (!chat) return;
  const box = $("composer-text");
  const filled = fill(text, chat);
  box.value = replaceAll || !box.value.trim() ? filled : `${box.value.trimEnd()}\n${filled}`;
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  typed();
}
