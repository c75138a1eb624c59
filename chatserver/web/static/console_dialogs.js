/* The transfer and close dialogs: to a colleague or a team with a note; resolved or not, with the
   knowledge-base entry that answered (those used in this chat first, then the assist's). */

import { chats, me, pending, view, $ } from "./console_state.js";
import { socket } from "./console_connection.js";

// A colleague's presence, as the transfer list shows it.
const STATUS = { online: t("online"), away: t("away"), offline: t("offline") };

export function wireDialogs() {
  $("transfer-btn").addEventListener("click", openTransfer);
  $("transfer-dialog").addEventListener("close", transferChosen);
  $("close-btn").addEventListener("click", openClose);
  $("close-dialog").addEventListener("close", closeChosen);
}

async function openTransfer() {
  const result = await api("GET", "/api/agents");
  const agents = result.ok ? result.data.agents.filter((a) => a.id !== me.id) : [];
  const skills = result.ok ? result.data.skills : [];
  $("transfer-agent").replaceChildren(...agents.map((a) => el("option", { value: a.id },
    t("{name} ({status})", { name: isolate(a.display_name), status: STATUS[a.status] || a.status }))));
  $("transfer-skill").replaceChildren(...skills.map((s) => el("option", { value: s }, s)));
  if (!agents.length) document.querySelector('#transfer-form input[value="skill"]').checked = true;
  $("transfer-note").value = "";
  $("transfer-dialog").showModal();
}

function transferChosen() {
  const chat = chats.get(view.activeId);
  if ($("transfer-dialog").returnValue !== "ok" || !chat) return;
  const target = document.querySelector('#transfer-form input[name="target"]:checked').value;
  const fields = { conversation_id: chat.id };
  if (target === "agent" && $("transfer-agent").value) fields.to_agent = Number($("transfer-agent").value);
  else if (target === "skill" && $("transfer-skill").value) fields.to_skill = $("transfer-skill").value;
  else { toast(t("Pick a colleague or a team first."), "error"); return; }
  const note = $("transfer-note").value.trim();
  if (note) fields.note = note;
  const id = socket.request("transfer", fields);
  pending.set(id, { kind: "transfer", cid: chat.id });
}

function openClose() {
  // Which entry answered the visitor (optional): those used in this chat, then the assist's.
  const chat = chats.get(view.activeId);
  const offered = new Map(chat ? chat.usedEntries : []);
  for (const m of (chat && chat.assist) || []) if (!offered.has(m.entry_id)) offered.set(m.entry_id, m.title);
  $("close-entry").replaceChildren(el("option", { value: "" }, t("None")),
    ...Array.from(offered, ([id, title]) => el("option", { value: id, dir: "auto" }, title)));
  $("close-entry-row").hidden = offered.size === 0;
  $("close-dialog").showModal();
}

function closeChosen() {
  const chat = chats.get(view.activeId);
  const value = $("close-dialog").returnValue;
  if (!chat || (value !== "resolved" && value !== "unresolved")) return;
  const fields = { conversation_id: chat.id, resolved: value === "resolved" };
  if ($("close-entry").value) fields.entry_id = Number($("close-entry").value);
  const id = socket.request("close", fields);
  pending.set(id, { kind: "close", cid: chat.id });
}
