/* One conversation's log drawn as a transcript, shared by the console and the supervisor
   view. Every frame becomes one <li>; all data goes in as text. */
"use strict";

/** A translated sentence as nodes for el(): `text` is what t() gave, its {placeholders} left
    in, each filled from `values` as a <bdi> (a Node value as it is). */
function tParts(text, values) {
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(/\{(\w+)\}/g)) {
    if (!(m[1] in values)) continue;
    parts.push(text.slice(at, m.index));
    const v = values[m[1]];
    parts.push(v instanceof Node ? v : el("bdi", {}, String(v)));
    at = m.index + m[0].length;
  }
  parts.push(text.slice(at));
  return parts.filter((p) => p !== "");
}

// Why a chat waits for a person, by the `reason` of its queued event; an unknown reason shows
// no code, just "Waiting for a person".
// Each is the whole sentence, so that a language can order it as it needs.
const QUEUE_REASONS = { asked: t("Waiting for a person (the visitor asked for a person)"),
  asked_for_human: t("Waiting for a person (the visitor asked the bot for a person)"),
  declined: t("Waiting for a person (an agent declined)"),
  transfer: t("Waiting for a person (transfer)"),
  offer_expired: t("Waiting for a person (an offer expired)"),
  agent_disconnected: t("Waiting for a person (the agent dropped)"),
  agent_status: t("Waiting for a person (the agent went away)"),
  agent_away: t("Waiting for a person (the agent was set away after missed offers)"),
  restart: t("Waiting for a person (server restart)"),
  no_bot: t("Waiting for a person (no bot)"),
  low_confidence: t("Waiting for a person (the bot was not sure)"),
  no_match: t("Waiting for a person (the bot found no answer)"),
  second_failure: t("Waiting for a person (the bot's suggestions did not help)"),
  silent_agent: t("Waiting for a person (no reply from the agent in time: offered to another)") };
// The bot's decision on each of its lines, in words.
const DECISIONS = { answer: t("answer"), suggest: t("suggest"), handoff: t("handoff"),
  smalltalk: t("small talk"), offer_human: t("offered a person") };

/** A line the server wrote; `text` a string or the nodes of tParts(). */
function systemLine(text, extra) {
  return el("li", { class: "line line-system" }, el("span", { class: "system-text" }, ...[].concat(text)), extra || null);
}

function botDetails(frame) {
  const details = [];
  if (frame.decision) details.push(el("span", { class: `chip chip-${frame.decision}` }, DECISIONS[frame.decision] || frame.decision));
  if (Array.isArray(frame.matches) && frame.matches.length) {
    const list = el("ol", { class: "tried" });
    for (const m of frame.matches.slice(0, 5)) {
      list.append(el("li", { class: m.entry_id === frame.entry_id ? "picked" : null },
        el("span", { class: "tried-title" }, m.title || `#${m.entry_id}`),
        el("span", { class: "score" }, fmtNumber(Number(m.score), { minimumFractionDigits: 2, maximumFractionDigits: 2 }))));
    }
    details.push(el("details", { class: "tried-box" }, el("summary", {}, frame.matches.length === 1
      ? t("Tried {n} entry", { n: fmtNumber(1) }) : t("Tried {n} entries", { n: fmtNumber(frame.matches.length) })), list));
  }
  if (Array.isArray(frame.suggestions) && frame.suggestions.length) {
    details.push(el("div", { class: "suggested" }, t("Offered:"), " ",
      ...frame.suggestions.map((s) => el("span", { class: "chip", dir: "auto" }, s.title))));
  }
  return details.length ? el("div", { class: "bot-details" }, ...details) : null;
}

