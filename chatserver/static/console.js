/* The agent console: status, offers with a countdown, chats in tabs, the transcript with what
   the bot tried, canned responses, knowledge-base assist, notes, transfer and close. */
"use strict";

const root = document.getElementById("console");
const me = { id: Number(root.dataset.userId), name: root.dataset.displayName, role: root.dataset.role };
const $ = (id) => document.getElementById(id);

const chats = new Map();   // conversation id -> chat
const offers = new Map();  // conversation id -> {conv, deadline, node}
const pending = new Map(); // frame id -> {kind, cid, node}
let activeId = null;
let mode = "reply";
let canned = [];
let myStatus = "away";

const TYPING_IDLE_MS = 2500;   // stop "typing" this long after the last key
const VISITOR_TYPING_MS = 8000; // hide the visitor's indicator if no "off" arrives

// --- socket ---------------------------------------------------------------------------------

const socket = new AgentSocket({
  onState: showConnection,
  onWelcome(frame) {
    setStatus(frame.agent.status);
    showQueue(frame.queue);
    for (const offer of offers.values()) offer.node.remove(); // the server took them back
    offers.clear();
    renderOffers();
    for (const conv of frame.conversations || []) {
      if (conv.state === "assigned" && !chats.has(conv.id)) {
        addChat({ id: conv.id, language: conv.language, topic: conv.topic });
      }
    }
    for (const chat of chats.values()) {
      if (chat.state === "assigned") socket.raw({ type: "resume", conversation_id: chat.id, after_seq: chat.lastSeq });
    }
    markRead(chats.get(activeId));
  },
  onFrame: handleFrame,
});

function handleFrame(frame) {
  const chat = chats.get(frame.conversation_id);
  switch (frame.type) {
    case "offer": return addOffer(frame);
    case "offer_revoked": return removeOffer(frame.conversation_id, frame.reason);
    case "status": return setStatus(frame.status, true);
    case "queue_snapshot": return showQueue(frame);
    case "ack": return acked(frame);
    case "error": return failed(frame);
    case "assigned":
      if (frame.agent_id === me.id && !chat && offers.has(frame.conversation_id)) {
        takeOffer(frame.conversation_id);
      }
      break;
    case "typing":
      if (chat && frame.from === "visitor") visitorTyping(chat, frame.on);
      return;
    case "read":
      if (chat && frame.from === "visitor") visitorRead(chat, frame.seq);
      return;
    default:
      break;
  }
  if (chat) addFrame(chat, frame);
}

function acked(frame) {
  const item = pending.get(frame.id);
  if (!item) return;
  pending.delete(frame.id);
  const chat = chats.get(item.cid);
  if (item.kind === "accept") takeOffer(item.cid);
  if (item.node) markSent(item.node, frame.seq);
  if (chat && item.kind === "message" && chat.silent) { chat.silent = false; renderTab(chat); }
  if (chat && item.kind === "close") finish(chat, "closed", "You closed this chat.");
  if (chat && item.kind === "transfer") finish(chat, "transferred", "Transferred. The chat has left your list.");
}

function failed(frame) {
  const item = frame.id && pending.get(frame.id);
  if (!item) { if (frame.code !== "not_found") toast(frame.message || "Something went wrong", "error"); return; }
  pending.delete(frame.id);
  if (item.kind === "accept" || item.kind === "decline") {
    removeOffer(item.cid);
    toast(item.kind === "accept" ? "That chat is no longer available." : frame.message, "info");
    return;
  }
  if (item.node) {
    item.node.classList.remove("pending");
    item.node.classList.add("failed");
    const state = item.node.querySelector(".delivery");
    if (state) state.textContent = `Not sent: ${frame.message}`;
  } else {
    toast(frame.message || "Refused", "error");
  }
}

// --- status and queue -----------------------------------------------------------------------

function setStatus(status, fromServer) {
  if (fromServer && status === "away" && myStatus === "online") toast("You are now Away.", "info");
  myStatus = status;
  for (const button of document.querySelectorAll(".status-switch [data-status]")) {
    button.setAttribute("aria-checked", String(button.dataset.status === status));
  }
  renderEmpty();
}

