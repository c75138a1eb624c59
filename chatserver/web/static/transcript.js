/* One conversation's log drawn as a transcript, shared by the console and the supervisor
   view. Every frame becomes one <li>; all data goes in as text. */
"use strict";

// Why a chat waits for a person, by the `reason` of its queued event; an unknown reason shows
// no code, just "Waiting for a person".
const QUEUE_REASONS = { asked: "the visitor asked for a person",
  asked_for_human: "the visitor asked the bot for a person", declined: "an agent declined",
  transfer: "transfer", offer_expired: "an offer expired", agent_disconnected: "the agent dropped",
  agent_status: "the agent went away", agent_away: "the agent was set away after missed offers",
  restart: "server restart", no_bot: "no bot", low_confidence: "the bot was not sure",
  no_match: "the bot found no answer", second_failure: "the bot's suggestions did not help",
  silent_agent: "no reply from the agent in time: offered to another" };
// The bot's decision on each of its lines, in words.
const DECISIONS = { answer: "answer", suggest: "suggest", handoff: "handoff",
  smalltalk: "small talk", offer_human: "offered a person" };

function systemLine(text, extra) {
  return el("li", { class: "line line-system" }, el("span", { class: "system-text" }, text), extra || null);
}

function botDetails(frame) {
  const details = [];
  if (frame.decision) details.push(el("span", { class: `chip chip-${frame.decision}` }, DECISIONS[frame.decision] || frame.decision));
  if (Array.isArray(frame.matches) && frame.matches.length) {
    const list = el("ol", { class: "tried" });
    for (const m of frame.matches.slice(0, 5)) {
      list.append(el("li", { class: m.entry_id === frame.entry_id ? "picked" : null },
        el("span", { class: "tried-title" }, m.title || `#${m.entry_id}`),
        el("span", { class: "score" }, Number(m.score).toFixed(2))));
    }
    details.push(el("details", { class: "tried-box" }, el("summary", {}, `Tried ${frame.matches.length} entr${frame.matches.length === 1 ? "y" : "ies"}`), list));
  }
  if (Array.isArray(frame.suggestions) && frame.suggestions.length) {
    details.push(el("div", { class: "suggested" }, "Offered: ",
      ...frame.suggestions.map((s) => el("span", { class: "chip" }, s.title))));
  }
  return details.length ? el("div", { class: "bot-details" }, ...details) : null;
}

// Staff strings of a line's file, in one place (issue 20 translates them).
const FILE_TEXT = { gone: "File no longer kept", open: "Open the full image" };

/** "12 KB", "1.4 MB": a file's size as people read it. */
function fmtSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** A line's file (docs/protocol.md, Attachments): an image's thumbnail opening the full image
    in a new tab, or a download link with the name and size. The name is text, never markup. */
function attachmentNode(a) {
  const size = fmtSize(a.size);
  if (a.thumbnail_url) {
    // The box is sized from the image's own size (at most 240 px), so lines do not jump as
    // thumbnails load; one the purge deleted says so instead of showing a broken image.
    const scale = Math.min(1, 240 / Math.max(a.width || 1, a.height || 1));
    const link = el("a", { class: "attachment attachment-image", href: a.url, target: "_blank", rel: "noopener", title: `${FILE_TEXT.open}: ${a.name} · ${size}` });
    const img = el("img", { src: a.thumbnail_url, alt: a.name, loading: "lazy",
      width: Math.max(1, Math.round((a.width || 240) * scale)), height: Math.max(1, Math.round((a.height || 240) * scale)),
      onerror: () => link.replaceWith(el("span", { class: "attachment attachment-gone" }, `${FILE_TEXT.gone}: ${a.name}`)) });
    link.append(img);
    return link;
  }
  const kind = a.media_type === "application/pdf" ? "PDF" : a.media_type === "text/plain" ? "TXT" : "FILE";
  return el("a", { class: "attachment attachment-file", href: a.url, download: a.name || true, rel: "noopener" },
    el("span", { class: "attachment-kind", "aria-hidden": "true" }, kind),
    el("span", { class: "attachment-name", dir: "auto" }, a.name || "file"),
    el("span", { class: "attachment-size" }, size));
}

/** The <li> for one frame, or null for frames a transcript does not show. */
function renderFrame(frame) {
  const time = frame.ts ? fmtTime(frame.ts) : "";
  switch (frame.type) {
    case "message": {
      const who = frame.from || "visitor";
      const li = el("li", { class: `line line-${who}`, dataset: { seq: frame.seq || "", id: frame.id || "" } },
        el("div", { class: "line-head" }, el("span", { class: "author" }, who === "bot" ? "Bot" : (frame.author || who)), el("time", {}, time)),
        el("div", { class: `bubble bubble-${who}`, dir: "auto" }, frame.text || "",
          frame.attachment && frame.attachment.url ? attachmentNode(frame.attachment) : null));
      if (who === "bot") { const d = botDetails(frame); if (d) li.append(d); }
      return li;
    }
    case "note":
      return el("li", { class: "line line-note", dataset: { seq: frame.seq || "", id: frame.id || "" } },
        el("div", { class: "line-head" }, el("span", { class: "author" }, `Private note · ${frame.author || ""}`), el("time", {}, time)),
        el("div", { class: "bubble bubble-note", dir: "auto" }, frame.text || ""));
    case "assigned":
      return systemLine(`${frame.agent || "An agent"} joined the chat`);
    case "label": // a label put on or taken off (staff only)
      return systemLine(`${frame.by || "Someone"} ${frame.on ? "added" : "removed"} the label “${frame.name || `#${frame.label_id}`}”`);
    case "closed": {
      let text = `Chat closed by ${frame.by || "someone"}`;
      if (frame.resolved === true) text += " · resolved";
      if (frame.resolved === false) text += " · not resolved";
      return systemLine(text);
    }
    case "event": {
      const p = frame.payload || {};
      if (frame.event === "queued") return systemLine(`Waiting for a person${QUEUE_REASONS[p.reason] ? ` (${QUEUE_REASONS[p.reason]})` : ""}`);
      if (frame.event === "transferred") {
        const target = p.to_skill ? `the ${p.to_skill} team` : (p.to_agent ? `agent #${p.to_agent}` : "the queue");
        return systemLine(`Transferred to ${target}`, p.note ? el("div", { class: "bubble bubble-note", dir: "auto" }, p.note) : null);
      }
      if (frame.event === "silent") {
        return systemLine(`No reply for ${fmtWait(p.waited_seconds || 0)}: the visitor is waiting${p.turn === "first" ? " for a first line" : ""}`);
      }
      if (frame.event === "survey") return systemLine(`Survey: rated ${p.rating ?? "–"}${p.comment ? ` — “${p.comment}”` : ""}`);
      if (frame.event === "started") return systemLine("Chat started");
      if (frame.event === "rehomed") return systemLine("The visitor logged in: the chat moved to their verified identity");
      return null; // offered and future events: not shown
    }
    default:
      return null;
  }
}
