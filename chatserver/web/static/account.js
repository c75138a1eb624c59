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
