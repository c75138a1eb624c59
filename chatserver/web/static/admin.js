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
  if (!entries.length) { list.replaceChildren(el("li", { class: "muted small kb-list-empty" }, t("No entries match."))); return; }
  list.replaceChildren(...entries.map((e) => el("li", {},
    el("button", { type: "button", "aria-current": String(Boolean(current && current.id === e.id)), dataset: { id: e.id }, onclick: () => openEntry(e.id) },
      el("span", { class: "kb-item-title", dir: "auto" }, e.title),
      el("span", { class: "kb-item-meta" }, el("span", { class: `badge badge-${e.status}` }, statusText(e.status)), languageOnly(e.language),
        ...(e.skill ? [dot(), el("bdi", {}, e.skill)] : []), dot(), versionText(e.version))))));
}

function dot() { return el("span", { "aria-hidden": "true" }, "·"); }

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
  $("f-language").value = entry.language !== undefined ? entry.language : ($("kb-language").value || LANG);
  $("f-skill").value = entry.skill || "";
  $("f-tags").value = (entry.tags || []).join(", ");
  $("f-questions").value = (entry.questions || []).join("\n");
  $("f-answer").value = entry.answer || "";
  $("kb-heading").textContent = entry.id ? entry.title : t("New entry");
  $("kb-badge").textContent = statusText(entry.status || "draft");
  $("kb-badge").className = `badge badge-${entry.status || "draft"}`;
  $("kb-version").textContent = entry.id ? t("version {n}", { n: fmtNumber(entry.version) }) : "";
  $("kb-publish").hidden = !entry.id || entry.status === "published";
  $("kb-delete").hidden = !entry.id;
  $("kb-save").textContent = entry.id ? t("Save") : t("Create draft");
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
  if (!result.ok) { toast(t("That entry is gone."), "error"); loadList(); return; }
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
    showErrors(form, { message: t("Someone changed this entry while you were editing. Copy your text, reload the entry and edit again.") }, $("kb-form-error"));
    return;
  }
  if (!result.ok) { showErrors(form, localized(result.data), $("kb-form-error")); return; }
  toast(current && current.id ? t("Saved.") : t("Draft created."));
  fillForm(result.data);
  loadList();
});

$("kb-publish").addEventListener("click", async () => {
  if (!current || !current.id) return;
  const result = await api("POST", `/api/kb/${current.id}/publish`);
  if (!result.ok) { showErrors(form, localized(result.data), $("kb-form-error")); return; }
  toast(t("Published: the bot uses it now."));
  fillForm(result.data);
  loadList();
});

$("kb-delete").addEventListener("click", async () => {
  if (!current || !current.id) return;
  if (!window.confirm(t("Delete “{title}”? Its history is kept.", { title: isolate(current.title) }))) return;
  const result = await api("DELETE", `/api/kb/${current.id}`);
  if (!result.ok) { showErrors(form, localized(result.data), $("kb-form-error")); return; }
  toast(t("Deleted."));
  current = null;
  form.hidden = true;
  $("history").hidden = true;
  $("kb-empty").hidden = false;
  loadList();
});

// --- history, diff and restore ----------------------------------------------------------------

const ACTIONS = { create: t("Created"), update: t("Edited"), publish: t("Published"), restore: t("Restored"), import: t("Imported"), delete: t("Deleted"), learn: t("Learned a phrasing") };
const STATUSES = { draft: t("draft"), published: t("published") };
// The diff names each field as the editor's form does.
const FIELDS = { title: t("Title"), questions: t("Questions"), question: t("Question"), answer: t("Answer"), language: t("Language"), tags: t("Tags"), skill: t("Skill"), status: t("Status") };

function statusText(status) { return STATUSES[status] || status; }
function versionText(n) { return t("v{n}", { n: fmtNumber(n) }); }

async function loadHistory(id) {
  const result = await api("GET", `/api/kb/${id}/history`);
  if (!result.ok) { $("history").hidden = true; return; }
  const versions = result.data.versions;
  $("history").hidden = false;
  $("versions").replaceChildren(...versions.map((v, i) => el("li", {},
    el("button", { type: "button", dataset: { version: v.version }, onclick: (ev) => showVersion(id, v, versions[i + 1], ev.currentTarget) },
      `${versionText(v.version)} · ${ACTIONS[v.action] || v.action}`,
      el("span", { class: "version-meta" }, el("bdi", {}, v.changed_by || t("the server")), ` · ${fmtDateTime(v.changed_ms)}`)))));
  $("diff").replaceChildren(el("p", { class: "muted small" }, t("Pick a version to see what changed.")));
}

