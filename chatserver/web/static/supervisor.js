/* The supervisor's view: the live queue, every agent's status and load (polled from
   /api/supervisor/overview), and a read-only live transcript of any open chat (agent socket),
   with its labels, which a supervisor may change. */
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000; // fresh enough for a wallboard, cheap for the server
let watching = null;  // conversation id shown read-only
let seen = new Set();
let labels = new Map(); // the watched chat's labels, folded from its `label` frames
const labelling = new Set(); // ids of our `label` frames awaiting their ack

const socket = new AgentSocket({
  onState: showConnection,
  onWelcome() { Labels.load(true).then(renderLabels); if (watching) watch(watching, true); },
  onFrame(frame) {
    if (frame.type === "error" && labelling.delete(frame.id)) { toast(frame.message, "error"); return; }
    if (frame.type === "ack") { labelling.delete(frame.id); return; }
    if (!watching || frame.conversation_id !== watching) return;
    if (!["message", "note", "assigned", "closed", "event", "label"].includes(frame.type)) return;
    if (frame.seq) { if (seen.has(frame.seq)) return; seen.add(frame.seq); }
    if (Labels.fold(labels, frame)) renderLabels();
    const node = renderFrame(frame);
    if (!node) return;
    const list = $("watch-transcript");
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    list.append(node);
    if (near) list.scrollTop = list.scrollHeight;
  },
});

/** The watched chat's chips; a supervisor may add and remove labels on any chat. */
function renderLabels() {
  const box = $("watch-labels");
  box.hidden = !watching;
  if (!watching) return;
  const had = box.contains(document.activeElement);
  box.replaceChildren(Labels.bar(labels, (labelId, on) => {
    labelling.add(socket.request("label", { conversation_id: watching, label_id: labelId, on }));
  }));
  if (had) box.querySelector(".label-picker").focus();
}

function watch(cid, again) {
  if (!again) { seen = new Set(); labels = new Map(); $("watch-transcript").replaceChildren(); }
  watching = cid;
  document.querySelectorAll("#convs-table tbody tr").forEach((tr) => tr.setAttribute("aria-selected", String(tr.dataset.cid === cid)));
  socket.raw({ type: "resume", conversation_id: cid, after_seq: again ? Math.max(0, ...seen) : 0 });
  renderLabels();
}

function statusPill(status) {
  return el("span", { class: "load" }, el("span", { class: `dot dot-${status}` }), status);
}

async function poll() {
  const result = await api("GET", "/api/supervisor/overview");
  if (result.ok) render(result.data);
  setTimeout(poll, POLL_MS);
}

function render(data) {
  const q = data.queue;
  $("stat-waiting").textContent = String(q.waiting);
  $("stat-oldest").textContent = q.waiting ? fmtWait(q.oldest_wait_seconds) : "–";
  $("stat-online").textContent = String(data.agents.filter((a) => a.status === "online").length);
  $("stat-active").textContent = String(data.conversations.filter((c) => c.state === "assigned").length);
  const most = Math.max(1, ...q.by_skill.map((s) => s.waiting));
  $("by-skill").replaceChildren(...(q.by_skill.length ? q.by_skill.map((s) => el("li", {},
    el("span", {}, s.skill), el("span", { class: "load-bar", style: "width:100%" }, el("span", { style: `width:${(100 * s.waiting) / most}%` })),
    el("span", { class: "muted" }, `${s.waiting} · ${fmtWait(s.oldest_wait_seconds)}`)))
    : [el("li", { class: "muted" }, "Nobody waiting")]));

  const agents = $("agents-table").tBodies[0];
  agents.replaceChildren(...data.agents.map((a) => el("tr", {},
    el("td", {}, el("strong", { dir: "auto" }, a.display_name), el("div", { class: "muted small" }, `${a.username} · ${a.role}`)),
    el("td", {}, statusPill(a.status)),
    el("td", {}, el("span", { class: "load" }, el("span", { class: "load-bar" }, el("span", { style: `width:${Math.min(100, (100 * a.load) / Math.max(1, a.capacity))}%` })), `${a.load}/${a.capacity}`)),
    el("td", { class: "small" }, Object.keys(a.skills).join(", ") || "–"))));
  if (!data.agents.length) agents.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Nobody has connected since the server started.")));

  const convs = $("convs-table").tBodies[0];
  convs.replaceChildren(...data.conversations.map((c) => el("tr", { dataset: { cid: c.id }, "aria-selected": String(c.id === watching), tabindex: 0,
    onclick: () => watch(c.id), onkeydown: (e) => { if (e.key === "Enter") watch(c.id); } },
  el("td", { dir: "auto" }, c.visitor_name || "Visitor"),
  el("td", {}, el("span", { class: `state state-${c.state}` }, c.state),
    c.silent_since_ms ? el("span", { class: "state state-silent", title: "The agent has not replied in time" },
      `no reply ${fmtWait((data.now_ms - c.silent_since_ms) / 1000)}`) : null),
  el("td", { dir: "auto" }, c.agent || "–"),
  el("td", {}, c.language || "–"),
  el("td", {}, c.topic || "–"),
  el("td", { class: "muted" }, fmtWait((data.now_ms - c.created_ms) / 1000)))));
  if (!data.conversations.length) convs.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No open conversations.")));
  const chosen = data.conversations.find((c) => c.id === watching);
  if (chosen) $("watch-title").textContent = `— ${chosen.visitor_name || "Visitor"} · ${chosen.state} (read-only)`;
}

poll();
