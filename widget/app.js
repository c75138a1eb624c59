// Wires the parts: state (reducer) + storage, the socket (transport), the DOM (view), and the
// public `ChatWidget` API that the loader created. Side effects live here and nowhere else.

import { loadStrings, pickLanguage } from "./i18n.js";
import { initial, lastIncomingSeq, PERSISTED, reduce } from "./reducer.js";
import { createTransport } from "./transport.js";
import { createView } from "./view.js";

// Stop telling the agent "typing" after 3 s without a keystroke.
const TYPING_IDLE_MS = 3000;
// A rate-limited or unavailable frame is sent again after 1 s (the server refills 5 frames/s).
const RETRY_MS = 1000;
// the server's own check, so hello is not refused
const EMAIL = /^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$/;

// 128 random bits as hex: a valid frame id everywhere (randomUUID needs a secure context).
const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
  (b) => b.toString(16).padStart(2, "0")).join("");

function config(d) {
  return {
    site: d.site || "default",
    lang: d.lang || "",
    prechat: d.prechat === "true" || d.prechat === "",
    // "orders:Orders,returns:Returns": the key goes to the server (which maps it to a routing
    // skill), the label is shown; without ":" the key is the label.
    topics: (d.topics || "").split(",").map((x) => x.split(":").map((y) => y.trim()))
      .filter(([k]) => k).map(([k, label]) => [k.slice(0, 60), label || k]).slice(0, 12),
    greeting: d.greeting || "",
    greetingDelay: Math.max(0, Number(d.greetingDelay) || 0),
    greetingPath: d.greetingPath || "",
    color: /^#[0-9a-f]{3,8}$/i.test(d.color || "") ? d.color : "",
  };
}

/** Read (or, with a value, write) sessionStorage; private modes may refuse, which is harmless. */
function session(key, value) {
  try {
    return value ? sessionStorage.setItem(key, value) : sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key)) || {};
  } catch {
    return {};
  }
}

