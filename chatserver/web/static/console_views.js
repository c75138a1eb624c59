/* On a narrow screen the console is views shown one at a time: the chat list (offers, chats),
   the open chat, and the visitor panel (with suggested answers and canned responses). The
   console's data-view names the one on screen and console_phone.css shows it; a wide screen
   shows all three and only keeps the name. On a phone each step in is a history entry, so the
   phone's own Back goes back a view before it leaves the page. */

import { chats, view, $ } from "./console_state.js";

// As console_phone.css: one view at a time up to 700 px (phones, held either way up).
const NARROW = window.matchMedia("(max-width: 700px)");
const DEPTH = { list: 0, chat: 1, visitor: 2 };

/** Show `name` ("list", "chat" or "visitor"); "chat" with no chat open is the list. */
export function showView(name, { push = true } = {}) {
  const chat = chats.get(view.activeId);
  const next = name !== "list" && !chat ? "list" : name;
  const box = $("console");
  const was = box.dataset.view;
  if (next === was) return;
  box.dataset.view = next;
  if (push && NARROW.matches && DEPTH[next] > DEPTH[was]) history.pushState({ consoleView: next }, "");
  // The transcript was not laid out while hidden: its newest line is what the agent came for.
  if (next === "chat" && chat) chat.list.scrollTop = chat.list.scrollHeight;
}

/** Back one view: through history when the step into this view made an entry there. */
function back(to) {
  if (history.state && history.state.consoleView === $("console").dataset.view) history.back();
  else showView(to, { push: false });
}

/** The height the page can use: above an on-screen keyboard where the browser only overlays
    it (Chrome and Safari on phones resize the visual viewport, not the layout one). */
function followKeyboard() {
  const vv = window.visualViewport;
  if (!vv) return;
  const fit = () => {
    if (NARROW.matches) document.documentElement.style.setProperty("--visible-height", `${Math.round(vv.height)}px`);
    else document.documentElement.style.removeProperty("--visible-height");
  };
  vv.addEventListener("resize", fit);
  fit();
}

export function wireViews() {
  followKeyboard();
  $("back-btn").addEventListener("click", () => back("list"));
  $("visitor-btn").addEventListener("click", () => showView("visitor"));
  $("side-back").addEventListener("click", () => back("chat"));
  window.addEventListener("popstate", (e) => showView((e.state && e.state.consoleView) || "list", { push: false }));
  $("chat-tabs").addEventListener("click", (e) => { if (e.target.closest(".tab")) showView("chat"); });
  // Something chosen in the visitor panel goes into the reply: the chat comes back to write it.
  $("side").addEventListener("click", (e) => {
    if (e.target.closest(".canned-item, .assist-item button") && $("console").dataset.view === "visitor") back("chat");
  });
}