/** What the empty list and pane say: an offer to accept, nothing yet while online, or go online. */
function renderEmpty() {
  const when = offers.size ? "offered" : myStatus === "online" ? "online" : "away";
  for (const node of document.querySelectorAll("[data-when]")) node.hidden = node.dataset.when !== when;
}

document.querySelectorAll(".status-switch [data-status]").forEach((button) => {
  button.addEventListener("click", () => {
    const status = button.dataset.status;
    if (status === "online") unlockAlerts();
    socket.raw({ type: "status", status });
  });
});

function showQueue(queue) {
  if (!queue) return;
  const text = queue.waiting ? `${queue.waiting} waiting · longest ${fmtWait(queue.oldest_wait_seconds)}` : "Queue empty";
  $("queue-info").textContent = text;
}

// --- alerts: a short two-tone beep and a desktop notification for each offer --------------

let audio = null;
function unlockAlerts() {
  try { audio = audio || new AudioContext(); audio.resume(); } catch (e) { audio = null; }
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
}

function beep() {
  try {
    audio = audio || new AudioContext();
    const t = audio.currentTime;
    [[660, 0], [880, 0.16]].forEach(([freq, at]) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t + at);
      gain.gain.exponentialRampToValueAtTime(0.18, t + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + at); osc.stop(t + at + 0.25);
    });
  } catch (e) { /* no audio device: the visual cue is enough */ }
}

function notify(title, body) {
  if (!("Notification" in window) || Notification.permission !== "granted" || document.hasFocus()) return;
  try {
    const n = new Notification(title, { body, tag: "chat-offer" });
    n.onclick = () => { window.focus(); n.close(); };
  } catch (e) { /* some browsers only allow notifications from a service worker */ }
}

// --- offers ---------------------------------------------------------------------------------

function lastVisitorLine(transcript) {
  for (let i = (transcript || []).length - 1; i >= 0; i -= 1) {
    if (transcript[i].from === "visitor") return transcript[i].text;
  }
  return "";
}

function addOffer(frame) {
  const conv = frame.conversation;
  if (offers.has(conv.id)) removeOffer(conv.id);
  const deadline = Date.now() + (frame.expires_in || 0) * 1000;
  const total = Math.max(1, frame.expires_in || 1);
  const name = conv.visitor_name || "Visitor";
  const countdown = el("span", { class: "countdown" }, `${frame.expires_in}s`);
  const bar = el("span", { class: "countdown-bar" });
  const node = el("li", { class: "offer", dataset: { cid: conv.id } },
    el("div", { class: "offer-head" }, el("strong", { dir: "auto" }, name), countdown),
    el("div", { class: "offer-meta" }, [languageName(conv.language), conv.topic].filter(Boolean).join(" · ")),
    el("p", { class: "offer-preview", dir: "auto" }, lastVisitorLine(conv.transcript) || "Asked for a person"),
    el("div", { class: "countdown-track" }, bar),
    el("div", { class: "offer-actions" },
      el("button", { type: "button", class: "btn btn-small", onclick: () => decline(conv.id) }, "Decline"),
      el("button", { type: "button", class: "btn btn-primary btn-small", onclick: () => accept(conv.id) }, "Accept")));
  offers.set(conv.id, { conv, deadline, total, node, countdown, bar });
  $("offers").append(node);
  renderOffers();
  beep();
  notify("New chat", `${name}: ${lastVisitorLine(conv.transcript) || "asked for a person"}`);
}

function removeOffer(cid, reason) {
  const offer = offers.get(cid);
  if (!offer) return;
  offer.node.remove();
  offers.delete(cid);
  renderOffers();
  if (reason === "offer_expired") toast("An offer expired and went back to the queue.", "info");
}

function renderOffers() {
  $("offers-section").hidden = offers.size === 0;
  $("offer-count").textContent = String(offers.size);
  renderEmpty();
  updateTitle();
}

setInterval(() => {
  const now = Date.now();
  for (const offer of offers.values()) {
    const left = Math.max(0, Math.ceil((offer.deadline - now) / 1000));
    offer.countdown.textContent = `${left}s`;
    offer.bar.style.width = `${Math.max(0, Math.min(100, (100 * (offer.deadline - now)) / (offer.total * 1000)))}%`;
    offer.node.classList.toggle("urgent", left <= 5);
  }
}, 250);

