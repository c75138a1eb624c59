/* Alerts: a short two-tone beep and a desktop notification for each offer (and a silence nudge). */

let audio = null;

/** Called on a click (going Online): browsers start audio and ask for notifications only then. */
export function unlockAlerts() {
  try { audio = audio || new AudioContext(); audio.resume(); } catch (e) { audio = null; }
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
}

export function beep() {
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

export function notify(title, body) {
  if (!("Notification" in window) || Notification.permission !== "granted" || document.hasFocus()) return;
  try {
    const n = new Notification(title, { body, tag: "chat-offer" });
    n.onclick = () => { window.focus(); n.close(); };
  } catch (e) { /* some browsers only allow notifications from a service worker */ }
}
