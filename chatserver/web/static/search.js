/* The search page: every conversation by words, visitor, agent, label, dates and rating, with
   the hits marked in each snippet, and the read-only transcript of a result beside the list.
   A result's labels are coloured chips (labels.js); the open one's can be changed there by
   whoever may label it (Labels.editor). Snippets arrive as [{text, hit}] segments; they go
   in as text nodes and <mark> elements, never as HTML. The form is mirrored in the address,
   so a search can be reloaded or shared. Each search and each transcript request is numbered:
   an answer to one that a newer one replaced is dropped (a slow earlier search never mixes into
   a newer one's list, a slow transcript never lands under another title), and "More results"
   asks for one page at a time (a double click appends it once). */
"use strict";

const $ = (id) => document.getElementById(id);
// Every string this page shows, in the page language (common.js t(), fmtNumber, fmtDateTime).
const TEXT = {
  count: (n, more) => {
    const count = n === 1 ? t("1 conversation") : t("{n} conversations", { n: fmtNumber(n) });
    return more ? t("{count} (more below)", { count }) : count;
  },
  rating: (r) => `★${fmtNumber(r)}`,
  state: (state) => ({ bot: t("with the bot"), queued: t("waiting"), offered: t("offered"),
    assigned: t("open"), closed: t("closed") })[state] || state,
};
// What the server calls a field in an error ("q: …"), by the form's own labels.
const FIELD_NAMES = { q: () => t("Words or numbers"), visitor: () => t("Visitor"),
  agent: () => t("Agent"), label: () => t("Label"), from: () => t("From"), to: () => t("To"),
  rating: () => t("Rating") };

/** A search error in the page language: "From: must not be after to" → «از: …». The reason
    is the server's English text, which the search catalogue translates (t() falls back). */
function problem(message) {
  const found = /^(\w+): (.*)$/s.exec(message || "");
  if (!found || !FIELD_NAMES[found[1]]) return message ? t(message) : t("Search failed");
  return t("{field}: {reason}", { field: FIELD_NAMES[found[1]](), reason: t(found[2]) });
}
const FIELDS = ["q", "visitor", "agent", "label", "from", "to", "rating"];
let nextCursor = null;
let shown = 0;
let searchNumber = 0; // the search whose results the list shows (or will)
let moreWaiting = false; // a "More results" page asked for and not yet answered
let transcriptNumber = 0;

function params(cursor) {
  const query = new URLSearchParams();
  for (const name of FIELDS) {
    const value = $(`s-${name}`).value.trim();
    if (value) query.set(name, value);
  }
  if (cursor) query.set("cursor", cursor);
  return query;
}

/** One snippet as a <p>: hit segments in <mark>, the rest as plain text. */
function snippetNode(segments) {
  return el("p", { class: "snippet", dir: "auto" },
    ...segments.map((s) => (s.hit ? el("mark", {}, s.text) : document.createTextNode(s.text))));
}

function resultNode(c) {
  const when = new Date(c.started_ms);
  const who = c.visitor.name || c.visitor.email || t("Visitor");
  const open = el("button", { type: "button", class: "result-open", dataset: { id: c.id },
    onclick: () => openTranscript(c) },
  el("span", { class: "result-who", dir: "auto" }, who),
  c.visitor.email && c.visitor.name ? el("span", { class: "hint", dir: "auto" }, ` ${c.visitor.email}`) : null);
  const facts = el("div", { class: "result-facts hint" },
    el("time", { datetime: when.toISOString() }, fmtDateTime(c.started_ms)),
    ` · ${TEXT.state(c.state)}`,
    c.agent ? el("span", { dir: "auto" }, ` · ${c.agent}`) : null,
    c.rating ? ` · ${TEXT.rating(c.rating)}` : null,
    el("span", { class: "result-labels" }, ...c.labels.map((l) => Labels.chip(l))));
  return el("li", { class: "result", dataset: { id: c.id } }, open, facts, ...c.snippets.map(snippetNode));
}

async function run(more) {
  if (more && (moreWaiting || !nextCursor)) return;
  const error = $("s-error");
  error.hidden = true;
  const query = params(more ? nextCursor : null);
  if (more) {
    moreWaiting = true;
    $("s-more").disabled = true;
  } else {
    searchNumber += 1;
    moreWaiting = false;
    nextCursor = null;
    $("s-more").hidden = true;
    history.replaceState(null, "", `${location.pathname}${query.toString() ? `?${query}` : ""}`);
    $("s-results").replaceChildren();
    shown = 0;
  }
  const mine = searchNumber;
  $("s-status").textContent = t("Searching…");
  const result = await api("GET", `/api/search?${query}`);
  if (mine !== searchNumber) return; // a newer search replaced this one
  if (more) {
    moreWaiting = false;
    $("s-more").disabled = false;
  }
  if (!result.ok) {
    $("s-status").textContent = "";
    error.textContent = problem(result.data && result.data.message);
    error.hidden = false;
    return;
  }
  const found = result.data.conversations;
  $("s-results").append(...found.map(resultNode));
  shown += found.length;
  nextCursor = result.data.next_cursor;
  $("s-more").hidden = !nextCursor;
  $("s-status").textContent = shown ? TEXT.count(shown, Boolean(nextCursor)) : t("No conversation matches.");
}

async function openTranscript(c) {
  const card = $("s-transcript-card");
  const list = $("s-transcript");
  card.hidden = false;
  $("s-transcript-title").textContent = c.visitor.name || c.visitor.email || t("Visitor");
  $("s-transcript-facts").textContent = t("Loading the conversation…");
  list.replaceChildren();
  transcriptNumber += 1;
  const mine = transcriptNumber;
  const result = await api("GET", `/api/conversations/${encodeURIComponent(c.id)}/transcript`);
  if (mine !== transcriptNumber) return; // another result was opened meanwhile
  if (!result.ok) { $("s-transcript-facts").textContent = t("Could not load the conversation."); return; }
  const conv = result.data.conversation;
  $("s-transcript-facts").textContent = [fmtDateTime(conv.started_ms),
    TEXT.state(conv.state), conv.agent, conv.topic].filter(Boolean).join(" · ");
  for (const frame of result.data.events) {
    const li = renderFrame(frame);
    if (li) list.append(li);
  }
  // Its labels, changeable here by whoever may label it; the result's chips follow.
  Labels.editor($("s-labels"), c.id, result.data.events, (labels) => {
    c.labels = labels;
    const chips = document.querySelector(`.result[data-id="${CSS.escape(c.id)}"] .result-labels`);
    if (chips) chips.replaceChildren(...labels.map((l) => Labels.chip(l)));
  });
  card.scrollIntoView({ block: "nearest" });
}

$("search-form").addEventListener("submit", (event) => { event.preventDefault(); run(false); });
$("s-more").addEventListener("click", () => run(true));
$("s-close").addEventListener("click", () => { $("s-transcript-card").hidden = true; });
if (document.getElementById("search-script").dataset.role === "agent") $("s-scope").textContent = t("You see the conversations you were assigned.");
// The ratings 5 to 1 in the page's digits.
for (const option of $("s-rating").options) {
  if (option.value) option.textContent = fmtNumber(Number(option.value));
}
(() => {
  const given = new URLSearchParams(location.search);
  let any = false;
  for (const name of FIELDS) {
    if (given.get(name)) { $(`s-${name}`).value = given.get(name); any = true; }
  }
  if (any) run(false);
})();
