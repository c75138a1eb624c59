/* Labels on chats, shared by the console, the supervisor view, transcript views and the admin
   page (a classic script: one global, Labels). The desk's list comes from /api/labels?all=1
   (deleted labels too: they stay on old chats); a chat's labels are folded from its `label`
   frames in seq order, the last for each label winning. Names go in as text only; the colour
   is set through the CSSOM, which the pages' CSP allows. */
"use strict";

const Labels = (() => {
  const known = new Map(); // id -> {id, name, colour, text_colour, deleted}
  let loading = null;

  /** The desk's labels, fetched once (again when `fresh`); resolves to the Map. */
  function load(fresh) {
    if (!loading || fresh) {
      loading = api("GET", "/api/labels?all=1").then((result) => {
        if (result.ok) {
          known.clear();
          for (const label of result.data.labels) known.set(label.id, label);
        }
        return known;
      });
    }
    return loading;
  }

  /** Black or white, whichever contrasts more with `hex` (WCAG 2; the server's rule too). */
  function textColour(hex) {
    const lum = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000000" : "#ffffff";
  }

  /** The label as the desk knows it now (a rename shows at once), else as the frame had it. */
  function describe(label) {
    const now = known.get(label.id) || {};
    const colour = /^#[0-9a-fA-F]{6}$/.test(now.colour || "") ? now.colour
      : (/^#[0-9a-fA-F]{6}$/.test(label.colour || "") ? label.colour : "#e5e7eb");
    return { id: label.id, name: now.name || label.name || `#${label.id}`, colour };
  }

  /** One chip; with `onRemove`, a × button (keyboard reachable) that takes it off. */
  function chip(label, onRemove) {
    const { id, name, colour } = describe(label);
    const node = el("span", { class: "label-chip", dataset: id === undefined ? null : { labelId: id } },
      el("span", { class: "label-name", dir: "auto" }, name));
    node.style.backgroundColor = colour;
    node.style.color = textColour(colour);
    if (onRemove) {
      // A Persian label in an English page (or the reverse) keeps its place: FSI…PDI around it.
      const says = t("Remove label {name}", { name: /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]/.test(name)
        || document.documentElement.dir === "rtl" ? `\u2068${name}\u2069` : name });
      const remove = el("button", { type: "button", class: "label-remove", title: says,
        "aria-label": says, onclick: () => onRemove(id) }, "×");
      remove.style.color = "inherit";
      node.append(remove);
    }
    return node;
  }

  /** Fold one frame into a chat's labels (a Map id -> {id, name, colour}); true if it changed. */
  function fold(labels, frame) {
    if (frame.type !== "label" || typeof frame.label_id !== "number") return false;
    if (frame.on) labels.set(frame.label_id, { id: frame.label_id, name: frame.name, colour: frame.colour });
    else if (!labels.delete(frame.label_id)) return false;
    return true;
  }

  /** A chat's chips, and (when `onChange` is given) a picker of the labels not on it yet:
      onChange(label_id, on). A native <select>, so keys and screen readers just work. */
  function bar(labels, onChange) {
    const chips = [...labels.values()].sort((a, b) => describe(a).name.localeCompare(describe(b).name))
      .map((label) => chip(label, onChange ? (id) => onChange(id, false) : null));
    const box = el("div", { class: "label-bar", role: "group", "aria-label": t("Labels") }, ...chips);
    if (!chips.length && !onChange) box.append(el("span", { class: "muted small" }, t("No labels")));
    if (onChange) {
      const free = [...known.values()].filter((l) => !l.deleted && !labels.has(l.id))
        .sort((a, b) => a.name.localeCompare(b.name));
      const picker = el("select", { class: "label-picker", "aria-label": t("Add a label"), disabled: !free.length },
        el("option", { value: "" }, free.length ? t("+ Add label…") : (known.size ? t("All labels added") : t("No labels yet"))),
        ...free.map((l) => el("option", { value: String(l.id) }, l.name)));
      picker.addEventListener("change", () => {
        const id = Number(picker.value);
        picker.value = "";
        if (id) onChange(id, true);
      });
      box.append(picker);
    }
    return box;
  }

  /** A chat's labels over HTTP, where no socket carries them (the history dialog, the search
      page): chips folded from the transcript's `label` frames at once; then, when the server
      says this user may label the chat (GET /api/conversations/{id}/labels answers), the
      picker and × too, each change a POST. `changed(labels)` hears the chat's labels after
      each change. `box` is reused for the next chat: a late answer for another is dropped. */
  function editor(box, cid, frames, changed) {
    const url = `/api/conversations/${encodeURIComponent(cid)}/labels`;
    let labels = new Map();
    for (const frame of frames) fold(labels, frame);
    box.dataset.cid = cid;
    const keep = (list) => {
      labels = new Map(list.map((l) => [l.id, { id: l.id, name: l.name, colour: l.colour }]));
    };
    const draw = (editable) => {
      if (box.dataset.cid !== cid) return;
      // Keyboard users keep their place: focus goes back to the picker, or to the next ×.
      const active = document.activeElement;
      const had = box.contains(active) ? (active.classList.contains("label-remove") ? ".label-remove" : ".label-picker") : null;
      box.replaceChildren(bar(labels, editable ? set : null));
      if (had) (box.querySelector(had) || box.querySelector(".label-picker")).focus();
    };
    async function set(labelId, on) {
      const result = await api("POST", url, { label_id: labelId, on });
      if (!result.ok) {
        toast(result.data && result.data.message ? t(result.data.message) : t("The label could not be changed."), "error");
        return;
      }
      keep(result.data.labels);
      draw(true);
      if (changed) changed(result.data.labels);
    }
    draw(false);
    Promise.all([load(), api("GET", url)]).then(([, result]) => {
      if (!result.ok) return; // not this user's to label: the chips stay read-only
      keep(result.data.labels);
      draw(true);
    });
  }

  return { load, known, textColour, chip, fold, bar, editor };
})();
