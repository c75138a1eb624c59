/* The supervisor's view: the live queue, every agent's status and load (polled from
   /api/supervisor/overview), and a live transcript of any open chat (agent socket), with its
   labels, which a supervisor may change. In a chat an agent holds, the supervisor may whisper
   to the agent (never shown to the visitor) or take the chat over into their own console
   (docs/protocol.md, "Whisper and take-over"). */
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000; // fresh enough for a wallboard, cheap for the server
let watching = null;  // conversation id shown
let watched = null;   // its row of the last overview: state, agent
let open = [];        // the last overview's open conversations
let seen = new Set();
let labels = new Map(); // the watched chat's labels, folded from its `label` frames
const labelling = new Set(); // ids of our `label` frames awaiting their ack
const asked = new Map(); // id of our whisper or take_over frame -> {kind, cid, text}
const me = { id: null, name: "" }; // from the socket's welcome

const STATES = { bot: t("with the bot"), queued: t("waiting"), offered: t("offered"),
  assigned: t("with an agent"), closed: t("closed") };
const STATUSES = { online: t("online"), away: t("away"), offline: t("offline") };
const ROLES = { agent: t("agent"), supervisor: t("supervisor"), admin: t("admin") };

const socket = new AgentSocket({
  onState: showConnection,
  onWelcome(frame) {
    me.id = frame.agent.id;
    me.name = frame.agent.display_name;
    Labels.load(true).then(renderLabels);
    if (watching) watch(watching, true);
    renderTools();
  },
  onFrame(frame) {
    if (frame.type === "error" && labelling.delete(frame.id)) { toast(t(frame.message), "error"); return; }
    if (frame.type === "ack" && labelling.delete(frame.id)) return;
    if ((frame.type === "ack" || frame.type === "error") && asked.has(frame.id)) { answered(frame); return; }
    if (!watching || frame.conversation_id !== watching) return;
    if (!["message", "note", "whisper", "assigned", "closed", "event", "label"].includes(frame.type)) return;
    show(frame);
  },
});

/** One frame of the watched chat, drawn once (by seq). */
function show(frame) {
  if (frame.seq) { if (seen.has(frame.seq)) return; seen.add(frame.seq); }
  if (Labels.fold(labels, frame)) renderLabels();
  const node = renderFrame(frame);
  if (!node) return;
  const list = $("watch-transcript");
  const near = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  list.append(node);
  if (near) list.scrollTop = list.scrollHeight;
}

/** The ack or refusal of a whisper or take-over. A whisper's ack is our copy of it. */
function answered(frame) {
  const item = asked.get(frame.id);
  asked.delete(frame.id);
  if (frame.type === "error") {
    toast(t(frame.message), "error");
    if (item.kind === "whisper" && !$("whisper-text").value) $("whisper-text").value = item.text;
    return;
  }
  if (item.kind === "whisper" && item.cid === watching) {
    show({ type: "whisper", conversation_id: item.cid, seq: frame.seq, id: frame.id,
      ts: new Date().toISOString(), author: me.name, author_id: me.id, text: item.text });
  }
  if (item.kind === "take_over") {
    toast(t("The chat is yours now: answer it in your console."), "info", 6000);
    if (watched && watched.id === item.cid) watched = { ...watched, agent_id: me.id, agent: me.name };
    renderTools();
  }
}

/** The watched chat's title and whisper form, usable while another agent holds the chat. */
function renderTools() {
  const form = $("whisper-form");
  form.hidden = !watching;
  if (!watching) return;
  if (watched) {
    $("watch-title").replaceChildren("— ", el("bdi", {}, watched.visitor_name || t("Visitor")), ` · ${STATES[watched.state] || watched.state}`);
  }
  const held = Boolean(watched && watched.state === "assigned" && watched.agent_id !== null);
  const mine = held && watched.agent_id === me.id;
  const usable = held && !mine && me.id !== null;
  for (const id of ["whisper-text", "whisper-send", "take-over"]) $(id).disabled = !usable;
  let hint = null;
  if (mine) hint = el("a", { href: "/console" }, t("You hold this chat: answer it in your console."));
  else if (!watched) hint = t("This chat has ended.");
  else if (!held) hint = t("No agent holds this chat yet: nobody to whisper to.");
  $("watch-hint").replaceChildren(...(hint ? [hint] : []));
}

function whisper(event) {
  event.preventDefault();
  const text = $("whisper-text").value.trim();
  if (!text || !watching) return;
  const id = socket.request("whisper", { conversation_id: watching, text });
  asked.set(id, { kind: "whisper", cid: watching, text });
  $("whisper-text").value = "";
  $("whisper-text").focus();
}