async function showVersion(id, version, previous, button) {
  document.querySelectorAll("#versions button").forEach((b) => b.setAttribute("aria-current", String(b === button)));
  const parts = [];
  if (previous) {
    const result = await api("GET", `/api/kb/${id}/diff?from=${previous.version}&to=${version.version}`);
    const changes = result.ok ? result.data.changes : [];
    parts.push(el("p", { class: "small muted" }, t("Changes from {old} to {new}", { old: versionText(previous.version), new: versionText(version.version) })));
    if (!changes.length) parts.push(el("p", { class: "small" }, t("No content changes.")));
    for (const change of changes) parts.push(renderChange(change));
  } else {
    parts.push(el("p", { class: "small muted" }, t("First version")), el("pre", { dir: "auto" }, version.entry.answer));
  }
  const isCurrent = current && version.version === current.version;
  parts.push(el("div", { class: "row" }, el("button", { type: "button", class: "btn", id: "restore-btn", disabled: isCurrent,
    onclick: () => restore(id, version.version) }, isCurrent ? t("This is the current version") : t("Restore {version}", { version: versionText(version.version) }))));
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
    const show = (v) => (Array.isArray(v) ? v.join(", ") : v === null ? "—" : change.field === "status" ? statusText(v) : String(v));
    pre.append(el("span", { class: "del" }, `- ${show(change.old)}`), el("span", { class: "add" }, `+ ${show(change.new)}`));
  }
  return el("div", { class: "diff-field" }, el("h3", {}, FIELDS[change.field] || change.field), pre);
}

async function restore(id, version) {
  const result = await api("POST", `/api/kb/${id}/restore`, { version });
  if (!result.ok) { toast(result.data ? serverText(result.data.message) : t("Could not restore"), "error"); return; }
  toast(t("Restored {old} as {new}.", { old: versionText(version), new: versionText(result.data.version) }));
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
    out.textContent = t("Imported {n} entries.", { n: fmtNumber(result.data.imported) });
    loadList();
  } else {
    out.className = "small field-error";
    const problems = (result.data && result.data.problems) || [];
    const where = (p) => (p.field ? t("Line {line}, {field}: {message}", { line: fmtNumber(p.line), field: FIELDS[p.field] || p.field, message: serverText(p.message) })
      : t("Line {line}: {message}", { line: fmtNumber(p.line), message: serverText(p.message) }));
    const told = problems.length ? problems.slice(0, 3).map(where).join("; ")
      : result.data && result.data.message ? serverText(result.data.message) : t("Import failed");
    out.textContent = `${t("Nothing was imported.")} ${told}`;
  }
});

// --- try the bot ------------------------------------------------------------------------------

const DECISIONS = { answer: t("answer"), suggest: t("suggest"), handoff: t("hand off"), offer_human: t("offer a person"), smalltalk: t("small talk") };
const REASONS = { confident: t("confident"), unsure: t("unsure"), low_confidence: t("low confidence"), second_failure: t("second failed round"), asked_for_human: t("asked for a person"), frustrated: t("visitor frustrated"), insult: t("visitor insulting"), repeated: t("visitor repeating"), smalltalk: t("small talk") };

$("try-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("try-text").value;
  const result = await api("POST", "/api/kb/try", { text, language: $("try-language").value });
  showErrors($("try-form"), result.ok ? null : localized(result.data));
  if (!result.ok) { $("try-result").hidden = true; return; }
  const data = result.data;
  $("try-result").hidden = false;
  $("try-decision").textContent = DECISIONS[data.decision] || data.decision;
  $("try-decision").className = `badge chip-${data.decision}`;
  $("try-reason").textContent = [REASONS[data.reason] || data.reason, data.skill ? t("skill {skill}", { skill: data.skill }) : null].filter(Boolean).join(" · ");
  $("try-answer").hidden = !data.answer;
  $("try-answer").textContent = data.answer || "";
  $("try-matches").replaceChildren(...(data.matches.length ? data.matches.map((m, i) => el("li", { class: i === 0 ? "top" : null },
    el("button", { type: "button", class: "btn-quiet match-title", style: "border:0;background:none;text-align:start;cursor:pointer;font:inherit;padding:0", dir: "auto", onclick: () => openEntry(m.entry_id) }, m.title),
    el("span", { class: "score-bar" }, el("span", { style: `width:${Math.round(Math.min(1, m.score) * 100)}%` })),
    el("span", { class: "score" }, fmtNumber(Number(m.score), { minimumFractionDigits: 2, maximumFractionDigits: 2 }))))
    : [el("li", { class: "muted small" }, t("No entry matched."))]));
});
$("try-text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("try-form").requestSubmit(); }
});

loadList();
