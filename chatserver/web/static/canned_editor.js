/* The canned-response form that /admin/canned and the console's "my responses" dialog share:
   shortcut, title, the knowledge-base entry it answers with (admins), and a tab per language
   with the text in it, placeholders a click away. Errors from the API land beside their field
   (a `variants.fa` error opens the Persian tab first). */

// The staff languages every response offers a tab for; any other tag the KB accepts is added.
export const LANGUAGES = ["en", "fa", "ar", "zh"];
const RIGHT_TO_LEFT = new Set(["fa", "ar", "ur", "he", "ps", "ckb", "dv", "yi"]);
const TAG = /^[a-z]{2,3}$/;
// The server's refusals that carry a number or an id, in the page language (core/canned.py,
// service/canned.py); its fixed sentences go through t() as they are.
const SERVER_PATTERNS = [
  [/^must be 1-(\d+) characters$/, (m) => t("must be 1-{limit} characters", { limit: fmtNumber(+m[1]) })],
  [/^must be at most (\d+) characters \(one chat line\)$/,
    (m) => t("must be at most {limit} characters (one chat line)", { limit: fmtNumber(+m[1]) })],
  [/^no canned response \d+$/, () => t("This response no longer exists.")],
  [/^no knowledge-base entry \d+$/, () => t("That entry is gone.")],
];

/** The tag's name in the page language ("Persian", «فارسی», «波斯语»). */
export function languageLabel(tag) {
  try { return new Intl.DisplayNames([document.documentElement.lang || "en"], { type: "language" }).of(tag) || tag; } catch (e) { return tag; }
}

/** "/shortcut" to put inside a sentence: isolated (FSI…PDI), so a Latin shortcut keeps its slash
   in front in a Persian or Arabic sentence, and a Persian one in an English sentence. */
export function slashed(shortcut) { return `\u2068/${shortcut}\u2069`; }

/** A bidi-safe text box for one language: its direction from the language, not from guessing. */
export function directionOf(tag) { return RIGHT_TO_LEFT.has(tag) ? "rtl" : "ltr"; }

/**
 * The form. `entries` (admins): [{id, title, language}] for the "answers with" choice, or null
 * to leave it out. `placeholders`: the names the server accepts. Returns
 * {form, load(response, language), value(), showError(data), focus()}.
 */
