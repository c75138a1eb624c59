/* Canned responses in the console (/api/canned): the side list, and the picker "/" opens in the
   composer, the agent's own first, each in the visitor's language (else the desk's, else any),
   filled for this visitor; one that names an entry_id marks the reply as that entry's.
   Agents keep their own here, in a dialog over the chat: mid-chat they write a reply worth
   keeping, and "Save as my response" takes it from the composer without leaving the visitor
   (/account would cost the chat on screen and the draft); it is in the picker at once. */

import { chats, view, $ } from "./console_state.js";
import { fill, insertText, nameFallback, usedEntry } from "./console_draft.js";
import { cannedEditor, slashed } from "./canned_editor.js";

let canned = [];
let defaultLanguage = "en";
let placeholders = [];
let pickIndex = 0;
let picks = [];
let loadedAt = 0;
// An admin's edit reaches a console when its picker next opens after this long (ms): a
// console stays open all shift, and one list read a minute per agent costs nothing.
const STALE_MS = 60_000;

/** The response's text for this chat and its language: the visitor's, the desk's, or any. */
export function variantFor(response, chat) {
  const variants = response.variants || {};
  const wanted = ((chat && chat.language) || "").split("-")[0].toLowerCase();
  const language = [wanted, defaultLanguage].find((tag) => tag && variants[tag]) || Object.keys(variants)[0];
  return { language, text: variants[language] || "" };
}

export function updatePicker() {
  const value = $("composer-text").value;
  const match = /^\/(\S*)$/.exec(value);
  if (!match) { hidePicker(); return; }
  if (Date.now() - loadedAt > STALE_MS) { loadedAt = Date.now(); loadCanned().then(() => { if (!$("canned-picker").hidden) updatePicker(); }); }
  // Folded as the server stores shortcuts (NFKC, lower case): a full-width ｈｉ finds /hi.
  const q = match[1].normalize("NFKC").toLowerCase();
  // The shortcut typed whole first, then shortcuts it begins, then titles holding it; each
  // group keeps the list's order (the agent's own first).
  const rank = (c) => (c.shortcut === q ? 0 : c.shortcut.startsWith(q) ? 1 : c.title.toLowerCase().includes(q) ? 2 : 3);
  picks = canned.filter((c) => rank(c) < 3).sort((a, b) => rank(a) - rank(b));
  if (!picks.length) { hidePicker(); return; }
  pickIndex = Math.min(pickIndex, picks.length - 1);
  renderPicker();
}

function mineMark(c) {
  return c.scope === "personal" ? el("span", { class: "canned-mine" }, t("mine")) : null;
}

function renderPicker() {
  const chat = chats.get(view.activeId);
  const picker = $("canned-picker");
  picker.replaceChildren(...picks.map((c, i) => {
    const { language, text } = variantFor(c, chat);
    return el("li", { role: "option", "aria-selected": String(i === pickIndex), dataset: { shortcut: c.shortcut },
      onmousedown: (e) => { e.preventDefault(); pickIndex = i; choosePick(); } },
    el("span", { class: "pick-key", dir: "auto" }, `/${c.shortcut}`), el("span", { class: "pick-title", dir: "auto" }, c.title, mineMark(c)),
    el("span", { class: "pick-text", dir: "auto", lang: language }, chat ? fill(text, chat, language) : text));
  }));
  picker.hidden = false;
}

export function movePick(delta) { pickIndex = (pickIndex + delta + picks.length) % picks.length; renderPicker(); }
export function hidePicker() { $("canned-picker").hidden = true; pickIndex = 0; }
export function choosePick() {
  const choice = picks[pickIndex];
  hidePicker();
  if (choice) use(choice, true);
}

function use(response, replaceAll) {
  const { language, text } = variantFor(response, chats.get(view.activeId));
  insertText(text, replaceAll, language);
  usedEntry(response.entry_id, response.title);
}

