/* The bot learns from the agents (on /admin, after admin.js, whose openEntry, fillForm and
   loadList it uses): the inbox of visitors' questions that agents answered with an entry
   (approve, edit then approve, reject), and the questions no entry answers, grouped, each one
   click from a new entry. Visitors' words are only ever put in the page as text. */
"use strict";

// 60 s: proposals wait for an admin anyway; the list stays current without a request a second.
// The unanswered groups are read on load and after each approval: grouping them costs the
// server about a second of matching, not worth repeating every minute for every admin.
const LEARN_POLL_MS = 60000;
const SOURCES = { message: t("used in a reply"), close: t("named at close") };

async function loadProposals() {
  const result = await api("GET", "/api/kb/proposals");
  if (!result.ok) return;
  $("learn-count").textContent = fmtNumber(result.data.pending);
  const items = result.data.proposals;
  $("proposals").replaceChildren(...(items.length ? items.map(renderProposal)
    : [el("li", { class: "muted small" }, t("Nothing to review."))]));
}

function renderProposal(p) {
  const text = el("textarea", { rows: 2, dir: "auto", "aria-label": t("Visitor's question"), maxlength: 500 });
  text.value = p.text;
  const problem = el("p", { class: "field-error", role: "alert" });
  const item = el("li", { class: "proposal", dataset: { id: p.id } },
    text,
    el("div", { class: "proposal-meta" }, document.dir === "rtl" ? "← " : "→ ",
      el("button", { type: "button", class: "proposal-entry", dir: "auto", onclick: () => openEntry(p.entry_id) },
        p.entry_title || t("Entry {id}", { id: fmtNumber(p.entry_id, { useGrouping: false }) })),
      " · ", t("{agent}, {source}", { agent: p.agent_name || t("an agent"), source: SOURCES[p.source] || p.source }), ` · ${fmtDateTime(p.created_ms)}`),
    problem,
    el("div", { class: "proposal-actions" },
      el("button", { type: "button", class: "btn btn-small", "data-action": "reject", onclick: () => decide(p, "reject", item) }, t("Reject")),
      el("button", { type: "button", class: "btn btn-primary btn-small", "data-action": "approve", onclick: () => decide(p, "approve", item, text.value) }, t("Approve"))));
  return item;
}

async function decide(p, action, item, edited) {
  const body = action === "approve" && edited.trim() !== p.text ? { text: edited } : {};
  item.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  const result = await api("POST", `/api/kb/proposals/${p.id}/${action}`, body);
  item.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  if (!result.ok) {
    item.querySelector(".field-error").textContent = result.data && result.data.message ? serverText(result.data.message) : t("Could not save");
    if (result.status === 409) loadProposals();
    return;
  }
  if (action === "approve") {
    const entry = result.data.entry;
    toast(t("Added to “{title}” (version {version}): the bot knows it now.", { title: entry.title, version: fmtNumber(entry.version) }));
    if (current && current.id === entry.id) fillForm(entry);
    loadList();
    loadUnanswered();
  } else {
    toast(t("Rejected: it stays out of the entry."));
  }
  loadProposals();
}

async function loadUnanswered() {
  const result = await api("GET", "/api/kb/unanswered");
  if (!result.ok) return;
  const groups = result.data.groups;
  $("unanswered").replaceChildren(...(groups.length ? groups.map((g) => el("li", { class: "unanswered-group" },
    el("div", { class: "group-meta" }, [g.count === 1 ? t("1 visitor") : t("{n} visitors", { n: fmtNumber(g.count) }), languageOnly(g.language), t("last {date}", { date: fmtDate(g.last_ms) })].join(" · ")),
    el("ul", {}, ...g.examples.map((text) => el("li", { dir: "auto" }, text))),
    el("div", { class: "proposal-actions" },
      el("button", { type: "button", class: "btn btn-small", "data-action": "new-entry", onclick: () => newEntryFrom(g) }, t("New entry…")))))
    : [el("li", { class: "muted small" }, t("Nothing the bot could not answer."))]));
}

/** The editor, prefilled: the visitors' questions as phrasings, a title and answer to write. */
function newEntryFrom(group) {
  fillForm({ language: group.language, questions: group.examples });
  $("f-title").focus();
}

loadProposals();
loadUnanswered();
setInterval(loadProposals, LEARN_POLL_MS);