export function cannedEditor({ entries = null, placeholders = [], idPrefix = "canned" }) {
  const id = (name) => `${idPrefix}-${name}`;
  const shortcut = el("input", { name: "shortcut", id: id("shortcut"), maxlength: 32, autocomplete: "off", dir: "auto", spellcheck: "false" });
  const title = el("input", { name: "title", id: id("title"), maxlength: 100, autocomplete: "off", dir: "auto" });
  const entry = entries ? el("select", { name: "entry_id", id: id("entry") }, el("option", { value: "" }, t("None")),
    ...entries.map((e) => el("option", { value: e.id, dir: "auto" }, `${e.title} (${e.language})`))) : null;
  const tabs = el("div", { class: "canned-tabs", role: "tablist", "aria-label": t("Languages") });
  const panels = el("div", { class: "canned-panels" });
  const boxes = new Map(); // language -> {tab, panel, text}
  let active = "en";

  const addTag = el("input", { class: "canned-add-tag", id: id("add-tag"), maxlength: 3, size: 4, autocomplete: "off", "aria-label": t("Another language (a tag such as tr)"), placeholder: t("tag") });
  const addButton = el("button", { type: "button", class: "btn btn-small", onclick: () => {
    const tag = addTag.value.trim().toLowerCase();
    if (!TAG.test(tag)) { addTag.setAttribute("aria-invalid", "true"); return; }
    addTag.removeAttribute("aria-invalid");
    addTag.value = "";
    ensure(tag);
    select(tag);
  } }, t("Add language"));

  function ensure(tag) {
    if (boxes.has(tag)) return boxes.get(tag);
    const text = el("textarea", { name: `variants.${tag}`, id: id(`text-${tag}`), rows: 6, lang: tag, dir: directionOf(tag), "aria-label": t("Text in {language}", { language: languageLabel(tag) }) });
    const tab = el("button", { type: "button", role: "tab", class: "canned-tab", id: id(`tab-${tag}`), "aria-selected": "false", "aria-controls": id(`panel-${tag}`), dataset: { lang: tag },
      onclick: () => select(tag), onkeydown: moveTab }, el("span", { lang: tag }, languageLabel(tag)), el("span", { class: "canned-tab-tag" }, tag));
    const panel = el("div", { role: "tabpanel", id: id(`panel-${tag}`), "aria-labelledby": id(`tab-${tag}`), hidden: true },
      text, el("span", { class: "field-error", dataset: { for: `variants.${tag}` } }));
    text.addEventListener("input", () => tab.classList.toggle("has-text", Boolean(text.value.trim())));
    tabs.append(tab);
    panels.append(panel);
    const box = { tab, panel, text };
    boxes.set(tag, box);
    return box;
  }

  function select(tag) {
    active = tag;
    for (const [lang, box] of boxes) {
      box.tab.setAttribute("aria-selected", String(lang === tag));
      box.tab.tabIndex = lang === tag ? 0 : -1;
      box.panel.hidden = lang !== tag;
    }
  }

  function moveTab(e) {
    const order = [...boxes.keys()];
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    e.preventDefault();
    const rtl = getComputedStyle(tabs).direction === "rtl"; // the arrow points where it moves
    const next = order[(order.indexOf(active) + (rtl ? -step : step) + order.length) % order.length];
    select(next);
    boxes.get(next).tab.focus();
  }

  const chips = el("p", { class: "canned-placeholders small" }, el("span", { class: "muted" }, t("Insert:")), " ",
    ...placeholders.map((name) => el("button", { type: "button", class: "btn btn-small canned-chip", dir: "ltr", onclick: () => {
      const box = boxes.get(active).text;
      const at = box.selectionStart ?? box.value.length;
      box.setRangeText(`{${name}}`, at, box.selectionEnd ?? at, "end");
      box.dispatchEvent(new Event("input"));
      box.focus();
    } }, `{${name}}`)));

  const form = el("form", { class: "canned-form stack", novalidate: true },
    el("p", { class: "form-error", role: "alert", hidden: true }),
    el("div", { class: "row row-fields" },
      el("label", { for: id("shortcut") }, el("span", { class: "label-text" }, t("Shortcut"), " ", el("span", { class: "hint" }, t("typed after /"))), shortcut,
        el("span", { class: "field-error", dataset: { for: "shortcut" } })),
      el("label", { for: id("title") }, t("Title"), title, el("span", { class: "field-error", dataset: { for: "title" } }))),
    entry ? el("label", { for: id("entry") }, el("span", { class: "label-text" }, t("Answers with"), " ", el("span", { class: "hint" }, t("a knowledge-base entry: the bot learns from replies that use it"))), entry,
      el("span", { class: "field-error", dataset: { for: "entry_id" } })) : null,
    el("div", { class: "canned-langs" }, tabs, el("span", { class: "canned-add" }, addTag, addButton)),
    panels,
    el("span", { class: "field-error", dataset: { for: "variants" } }),
    chips);

  function load(response, language) {
    const data = response || {};
    shortcut.value = data.shortcut || "";
    title.value = data.title || "";
    if (entry) entry.value = data.entry_id ? String(data.entry_id) : "";
    const variants = data.variants || {};
    for (const box of boxes.values()) { box.tab.remove(); box.panel.remove(); }
    boxes.clear();
    for (const tag of [...LANGUAGES, ...Object.keys(variants)]) {
      const box = ensure(tag);
      box.text.value = variants[tag] || "";
      box.tab.classList.toggle("has-text", Boolean(box.text.value.trim()));
    }
    const first = language && boxes.has(language) ? language : Object.keys(variants)[0] || "en";
    select(first);
    showError(null);
  }

  function value() {
    const variants = {};
    for (const [tag, box] of boxes) if (box.text.value.trim()) variants[tag] = box.text.value;
    const body = { shortcut: shortcut.value, title: title.value, variants };
    if (entry) body.entry_id = entry.value ? Number(entry.value) : null;
    return body;
  }

  function showError(data) {
    const field = data && data.field;
    if (field && field.startsWith("variants.")) select(field.slice("variants.".length));
    const general = form.querySelector(".form-error");
    general.hidden = true;
    // A placeholder's refusal in the page language; the server's sentence names the known ones.
    const pattern = data && data.message && SERVER_PATTERNS.find(([re]) => re.test(data.message));
    const shown = data && data.placeholder
      ? { ...data, message: t("Unknown or malformed placeholder: {placeholder}", { placeholder: data.placeholder }) }
      : pattern ? { ...data, message: pattern[1](pattern[0].exec(data.message)) } : data;
    showErrors(form, shown, general);
  }

  return { form, load, value, showError, focus: () => shortcut.focus(), textFor: (tag) => ensure(tag).text, select };
}