function takeOver() {
  if (!watching || !watched) return;
  const agent = watched.agent || t("the agent");
  if (!window.confirm(t("Take this chat over from {agent}? It leaves their list and opens in your console.", { agent: isolate(agent) }))) return;
  // The agent we saw holding it: if someone else took it meanwhile, the server refuses.
  const id = socket.request("take_over", { conversation_id: watching, from_agent: watched.agent_id });
  asked.set(id, { kind: "take_over", cid: watching });
}

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
  watched = open.find((c) => c.id === cid) || null;
  document.querySelectorAll("#convs-table tbody tr").forEach((tr) => tr.setAttribute("aria-selected", String(tr.dataset.cid === cid)));
  socket.raw({ type: "resume", conversation_id: cid, after_seq: again ? Math.max(0, ...seen) : 0 });
  renderLabels();
  renderTools();
}

function statusPill(status) {
  return el("span", { class: "load" }, el("span", { class: `dot dot-${status}` }), STATUSES[status] || status);
}

async function poll() {
  const result = await api("GET", "/api/supervisor/overview");
  if (result.ok) render(result.data);
  setTimeout(poll, POLL_MS);
}

function render(data) {
  const q = data.queue;
  $("stat-waiting").textContent = fmtNumber(q.waiting);
  $("stat-oldest").textContent = q.waiting ? fmtWait(q.oldest_wait_seconds) : "–";
  $("stat-online").textContent = fmtNumber(data.agents.filter((a) => a.status === "online").length);
  $("stat-active").textContent = fmtNumber(data.conversations.filter((c) => c.state === "assigned").length);
  const most = Math.max(1, ...q.by_skill.map((s) => s.waiting));
  $("by-skill").replaceChildren(...(q.by_skill.length ? q.by_skill.map((s) => el("li", {},
    el("span", { dir: "auto" }, s.skill), el("span", { class: "load-bar", style: "width:100%" }, el("span", { style: `width:${(100 * s.waiting) / most}%` })),
    el("span", { class: "muted" }, `${fmtNumber(s.waiting)} · ${fmtWait(s.oldest_wait_seconds)}`)))
    : [el("li", { class: "muted" }, t("Nobody waiting"))]));

  const agents = $("agents-table").tBodies[0];
  agents.replaceChildren(...data.agents.map((a) => el("tr", {},
    el("td", {}, el("strong", { dir: "auto" }, a.display_name), el("div", { class: "muted small" }, el("bdi", {}, a.username), ` · ${ROLES[a.role] || a.role}`)),
    el("td", {}, statusPill(a.status)),
    el("td", {}, el("span", { class: "load" }, el("span", { class: "load-bar" }, el("span", { style: `width:${Math.min(100, (100 * a.load) / Math.max(1, a.capacity))}%` })),
      el("bdi", {}, `${fmtNumber(a.load)}/${fmtNumber(a.capacity)}`))),
    el("td", { class: "small", dir: "auto" }, Object.keys(a.skills).join(", ") || "–"))));
  if (!data.agents.length) agents.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, t("Nobody has connected since the server started."))));

  const convs = $("convs-table").tBodies[0];
  convs.replaceChildren(...data.conversations.map((c) => el("tr", { dataset: { cid: c.id }, "aria-selected": String(c.id === watching), tabindex: 0,
    onclick: () => watch(c.id), onkeydown: (e) => { if (e.key === "Enter") watch(c.id); } },
  el("td", { dir: "auto" }, c.visitor_name || t("Visitor")),
  el("td", {}, el("span", { class: `state state-${c.state}` }, STATES[c.state] || c.state),
    c.silent_since_ms ? el("span", { class: "state state-silent", title: t("The agent has not replied in time") },
      t("no reply {time}", { time: fmtWait((data.now_ms - c.silent_since_ms) / 1000) })) : null),
  el("td", { dir: "auto" }, c.agent || "–"),
  el("td", {}, c.language || "–"),
  el("td", { dir: "auto" }, c.topic || "–"),
  el("td", { class: "muted" }, fmtWait((data.now_ms - c.created_ms) / 1000)))));
  if (!data.conversations.length) convs.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("No open conversations."))));
  open = data.conversations;
  watched = open.find((c) => c.id === watching) || null;
  renderTools();
}

$("whisper-form").addEventListener("submit", whisper);
$("take-over").addEventListener("click", takeOver);
$("whisper-text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("whisper-form").requestSubmit(); }
});
poll();