function accept(cid) {
  const offer = offers.get(cid);
  if (!offer || offer.accepting) return;
  offer.accepting = true;
  offer.node.classList.add("accepting");
  const id = socket.request("accept", { conversation_id: cid });
  pending.set(id, { kind: "accept", cid });
}

function decline(cid) {
  if (!offers.has(cid)) return;
  const id = socket.request("decline", { conversation_id: cid });
  pending.set(id, { kind: "decline", cid });
  removeOffer(cid);
}

/** The offer became ours: open a chat with its transcript, then catch up on what followed. */
function takeOffer(cid) {
  const offer = offers.get(cid);
  if (chats.has(cid) || !offer) { removeOffer(cid); return; }
  const conv = offer.conv;
  const chat = addChat({ id: cid, visitorName: conv.visitor_name, language: conv.language,
    topic: conv.topic, skills: conv.skills });
  for (const frame of conv.transcript || []) addFrame(chat, frame, { quiet: true });
  removeOffer(cid);
  select(cid);
  socket.raw({ type: "resume", conversation_id: cid, after_seq: chat.lastSeq });
}

// --- chats ----------------------------------------------------------------------------------

function addChat({ id, visitorName = "", language = "", topic = "", skills = [] }) {
  const list = el("ol", { class: "transcript", hidden: true, dataset: { cid: id } });
  const chat = { id, visitorName, language, topic, skills, state: "assigned", seqs: new Set(),
    lastSeq: 0, unread: 0, draft: "", list, typing: false, typingTimer: null,
    lastVisitorText: "", assistFor: null, preview: "",
    lastVisitorSeq: 0, readSent: 0, visitorRead: 0, // read receipts, each way
    fromEntry: null, usedEntries: new Map() }; // entry id -> title, for the close dialog
  chat.tab = el("li", { role: "presentation" });
  chats.set(id, chat);
  $("transcripts").append(list);
  $("chat-tabs").append(chat.tab);
  renderTab(chat);
  renderRail();
  if (!activeId) select(id);
  return chat;
}

function renderTab(chat) {
  const badge = chat.unread ? el("span", { class: "unread", "aria-label": `${chat.unread} unread` }, String(chat.unread)) : null;
  const meta = [chat.language ? chat.language.toUpperCase() : null, chat.topic || null,
    chat.state === "closed" ? "closed" : null, chat.state === "transferred" ? "transferred" : null,
    chat.state === "assigned" && chat.silent ? "waiting for your reply" : null]
    .filter(Boolean).join(" · ");
  const button = el("button", { type: "button", role: "tab", class: `tab tab-${chat.state}${chat.silent && chat.state === "assigned" ? " tab-silent" : ""}`,
    "aria-selected": String(chat.id === activeId), dataset: { cid: chat.id }, onclick: () => select(chat.id) },
  el("span", { class: "tab-top" }, el("span", { class: "avatar avatar-small", "aria-hidden": "true" }, (chat.visitorName || "V").slice(0, 1).toUpperCase()),
    el("span", { class: "tab-name", dir: "auto" }, chat.visitorName || "Visitor"), badge),
  el("span", { class: "tab-meta" }, meta),
  el("span", { class: "tab-preview", dir: "auto" }, chat.typing ? "typing…" : chat.preview));
  chat.tab.replaceChildren(button);
}

function renderRail() {
  $("chat-count").textContent = String(chats.size);
  $("rail-empty").hidden = chats.size > 0;
  updateTitle();
}

function updateTitle() {
  let unread = 0;
  for (const chat of chats.values()) unread += chat.unread;
  const waiting = unread + offers.size;
  document.title = `${waiting ? `(${waiting}) ` : ""}Console · Helpdesk`;
}

function select(cid) {
  const prev = chats.get(activeId);
  if (prev) { prev.draft = $("composer-text").value; prev.list.hidden = true; }
  activeId = cid;
  const chat = chats.get(cid);
  for (const other of chats.values()) renderTab(other);
  $("empty-state").hidden = Boolean(chat);
  $("chat").hidden = !chat;
  $("visitor-card").hidden = !chat;
  if (!chat) { $("assist-card").hidden = true; return; }
  chat.unread = 0;
  renderTab(chat);
  updateTitle();
  chat.list.hidden = false;
  $("composer-text").value = chat.draft;
  renderHeader(chat);
  scrollDown(chat, true);
  if (chat.lastVisitorText && chat.assistFor !== chat.lastVisitorText) assist(chat);
  else renderAssist(chat);
  $("composer-text").focus();
  markRead(chat);
}

