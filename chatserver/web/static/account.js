/* Change your own password (the current one is required; your other sessions end). After a
   one-time password the form carries data-then: the page the rest of the app starts from. */
"use strict";

const passwordForm = document.getElementById("password-form");
passwordForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  document.getElementById("password-done").hidden = true;
  const data = new FormData(passwordForm);
  const result = await api("POST", "/api/account/password", {
    current_password: data.get("current_password"), new_password: data.get("new_password") });
  showErrors(passwordForm, result.ok ? null : result.data);
  if (result.ok && passwordForm.dataset.then) { window.location.assign(passwordForm.dataset.then); return; }
  if (result.ok) { passwordForm.reset(); document.getElementById("password-done").hidden = false; }
});

/* The pages' language: saved, then the page is drawn again in it. */
const languageForm = document.getElementById("language-form");
if (languageForm) {
  languageForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = await api("POST", "/api/account/preferences", {
      language: new FormData(languageForm).get("language") });
    showErrors(languageForm, result.ok ? null : result.data);
    if (result.ok) window.location.reload();
  });
}

/* Alerts (sound, desktop notification, the title's count): read, then saved as switched; an
   open console tab hears of the change at once (the same BroadcastChannel it listens on). */
const alertsForm = document.getElementById("alerts-form");
if (alertsForm) {
  const switches = document.getElementById("alert-switches");
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("helpdesk-preferences") : null;
  const box = (name) => alertsForm.elements.namedItem(name);
  const blocked = () => {
    document.getElementById("desktop-blocked").hidden = !("Notification" in window)
      || Notification.permission !== "denied" || !box("desktop").checked;
  };
  api("GET", "/api/account/preferences").then((result) => {
    if (!result.ok) { showErrors(alertsForm, result.data); return; }
    for (const [name, on] of Object.entries(result.data.alerts)) {
      if (box(name)) box(name).checked = on;
    }
    switches.disabled = false;
    blocked();
  });
  // Asked on this click: browsers ask for the permission only on a user's gesture.
  box("desktop").addEventListener("change", () => {
    document.getElementById("alerts-done").hidden = true;
    if (box("desktop").checked && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().then(blocked);
    }
    blocked();
  });
  alertsForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    document.getElementById("alerts-done").hidden = true;
    const alerts = {};
    for (const name of ["sound", "desktop", "title"]) alerts[name] = box(name).checked;
    const result = await api("POST", "/api/account/preferences", { alerts });
    showErrors(alertsForm, result.ok ? null : result.data);
    if (!result.ok) return;
    document.getElementById("alerts-done").hidden = false;
    if (channel) channel.postMessage({ alerts: result.data.alerts });
  });
}
