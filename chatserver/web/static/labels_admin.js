/* The admin's label list (/admin/labels): add, rename, recolour, delete, over /api/labels. */
"use strict";

const $ = (id) => document.getElementById(id);
const labelForm = $("label-form");
let editing = null;

function preview() {
  const colour = $("l-colour").value;
  const chip = $("l-preview");
  chip.textContent = $("l-name").value.trim() || t("Label");
  chip.style.backgroundColor = colour;
  chip.style.color = Labels.textColour(colour);
}

async function load() {
  const result = await api("GET", "/api/labels");
  const labels = result.ok ? result.data.labels : [];
  const body = $("labels-table").tBodies[0];
  body.replaceChildren(...labels.map((label) => el("tr", { dataset: { labelId: label.id } },
    el("td", { "data-label": t("Label") }, Labels.chip(label)),
    el("td", { "data-label": t("Colour") }, el("code", { dir: "ltr" }, label.colour)),
    el("td", { class: "label-actions" },
      el("button", { type: "button", class: "btn btn-small", onclick: () => edit(label) }, t("Edit")), " ",
      el("button", { type: "button", class: "btn btn-small btn-danger-quiet", onclick: () => remove(label) }, t("Delete"))))));
  if (!labels.length) body.replaceChildren(el("tr", {}, el("td", { colspan: 3, class: "muted" }, t("No labels yet. Add the first one with the form."))));
}

function edit(label) {
  editing = label;
  showErrors(labelForm, null);
  $("label-form-title").textContent = label ? t("Edit {name}", { name: isolate(label.name) }) : t("New label");
  $("l-name").value = label ? label.name : "";
  $("l-colour").value = label ? label.colour : "#1a73e8";
  $("l-save").textContent = label ? t("Save changes") : t("Add label");
  $("l-cancel").hidden = !label;
  preview();
  $("l-name").focus();
}

async function remove(label) {
  if (!window.confirm(t("Delete the label “{name}”? Chats that carry it keep it; nobody can add it again.", { name: isolate(label.name) }))) return;
  const result = await api("DELETE", `/api/labels/${label.id}`);
  if (!result.ok) { toast(result.data ? serverText(result.data.message) : t("Could not delete"), "error"); return; }
  toast(t("Deleted “{name}”.", { name: isolate(label.name) }));
  if (editing && editing.id === label.id) edit(null);
  load();
}

labelForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { name: $("l-name").value, colour: $("l-colour").value };
  const result = editing ? await api("PATCH", `/api/labels/${editing.id}`, body)
    : await api("POST", "/api/labels", body);
  showErrors(labelForm, result.ok ? null : localized(result.data));
  if (!result.ok) return;
  toast(editing ? t("Saved.") : t("Added “{name}”.", { name: result.data.name }));
  edit(null);
  load();
});

$("l-name").addEventListener("input", preview);
$("l-colour").addEventListener("input", preview);
$("l-cancel").addEventListener("click", () => edit(null));
preview();
load();
