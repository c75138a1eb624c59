/* API tokens (/admin/tokens): make one (shown once, with a copy button), list, revoke; over
   /api/tokens with the admin's session. Names and dates in the page language. */
"use strict";

const $ = (id) => document.getElementById(id);
const tokenForm = $("token-form");
const SCOPE_NAMES = { read: t("read"), write: t("write"), admin: t("admin") };

function scopeChips(scopes) {
  return scopes.map((s) => el("span", { class: "token-chip" }, SCOPE_NAMES[s] || s));
}

async function load() {
  const result = await api("GET", "/api/tokens");
  const tokens = result.ok ? result.data.tokens : [];
  const body = $("tokens-table").tBodies[0];
  body.replaceChildren(...tokens.map((token) => el("tr", { class: token.revoked ? "token-revoked" : null, dataset: { tokenId: token.id } },
    el("td", { "data-label": t("Name") }, el("bdi", {}, token.name), " ", el("code", { dir: "ltr", class: "hint" }, `${token.prefix}_…`)),
    el("td", { "data-label": t("Scopes") }, ...scopeChips(token.scopes)),
    el("td", { "data-label": t("Last used") }, token.last_used_ms ? fmtDateTime(token.last_used_ms) : t("never")),
    el("td", { class: "token-actions" }, token.revoked
      ? t("Revoked {when}", { when: fmtDateTime(token.revoked_ms) })
      : el("button", { type: "button", class: "btn btn-small btn-danger-quiet", onclick: () => revoke(token) }, t("Revoke"))))));
  if (!tokens.length) body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, t("No tokens yet. Create one with the form."))));
}

async function revoke(token) {
  if (!window.confirm(t("Revoke the token “{name}”? Integrations using it are refused from the next request on.", { name: isolate(token.name) }))) return;
  const result = await api("DELETE", `/api/tokens/${token.id}`);
  if (!result.ok) { toast(result.data ? t(result.data.message) : t("Could not revoke"), "error"); return; }
  toast(t("Revoked “{name}”.", { name: isolate(token.name) }));
  load();
}

function shown(token) {
  $("token-value").textContent = token || "";
  $("token-made").hidden = !token;
  tokenForm.hidden = !!token;
}

tokenForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const scopes = Array.from(tokenForm.querySelectorAll('input[name="scopes"]:checked'), (box) => box.value);
  const result = await api("POST", "/api/tokens", { name: $("t-name").value, scopes });
  showErrors(tokenForm, result.ok ? null : result.data);
  if (!result.ok) return;
  toast(t("Created “{name}”.", { name: result.data.name }));
  tokenForm.reset();
  shown(result.data.token);
  load();
});

$("token-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("token-value").textContent);
    toast(t("Copied."));
  } catch (e) {
    window.getSelection().selectAllChildren($("token-value"));
    toast(t("Select the token and copy it."), "error");
  }
});
$("token-done").addEventListener("click", () => { shown(null); $("t-name").focus(); });
load();
