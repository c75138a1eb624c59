/* Who the visitor is, beside their chat and on their offer: verified by the site (✓, with the
   site's customer id and email) or not (a name the visitor typed), returning or new, and their
   earlier conversations (/api/visitors/{id}/history), each opened read-only in a dialog
   (/api/conversations/{id}/transcript, drawn by renderFrame) with its labels (Labels.editor:
   a closed chat is labelled from here). A visitor who logs in mid-chat (a `rehomed` event) is
   followed to their verified visitor. The staff strings are all here, in TEXT, in the page
   language. */

import { view, $ } from "./console_state.js";

export const TEXT = {
  verified: t("✓ Verified"),
  verifiedTitle: t("The site signed this visitor's identity: the same customer on every device"),
  unverified: t("Unverified"),
  unverifiedTitle: t("The name was typed by the visitor; nobody vouched for it"),
  returning: (n) => (n === 1 ? t("returning visitor · {n} chat", { n: fmtNumber(n) })
    : t("returning visitor · {n} chats", { n: fmtNumber(n) })),
  lastRating: (r) => t("last rating ★{rating}", { rating: fmtNumber(r) }),
  firstVisit: t("first visit"),
  identity: t("Identity"),
  customerId: t("Customer id"),
  siteName: t("Name (site)"),
  email: t("Email (site)"),
  history: t("Earlier conversations"),
  noHistory: t("No earlier conversations."),
  loading: t("Loading…"),
  failed: t("The history could not be loaded."),
  more: t("Show more"),
  botOnly: t("bot only"),
  resolved: t("resolved"),
  unresolved: t("not resolved"),
  noFirstLine: t("(no message)"),
  readOnly: t("Earlier conversation (read-only)"),
  close: t("Close"),
  transcriptFailed: t("That conversation could not be opened."),
};

/** "✓ Verified" or "Unverified", as a small mark with its reason on hover. */
export function mark(visitor) {
  const verified = Boolean(visitor && visitor.verified);
  return el("span", { class: `id-mark ${verified ? "id-verified" : "id-unverified"}`,
    title: verified ? TEXT.verifiedTitle : TEXT.unverifiedTitle }, verified ? TEXT.verified : TEXT.unverified);
}

/** "returning visitor · 3 chats · last rating ★4", or "first visit". */
export function glance(summary) {
  if (!summary || !summary.returning) return TEXT.firstVisit;
  const parts = [TEXT.returning(summary.conversations)];
  if (summary.last_rating) parts.push(TEXT.lastRating(summary.last_rating));
  return parts.join(" · ");
}

/** The chat's visitor facts (after Name): the mark, and for verified visitors the site's id. */
export function identityFacts(chat) {
  const v = chat.visitor;
  if (!v) return [];
  const facts = [[TEXT.identity, mark(v)]];
  if (v.verified) {
    facts.push([TEXT.customerId, v.external_id || "–"]);
    if (v.name) facts.push([TEXT.siteName, v.name]);
    facts.push([TEXT.email, v.email || "–"]);
  }
  return facts;
}

/** Fetch the chat's visitor history once (while the chat is ours the server allows it); the
   caller redraws what shows the visitor (tab, header) when it resolves. */
export async function loadHistory(chat, cursor) {
  if (!chat.visitorId || (chat.history && !cursor) || chat.historyLoading) return;
  const visitorId = chat.visitorId;
  chat.historyLoading = true;
  const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
  const result = await api("GET", `/api/visitors/${encodeURIComponent(visitorId)}/history${query}`);
  chat.historyLoading = false;
  if (chat.visitorId !== visitorId) { await loadHistory(chat); return; } // moved meanwhile
  if (!result.ok) {
    chat.history = chat.history || { failed: true, conversations: [] };
  } else {
    const earlier = cursor && chat.history ? chat.history.conversations : [];
    chat.history = { ...result.data, conversations: [...earlier, ...result.data.conversations] };
    chat.visitor = { ...(chat.visitor || {}), ...result.data.visitor, ...result.data.summary };
  }
  if (chat.id === view.activeId) renderHistory(chat);
}

/** The visitor logged in mid-chat (a `rehomed` event): the chat is their verified visitor's
   now, so who they are and their history are loaded afresh for that visitor. */
export async function visitorMoved(chat, visitorId) {
  if (!visitorId || visitorId === chat.visitorId) return;
  chat.visitorId = visitorId;
  chat.history = null;
  chat.visitor = null;
  if (chat.id === view.activeId) renderHistory(chat);
  await loadHistory(chat);
}

/** The visitor panel's list of earlier conversations, for the open chat. */
export function renderHistory(chat) {
  const box = $("visitor-history");
  if (!box) return;
  const h = chat && chat.history;
  $("visitor-glance").textContent = chat && chat.visitor ? glance(chat.visitor) : "";
  if (!h) { box.replaceChildren(el("li", { class: "muted small" }, chat && chat.visitorId ? TEXT.loading : TEXT.noHistory)); return; }
  if (h.failed) { box.replaceChildren(el("li", { class: "muted small" }, TEXT.failed)); return; }
  const items = h.conversations.map((c) => el("li", {},
    el("button", { type: "button", class: "history-item", dataset: { cid: c.id }, onclick: () => openTranscript(c.id) },
      el("span", { class: "history-when" }, fmtDate(c.started_ms),
        c.topic ? " · " : "", c.topic ? el("bdi", {}, c.topic) : "", " · ", c.agent ? el("bdi", {}, c.agent) : TEXT.botOnly),
      el("span", { class: "history-outcome" },
        c.rating ? `★${fmtNumber(c.rating)}` : "", c.resolved === true ? ` ${TEXT.resolved}` : (c.resolved === false ? ` ${TEXT.unresolved}` : "")),
      el("span", { class: "history-first", dir: "auto" }, c.first_line || TEXT.noFirstLine))));
  if (!items.length) items.push(el("li", { class: "muted small" }, TEXT.noHistory));
  if (h.next) {
    items.push(el("li", {}, el("button", { type: "button", class: "btn btn-small", onclick: () => loadHistory(chat, h.next) }, TEXT.more)));
  }
  box.replaceChildren(...items);
}

/** One earlier conversation, read-only: its frames drawn as the transcript draws them. */
async function openTranscript(cid) {
  const result = await api("GET", `/api/conversations/${encodeURIComponent(cid)}/transcript`);
  if (!result.ok) { toast(TEXT.transcriptFailed, "error"); return; }
  const c = result.data.conversation;
  $("history-title").textContent = TEXT.readOnly;
  $("history-meta").textContent = [fmtDateTime(c.started_ms), c.topic ? isolate(c.topic) : "",
    c.agent ? isolate(c.agent) : TEXT.botOnly].filter(Boolean).join(" · ");
  const lines = result.data.events.map((f) => renderFrame(f)).filter(Boolean);
  $("history-transcript").replaceChildren(...lines);
  // Its labels: read-only, or with the picker and × when this user may label it.
  Labels.editor($("history-labels"), cid, result.data.events);
  $("history-dialog").showModal();
}

/** The dialog's close button; the visitor card is filled as chats are selected. */
export function wireVisitor() {
  $("history-close").textContent = TEXT.close;
  $("history-heading").textContent = TEXT.history;
}
