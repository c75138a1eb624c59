/* Alerts for offers and for new visitor lines in my chats: a beep (a softer one for lines), a
   desktop notification, and the unread count in the tab's title. Each is switched on or off on
   /account; the console reads the switches at load, again when the tab comes back into view,
   and at once when /account saves them in another tab (a BroadcastChannel message). */

// The tab's own title as the server rendered it, in the page's language: "Console · Helpdesk".
const BASE_TITLE = document.title;
// 1.5 s: the lines a reconnect catches up on at once, or several chats at once, make one sound
// (each kind on its own: a line's beep never silences an offer's).
const SOUND_GAP_MS = 1500;
// A notification's text is a preview: 140 characters say what the visitor wants.
const PREVIEW_CHARS = 140;
// Offers: two rising tones, loud enough to hear from the next desk. Lines: one lower, quieter
// tone: a chat already held can wait a moment, an offer expires.
const OFFER_TONES = { notes: [[660, 0], [880, 0.16]], peak: 0.18, last: 0 };
const LINE_TONES = { notes: [[587, 0]], peak: 0.06, last: 0 };

/** The switches (chatserver/core/staff_preferences.py), all on until the server says. */
export const switches = { sound: true, desktop: true, title: true };
let audio = null;
let count = 0;

function apply(alerts) {
  if (!alerts) return;
  for (const name of Object.keys(switches)) {
    if (typeof alerts[name] === "boolean") switches[name] = alerts[name];
  }
  showCount(count);
}

async function loadSwitches() {
  const result = await api("GET", "/api/account/preferences");
  if (result.ok && result.data) apply(result.data.alerts);
}

/** Read the switches now, whenever the tab is back in view, and when /account saves them; let
    sounds play from the first gesture on. */
export function watchSwitches() {
  loadSwitches();
  // After a reload the status stays Online without a click on it: the first click or key
  // anywhere lets the page play sounds again.
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, unlockAudio, { once: true, capture: true });
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) loadSwitches(); });
  if ("BroadcastChannel" in window) {
    const channel = new BroadcastChannel("helpdesk-preferences");
    // Same origin, same browser: the same session, so the same user.
    channel.onmessage = (e) => { if (e.data) apply(e.data.alerts); };
  }
}

function unlockAudio() {
  try { audio = audio || new AudioContext(); audio.resume(); } catch (e) { audio = null; }
}

/** Called on a click (going Online): browsers start audio and ask for notifications only then. */
export function unlockAlerts() {
  unlockAudio();
  if (switches.desktop && "Notification" in window && Notification.permission === "default") {
    Notification.requestPermission();
  }
}

function play(tones) {
  const { notes, peak } = tones;
  const now = Date.now();
  if (!switches.sound || now - tones.last < SOUND_GAP_MS) return;
  tones.last = now;
  try {
    audio = audio || new AudioContext();
    const t0 = audio.currentTime;
    notes.forEach(([freq, at]) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(peak, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + at); osc.stop(t0 + at + 0.25);
    });
  } catch (e) { /* no audio device: the visual cues remain */ }
}

/** An offer: the louder beep. */
export function beep() { play(OFFER_TONES); }

/** A visitor's new line in one of my chats: the softer beep. */
export function lineBeep() { play(LINE_TONES); }

/** A desktop notification; `onclick` brings the console to what it is about. One per `tag`:
    a chat's newer line replaces its older one. `always`: also while the console has focus. */
export function notify(title, body, { tag = "", onclick = null, always = false } = {}) {
  if (!switches.desktop || !("Notification" in window) || Notification.permission !== "granted") return;
  if (!always && document.hasFocus() && !document.hidden) return;
  const text = body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS - 1)}…` : body;
  try {
    const n = new Notification(title, { body: text, tag, lang: document.documentElement.lang,
      dir: "auto" });
    n.onclick = () => { window.focus(); if (onclick) onclick(); n.close(); };
  } catch (e) { /* some browsers only allow notifications from a service worker */ }
}

/** The count of unread lines and open offers before the tab's title: "(3) Console · Helpdesk". */
export function showCount(n) {
  count = n;
  document.title = switches.title && n ? `(${fmtNumber(n)}) ${BASE_TITLE}` : BASE_TITLE;
}