function renderHeader(chat) {
  $("chat-name").textContent = chat.visitorName || "Visitor";
  const meta = [languageName(chat.language), chat.topic ? `Topic: ${chat.topic}` : null,
    chat.skills && chat.skills.length ? `Skills: ${chat.skills.join(", ")}` : null].filter(Boolean);
  $("chat-meta").replaceChildren(...meta.map((m) => el("span", { class: "meta-item" }, m)));
  const facts = [["Name", chat.visitorName || "–"], ["Language", languageName(chat.language)],
    ["Topic", chat.topic || "–"], ["Conversation", chat.id.slice(0, 8)]];
  $("visitor-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { dir: "auto" }, v)]));
  const open = chat.state === "assigned";
  $("composer").hidden = !open;
  $("transfer-btn").disabled = !open;
  $("close-btn").disabled = !open;
  $("closed-bar").hidden = open;
  if (!open) {
    $("closed-bar").replaceChildren(el("span", {}, chat.endText || "This chat has ended."),
      el("button", { type: "button", class: "btn btn-small", onclick: () => removeChat(chat.id) }, "Remove from list"));
  }
  renderTyping(chat);
}

function removeChat(cid) {
  const chat = chats.get(cid);
  if (!chat) return;
  chat.list.remove();
  chat.tab.remove();
  chats.delete(cid);
  if (activeId === cid) {
    activeId = null;
    const next = chats.keys().next();
    select(next.done ? null : next.value);
  }
  renderRail();
}

function finish(chat, state, text) {
  if (chat.state !== "assigned") return;
  chat.state = state;
  chat.endText = text;
  chat.typing = false;
  renderTab(chat);
  if (chat.id === activeId) renderHeader(chat);
}

/** Add one conversation frame to a chat, once (by seq), and keep the chat's facts current. */
function addFrame(chat, frame, { quiet = false } = {}) {
  if (frame.seq) {
    if (chat.seqs.has(frame.seq)) return;
    chat.seqs.add(frame.seq);
    chat.lastSeq = Math.max(chat.lastSeq, frame.seq);
  }
  if (frame.type === "event" && frame.event === "started") {
    const p = frame.payload || {};
    chat.visitorName = chat.visitorName || p.visitor_name || "";
    chat.language = chat.language || p.language || "";
    chat.topic = chat.topic || p.topic || "";
    if (chat.id === activeId) renderHeader(chat);
  }
  // Our own line, drawn when sent, arrives back from the server: just mark it delivered.
  if (frame.type === "message" && frame.id) {
    const mine = chat.list.querySelector(`li[data-id="${CSS.escape(frame.id)}"]`);
    if (mine) { markSent(mine, frame.seq); return; }
  }
  if (frame.type === "note") { // note frames carry no id: match our unsent note by its text
    for (const [id, item] of pending) {
      if (item.kind === "note" && item.cid === chat.id && item.text === frame.text) {
        pending.delete(id);
        markSent(item.node, frame.seq);
        return;
      }
    }
  }
  const node = renderFrame(frame);
  if (node) insertBySeq(chat, node, frame.seq);
  if (node && frame.from === "agent") renderReceipts(chat);
  if (frame.type === "message") {
    chat.preview = `${frame.from === "visitor" ? "" : `${frame.from === "bot" ? "Bot" : "You"}: `}${frame.text}`;
    if (frame.from === "visitor") {
      chat.lastVisitorText = frame.text;
      chat.lastVisitorSeq = Math.max(chat.lastVisitorSeq, frame.seq || 0);
      markRead(chat);
      visitorTyping(chat, false);
      if (!quiet && (chat.id !== activeId || document.hidden)) chat.unread += 1;
      if (chat.id === activeId && !quiet) assist(chat);
    }
  }
  if (frame.type === "closed" && chat.state === "assigned") {
    finish(chat, "closed", frame.by === "visitor" ? `${chat.visitorName || "The visitor"} left the chat.` : "This chat was closed.");
  }
  if (frame.type === "event" && frame.event === "transferred" && (frame.payload || {}).from_agent === me.id) {
    finish(chat, "transferred", "Transferred. The chat has left your list.");
  }
  // Silent too long (docs/routing.md): a nudge, then (if the desk says so) the chat moves on.
  if (frame.type === "event" && frame.event === "silent" && (frame.payload || {}).agent_id === me.id) {
    chat.silent = true;
    if (!quiet) {
      toast(`${chat.visitorName || "The visitor"} is waiting for your reply`, "info", 6000);
      notify("A visitor is waiting for your reply", chat.visitorName || "");
    }
  }
  if (frame.type === "message" && frame.from === "agent") chat.silent = false;
  if (frame.type === "event" && frame.event === "queued" && (frame.payload || {}).reason === "silent_agent"
      && frame.payload.from_agent === me.id) {
    finish(chat, "transferred", "No reply in time: the chat was offered to another agent.");
  }
  renderTab(chat);
  updateTitle();
  if (chat.id === activeId) scrollDown(chat);
}

function insertBySeq(chat, node, seq) {
  if (seq) {
    node.dataset.seq = String(seq);
    const later = Array.from(chat.list.children).reverse().find((li) => li.dataset.seq && Number(li.dataset.seq) <= seq);
    if (later) { later.after(node); return; }
    if (chat.list.firstChild && chat.list.firstChild.dataset.seq) { chat.list.prepend(node); return; }
  }
  chat.list.append(node);
}

function markSent(node, seq) {
  node.classList.remove("pending");
  if (seq) node.dataset.seq = String(seq);
  const state = node.querySelector(".delivery");
  if (state) state.textContent = "Sent ✓";
  const chat = chats.get(node.closest("ol").dataset.cid);
  if (chat && seq) { chat.seqs.add(seq); chat.lastSeq = Math.max(chat.lastSeq, seq); renderReceipts(chat); }
}

// --- read receipts: ours when the visitor's lines are on screen, theirs on our lines ---------

/** Tell the visitor we read their lines, only when they are on screen: this chat, tab visible. */
function markRead(chat) {
  if (!chat || chat.id !== activeId || document.hidden || chat.state !== "assigned") return;
  if (chat.lastVisitorSeq > chat.readSent
      && socket.raw({ type: "read", conversation_id: chat.id, seq: chat.lastVisitorSeq })) {
    chat.readSent = chat.lastVisitorSeq;
  }
}

function visitorRead(chat, seq) {
  chat.visitorRead = Math.max(chat.visitorRead, Number(seq) || 0);
  renderReceipts(chat);
}

/** The agents' lines the visitor's widget has shown say "Read ✓✓" (the widget tells only what
    was on screen: panel open, tab visible). */
function renderReceipts(chat) {
  for (const li of chat.list.querySelectorAll(".line-agent:not(.pending):not(.failed)")) {
    const seq = Number(li.dataset.seq);
    if (!seq || seq > chat.visitorRead) continue;
    const state = li.querySelector(".delivery") || li.appendChild(el("div", { class: "delivery" }));
    if (state.textContent !== "Read ✓✓") state.textContent = "Read ✓✓";
  }
}

function scrollDown(chat, force) {
  const list = chat.list;
  const near = list.scrollHeight - list.scrollTop - list.clientHeight < 160;
  if (force || near) list.scrollTop = list.scrollHeight;
}

// --- typing ---------------------------------------------------------------------------------

function visitorTyping(chat, on) {
  clearTimeout(chat.typingTimer);
  chat.typing = Boolean(on) && chat.state === "assigned";
  if (chat.typing) chat.typingTimer = setTimeout(() => visitorTyping(chat, false), VISITOR_TYPING_MS);
  renderTab(chat);
  if (chat.id === activeId) renderTyping(chat);
}

function renderTyping(chat) {
  $("typing").hidden = !chat.typing;
  $("typing-text").textContent = `${chat.visitorName || "The visitor"} is typing…`;
}

let myTyping = null; // {cid, timer} while we told the visitor we are typing
function typed() {
  const chat = chats.get(activeId);
  if (!chat || chat.state !== "assigned" || mode !== "reply") return;
  if (!myTyping || myTyping.cid !== chat.id) {
    stopTyping();
    socket.raw({ type: "typing", conversation_id: chat.id, on: true });
    myTyping = { cid: chat.id, timer: null };
  }
  clearTimeout(myTyping.timer);
  myTyping.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  if (!myTyping) return;
  clearTimeout(myTyping.timer);
  const chat = chats.get(myTyping.cid);
  if (chat && chat.state === "assigned") socket.raw({ type: "typing", conversation_id: myTyping.cid, on: false });
  myTyping = null;
}

// --- composer -------------------------------------------------------------------------------

function setMode(next) {
  mode = next;
  $("mode-reply").setAttribute("aria-selected", String(mode === "reply"));
  $("mode-note").setAttribute("aria-selected", String(mode === "note"));
  $("composer").classList.toggle("composer-note", mode === "note");
  $("composer-text").placeholder = mode === "note" ? "Private note — only your team sees it" : "Write a reply… type / for canned responses";
  $("send-btn").textContent = mode === "note" ? "Add note" : "Send";
  if (mode === "note") stopTyping();
}
$("mode-reply").addEventListener("click", () => { setMode("reply"); $("composer-text").focus(); });
$("mode-note").addEventListener("click", () => { setMode("note"); $("composer-text").focus(); });

function send() {
  const chat = chats.get(activeId);
  const box = $("composer-text");
  const text = box.value.trim();
  if (!chat || !text || chat.state !== "assigned") return;
  const kind = mode === "note" ? "note" : "message";
  const fields = { conversation_id: chat.id, text };
  // A reply that began as an entry's answer (Insert, a linked canned response) says so: the
  // visitor's question becomes a proposed phrasing of that entry for an admin to approve.
  if (kind === "message" && chat.fromEntry) {
    fields.entry_id = chat.fromEntry.id;
    chat.usedEntries.set(chat.fromEntry.id, chat.fromEntry.title);
  }
  if (kind === "message") chat.fromEntry = null;
  const id = socket.request(kind, fields);
  const node = kind === "note"
    ? renderFrame({ type: "note", author: me.name, text, id, ts: Date.now() })
    : renderFrame({ type: "message", from: "agent", author: me.name, text, id, ts: Date.now() });
  node.classList.add("pending");
  node.append(el("div", { class: "delivery" }, "Sending…"));
  chat.list.append(node);
  pending.set(id, { kind, cid: chat.id, node, text });
  if (kind === "message") chat.preview = `You: ${text}`;
  renderTab(chat);
  box.value = "";
  chat.draft = "";
  stopTyping();
  hidePicker();
  scrollDown(chat, true);
}

$("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
$("composer-text").addEventListener("input", () => {
  const chat = chats.get(activeId);
  if (chat && !$("composer-text").value.trim()) chat.fromEntry = null; // cleared: not the entry's
  typed(); updatePicker();
});
$("composer-text").addEventListener("keydown", (e) => {
  if (!$("canned-picker").hidden) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); movePick(e.key === "ArrowDown" ? 1 : -1); return; }
    if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choosePick(); return; }
    if (e.key === "Escape") { e.preventDefault(); hidePicker(); return; }
  }
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
});

