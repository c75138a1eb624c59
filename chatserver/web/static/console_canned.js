/* Canned responses: the side list, and the picker "/" opens in the composer; placeholders are
   filled for this visitor, and one that names an entry_id marks the reply as that entry's. */

import { chats, view, $ } from "./console_state.js";
import { fill, insertText, usedEntry } from "./console_draft.js";

let canned = [];
let pickIndex = 0;
let picks = [];

export function updatePicker() {
  const value = $("composer-text").value;
  const match = /^\/(\S*)$/.exec(value);
  if (!match) { hidePicker(); return; }
  const q = match[1].toLowerCase();
  picks = canned.filter((c) => c.shortcut.startsWith(q) || c.title.toLowerCase().includes(q));
  if (!picks.length) { hidePicker(); return; }
  pickIndex = Math.min(pickIndex, picks.length - 1);
  renderPicker();
}

function renderPicker() {
  const chat = chats.get(view.activeId);
  const picker = $("canned-picker");
  picker.replaceChildren(...picks.map((c, i) => el("li", { role: "option", "aria-selected": String(i === pickIndex),
    onmousedown: (e) => { e.preventDefault(); pickIndex = i; choosePick(); } },
  el("span", { class: "pick-key" }, `/${c.shortcut}`), el("span", { class: "pick-title" }, c.title),
  el("span", { class: "pick-text" }, chat ? fill(c.text, chat) : c.text))));
  picker.hidden = false;
}

export function movePick(delta) { pickIndex = (pickIndex + delta + picks.length) % picks.length; renderPicker(); }
export function hidePicker() { $("canned-picker").hidden = true; pickIndex = 0; }
export function choosePick() {
  const choice = picks[pickIndex];
  hidePicker();
  if (choice) { insertText(choice.text, true); usedEntry(choice.entry_id, choice.title); }
}

export async function loadCanned() {
  try {
    const response = await fetch("/static/canned.json", { credentials: "same-origin" });
    canned = await response.json();
  } catch (e) { canned = []; }
  $("canned-list").replaceChildren(...canned.map((c) => el("li", {},
    el("button", { type: "button", class: "canned-item", title: c.text, onclick: () => { insertText(c.text, false); usedEntry(c.entry_id, c.title); } },
      el("span", { class: "pick-key" }, `/${c.shortcut}`), el("span", {}, c.title)))));
}
