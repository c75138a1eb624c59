/* /admin/canned over /api/canned: the team's responses (and the admin's own), search, the editor
   with a tab per language and optimistic versions, history with restore. */

import { cannedEditor, directionOf, languageLabel, slashed } from "./canned_editor.js";

const $ = (id) => document.getElementById(id);
let responses = [];
let current = null; // the response being edited (as last loaded), or {} for a new one
let editor = null;

async function start() {
  const [listed, kb] = await Promise.all([api("GET", "/api/canned?scope=team"), api("GET", "/api/kb?status=published")]);
  const entries = kb.ok ? kb.data.entries : [];
  editor = cannedEditor({ entries, placeholders: listed.ok ? listed.data.placeholders : [], idPrefix: "canned" });
  editor.form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
  $("canned-form-slot").replaceChildren(editor.form);
  await loadList();
}

// --- list -------------------------------------------------------------------------------------

async function loadList() {
  const params = new URLSearchParams({ scope: $("canned-scope").value });
  if ($("canned-q").value.trim()) params.set("q", $("canned-q").value.trim());
  const result = await api("GET", `/api/canned?${params}`);
  responses = result.ok ? result.data.responses : [];
  renderList();
}

function renderList() {
  const list = $("canned-list");
  if (!responses.length) { list.replaceChildren(el("li", { class: "muted small canned-none" }, t("No responses match."))); return; }
  list.replaceChildren(...responses.map((r) => el("li", {},
    el("button", { type: "button", "aria-current": String(Boolean(current && current.id === r.id)), dataset: { id: r.id }, onclick: () => open(r.id) },
      el("span", { class: "kb-item-title", dir: "auto" }, r.title),
      el("span", { class: "kb-item-meta" }, el("span", { dir: "auto" }, `/${r.shortcut}`),
        el("span", { class: "canned-langs-line" }, ...Object.keys(r.variants).map((tag) => el("span", { class: "canned-lang", title: languageLabel(tag) }, tag))),
        t("v{version}", { version: fmtNumber(r.version) }))))));
}

let searchTimer = null;
$("canned-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadList, 200); });
$("canned-scope").addEventListener("change", () => { current = null; showEmpty(); loadList(); });

// --- editor ---------------------------------------------------------------------------------

function edit(response) {
  current = response;
  editor.load(response, document.documentElement.lang); // the tab of the page language first
  $("canned-editor").hidden = false;
  $("canned-empty").hidden = true;
  $("canned-heading").textContent = response.id ? `/${response.shortcut} · ${response.title}` : t("New response");
  $("canned-version").textContent = response.id ? t("version {version}", { version: fmtNumber(response.version) }) : "";
  $("canned-delete").hidden = !response.id;
  $("canned-save").textContent = response.id ? t("Save") : t("Create response");
  renderList();
  if (response.id) loadHistory(response.id); else $("canned-history").hidden = true;
}

function showEmpty() {
  $("canned-editor").hidden = true;
  $("canned-history").hidden = true;
  $("canned-empty").hidden = false;
}

async function open(id) {
  const result = await api("GET", `/api/canned/${id}`);
  if (!result.ok) { toast(t("That response is gone."), "error"); loadList(); return; }
  edit(result.data);
}

$("canned-new").addEventListener("click", () => { edit({}); editor.focus(); });
$("canned-save").addEventListener("click", save);

async function save() {
  const body = editor.value();
  const result = current && current.id
    ? await api("PUT", `/api/canned/${current.id}`, { ...body, version: current.version })
    : await api("POST", "/api/canned", { ...body, scope: $("canned-scope").value });
  if (result.status === 409) {
    editor.showError({ message: t("Someone changed this response while you were editing. Copy your text, reload it and edit again.") });
    return;
  }
  if (!result.ok) { editor.showError(result.data); return; }
  toast(current && current.id ? t("Saved.") : t("Response created."));
  edit(result.data);
  loadList();
}

$("canned-delete").addEventListener("click", async () => {
  if (!current || !current.id) return;
  if (!window.confirm(t("Delete {shortcut}? Its history is kept.", { shortcut: slashed(current.shortcut) }))) return;
  const result = await api("DELETE", `/api/canned/${current.id}`);
  if (!result.ok) { editor.showError(result.data); return; }
  toast(t("Deleted."));
  current = null;
  showEmpty();
  loadList();
});

// --- history and restore ------------------------------------------------------------------------

async function loadHistory(id) {
  const result = await api("GET", `/api/canned/${id}/history`);
  if (!result.ok) { $("canned-history").hidden = true; return; }
  const names = { create: t("Created"), update: t("Edited"), delete: t("Deleted"), restore: t("Restored") };
  $("canned-history").hidden = false;
  $("canned-versions").replaceChildren(...result.data.versions.map((v) => el("li", {},
    el("button", { type: "button", dataset: { version: v.version }, onclick: (ev) => showVersion(id, v, ev.currentTarget) },
      t("v{version} · {action}", { version: fmtNumber(v.version), action: names[v.action] || v.action }),
      el("span", { class: "version-meta" }, `${v.changed_by || t("system")} · ${fmtDateTime(v.changed_ms)}`)))));
  $("canned-version-view").replaceChildren(el("p", { class: "muted small" }, t("Pick a version to see it.")));
}

function showVersion(id, version, button) {
  document.querySelectorAll("#canned-versions button").forEach((b) => b.setAttribute("aria-current", String(b === button)));
  const snapshot = version.response;
  const rows = [[t("Shortcut"), `/${snapshot.shortcut}`, "auto"], [t("Title"), snapshot.title, "auto"],
    ...Object.entries(snapshot.variants).map(([tag, text]) => [languageLabel(tag), text, directionOf(tag), tag])];
  const isCurrent = current && version.version === current.version;
  $("canned-version-view").replaceChildren(
    el("dl", {}, ...rows.flatMap(([label, text, dir, lang]) => [el("dt", {}, label), el("dd", { dir, lang }, text)])),
    el("button", { type: "button", class: "btn", id: "canned-restore", disabled: isCurrent, onclick: () => restore(id, version.version) },
      isCurrent ? t("This is the current version") : t("Restore v{version}", { version: fmtNumber(version.version) })));
}

async function restore(id, version) {
  const result = await api("POST", `/api/canned/${id}/restore`, { version });
  if (!result.ok) { editor.showError(result.data); return; }
  toast(t("Restored v{version} as v{now}.", { version: fmtNumber(version), now: fmtNumber(result.data.version) }));
  edit(result.data);
  loadList();
}

start();