// --- canned responses: "/" opens a picker; placeholders are filled for this visitor ---------

function fill(text, chat) {
  const values = { visitor_name: chat.visitorName || "there", agent_name: me.name,
    topic: chat.topic || "your question", language: languageName(chat.language) };
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? values[key] : whole));
}

let pickIndex = 0;
let picks = [];
function updatePicker() {
  const value = $("composer-text").value;
  const match = /^\/(\S*)$/.exec(value);
  if (!match) { hidePicker(); return; }
  const q = match[1].toLowerCase();
  picks = canned.filter((c) => c.shortcut.startsWith(q) || c.title.toLowerCase().includes(q));
  if (!picks.length) { hidePicker(); return; }
  pickIndex = Math.min(pickIndex, picks.length - 1);
  renderPicker();
}

function renderPicker() {
  const chat = chats.get(activeId);
  const picker = $("canned-picker");
  picker.replaceChildren(...picks.map((c, i) => el("li", { role: "option", "aria-selected": String(i === pickIndex),
    onmousedown: (e) => { e.preventDefault(); pickIndex = i; choosePick(); } },
  el("span", { class: "pick-key" }, `/${c.shortcut}`), el("span", { class: "pick-title" }, c.title),
  el("span", { class: "pick-text" }, chat ? fill(c.text, chat) : c.text))));
  picker.hidden = false;
}

