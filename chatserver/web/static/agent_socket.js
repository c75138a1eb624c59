/* The agent socket: hello, reconnect with backoff, an outbox of changing frames that are
   re-sent with the same id after a drop (the server acks a retry once, no duplicates). */
"use strict";

class AgentSocket {
  constructor({ onFrame, onWelcome, onState }) {
    this.onFrame = onFrame; this.onWelcome = onWelcome; this.onState = onState || (() => {});
    this.ws = null; this.ready = false; this.attempt = 0; this.timer = null;
    this.outbox = new Map(); // id -> frame awaiting its ack
    this.connect();
  }

  url() {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/agent`;
  }

  connect() {
    clearTimeout(this.timer);
    this.onState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello" }));
    ws.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "welcome") {
        this.ready = true; this.attempt = 0; this.onState("online");
        this.onWelcome(frame);
        for (const pending of this.outbox.values()) ws.send(JSON.stringify(pending));
        return;
      }
      if ((frame.type === "ack" || frame.type === "error") && frame.id) this.outbox.delete(frame.id);
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ready = false;
      if (event.code === 1008 && /log in/i.test(event.reason || "")) { location.assign("/login"); return; }
      this.onState("reconnecting");
      // 0.5 s doubling to 15 s, with jitter so a restarted server is not hit all at once.
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  /** A frame that changes something: given a fresh id, kept until acked. Returns the id. */
  request(type, fields) {
    const frame = { type, id: uuid(), ...fields };
    this.outbox.set(frame.id, frame);
    this.raw(frame);
    return frame.id;
  }

  /** A frame with no ack (typing, read, status, resume): sent now or dropped. Whether sent. */
  raw(frame) {
    if (!this.ready || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

function showConnection(state) {
  const node = document.getElementById("conn");
  if (!node) return;
  node.dataset.state = state;
  node.textContent = { connecting: t("Connecting…"), reconnecting: t("Reconnecting…"), online: t("Connected") }[state] || state;
}
