/* Reports: a changed filter applies at once (the form still works without this script). */
"use strict";

(function () {
  const form = document.getElementById("report-filters");
  if (!form) return;
  form.querySelectorAll("select").forEach((select) => {
    select.addEventListener("change", () => form.requestSubmit());
  });
  form.addEventListener("submit", () => {
    // Empty filters stay out of the address, so a shared link says only what it means.
    form.querySelectorAll("select, input").forEach((field) => { field.disabled = !field.value; });
  });
})();
