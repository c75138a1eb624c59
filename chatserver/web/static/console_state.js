/* The console's shared state: who I am, my chats, the open offers, the frames awaiting their ack
   and what is on screen. Every console_*.js part reads and changes these, never a copy. */

const root = document.getElementById("console");
export const me = { id: Number(root.dataset.userId), name: root.dataset.displayName, role: root.dataset.role };
export const $ = (id) => document.getElementById(id);

/** A language tag as its bare name in the page language ("Persian", «فارسی»), for tight spots. */
export function languageShort(tag) {
  if (!tag) return "";
  try { return new Intl.DisplayNames(LOCALE || "en", { type: "language" }).of(tag.split("-")[0]) || tag; } catch (e) { return tag; }
}

export const chats = new Map();   // conversation id -> chat
export const offers = new Map();  // conversation id -> {conv, deadline, node}
export const pending = new Map(); // frame id -> {kind, cid, node}
// In one object because an importer cannot assign an imported binding: the open chat, the
// composer's mode ("reply" or "note") and my status ("online" or "away").
export const view = { activeId: null, mode: "reply", status: "away" };
