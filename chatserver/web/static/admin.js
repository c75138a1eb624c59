/* The knowledge-base editor over /api/kb: list and filter, edit with optimistic versions,
   publish, delete, history with diffs and restore, import/export, and "try the bot". */
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("kb-form");
let current = null; // the entry being edited (as last loaded), or {} for a new one
let entries = [];

// --- list -------------------------------------------------------------------------------------

async function loadList() {
  const params = new URLSearchParams();
  if ($("kb-q").value.trim()) params.set("q", $("kb-q").value.trim());
  if ($("kb-language").value) params.set("language", $("kb-language").value);
  if ($("kb-status").value) params.set("status", $("kb-status").value);
  const result = await api("GET", `/api/kb?${params}`);
  entries = result.ok ? result.data.entries : [];
  renderList();
}

function renderList() {
  const list = $("kb-list");
  if (!entries.length) { list.replaceChildren(el("li", { class: "muted small", style: "padding:10px" }, "No entries match.")); return; }
  list.replaceChildren(...entries.map((e) => el("li", {},
    el("button", { type: "button", "aria-current": String(Boolean(current && current.id === e.id)), dataset: { id: e.id }, onclick: () => openEntry(e.id) },
      el("span", { class: "kb-item-title", dir: "auto" }, e.title),
      el("span", { class: "kb-item-meta" }, el("span", { class: `badge badge-${e.status}` }, e.status), e.language, e.skill ? `· ${e.skill}` : null, `· v${e.version}`)))));
}

let searchTimer = null;
$("kb-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadList, 200); });
$("kb-language").addEventListener("change", loadList);
$("kb-status").addEventListener("change", loadList);

// --- editor ---------------------------------------------------------------------------------

function fillForm(entry) {
  current = entry;
  showErrors(form, null);
  $("kb-form-error").hidden = true;
  form.hidden = false;
  $("kb-empty").hidden = true;
  $("f-title").value = entry.title || "";
  $("f-language").value = entry.language || ($("kb-language").value || "en");
  $("f-skill").value = entry.skill || "";
  $("f-tags").value = (entry.tags || []).join(", ");
  $("f-questions").value = (entry.questions || []).join("\n");
  $("f-answer").value = entry.answer || "";
  $("kb-heading").textContent = entry.id ? entry.title : "New entry";
  $("kb-badge").textContent = entry.status || "draft";
  $("kb-badge").className = `badge badge-${entry.status || "draft"}`;
  $("kb-version").textContent = entry.id ? `version ${entry.version}` : "";
  $("kb-publish").hidden = !entry.id || entry.status === "published";
  $("kb-delete").hidden = !entry.id;
  $("kb-save").textContent = entry.id ? "Save" : "Create draft";
  renderList();
  if (entry.id) loadHistory(entry.id); else $("history").hidden = true;
}

function formData() {
  const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);
  return {
    title: $("f-title").value,
    language: $("f-language").value.trim(),
    skill: $("f-skill").value.trim() || null,
    tags: $("f-tags").value.split(",").map((s) => s.trim()).filter(Boolean),
    questions: lines($("f-questions").value),
    answer: $("f-answer").value,
  };
}

async function openEntry(id) {
  const result = await api("GET", `/api/kb/${id}`);
  if (!result.ok) { toast("That entry is gone.", "error"); loadList(); return; }
  fillForm(result.data);
}

$("kb-new").addEventListener("click", () => { fillForm({}); $("f-title").focus(); });

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  $("kb-form-error").hidden = true;
  const body = formData();
  const result = current && current.id
    ? await api("PUT", `/api/kb/${current.id}`, { ...body, version: current.version })
    : await api("POST", "/api/kb", { ...body, status: "draft" });
  if (result.status === 409) {
    showErrors(form, { message: "Someone changed this entry while you were editing. Copy your text, reload the entry and edit again." }, $("kb-form-error"));
    return;
  }
  if (!result.ok) { showErrors(form, result.data, $("kb-form-error")); return; }
  toast(current && current.id ? "Saved." : "Draft created.");
  fillForm(result.data);
  loadList();
});

$("kb-publish").addEventListener("click", async () => {
  if (!current || !current.id) return;
  const result = await api("POST", `/api/kb/${current.id}/publish`);
  if (!result.ok) { showErrors(form, result.data, $("kb-form-error")); return; }
  toast("Published: the bot uses it now.");
  fillForm(result.data);
  loadList();
});

$("kb-delete").addEventListener("click", async () => {
  if (!current || !current.id) return;
  if (!window.confirm(`Delete “${current.title}”? Its history is kept.`)) return;
  const result = await api("DELETE", `/api/kb/${current.id}`);
  if (!result.ok) { showErrors(form, result.data, $("kb-form-error")); return; }
  toast("Deleted.");
  current = null;
  form.hidden = true;
  $("history").hidden = true;
  $("kb-empty").hidden = false;
  loadList();
});

// --- history, diff and restore ----------------------------------------------------------------

const ACTIONS = { create: "Created", update: "Edited", publish: "Published", restore: "Restored", import: "Imported", delete: "Deleted", learn: "Learned a phrasing" };