function movePick(delta) { pickIndex = (pickIndex + delta + picks.length) % picks.length; renderPicker(); }
function hidePicker() { $("canned-picker").hidden = true; pickIndex = 0; }
function choosePick() {
  const choice = picks[pickIndex];
  hidePicker();
  if (choice) { insertText(choice.text, true); usedEntry(choice.entry_id, choice.title); }
}

/** The composer now holds this entry's answer (canned responses may name one: `entry_id`). */
function usedEntry(entryId, title) {
  const chat = chats.get(activeId);
  if (chat && entryId) chat.fromEntry = { id: Number(entryId), title: title || `Entry ${entryId}` };
}

function insertText(text, replaceAll) {
  const chat = chats.get(activeId);
  if (!chat) return;
  const box = $("composer-text");
  const filled = fill(text, chat);
  box.value = replaceAll || !box.value.trim() ? filled : `${box.value.trimEnd()}\n${filled}`;
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  typed();
}

async function loadCanned() {
  try {
    const response = await fetch("/static/canned.json", { credentials: "same-origin" });
    canned = await response.json();
  } catch (e) { canned = []; }
  $("canned-list").replaceChildren(...canned.map((c) => el("li", {},
    el("button", { type: "button", class: "canned-item", title: c.text, onclick: () => { insertText(c.text, false); usedEntry(c.entry_id, c.title); } },
      el("span", { class: "pick-key" }, `/${c.shortcut}`), el("span", {}, c.title)))));
}
loadCanned();

