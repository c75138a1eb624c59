/* What the page counts: the rail's chat count, the empty list and pane, the tab title's number. */

import { chats, offers, view, $ } from "./console_state.js";
import { showCount } from "./console_alerts.js";

/** What the empty list and pane say: an offer to accept, nothing yet while online, or go online. */
export function renderEmpty() {
  const when = offers.size ? "offered" : view.status === "online" ? "online" : "away";
  for (const node of document.querySelectorAll("[data-when]")) node.hidden = node.dataset.when !== when;
}

export function renderRail() {
  $("chat-count").textContent = fmtNumber(chats.size);
  $("rail-empty").hidden = chats.size > 0;
  updateTitle();
}

export function updateTitle() {
  let unread = 0;
  for (const chat of chats.values()) unread += chat.unread;
  const waiting = unread + offers.size;
  showCount(waiting);
}
