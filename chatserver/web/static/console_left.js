/* Messages left while nobody could answer: listed until someone marks them answered by email. */

import { $ } from "./console_state.js";

// 30 s: they are answered by email, so a short delay costs nothing; the list stays current
// without a request per second from every console.
const LEFT_POLL_MS = 30000;

async function loadLeft() {
  const result = await api("GET", "/api/offline-messages");
  if (!result.ok) return;
  const items = result.data.messages;
  $("left-section").hidden = items.length === 0;
  $("left-count").textContent = fmtNumber(items.length);
  $("left-messages").replaceChildren(...items.map((m) => el("li", { class: "left-message" },
    el("div", { class: "left-head" },
      el("a", { href: `mailto:${m.email}`, text: m.email, dir: "ltr" }), // an address reads left to right
      el("time", { text: fmtDateTime(m.created_ms) })),
    el("p", { dir: "auto", text: m.text }),
    el("button", { type: "button", class: "btn btn-small", text: t("Mark answered"),
      onclick: async () => {
        const done = await api("POST", `/api/offline-messages/${m.id}/answered`);
        if (done.ok) loadLeft(); else toast(done.data && done.data.message ? t(done.data.message) : t("Could not update"), "error");
      } }))));
}

export function pollLeft() {
  loadLeft();
  setInterval(loadLeft, LEFT_POLL_MS);
}
