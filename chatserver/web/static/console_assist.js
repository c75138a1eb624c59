/* Agent assist: the knowledge-base entries closest to the visitor's last message, to insert. */

import { view, $ } from "./console_state.js";
import { insertText, usedEntry } from "./console_draft.js";

export async function assist(chat) {
  const text = chat.lastVisitorText;
  if (!text) return;
  chat.assistFor = text;
  const result = await api("POST", "/api/kb/try", { text, language: chat.language || "en" });
  if (chat.assistFor !== text) return; // a newer message replaced it meanwhile
  chat.assist = result.ok ? result.data.matches.filter((m) => m.score > 0).slice(0, 4) : [];
  if (chat.id === view.activeId) renderAssist(chat);
}

export function renderAssist(chat) {
  const matches = chat.assist || [];
  $("assist-card").hidden = !chat.lastVisitorText;
  $("assist-for").replaceChildren(...(chat.lastVisitorText ? tParts(t("For “{text}”"), { text: chat.lastVisitorText.slice(0, 80) }) : []));
  $("assist").replaceChildren(...(matches.length ? matches.map((m) => el("li", { class: "assist-item" },
    el("div", { class: "assist-title", dir: "auto" }, m.title),
    el("div", { class: "assist-row" }, el("span", { class: "score-bar" }, el("span", { style: `width:${Math.round(Math.min(1, m.score) * 100)}%` })),
      el("span", { class: "score" }, fmtNumber(Number(m.score), { minimumFractionDigits: 2, maximumFractionDigits: 2 })),
      el("button", { type: "button", class: "btn btn-small", onclick: () => insertEntry(m.entry_id, m.title) }, t("Insert")))))
    : [el("li", { class: "muted small" }, t("No close match in the knowledge base."))]));
}

async function insertEntry(entryId, title) {
  const result = await api("GET", `/api/kb/${encodeURIComponent(entryId)}`);
  if (!result.ok) { toast(t("That entry is gone."), "error"); return; }
  insertText(result.data.answer_text, false); // an agent's line is plain text, not Markdown
  usedEntry(entryId, title || result.data.title);
}
