/* The bot learns from the agents (on /admin, after admin.js, whose openEntry, fillForm and
   loadList it uses): the inbox of visitors' questions that agents answered with an entry
   (approve, edit then approve, reject), and the questions no entry answers, grouped, each one
   click from a new entry. Visitors' words are only ever put in the page as text. */
"use strict";

// 60 s: proposals wait for an admin anyway; the list stays current without a request a second.
// The unanswered groups are read on load and after each approval: grouping them costs the
// server about a second of matching, not worth repeating every minute for every admin.
const LEARN_POLL_MS = 60000;
const SOURCES = { message: "used in a reply", close: "named at close" };

async function loadProposals() {
  const result = await api("GET", "/api/kb/proposals");
  if (!result.ok) return;
  $("learn-count").textContent = String(result.data.pending);
  const items = result.data.proposals;
  $("proposals").replaceChildren(...(items.length ? items.map(renderProposal)
    : [el("li", { class: "muted small" }, "Nothing to review.")]));
}

function renderProposal(p) {
  const text = el("textarea", { rows: 2, dir: "auto", "aria-label": "Visitor's question", maxlength: 500 });
  text.value = p.text;
  const problem = el("p", { class: "field-error", role: "alert" });
  const item = el("li", { class: "proposal", dataset: { id: p.id } },
    text,
    el("div", { class: "proposal-meta" }, "→ ",
      el("button", { type: "button", class: "proposal-entry", dir: "auto", onclick: () => openEntry(p.entry_id) },
        p.entry_title || `Entry ${p.entry_id}`),
      ` · ${p.agent_name || "an agent"}, ${SOURCES[p.source] || p.source} · ${new Date(p.created_ms).toLocaleString()}`),
    problem,
    el("div", { class: "proposal-actions" },
      el("button", { type: "button", class: "btn btn-small", "data-action": "reject", onclick: () => decide(p, "reject", item) }, "Reject"),
      el("button", { type: "button", class: "btn btn-primary btn-small", "data-action": "approve", onclick: () => decide(p, "approve", item, text.value) }, "Approve")));
  return item;
}

async function decide(p, action, item, edited) {
  const body = action === "approve" && edited.trim() !== p.text ? { text: edited } : {};
  item.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  const result = await api("POST", `/api/kb/proposals/${p.id}/${action}`, body);
  item.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  if (!result.ok) {
    item.querySelector(".field-error").textContent = (result.data && result.data.message) || "Could not save";
    if (result.status === 409) loadProposals();
    return;
  }
  if (action === "approve") {
    const entry = result.data.entry;
    toast(`Added to “${entry.title}” (version ${entry.version}): the bot knows it now.`);
    if (current && current.id === entry.id) fillForm(entry);
    loadList();
    loadUnanswered();
  } else {
    toast("Rejected: it stays out of the entry.");
  }
  loadProposals();
}

async function loadUnanswered() {
  const result = await api("GET", "/api/kb/unanswered");
  if (!result.ok) return;
  const groups = result.data.groups;
  $("unanswered").replaceChildren(...(groups.length ? groups.map((g) => el("li", { class: "unanswered-group" },
    el("div", { class: "group-meta" }, `${g.count} ${g.count === 1 ? "visitor" : "visitors"} · ${languageName(g.language)} · last ${new Date(g.last_ms).toLocaleDateString()}`),
    el("ul", {}, ...g.examples.map((text) => el("li", { dir: "auto" }, text))),
    el("div", { class: "proposal-actions" },
      el("button", { type: "button", class: "btn btn-small", "data-action": "new-entry", onclick: () => newEntryFrom(g) }, "New entry…"))))
    : [el("li", { class: "muted small" }, "Nothing the bot could not answer.")]));
}

/** The editor, prefilled: the visitors' questions as phrasings, a title and answer to write. */
function newEntryFrom(group) {
  fillForm({ language: group.language, questions: group.examples });
  $("f-title").focus();
}

loadProposals();
loadUnanswered();
setInterval(loadProposals, LEARN_POLL_MS);
