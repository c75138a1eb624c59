// The widget's state as a pure reducer: reduce(state, action) -> new state. No DOM, no socket,
// no clock (times come in actions), so it is tested by feeding actions in any JS engine.
//
// Actions are either {type: "frame", frame} for a server frame or a UI intent below. Anything
// that must reach the server goes into `outbox` (frames with their own ids) and leaves it only
// when acked, so a message typed offline or lost with a socket is sent again, never twice:
// the server de-duplicates by id.

// Kept in localStorage so a reload or another page of the site picks the chat up again.
export const PERSISTED = ["token", "conversationId", "lastSeq", "readSent", "messages", "outbox",
  "agent", "agentRead", "closed", "survey", "view", "profile", "open", "unread", "asked",
  "ending"];

// 200 lines is more than any support chat needs on screen; older ones stay on the server.
const KEEP_MESSAGES = 200;
// Retrying these cannot succeed: the frame itself was refused.
const FINAL_ERRORS = ["bad_frame", "too_large", "conflict", "not_found", "forbidden",
  "unknown_type", "bad_json"];

export function initial(saved) {
  return {
    token: null, conversationId: null, lastSeq: 0, readSent: 0, messages: [], outbox: [],
    agent: null, agentRead: 0, agentTyping: false, queue: null, closed: false, survey: null,
    view: "chat", profile: {}, agentsOnline: true, online: false, open: false, unread: 0,
    asked: false, rejected: false, wantHuman: null, ...saved,
  };
}

/** A new conversation: its seqs start again, and nothing of the old one's live state carries. */
export function adopt(s, conversationId) {
  if (conversationId === s.conversationId) return s;
  return { ...s, conversationId, lastSeq: 0, readSent: 0, agent: null, agentRead: 0,
    queue: null, closed: false, asked: false };
}

function seen(s, f) {
  return f.seq > s.lastSeq ? { ...s, lastSeq: f.seq } : s;
}

export function addLine(s, line) {
  const messages = s.messages.concat(line).slice(-KEEP_MESSAGES);
  const unread = !s.open && line.from !== "visitor" ? s.unread + 1 : s.unread;
  return { ...s, messages, unread };
}

function onMessage(s, f) {
  s = adopt(s, f.conversation_id);
  const i = s.messages.findIndex((m) => m.id === f.id
    || (m.seq === f.seq && m.conversationId === f.conversation_id));
  const line = { id: f.id, conversationId: f.conversation_id, seq: f.seq, ts: f.ts,
    from: f.from, author: f.author, text: f.markdown || f.text, suggestions: f.suggestions || null,
    actions: f.actions, attachment: f.attachment };
  if (i >= 0) {
    // Our own line echoed back, or a replay after resume: the same line, now with its seq.
    const messages = s.messages.slice();
    messages[i] = { ...messages[i], ...line, pending: false, failed: false, suggestions:
      messages[i].chosen ? null : line.suggestions };
    s = { ...s, messages };
  } else {
    s = addLine(s, line);
  }
  if (f.from === "agent") s = { ...s, agentTyping: false };
  return seen(s, f);
}

function onAck(s, f) {
  const sent = s.outbox.find((o) => o.id === f.id);
  s = { ...s, outbox: s.outbox.filter((o) => o.id !== f.id) };
  if (!sent) return s;
  if (sent.type === "message") {
    if (f.conversation_id) s = adopt(s, f.conversation_id);
    s = { ...s, messages: s.messages.map((m) => (m.id === f.id
      ? { ...m, pending: false, seq: m.seq || f.seq, conversationId: f.conversation_id } : m)) };
  }
  return s;
}

function onError(s, f) {
  if (f.code === "unauthorized" && !s.online) return { ...s, rejected: true };
  // Only `resume` fails without an id: the stored conversation is gone, so start afresh.
  if (f.code === "not_found" && !f.id) return startOver(s);
  // rate_limited, unavailable: retry
  if (!f.id || !FINAL_ERRORS.includes(f.code)) return s;
  return { ...s, outbox: s.outbox.filter((o) => o.id !== f.id),
    messages: s.messages.map((m) => (m.id === f.id ? { ...m, pending: false, failed: true } : m)),
  };
}