async function loadHistory(id) {
  const result = await api("GET", `/api/kb/${id}/history`);
  if (!result.ok) { $("history").hidden = true; return; }
  const versions = result.data.versions;
  $("history").hidden = false;
  $("versions").replaceChildren(...versions.map((v, i) => el("li", {},
    el("button", { type: "button", dataset: { version: v.version }, onclick: (ev) => showVersion(id, v, versions[i + 1], ev.currentTarget) },
      `v${v.version} · ${ACTIONS[v.action] || v.action}`,
      el("span", { class: "version-meta" }, `${v.changed_by || "system"} · ${new Date(v.changed_ms).toLocaleString()}`)))));
  $("diff").replaceChildren(el("p", { class: "muted small" }, "Pick a version to see what changed."));
}

async function showVersion(id, version, previous, button) {
  document.querySelectorAll("#versions button").forEach((b) => b.setAttribute("aria-current", String(b === button)));
  const parts = [];
  if (previous) {
    const result = await api("GET", `/api/kb/${id}/diff?from=${previous.version}&to=${version.version}`);
    const changes = result.ok ? result.data.changes : [];
    parts.push(el("p", { class: "small muted" }, `Changes from v${previous.version} to v${version.version}`));
    if (!changes.length) parts.push(el("p", { class: "small" }, "No content changes."));
    for (const change of changes) parts.push(renderChange(change));
  } else {
    parts.push(el("p", { class: "small muted" }, "First version"), el("pre", { dir: "auto" }, version.entry.answer));
  }
  const isCurrent = current && version.version === current.version;
  parts.push(el("div", { class: "row" }, el("button", { type: "button", class: "btn", id: "restore-btn", disabled: isCurrent,
    onclick: () => restore(id, version.version) }, isCurrent ? "This is the current version" : `Restore v${version.version}`)));
  $("diff").replaceChildren(...parts);
}

function renderChange(change) {
  const pre = el("pre", { dir: "auto" });
  if (change.lines && change.lines.length) {
    for (const line of change.lines) {
      if (line.startsWith("---") || line.startsWith("+++") || line.startsWith("@@")) continue;
      const cls = line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : null;
      pre.append(el("span", { class: cls }, line), cls ? "" : "\n");
    }
  } else {
    const show = (v) => (Array.isArray(v) ? v.join(", ") : v === null ? "—" : String(v));
    pre.append(el("span", { class: "del" }, `- ${show(change.old)}`), el("span", { class: "add" }, `+ ${show(change.new)}`));
  }
  return el("div", { class: "diff-field" }, el("h3", {}, change.field), pre);
}

async function restore(id, version) {
  const result = await api("POST", `/api/kb/${id}/restore`, { version });
  if (!result.ok) { toast(result.data ? result.data.message : "Could not restore", "error"); return; }
  toast(`Restored v${version} as v${result.data.version}.`);
  fillForm(result.data);
  loadList();
}

// --- import -----------------------------------------------------------------------------------

$("kb-import").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  const kind = /\.csv$/i.test(file.name) || file.type === "text/csv" ? "csv" : "json";
  const result = await api("POST", `/api/kb/import?format=${kind}`, await file.arrayBuffer(), { raw: true });
  const out = $("import-result");
  if (result.ok) {
    out.className = "small form-note";
    out.textContent = `Imported ${result.data.imported} entries.`;
    loadList();
  } else {
    out.className = "small field-error";
    const problems = (result.data && result.data.problems) || [];
    out.textContent = `${(result.data && result.data.message) || "Import failed"}${problems.length ? `: ${problems.slice(0, 3).map((p) => `line ${p.line} ${p.field}: ${p.message}`).join("; ")}` : ""}. Nothing was imported.`;
  }
});

// --- try the bot ------------------------------------------------------------------------------

$("try-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("try-text").value;
  const result = await api("POST", "/api/kb/try", { text, language: $("try-language").value });
  showErrors($("try-form"), result.ok ? null : result.data);
  if (!result.ok) { $("try-result").hidden = true; return; }
  const data = result.data;
  $("try-result").hidden = false;
  $("try-decision").textContent = data.decision;
  $("try-decision").className = `badge chip-${data.decision}`;
  $("try-reason").textContent = [data.reason, data.skill ? `skill ${data.skill}` : null].filter(Boolean).join(" · ");
  $("try-answer").hidden = !data.answer;
  $("try-answer").textContent = data.answer || "";
  $("try-matches").replaceChildren(...(data.matches.length ? data.matches.map((m, i) => el("li", { class: i === 0 ? "top" : null },
    el("button", { type: "button", class: "btn-quiet match-title", style: "border:0;background:none;text-align:start;cursor:pointer;font:inherit;padding:0", dir: "auto", onclick: () => openEntry(m.entry_id) }, m.title),
    el("span", { class: "score-bar" }, el("span", { style: `width:${Math.round(Math.min(1, m.score) * 100)}%` })),
    el("span", { class: "score" }, Number(m.score).toFixed(2))))
    : [el("li", { class: "muted small" }, "No entry matched.")]));
});
$("try-text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("try-form").requestSubmit(); }
});

loadList();