/** "12 KB", "1.4 MB": a file's size as people read it, in the page's digits. */
function fmtSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return t("{n} B", { n: fmtNumber(n) });
  if (n < 1024 * 1024) return t("{n} KB", { n: fmtNumber(Math.round(n / 1024)) });
  return t("{n} MB", { n: fmtNumber(n / (1024 * 1024), { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
}

/** A line's file (docs/protocol.md, Attachments): an image's thumbnail opening the full image
    in a new tab, or a download link with the name and size. The name is text, never markup. */
function attachmentNode(a) {
  const size = fmtSize(a.size);
  if (a.thumbnail_url) {
    // The box is sized from the image's own size (at most 240 px), so lines do not jump as
    // thumbnails load; one the purge deleted says so instead of showing a broken image.
    const scale = Math.min(1, 240 / Math.max(a.width || 1, a.height || 1));
    const link = el("a", { class: "attachment attachment-image", href: a.url, target: "_blank", rel: "noopener", title: t("Open the full image: {name} · {size}", { name: isolate(a.name), size }) });
    const img = el("img", { src: a.thumbnail_url, alt: a.name, loading: "lazy",
      width: Math.max(1, Math.round((a.width || 240) * scale)), height: Math.max(1, Math.round((a.height || 240) * scale)),
      onerror: () => link.replaceWith(el("span", { class: "attachment attachment-gone" }, ...tParts(t("File no longer kept: {name}"), { name: a.name }))) });
    link.append(img);
    return link;
  }
  const kind = a.media_type === "application/pdf" ? "PDF" : a.media_type === "text/plain" ? "TXT" : t("file");
  return el("a", { class: "attachment attachment-file", href: a.url, download: a.name || true, rel: "noopener" },
    el("span", { class: "attachment-kind", "aria-hidden": "true" }, kind),
    el("span", { class: "attachment-name", dir: "auto" }, a.name || t("file")),
    el("span", { class: "attachment-size" }, size));
}

/** Who said a line: a person's name as is; the server's stand-in names in the page language. */
function authorName(frame, who) {
  if (who === "bot") return t("Bot");
  if (who === "system") return t("System");
  if (!frame.author || (who === "visitor" && frame.author === "Visitor")) return who === "visitor" ? t("Visitor") : t("Agent");
  return frame.author;
}

/** The <li> for one frame, or null for frames a transcript does not show. */
function renderFrame(frame) {
  const time = frame.ts ? fmtTime(frame.ts) : "";
  switch (frame.type) {
    case "message": {
      const who = frame.from || "visitor";
      const li = el("li", { class: `line line-${who}`, dataset: { seq: frame.seq || "", id: frame.id || "" } },
        el("div", { class: "line-head" }, el("span", { class: "author", dir: "auto" }, authorName(frame, who)), el("time", {}, time)),
        el("div", { class: `bubble bubble-${who}`, dir: "auto" }, frame.text || "",
          frame.attachment && frame.attachment.url ? attachmentNode(frame.attachment) : null));
      if (who === "bot") { const d = botDetails(frame); if (d) li.append(d); }
      return li;
    }
    case "note":
      return el("li", { class: "line line-note", dataset: { seq: frame.seq || "", id: frame.id || "" } },
        el("div", { class: "line-head" }, el("span", { class: "author" }, ...tParts(t("Private note · {author}"), { author: frame.author || "" })), el("time", {}, time)),
        el("div", { class: "bubble bubble-note", dir: "auto" }, frame.text || ""));
    case "whisper": // a supervisor to the agent holding the chat: staff only (supervisor.js)
      return el("li", { class: "line line-note line-whisper", dataset: { seq: frame.seq || "", id: frame.id || "" } },
        el("div", { class: "line-head" }, el("span", { class: "author" }, ...tParts(t("Supervisor's whisper · {author}"), { author: frame.author || "" })), el("time", {}, time)),
        el("div", { class: "bubble bubble-note bubble-whisper", dir: "auto" }, frame.text || ""));
    case "assigned":
      return systemLine(frame.agent ? tParts(t("{agent} joined the chat"), { agent: frame.agent }) : t("An agent joined the chat"));
    case "label": // a label put on or taken off (staff only)
      return systemLine(tParts(frame.on ? t("{who} added the label “{label}”") : t("{who} removed the label “{label}”"),
        { who: frame.by || t("Someone"), label: frame.name || `#${frame.label_id}` }));
    case "closed": {
      const by = { by: frame.by || t("someone") };
      if (frame.resolved === true) return systemLine(tParts(t("Chat closed by {by} · resolved"), by));
      if (frame.resolved === false) return systemLine(tParts(t("Chat closed by {by} · not resolved"), by));
      return systemLine(tParts(t("Chat closed by {by}"), by));
    }
    case "event": {
      const p = frame.payload || {};
      if (frame.event === "queued") return systemLine(QUEUE_REASONS[p.reason] || t("Waiting for a person"));
      if (frame.event === "transferred" && p.take_over) return systemLine(tParts(t("{name} took over the chat"), { name: p.by || t("A supervisor") }));
      if (frame.event === "transferred") {
        const target = p.to_skill ? tParts(t("Transferred to the {skill} team"), { skill: p.to_skill })
          : (p.to_agent ? tParts(t("Transferred to agent #{id}"), { id: fmtNumber(p.to_agent) }) : t("Transferred to the queue"));
        return systemLine(target, p.note ? el("div", { class: "bubble bubble-note", dir: "auto" }, p.note) : null);
      }
      if (frame.event === "silent") {
        const waited = { time: fmtWait(p.waited_seconds || 0) };
        return systemLine(p.turn === "first" ? t("No reply for {time}: the visitor is waiting for a first line", waited)
          : t("No reply for {time}: the visitor is waiting", waited));
      }
      if (frame.event === "survey") {
        const rating = p.rating === null || p.rating === undefined ? "–" : fmtNumber(p.rating);
        return systemLine(p.comment ? tParts(t("Survey: rated {rating} — “{comment}”"), { rating, comment: p.comment })
          : t("Survey: rated {rating}", { rating }));
      }
      if (frame.event === "started") return systemLine(t("Chat started"));
      if (frame.event === "rehomed") return systemLine(t("The visitor logged in: the chat moved to their verified identity"));
      return null; // offered and future events: not shown
    }
    default:
      return null;
  }
}