function onWelcome(s, f) {
  // files: whether the server takes them (`attachments`: false, or its limits)
  s = { ...s, token: f.visitor_token, agentsOnline: !!f.agents_online, online: true,
    files: f.attachments,
    consent: f.consent && !f.consent.given ? f.consent.notice_url || "" : null };
  if (s.rejected) {
    // The stored token was refused, so this is a new visitor: the old chat is not theirs.
    s = { ...s, rejected: false, conversationId: null, lastSeq: 0, messages: [], closed: false };
  }
  const c = f.conversation;
  if (c && c.id !== s.conversationId) s = adopt(s, c.id);
  // Waiting for a person (a reload): "connecting" until the server's queue frame says where.
  if (c && (c.state === "queued" || c.state === "offered")) s = { ...s, queue: s.queue || {} };
  // "Talk to a person" waited for this fresh welcome: its agents_online is current.
  if (s.wantHuman) s = askHuman({ ...s, wantHuman: null }, s.wantHuman);
  return s;
}

// The only server frames the widget acts on; anything else is ignored (the protocol grows).
const FRAMES = {
  welcome: onWelcome,
  ack: onAck,
  error: onError,
  message: onMessage,
  // state: "queued" (place and ETA) or "offered" (an agent is being asked); older servers
  // send no state. Waiting again (a transfer): nobody is with the visitor now. A frame that
  // crossed processes (built before the join: seq not past it) or after the end is stale.
  queue: (s, f) => (f.conversation_id === s.conversationId && (s.closed || s.agent
    && f.seq <= s.lastSeq) ? s : { ...adopt(s, f.conversation_id), agent: null,
    queue: { state: f.state, position: f.position, eta: f.eta_seconds } }),
  offline: (s) => ({ ...s, view: "offline", asked: false, queue: null }),
  assigned: (s, f) => {
    s = adopt(s, f.conversation_id);
    if (s.messages.some((m) => m.id === `${f.conversation_id}-${f.seq}`)) return seen(s, f);
    s = addLine({ ...s, agent: f.agent, queue: null }, { id: `${f.conversation_id}-${f.seq}`,
      conversationId: f.conversation_id, seq: f.seq, ts: f.ts, from: "system", note: "joined",
      author: f.agent });
    return seen(s, f);
  },
  typing: (s, f) => (f.from === "visitor" ? s : { ...s, agentTyping: !!f.on }),
  read: (s, f) => (f.from === "visitor" ? s : { ...s, agentRead: Math.max(s.agentRead, f.seq) }),
  closed: (s, f) => {
    if (f.conversation_id !== s.conversationId) return s;
    const id = `${f.conversation_id}-${f.seq}`;
    if (!s.messages.some((m) => m.id === id)) {
      s = addLine(s, { id, conversationId: f.conversation_id, seq: f.seq, ts: f.ts,
        from: "system", note: "ended" });
    }
    const survey = s.survey && s.survey.conversation_id === f.conversation_id ? s.survey
      : { conversation_id: f.conversation_id, nps: true, done: false };
    // Over: the header no longer names the agent.
    return seen({ ...s, closed: true, queue: null, agent: null, agentTyping: false,
      asked: false, survey }, f);
  },
  survey_request: (s, f) => {
    if (s.survey && s.survey.conversation_id === f.conversation_id) return s;
    const nps = (f.questions || []).some((q) => q.name === "nps");
    return { ...s, survey: { conversation_id: f.conversation_id, nps, done: false } };
  },
};

export const FRAME_TYPES = Object.keys(FRAMES);

const queueFrame = (s, frame) => ({ ...s, outbox: s.outbox.concat(frame) });

