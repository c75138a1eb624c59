/* My status (Online / Away) in the top bar, and the queue's size beside it. */

import { view } from "./console_state.js";
import { socket } from "./console_connection.js";
import { renderEmpty } from "./console_rail.js";
import { unlockAlerts } from "./console_alerts.js";

export function setStatus(status, fromServer) {
  if (fromServer && status === "away" && view.status === "online") toast(t("You are now Away."), "info");
  view.status = status;
  for (const button of document.querySelectorAll(".status-switch [data-status]")) {
    button.setAttribute("aria-checked", String(button.dataset.status === status));
    button.tabIndex = button.dataset.status === status ? 0 : -1;
  }
  renderEmpty();
}

/** The switch asks the server; the status changes when the server's status frame says so.
    It is a radio group as ARIA has one: Tab stops on the chosen status, an arrow chooses the
    other (screen readers tell their users to use the arrows in a radio group). */
export function wireStatusSwitch() {
  const buttons = [...document.querySelectorAll(".status-switch [data-status]")];
  buttons.forEach((button, i) => {
    button.addEventListener("click", () => {
      const status = button.dataset.status;
      if (status === "online") unlockAlerts();
      socket.raw({ type: "status", status });
    });
    button.addEventListener("keydown", (e) => {
      const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      const next = buttons[(i + step + buttons.length) % buttons.length];
      next.focus();
      next.click();
    });
  });
}

export function showQueue(queue) {
  if (!queue) return;
  const text = queue.waiting
    ? t("{n} waiting · longest {wait}", { n: fmtNumber(queue.waiting), wait: fmtWait(queue.oldest_wait_seconds) })
    : t("Queue empty");
  document.getElementById("queue-info").textContent = text;
}
