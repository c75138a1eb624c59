// The visitor socket: connect, say hello, resume, reconnect with backoff. Knows the protocol's
// handshake but nothing about the UI; the app hands it frames and gets frames back.

// 0.5 s first retry, doubling to a 30 s cap: fast after a blip, gentle on a server that is down.
const BASE_MS = 500;
const CAP_MS = 30000;

/** Delay before retry number `attempt` (0-based): exponential, with "equal jitter" so that
 * thousands of widgets dropped by one server restart do not all come back at the same instant. */
export function backoff(attempt, random = Math.random) {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * url: the ws(s) URL; hello(): the hello frame to send (built fresh: the token may have
 * changed); resume(): the resume frame or null; onFrame(frame); onState("online"|"offline").
 */
export function createTransport({ url, hello, resume, onFrame, onState, win = window }) {
  let ws = null;
  let greeted = false;
  let attempt = 0;
  let timer = null;
  let stopped = true;
  let sent = new Set(); // ids sent on this socket; a new socket sends the outbox again

  function connect() {
    clearTimeout(timer);
    timer = null;
    if (ws || stopped) return;
    let sock;
    try {
      sock = new win.WebSocket(url);
    } catch {
      retry();
      return;
    }
    ws = sock;
    sent = new Set();
    sock.onopen = () => sock.send(JSON.stringify(hello()));
    sock.onmessage = (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!frame || typeof frame.type !== "string") return;
      if (frame.type === "welcome") {
        attempt = 0;
        onFrame(frame);
        // Resume before anything else is sent, then mark the socket usable: the app flushes
        // its outbox on "online", so missed events and retried frames go out in that order.
        const r = resume();
        if (r) sock.send(JSON.stringify(r));
        greeted = true;
        onState("online");
        return;
      }
      onFrame(frame);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      greeted = false;
      onState("offline");
      retry();
    };
  }

  function retry() {
    if (stopped || timer) return;
    timer = setTimeout(connect, backoff(attempt++));
  }

  function drop() {
    const sock = ws;
    ws = null;
    greeted = false;
    if (sock) {
      sock.onclose = null;
      sock.close();
      onState("offline");
    }
  }

  // The browser knows before TCP does: a socket on a dead network can hang for minutes.
  const offline = () => drop();
  const online = () => {
    attempt = 0;
    connect();
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      win.addEventListener("offline", offline);
      win.addEventListener("online", online);
      if (win.navigator.onLine !== false) connect();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = null;
      win.removeEventListener("offline", offline);
      win.removeEventListener("online", online);
      drop();
    },
    /** Reconnect now, e.g. so a new hello carries a changed name or language. */
    restart() {
      drop();
      connect();
    },
    /** Send a transient frame (typing, read) if connected; they are not worth queueing. */
    send(frame) {
      if (!greeted) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    /** Send the outbox frames this socket has not sent yet, in order. */
    flush(frames) {
      if (!greeted) return;
      for (const f of frames) {
        if (!sent.has(f.id)) {
          sent.add(f.id);
          ws.send(JSON.stringify(f));
        }
      }
    },
    /** Forget that `id` was sent, so the next flush sends it again (after rate_limited). */
    forget(id) {
      sent.delete(id);
    },
  };
}
