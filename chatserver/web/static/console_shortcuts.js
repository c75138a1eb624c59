/* Keyboard shortcuts: Alt+1..9 switch chat, Alt+A accept, Alt+D decline, Alt+N reply/note. */

import { chats, offers, view, $ } from "./console_state.js";
import { openChat } from "./console_chats.js";
import { accept, decline } from "./console_offers.js";
import { setMode } from "./console_composer.js";

export function wireShortcuts() {
  document.addEventListener("keydown", (e) => {
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    const digit = /^Digit([1-9])$/.exec(e.code);
    if (digit) {
      const cid = Array.from(chats.keys())[Number(digit[1]) - 1];
      if (cid) { e.preventDefault(); openChat(cid); }
    } else if (e.code === "KeyA" && offers.size) {
      e.preventDefault(); accept(offers.keys().next().value);
    } else if (e.code === "KeyD" && offers.size) {
      e.preventDefault(); decline(offers.keys().next().value);
    } else if (e.code === "KeyN") {
      e.preventDefault(); setMode(view.mode === "note" ? "reply" : "note"); $("composer-text").focus();
    }
  });
}