const ACTIONS = {
  frame: (s, a) => (Object.hasOwn(FRAMES, a.frame.type) ? FRAMES[a.frame.type](s, a.frame) : s),
  // the welcome frame marks the socket usable
  connected: (s) => s,
  disconnected: (s) => ({ ...s, online: false, agentTyping: false }),
  open: (s) => ({ ...s, open: true, unread: 0 }),
  hide: (s) => ({ ...s, open: false }),
  identify: (s, a) => ({ ...s, profile: { ...s.profile, ...a.profile },
    view: s.view === "prechat" ? "chat" : s.view }),
  prechat: (s) => ({ ...s, view: "prechat" }),
  send: (s, a) => {
    if (s.closed) s = startOver(s);
    s = addLine(s, { id: a.id, ts: a.ts, from: "visitor", text: a.text, file: a.file,
      pending: true });
    // a file goes over HTTP (attach.js), not through the outbox
    return a.file ? s : queueFrame(s, { type: "message", id: a.id, text: a.text });
  },
  choose: (s, a) => {
    const messages = s.messages.map((m) => (m.suggestions && m.suggestions.some(
      (x) => x.entry_id === a.entry_id) ? { ...m, suggestions: null, chosen: true } : m));
    return queueFrame({ ...s, messages }, { type: "choose", id: a.id, entry_id: a.entry_id });
  },
  // The welcome's agents_online may be old: when it says nobody, ask again (the app reconnects
  // on seeing wantHuman) before offering the leave-a-message form.
  request_human: (s, a) => (s.agentsOnline && s.online ? askHuman(s, a.id)
    : { ...s, wantHuman: a.id }),
  offline_message: (s, a) => queueFrame({ ...s, view: "left" },
    { type: "offline_message", id: a.id, email: a.email, text: a.text }),
  back: (s) => ({ ...s, view: "chat" }),
  consent: (s, a) => queueFrame({ ...s, consent: null }, { type: "consent", id: a.id }),
  // `close` is queued by reduce() once the files attached before it went
  end: (s, a) => (s.conversationId && !s.closed ? { ...s, ending: a.id } : s),
  survey: (s, a) => {
    if (!s.survey || s.survey.done) return s;
    const frame = { type: "survey", id: a.id, conversation_id: s.survey.conversation_id,
      rating: a.rating };
    if (a.nps != null) frame.nps = a.nps;
    if (a.comment) frame.comment = a.comment;
    return queueFrame({ ...s, survey: { ...s.survey, done: true } }, frame);
  },
  new_chat: (s) => startOver(s),
  // A pure state change from the lazily loaded attachment module (attach.js), which keeps
  // its upload states there rather than in the bundle every visitor loads at start.
  apply: (s, a) => a.fn(s),
  seen: (s, a) => ({ ...s, readSent: Math.max(s.readSent, a.seq) }),
};

function askHuman(s, id) {
  return s.agentsOnline ? queueFrame({ ...s, asked: true }, { type: "request_human", id })
    : { ...s, view: "offline" };
}

export function startOver(s) {
  return { ...s, messages: [], conversationId: null, lastSeq: 0, readSent: 0, agent: null,
    agentRead: 0, queue: null, closed: false, survey: null, asked: false, view: "chat" };
}

export function reduce(state, action) {
  const step = Object.hasOwn(ACTIONS, action.type) ? ACTIONS[action.type] : null;
  let s = step ? step(state, action) : state;
  // End chat waits for the files attached before it: they go over HTTP, beside the outbox,
  // and belong to this chat
  const id = s.ending;
  if (id && !s.messages.some((m) => m.file && m.pending)) {
    s = { ...s, ending: null };
    if (!s.closed) s = queueFrame(s, { type: "close", id });
  }
  return s;
}

/** The highest seq of a line from someone else that `shown` says the visitor can see: what a
    `read` receipt should cover. */
export function lastIncomingSeq(s, shown) {
  let seq = 0;
  for (const m of s.messages) {
    if (m.from !== "visitor" && m.seq && m.conversationId === s.conversationId && shown(m)) seq = m.seq;
  }
  return seq;
}
