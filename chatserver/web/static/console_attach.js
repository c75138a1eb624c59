/* Files from the agent: the composer's attach button, a file dropped on the chat or pasted
   into the reply box. Each goes up over HTTP (docs/protocol.md, Attachments) with its own line
   showing the progress; once stored it is drawn like every line with a file (renderFrame) and
   marked sent when the server's frame for it arrives (same id). A refusal says why, in the
   line and in a toast. */

import { chats, me, view, $ } from "./console_state.js";
import { renderTab, scrollDown } from "./console_chats.js";
import { markSent } from "./console_frames.js";

// The staff strings of this part, in one place, in the page language.
const TEXT = {
  uploading: t("Uploading…"),
  noteMode: t("Files go to the visitor: switch to Reply to send one"),
  notAssigned: t("Files can be sent only in a chat you are in"),
  offline: t("The server cannot be reached. Check your connection."),
  progress: (name) => t("Uploading {name}", { name: isolate(name) }),
  preview: (name) => ({ who: "you", text: t("File: {name}", { name: isolate(name) }) }),
  failedStatus: (status) => t("Not sent ({status})", { status }),
  failed: (reason) => t("Not sent: {reason}", { reason }),
};

// Why the server refused a file, by its error code (docs/protocol.md, Attachments). English
// pages show the server's own sentence, which names the type it found ("SVG"); others these.
const REFUSALS = {
  too_large: t("the file is too large"),
  unsupported_type: t("files of this type are not accepted"),
  pdf_script: t("PDFs that contain scripts are not accepted"),
  polyglot: t("the file hides another file inside it"),
  damaged_file: t("the file seems damaged"),
  too_many_pixels: t("the image has too many pixels"),
  empty_file: t("the file is empty"),
  rate_limited: t("too many files at once: try again in a moment"),
  forbidden: t("files cannot be sent in this chat"),
  conflict: t("this chat has ended"),
  unavailable: t("the server cannot store it now: try again in a moment"),
};

/** The reason a refused upload gives, in the page language. */
function refusal(data, status) {
  if (data && LANG !== "en" && REFUSALS[data.error]) return REFUSALS[data.error];
  return data && data.message ? t(data.message) : TEXT.failedStatus(status);
}

/** Send one file into the open chat, with a line showing its progress. */
export function upload(file) {
  const chat = chats.get(view.activeId);
  if (!chat || chat.state !== "assigned") { toast(TEXT.notAssigned, "error"); return; }
  if (view.mode === "note") { toast(TEXT.noteMode, "error"); return; }
  const id = uuid();
  const bar = el("progress", { class: "upload-progress", max: 100, value: 0, "aria-label": TEXT.progress(file.name) });
  const state = el("div", { class: "delivery" }, TEXT.uploading);
  const node = el("li", { class: "line line-agent pending", dataset: { id } },
    el("div", { class: "line-head" }, el("span", { class: "author" }, me.name), el("time", {}, fmtTime(Date.now()))),
    el("div", { class: "bubble bubble-agent uploading", dir: "auto" },
      el("span", { class: "attachment-name", dir: "auto" }, file.name), bar),
    state);
  chat.list.append(node);
  scrollDown(chat, true);

  const xhr = new XMLHttpRequest(); // not fetch: only XHR reports upload progress
  xhr.open("POST", `/api/conversations/${encodeURIComponent(chat.id)}/attachments`);
  xhr.setRequestHeader("x-csrf-token", CSRF);
  xhr.setRequestHeader("x-client-id", id);
  xhr.setRequestHeader("x-file-name", encodeURIComponent(file.name));
  xhr.setRequestHeader("accept", "application/json");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total); };
  xhr.onload = () => {
    let data = null;
    try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
    if (xhr.status !== 200 || !data || !data.attachment) {
      refused(node, state, refusal(data, xhr.status));
      return;
    }
    const line = renderFrame({ type: "message", from: "agent", author: me.name, text: "", id,
      seq: data.seq, ts: Date.now(), attachment: data.attachment });
    line.append(el("div", { class: "delivery" }, ""));
    node.replaceWith(line);
    markSent(line, data.seq);
    chat.preview = TEXT.preview(data.attachment.name);
    renderTab(chat);
    scrollDown(chat);
  };
  xhr.onerror = () => refused(node, state, TEXT.offline);
  xhr.send(file);
}

function refused(node, state, message) {
  node.classList.remove("pending");
  node.classList.add("failed");
  const bar = node.querySelector("progress");
  if (bar) bar.remove();
  state.textContent = TEXT.failed(message);
  toast(message, "error", 6000);
}

function sendAll(files) {
  for (const file of Array.from(files || [])) upload(file);
}

export function wireAttach() {
  const input = $("attach-input");
  $("attach-btn").addEventListener("click", () => input.click());
  input.addEventListener("change", () => { sendAll(input.files); input.value = ""; });
  // Drop on the open chat; the pane shows where while a file is dragged over it.
  const pane = $("chat");
  const carriesFiles = (e) => Array.from(e.dataTransfer ? e.dataTransfer.types : []).includes("Files");
  pane.addEventListener("dragover", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    pane.classList.add("drop-target");
  });
  pane.addEventListener("dragleave", (e) => { if (!pane.contains(e.relatedTarget)) pane.classList.remove("drop-target"); });
  pane.addEventListener("drop", (e) => {
    pane.classList.remove("drop-target");
    if (!carriesFiles(e)) return;
    e.preventDefault();
    sendAll(e.dataTransfer.files);
  });
  // A pasted screenshot goes as a file; pasted text stays text.
  $("composer-text").addEventListener("paste", (e) => {
    const files = e.clipboardData ? e.clipboardData.files : null;
    if (files && files.length) { e.preventDefault(); sendAll(files); }
  });
}