// --- agent assist: the knowledge-base entries closest to the visitor's last message --------

async function assist(chat) {
  const text = chat.lastVisitorText;
  if (!text) return;
  chat.assistFor = text;
  const result = await api("POST", "/api/kb/try", { text, language: chat.language || "en" });
  if (chat.assistFor !== text) return; // a newer message replaced it meanwhile
  chat.assist = result.ok ? result.data.matches.filter((m) => m.score > 0).slice(0, 4) : [];
  if (chat.id === activeId) renderAssist(chat);
}

function renderAssist(chat) {
  const matches = chat.assist || [];
  $("assist-card").hidden = !chat.lastVisitorText;
  $("assist-for").textContent = chat.lastVisitorText ? `For “${chat.lastVisitorText.slice(0, 80)}”` : "";
  $("assist").replaceChildren(...(matches.length ? matches.map((m) => el("li", { class: "assist-item" },
    el("div", { class: "assist-title", dir: "auto" }, m.title),
    el("div", { class: "assist-row" }, el("span", { class: "score-bar" }, el("span", { style: `width:${Math.round(Math.min(1, m.score) * 100)}%` })),
      el("span", { class: "score" }, Number(m.score).toFixed(2)),
      el("button", { type: "button", class: "btn btn-small", onclick: () => insertEntry(m.entry_id, m.title) }, "Insert"))))
    : [el("li", { class: "muted small" }, "No close match in the knowledge base.")]));
}

async function insertEntry(entryId, title) {
  const result = await api("GET", `/api/kb/${encodeURIComponent(entryId)}`);
  if (!result.ok) { toast("That entry is gone.", "error"); return; }
  insertText(result.data.answer, false);
  usedEntry(entryId, title || result.data.title);
}

// --- transfer and close -------------------------------------------------------------------

$("transfer-btn").addEventListener("click", async () => {
  const result = await api("GET", "/api/agents");
  const agents = result.ok ? result.data.agents.filter((a) => a.id !== me.id) : [];
  const skills = result.ok ? result.data.skills : [];
  $("transfer-agent").replaceChildren(...agents.map((a) => el("option", { value: a.id },
    `${a.display_name} (${a.status})`)));
  $("transfer-skill").replaceChildren(...skills.map((s) => el("option", { value: s }, s)));
  if (!agents.length) document.querySelector('#transfer-form input[value="skill"]').checked = true;
  $("transfer-note").value = "";
  $("transfer-dialog").showModal();
});

