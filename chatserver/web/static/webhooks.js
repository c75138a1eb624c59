/* Webhook endpoints (/admin/webhooks): add, enable or disable, replace the secret, delete, and
   each endpoint's recent deliveries, over /api/webhooks. A secret is shown once, when made. */
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("wh-form");
const EVENT_NAMES = {
  started: t("Chat started"), message: t("Message"), queued: t("Waiting for a person"),
  assigned: t("Assigned to an agent"), transferred: t("Transferred"), closed: t("Chat closed"),
  survey: t("Survey answered"), label: t("Label put on or taken off"), whisper: t("Internal note"),
};
let shownLog = null;

function eventName(kind) { return EVENT_NAMES[kind] || kind; }

function state(endpoint) {
  if (endpoint.enabled) return el("span", { class: "wh-state-on" }, t("Enabled"));
  if (endpoint.disabled_reason === "failing") {
    return el("span", { class: "wh-state-off" }, t("Disabled after failing since {time}", { time: fmtDateTime(endpoint.failing_since_ms || endpoint.disabled_ms) }));
  }
  return el("span", { class: "wh-state-off" }, t("Disabled"));
}

function notices(endpoints) {
  $("wh-notices").replaceChildren(...endpoints.filter((e) => !e.enabled && e.disabled_reason === "failing").map((e) =>
    el("p", { class: "wh-notice" }, t("{url} was disabled on {time}: it failed for too long. {count} events wait for it; enable it once it works again and they are sent in order.", { url: isolate(e.url), time: fmtDateTime(e.disabled_ms), count: fmtNumber(e.waiting) }))));
}

async function load() {
  const result = await api("GET", "/api/webhooks");
  if (!result.ok) { toast(t("Could not load the webhooks"), "error"); return; }
  const { endpoints, event_types: kinds } = result.data;
  if (!$("wh-events").querySelector("input")) {
    $("wh-events").prepend(...kinds.map((kind) => el("label", {},
      el("input", { type: "checkbox", name: "events", value: kind, checked: kind === "message" || kind === "closed" }), eventName(kind))));
  }
  notices(endpoints);
  const body = $("wh-table").tBodies[0];
  body.replaceChildren(...endpoints.map((e) => el("tr", { dataset: { endpointId: e.id } },
    el("td", { "data-label": t("Endpoint") }, el("code", { class: "wh-url", dir: "ltr" }, e.url),
      e.description ? el("span", { class: "wh-description", dir: "auto" }, e.description) : null),
    el("td", { "data-label": t("Events") }, e.events.map(eventName).join(t(", "))),
    el("td", { "data-label": t("State") }, state(e)),
    el("td", { "data-label": t("Waiting") }, fmtNumber(e.waiting)),
    el("td", { class: "wh-actions" },
      el("button", { type: "button", class: "btn btn-small", onclick: () => deliveries(e) }, t("Deliveries")),
      el("button", { type: "button", class: "btn btn-small", onclick: () => toggle(e) }, e.enabled ? t("Disable") : t("Enable")),
      el("button", { type: "button", class: "btn btn-small", onclick: () => newSecret(e) }, t("New secret")),
      el("button", { type: "button", class: "btn btn-small btn-danger-quiet", onclick: () => remove(e) }, t("Delete"))))));
  if (!endpoints.length) body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" }, t("No webhooks yet. Add the first one with the form."))));
  if (shownLog) {
    const still = endpoints.find((e) => e.id === shownLog.id);
    if (still) deliveries(still); else $("wh-deliveries").hidden = true;
  }
}

function showSecret(secret) {
  $("wh-secret-value").textContent = secret;
  $("wh-secret").hidden = false;
}

async function toggle(endpoint) {
  const result = await api("PATCH", `/api/webhooks/${endpoint.id}`, { enabled: !endpoint.enabled });
  if (!result.ok) { toast(result.data && result.data.message ? refusalText(result.data) : t("Something went wrong"), "error"); return; }
  toast(endpoint.enabled ? t("Disabled.") : t("Enabled: waiting events are being sent."));
  load();
}

async function newSecret(endpoint) {
  if (!window.confirm(t("Replace the secret of {url}? Requests are signed with the new one at once.", { url: isolate(endpoint.url) }))) return;
  const result = await api("POST", `/api/webhooks/${endpoint.id}/secret`, {});
  if (!result.ok) { toast(t("Something went wrong"), "error"); return; }
  showSecret(result.data.secret);
}

async function remove(endpoint) {
  if (!window.confirm(t("Delete the webhook {url}? Events waiting for it are dropped.", { url: isolate(endpoint.url) }))) return;
  const result = await api("DELETE", `/api/webhooks/${endpoint.id}`);
  if (!result.ok) { toast(t("Could not delete"), "error"); return; }
  toast(t("Deleted."));
  load();
}

async function deliveries(endpoint) {
  const result = await api("GET", `/api/webhooks/${endpoint.id}/deliveries`);
  if (!result.ok) return;
  shownLog = endpoint;
  $("wh-deliveries-title").replaceChildren(t("Recent deliveries"), " ", el("code", { class: "wh-url", dir: "ltr" }, endpoint.url));
  const rows = result.data.deliveries;
  $("wh-log").tBodies[0].replaceChildren(...rows.map((d) => el("tr", { class: d.status >= 200 && d.status < 300 ? "" : "wh-failed" },
    el("td", { "data-label": t("Time") }, fmtDateTime(d.ts_ms)),
    el("td", { "data-label": t("Event") }, el("code", { dir: "ltr" }, d.event_id), " ", eventName(d.type)),
    el("td", { "data-label": t("Attempt") }, fmtNumber(d.attempt)),
    el("td", { "data-label": t("Status") }, d.status === null ? t("no answer") : fmtNumber(d.status, { useGrouping: false })),
    el("td", { "data-label": t("Response time") }, t("{ms} ms", { ms: fmtNumber(d.duration_ms) })),
    el("td", { "data-label": t("Error"), class: "wh-error", dir: "ltr" }, d.error))));
  if (!rows.length) $("wh-log").tBodies[0].replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("Nothing sent yet."))));
  $("wh-deliveries").hidden = false;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {
    url: $("wh-url").value, description: $("wh-description").value,
    events: [...form.querySelectorAll('input[name="events"]:checked')].map((box) => box.value),
    secret: $("wh-secret-input").value,
  };
  const result = await api("POST", "/api/webhooks", body);
  showErrors(form, result.ok ? null : result.data);
  if (!result.ok) return;
  showSecret(result.data.secret);
  toast(t("Webhook added."));
  form.reset();
  load();
});

load();
setInterval(load, 10000); // states, waiting counts and deliveries as they change