export async function boot({ script, api, base }) {
  const cfg = config(script ? script.dataset : {});
  const key = `chatwidget:${cfg.site}`;
  const saved = load(key);
  const kept = {};
  for (const k of PERSISTED) if (k in (saved.state || {})) kept[k] = saved.state[k];
  let state = initial(kept);
  let langOverride = saved.lang || "";
  const language = () => pickLanguage(langOverride, cfg.lang, document.documentElement.lang,
    navigator.languages || [navigator.language]);
  let lang = language();

  const listeners = {};
  // Each listener runs in its own task: a host page's bug cannot break the chat.
  const emit = (event, detail) => (listeners[event] || [])
    .forEach((fn) => setTimeout(fn, 0, detail));

  function save() {
    const out = {};
    for (const k of PERSISTED) out[k] = state[k];
    try {
      localStorage.setItem(key, JSON.stringify({ state: out, lang: langOverride }));
    } catch {
      // Storage full or disabled: the chat still works, it just will not survive a reload.
    }
  }

  let started = false;
  const transport = createTransport({
    url: new URL("/ws/visitor", base).href.replace(/^http/, "ws"),
    hello: () => {
      const p = state.profile;
      const frame = { type: "hello", language: lang, page_url: location.href.slice(0, 2048) };
      if (state.token) frame.visitor_token = state.token;
      // The server refuses a hello whose one-line fields hold a control character or a lone
      // surrogate (bad_frame, and no welcome): clean them, then cut by code points as it counts
      // (a UTF-16 cut can halve an emoji).
      const cut = (text, n) => [...String(text).replace(/[\x00-\x1f\x7f-\x9f]/g, " ")
        .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")]
        .slice(0, n).join("");
      if (p.name) frame.name = cut(p.name, 100);
      if (p.email && EMAIL.test(p.email)) frame.email = p.email;
      if (p.topic) frame.topic = cut(p.topic, 60);
      // ChatWidget.identify's user: the server checks the site's hash (docs/widget.md)
      if (/\S/.test(p.id ?? "")) { // with the site's name and email (not those typed)
        frame.identity = { id: cut(p.id, 200), hash: cut(p.hash || "", 128) };
        if (p.siteName) frame.identity.name = cut(p.siteName, 100);
        if (p.siteEmail && EMAIL.test(p.siteEmail)) frame.identity.email = p.siteEmail;
      }
      return frame;
    },
    resume: () => (state.conversationId
      ? { type: "resume", conversation_id: state.conversationId, after_seq: state.lastSeq }
      : null),
    onFrame,
    onState: (s) => {
      // the server forgets it with the socket
      if (s !== "online") typingOn = false;
      dispatch({ type: s === "online" ? "connected" : "disconnected" });
    },
  });
  const start = () => {
    if (started) return;
    started = true;
    transport.start();
  };

  function onFrame(f) {
    const known = f.type === "message" && state.messages.some((m) => m.id === f.id);
    dispatch({ type: "frame", frame: f });
    if (f.type === "message" && f.from !== "visitor" && !known) {
      emit("message", { from: f.from, author: f.author, text: f.text, ts: f.ts,
        attachment: f.attachment });
    } else if (f.type === "assigned") {
      emit("assigned", { agent: f.agent });
      // a new agent (a transfer) learns what the visitor already read
      if (state.readSent) transport.send({ type: "read", seq: state.readSent });
    }
    else if (f.type === "closed") emit("closed", { by: f.by });
    else if (f.type === "error" && f.id && ["rate_limited", "unavailable"].includes(f.code)) {
      transport.forget(f.id);
      setTimeout(() => transport.flush(state.outbox), RETRY_MS);
    }
  }

  function dispatch(action) {
    const before = state;
    state = reduce(state, action);
    if (state === before && action.type !== "connected") return;
    save();
    view.render(state);
    transport.flush(state.outbox);
    markRead();
    if (held.size || loading) withFiles((a) => a.sync());
  }

  // Attachments: widget/attach.js is imported on first use (a file picked, dropped or pasted,
  // or a line with one to show); only this hook is in what every visitor loads at start. A
  // file waits in `held` (a File cannot be stored) until attach.js sends it. An import that
  // failed (offline, a server hiccup) is tried again on the next change and every 5 s while
  // files wait, under a new URL: browsers that follow the HTML spec from before
  // whatwg/html#10327 remember a failed module fetch for the page's life.
  const held = new Map();
  let loading = null;
  let failed = 0;
  function withFiles(fn) {
    loading = loading || import("./attach.js" + (failed ? "?" + failed : "")).then((m) =>
      m.create({ base, held, lang: () => shown, get: () => state,
        update: (change) => dispatch({ type: "apply", fn: change }) }), () => {
      loading = null;
      failed++;
      setTimeout(() => held.size && withFiles((a) => a.sync()), 5000);
    });
    loading.then((a) => a && fn(a));
  }

  // A read receipt only for what the visitor can actually see: panel open, tab visible, the
  // line in the log's view (scrolled up, a new line waits until the visitor scrolls to it).
  function markRead() {
    if (!state.open || state.view !== "chat" || document.visibilityState !== "visible") return;
    const seq = lastIncomingSeq(state, view.shown);
    if (seq > state.readSent && transport.send({ type: "read", seq })) {
      dispatch({ type: "seen", seq });
    }
  }
  document.addEventListener("visibilitychange", markRead);

  let typingOn = false;
  let typingTimer = null;
  const typing = (on) => {
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => typing(false), TYPING_IDLE_MS);
    if (on !== typingOn && transport.send({ type: "typing", on })) typingOn = on;
  };

  function show() {
    hideGreeting();
    const fresh = !state.conversationId && !state.messages.length && !state.profile.done;
    if (cfg.prechat && fresh && state.view === "chat") dispatch({ type: "prechat" });
    dispatch({ type: "open" });
    if (state.view !== "prechat") start();
    emit("open");
  }
  function hide() {
    dispatch({ type: "hide" });
    emit("close");
  }
  function identify(profile) {
    // a field not given keeps the one stored: identify({id, hash}) keeps the name
    for (const k in profile) if (profile[k] == null) delete profile[k];
    const same = Object.keys(profile).every((k) => profile[k] === state.profile[k]);
    dispatch({ type: "identify", profile: { ...profile, done: true } });
    // a new hello only when it changed: sites call identify() on every page
    if (started && !same) transport.restart();
  }

  const handlers = {
    show, hide, typing, scroll: markRead,
    toggle: () => (state.open ? hide() : show()),
    send: (text) => {
      typing(false);
      dispatch({ type: "send", id: newId(), text, ts: new Date().toISOString() });
      start();
    },
    choose: (entryId) => dispatch({ type: "choose", id: newId(), entry_id: entryId }),
    human: () => {
      dispatch({ type: "request_human", id: newId() });
      if (state.wantHuman && started) transport.restart();
      start();
    },
    prechat: (profile) => {
      identify(profile);
      start();
    },
    leave: (email, text) => dispatch({ type: "offline_message", id: newId(), email, text }),
    back: () => dispatch({ type: "back" }),
    consent: () => dispatch({ type: "consent", id: newId() }),
    end: () => dispatch({ type: "end", id: newId() }),
    survey: (answer) => {
      dispatch({ type: "survey", id: newId(), ...answer });
      emit("survey", answer);
    },
    newChat: () => dispatch({ type: "new_chat" }),
    dismissGreeting: () => hideGreeting(),
    attach: (list) => {
      for (const file of list) {
        const id = newId();
        held.set(id, file);
        dispatch({ type: "send", id, ts: new Date().toISOString(),
          file: { name: file.name, size: file.size } });
      }
      start();
    },
    file: (slot, line) => withFiles((a) => a.show(slot, line)),
  };

  // The host element: inline !important beats any host stylesheet rule that matches it (`*`).
  // Set through the CSSOM, which a host page's CSP allows; it may refuse a style attribute or a
  // <style> element, as the demo page's does.
  const host = document.createElement("chat-widget");
  const pin = (prop, value) => host.style.setProperty(prop, value, "important");
  pin("all", "initial");
  pin("display", "block");
  // Invisible until styled, so the host page never flashes unstyled buttons.
  pin("visibility", "hidden");
  const shadow = host.attachShadow({ mode: "open" });
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = new URL("widget.css", base).href;
  css.onload = css.onerror = () => pin("visibility", "visible");
  shadow.append(css);
  // The view in the language whose strings came (its dir and lang too): English, left to
  // right, while the visitor's file fails, tried again every 30 s.
  let shown;
  let view;
  const build = () => loadStrings(lang).then((l) => {
    if (l !== lang) setTimeout(build, 3e4);
    if (l === shown) return;
    if (view) view.destroy();
    shown = l;
    view = createView(shadow, l, cfg, handlers);
    view.render(state);
  });
  await build();
  (document.body || document.documentElement).append(host);
  view.render(state);
  if (state.conversationId || state.outbox.length || state.open) start();

  // Proactive greeting: once per browser session, after the delay, on matching pages.
  const greetedKey = `${key}:greeted`;
  let greetTimer = null;
  function hideGreeting() {
    clearTimeout(greetTimer);
    view.showGreeting(false);
    if (cfg.greeting) session(greetedKey, "1");
  }
  // a broken pattern is the site owner's typo: greet nowhere, not everywhere
  let pathOk = false;
  try {
    pathOk = !cfg.greetingPath || new RegExp(cfg.greetingPath).test(location.pathname);
  } catch { /* see above */ }
  if (cfg.greeting && pathOk && !session(greetedKey) && !state.open && !state.messages.length) {
    greetTimer = setTimeout(() => state.open || view.showGreeting(true), cfg.greetingDelay * 1e3);
  }

  const real = {
    open: () => state.open || show(),
    close: () => state.open && hide(),
    identify: (p) => {
      const { name, email, id, hash } = p || {};
      identify({ name, email, id, hash, siteName: name, siteEmail: email });
    },
    setLanguage: (l) => {
      langOverride = l ? pickLanguage(l) : "";
      lang = language();
      save();
      build();
      if (started) transport.restart();
    },
    on: (event, fn) => {
      (listeners[event] = listeners[event] || []).push(fn);
      return () => real.off(event, fn);
    },
    off: (event, fn) => {
      listeners[event] = (listeners[event] || []).filter((f) => f !== fn);
    },
  };
  // Calls made before the modules arrived were queued by the loader; play them now, in order.
  const queued = api._q || [];
  delete api._q;
  Object.assign(api, real);
  for (const [name, args] of queued) real[name](...args);
  emit("ready");
}