$("transfer-dialog").addEventListener("close", () => {
  const chat = chats.get(activeId);
  if ($("transfer-dialog").returnValue !== "ok" || !chat) return;
  const target = document.querySelector('#transfer-form input[name="target"]:checked').value;
  const fields = { conversation_id: chat.id };
  if (target === "agent" && $("transfer-agent").value) fields.to_agent = Number($("transfer-agent").value);
  else if (target === "skill" && $("transfer-skill").value) fields.to_skill = $("transfer-skill").value;
  else { toast("Pick a colleague or a team first.", "error"); return; }
  const note = $("transfer-note").value.trim();
  if (note) fields.note = note;
  const id = socket.request("transfer", fields);
  pending.set(id, { kind: "transfer", cid: chat.id });
});

$("close-btn").addEventListener("click", () => {
  // Which entry answered the visitor (optional): those used in this chat, then the assist's.
  const chat = chats.get(activeId);
  const offered = new Map(chat ? chat.usedEntries : []);
  for (const m of (chat && chat.assist) || []) if (!offered.has(m.entry_id)) offered.set(m.entry_id, m.title);
  $("close-entry").replaceChildren(el("option", { value: "" }, "None"),
    ...Array.from(offered, ([id, title]) => el("option", { value: id, dir: "auto" }, title)));
  $("close-entry-row").hidden = offered.size === 0;
  $("close-dialog").showModal();
});
$("close-dialog").addEventListener("close", () => {
  const chat = chats.get(activeId);
  const value = $("close-dialog").returnValue;
  if (!chat || (value !== "resolved" && value !== "unresolved")) return;
  const fields = { conversation_id: chat.id, resolved: value === "resolved" };
  if ($("close-entry").value) fields.entry_id = Number($("close-entry").value);
  const id = socket.request("close", fields);
  pending.set(id, { kind: "close", cid: chat.id });
});

// --- keyboard -------------------------------------------------------------------------------

document.addEventListener("keydown", (e) => {
  if (!e.altKey || e.ctrlKey || e.metaKey) return;
  const digit = /^Digit([1-9])$/.exec(e.code);
  if (digit) {
    const cid = Array.from(chats.keys())[Number(digit[1]) - 1];
    if (cid) { e.preventDefault(); select(cid); }
  } else if (e.code === "KeyA" && offers.size) {
    e.preventDefault(); accept(offers.keys().next().value);
  } else if (e.code === "KeyD" && offers.size) {
    e.preventDefault(); decline(offers.keys().next().value);
  } else if (e.code === "KeyN") {
    e.preventDefault(); setMode(mode === "note" ? "reply" : "note"); $("composer-text").focus();
  }
});

document.addEventListener("visibilitychange", () => {
  const chat = chats.get(activeId);
  if (!document.hidden && chat) { chat.unread = 0; renderTab(chat); updateTitle(); markRead(chat); }
});

// --- messages left while nobody could answer ------------------------------------------------

// 30 s: they are answered by email, so a short delay costs nothing; the list stays current
// without a request per second from every console.
const LEFT_POLL_MS = 30000;

async function loadLeft() {
  const result = await api("GET", "/api/offline-messages");
  if (!result.ok) return;
  const items = result.data.messages;
  $("left-section").hidden = items.length === 0;
  $("left-count").textContent = String(items.length);
  $("left-messages").replaceChildren(...items.map((m) => el("li", { class: "left-message" },
    el("div", { class: "left-head" },
      el("a", { href: `mailto:${m.email}`, text: m.email }),
      el("time", { text: new Date(m.created_ms).toLocaleString() })),
    el("p", { dir: "auto", text: m.text }),
    el("button", { type: "button", class: "btn btn-small", text: "Mark answered",
      onclick: async () => {
        const done = await api("POST", `/api/offline-messages/${m.id}/answered`);
        if (done.ok) loadLeft(); else toast(done.data.message || "Could not update", "error");
      } }))));
}

loadLeft();
setInterval(loadLeft, LEFT_POLL_MS);