export async function loadCanned() {
  loadedAt = Date.now();
  const result = await api("GET", "/api/canned");
  if (result.ok) {
    canned = result.data.responses;
    defaultLanguage = result.data.default_language;
    placeholders = result.data.placeholders;
    Object.assign(nameFallback, result.data.name_fallback);
  }
  renderList();
}

function renderList() {
  const list = $("canned-list");
  if (!list.previousElementSibling || !list.previousElementSibling.classList.contains("canned-tools")) {
    list.before(el("p", { class: "canned-tools" }, el("button", { type: "button", class: "btn btn-small", id: "canned-save-mine", onclick: () => openDialog(null) }, t("Save as my response"))));
  }
  list.replaceChildren(...canned.map((c) => el("li", { class: "canned-row" },
    el("button", { type: "button", class: "canned-item", dataset: { shortcut: c.shortcut }, onclick: () => use(c, false) },
      el("span", { class: "pick-key", dir: "auto" }, `/${c.shortcut}`), el("span", { dir: "auto" }, c.title), mineMark(c)),
    c.scope === "personal" ? el("button", { type: "button", class: "btn-quiet canned-edit", "aria-label": t("Edit {shortcut}", { shortcut: slashed(c.shortcut) }),
      title: t("Edit"), onclick: () => openDialog(c) }, "✎") : null)));
}

// --- the agent's own: one dialog, made the first time it is needed ----------------------------

let dialog = null;
let editor = null;
let editing = null; // the response being edited (as loaded), or null for a new one

function buildDialog() {
  editor = cannedEditor({ placeholders, idPrefix: "mine" });
  const remove = el("button", { type: "button", class: "btn btn-danger-quiet", id: "mine-delete", onclick: removeMine }, t("Delete"));
  dialog = el("dialog", { class: "dialog dialog-wide canned-dialog", id: "canned-dialog", "aria-labelledby": "canned-dialog-title" },
    el("h2", { id: "canned-dialog-title" }),
    editor.form,
    el("div", { class: "dialog-actions" }, remove, el("span", { class: "spacer" }),
      el("button", { type: "button", class: "btn", onclick: () => dialog.close() }, t("Cancel")),
      el("button", { type: "button", class: "btn btn-primary", id: "mine-save", onclick: saveMine }, t("Save"))));
  editor.form.addEventListener("submit", (e) => { e.preventDefault(); saveMine(); });
  document.body.append(dialog);
}

/** Edit one of mine, or (null) start one from what the composer holds, in the chat's language. */
function openDialog(response) {
  if (!dialog) buildDialog();
  editing = response;
  const chat = chats.get(view.activeId);
  const language = (chat && chat.language ? chat.language.split("-")[0].toLowerCase() : "") || defaultLanguage;
  if (response) {
    editor.load(response, variantFor(response, chat).language);
  } else {
    const draft = $("composer-text").value.trim();
    editor.load({ variants: draft && !draft.startsWith("/") ? { [language]: draft } : {} }, language);
  }
  $("canned-dialog-title").textContent = response ? t("Edit my response {shortcut}", { shortcut: slashed(response.shortcut) }) : t("New response of my own");
  $("mine-delete").hidden = !response;
  dialog.showModal();
  editor.focus();
}

async function saveMine() {
  const body = editor.value();
  const result = editing
    ? await api("PUT", `/api/canned/${editing.id}`, { ...body, version: editing.version })
    : await api("POST", "/api/canned", { ...body, scope: "personal" });
  if (result.status === 409) {
    editor.showError({ message: t("This response changed in another window. Close, then edit it again.") });
    return;
  }
  if (!result.ok) { editor.showError(result.data); return; }
  dialog.close();
  toast(editing ? t("Saved.") : t("Saved: type {shortcut} to use it.", { shortcut: slashed(result.data.shortcut) }));
  await loadCanned();
}

async function removeMine() {
  if (!editing || !window.confirm(t("Delete {shortcut}?", { shortcut: slashed(editing.shortcut) }))) return;
  const result = await api("DELETE", `/api/canned/${editing.id}`);
  if (!result.ok) { editor.showError(result.data); return; }
  dialog.close();
  await loadCanned();
}
