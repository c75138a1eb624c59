/* What goes into the composer from elsewhere (a canned response, an assist entry): filled for
   this visitor, and remembered as the entry it came from so the reply can carry its entry_id. */

import { chats, me, view, $ } from "./console_state.js";
import { typed } from "./console_typing.js";

/* {visitor.name} of a visitor who gave none, per language ("there", «دوست عزیز»): the server's
   list (core/canned.py NAME_FALLBACK), which console_canned.js puts here when it loads. */
export const nameFallback = {};

/** A canned text's placeholders filled for this chat, `language` being the text's: {visitor.name}
   (the language's fallback when the visitor gave none), {visitor.first_name}, {visitor.email},
   {agent.name}, {conversation.id}; `{{` and `}}` are braces. A placeholder with no value (no
   verified e-mail) stays as written, for the agent to see before sending. */
export function fill(text, chat, language = chat.language) {
  const base = (language || "").split("-")[0].toLowerCase();
  const name = (chat.visitorName || "").trim();
  const fallback = nameFallback[base] || nameFallback.en || "";
  const values = { "visitor.name": name || fallback, "visitor.first_name": name ? name.split(/\s+/)[0] : fallback,
    "visitor.email": (chat.visitor && chat.visitor.email) || "", "agent.name": me.name, "conversation.id": chat.id };
  return text.replace(/\{\{|\}\}|\{([a-z_.]+)\}/g, (whole, key) => {
    if (whole === "{{" || whole === "}}") return whole[0];
    return Object.hasOwn(values, key) && values[key] ? values[key] : whole;
  });
}

/** The composer now holds this entry's answer (canned responses may name one: `entry_id`). */
export function usedEntry(entryId, title) {
  const chat = chats.get(view.activeId);
  if (chat && entryId) chat.fromEntry = { id: Number(entryId), title: title || `Entry ${entryId}` };
}

export function insertText(text, replaceAll, language) {
  const chat = chats.get(view.activeId);
  if (!chat) return;
  const box = $("composer-text");
  const filled = fill(text, chat, language || chat.language);
  box.value = replaceAll || !box.value.trim() ? filled : `${box.value.trimEnd()}\n${filled}`;
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  typed();
}
