/* The team: list people, add one, edit role/skills/capacity, disable, reset a password. */
"use strict";

const $ = (id) => document.getElementById(id);
const userForm = $("user-form");
let users = [];
let editing = null;

function skillsText(skills) {
  return Object.entries(skills || {}).map(([k, v]) => `${k}:${v}`).join(", ");
}

/** "lang:en:5, billing" -> {"lang:en": 5, "billing": 3}; the server validates the rest. */
function parseSkills(text) {
  const out = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(.*?)(?::(\d+))?$/.exec(part);
    out[m[1].trim().toLowerCase()] = m[2] ? Number(m[2]) : 3;
  }
  return out;
}

async function load() {
  const result = await api("GET", "/api/users");
  users = result.ok ? result.data.users : [];
  $("users-table").tBodies[0].replaceChildren(...users.map((u) => el("tr", { class: u.disabled ? "disabled-row" : null },
    el("td", { "data-label": t("Name") }, el("strong", { dir: "auto" }, u.display_name), u.disabled ? el("div", { class: "small" }, t("disabled")) : null),
    el("td", { "data-label": t("Username") }, el("bdi", {}, u.username)),
    el("td", { "data-label": t("Role") }, t(u.role)),
    el("td", { "data-label": t("Skills") }, el("span", { class: "skills" }, ...Object.entries(u.skills).map(([k, v]) => el("span", { class: "chip", dir: "ltr" }, `${k} ${fmtNumber(v)}`)))),
    el("td", { "data-label": t("Capacity") }, fmtNumber(u.capacity)),
    el("td", {}, el("button", { type: "button", class: "btn btn-small", onclick: () => edit(u) }, t("Edit"))))));
}

function edit(user) {
  editing = user;
  showErrors(userForm, null);
  $("user-form-title").textContent = user ? t("Edit {name}", { name: user.display_name }) : t("Add a person");
  $("u-username").value = user ? user.username : "";
  $("u-username").disabled = Boolean(user);
  $("u-display").value = user ? user.display_name : "";
  $("u-role").value = user ? user.role : "agent";
  $("u-capacity").value = user ? user.capacity : 3;
  $("u-skills").value = user ? skillsText(user.skills) : "";
  $("u-password").value = "";
  $("u-password-label").hidden = Boolean(user);
  $("u-disabled-label").hidden = !user;
  $("u-disabled").checked = Boolean(user && user.disabled);
  $("u-save").textContent = user ? t("Save changes") : t("Add person");
  $("u-cancel").hidden = !user;
  $("u-reset").hidden = !user;
}

userForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { display_name: $("u-display").value, role: $("u-role").value,
    capacity: Number($("u-capacity").value), skills: parseSkills($("u-skills").value) };
  let result;
  if (editing) {
    result = await api("PUT", `/api/users/${editing.id}`, { ...body, disabled: $("u-disabled").checked });
  } else {
    result = await api("POST", "/api/users", { ...body, username: $("u-username").value.trim(), password: $("u-password").value });
  }
  showErrors(userForm, result.ok ? null : localized(result.data));
  if (!result.ok) return;
  toast(editing ? t("Saved. Changes apply at their next sign-in.") : t("{name} can now sign in.", { name: result.data.display_name }));
  edit(null);
  load();
});

$("u-cancel").addEventListener("click", () => edit(null));
$("u-reset").addEventListener("click", async () => {
  if (!editing) return;
  const password = window.prompt(t("New password for {name} (at least 8 characters):", { name: editing.display_name }));
  if (!password) return;
  const result = await api("POST", `/api/users/${editing.id}/password`, { password });
  if (result.ok) toast(t("Password reset. Their sessions were signed out."));
  else toast(result.data ? serverText(result.data.message) : t("Could not reset"), "error");
});

load();
