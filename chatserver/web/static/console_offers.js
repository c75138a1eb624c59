/* Offers: each waiting chat offered to me, with a countdown, accepted or declined; an accepted
   offer becomes a chat with the transcript it came with. */

import { chats, languageShort, offers, pending, $ } from "./console_state.js";
import { socket } from "./console_connection.js";
import { renderEmpty, updateTitle } from "./console_rail.js";
import { beep, notify } from "./console_alerts.js";
import { addChat, openChat } from "./console_chats.js";
import { addFrame } from "./console_frames.js";
import { glance, mark } from "./console_visitor.js";
import { showView } from "./console_views.js";

// 250 ms: the seconds shown step on time and the bar moves smoothly enough.
const COUNTDOWN_TICK_MS = 250;

function lastVisitorLine(transcript) {
  for (let i = (transcript || []).length - 1; i >= 0; i -= 1) {
    if (transcript[i].from === "visitor") return transcript[i].text;
  }
  return "";
}

export function addOffer(frame) {
  const conv = frame.conversation;
  if (offers.has(conv.id)) removeOffer(conv.id);
  const deadline = Date.now() + (frame.expires_in || 0) * 1000;
  const total = Math.max(1, frame.expires_in || 1);
  const name = conv.visitor_name || t("Visitor");
  const countdown = el("span", { class: "countdown" }, fmtWait(frame.expires_in || 0));
  const bar = el("span", { class: "countdown-bar" });
  const node = el("li", { class: "offer", dataset: { cid: conv.id } },
    el("div", { class: "offer-head" }, el("strong", { dir: "auto" }, name), countdown),
    el("div", { class: "offer-meta" }, [languageShort(conv.language), conv.topic ? isolate(conv.topic) : ""].filter(Boolean).join(" · ")),
    conv.visitor ? el("div", { class: "offer-visitor" }, mark(conv.visitor), " ", glance(conv.visitor)) : null,
    lastVisitorLine(conv.transcript) ? el("p", { class: "offer-preview", dir: "auto" }, lastVisitorLine(conv.transcript))
      : el("p", { class: "offer-preview" }, t("Asked for a person")),
    el("div", { class: "countdown-track" }, bar),
    el("div", { class: "offer-actions" },
      el("button", { type: "button", class: "btn btn-small", onclick: () => decline(conv.id) }, t("Decline")),
      el("button", { type: "button", class: "btn btn-primary btn-small", onclick: () => accept(conv.id) }, t("Accept"))));
  offers.set(conv.id, { conv, deadline, total, node, countdown, bar });
  $("offers").append(node);
  renderOffers();
  // Said by a screen reader wherever the agent is: the list and the chat pane may be far away.
  $("offer-news").textContent = t("New chat: {name}", { name: isolate(name) });
  beep();
  notify(t("New chat"), t("{name}: {text}", { name: isolate(name), text: lastVisitorLine(conv.transcript) || t("asked for a person") }));
}

export function removeOffer(cid, reason) {
  const offer = offers.get(cid);
  if (!offer) return;
  offer.node.remove();
  offers.delete(cid);
  renderOffers();
  if (reason === "offer_expired") toast(t("An offer expired and went back to the queue."), "info");
}

export function renderOffers() {
  $("offers-section").hidden = offers.size === 0;
  $("offer-count").textContent = fmtNumber(offers.size);
  renderEmpty();
  updateTitle();
  renderBanner();
}

/** The offers still to answer, oldest first. */
const waiting = () => [...offers.values()].filter((offer) => !offer.accepting);

/** Text changed only when it differs: the chat pane is a live region, told of each change. */
function say(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** On a phone the chat list, where offers are drawn, is off screen while a chat is open: a
    banner in the chat says who is waiting, with Accept for one offer and the way to the list
    for any (console_phone.css shows it only when the list is not on screen). The countdown
    is the offer's own, out of the live region's hearing (aria-hidden). */
function renderBanner() {
  const left = waiting();
  $("offer-banner").hidden = left.length === 0;
  if (!left.length) return;
  const one = left.length === 1;
  say($("offer-banner-text"), one
    ? t("{name} is waiting for you", { name: isolate(left[0].conv.visitor_name || t("Visitor")) })
    : t("{n} visitors are waiting for you", { n: fmtNumber(left.length) }));
  $("offer-banner-accept").hidden = !one;
  $("offer-banner-wait").hidden = !one;
  if (one) say($("offer-banner-wait"), left[0].countdown.textContent);
}

export function wireOfferBanner() {
  $("offer-banner-show").addEventListener("click", () => showView("list"));
  $("offer-banner-accept").addEventListener("click", () => {
    const left = waiting();
    if (left.length === 1) accept(left[0].conv.id);
  });
}

export function startCountdowns() {
  setInterval(() => {
    const now = Date.now();
    for (const offer of offers.values()) {
      const left = Math.max(0, Math.ceil((offer.deadline - now) / 1000));
      offer.countdown.textContent = fmtWait(left);
      offer.bar.style.width = `${Math.max(0, Math.min(100, (100 * (offer.deadline - now)) / (offer.total * 1000)))}%`;
      offer.node.classList.toggle("urgent", left <= 5);
    }
    renderBanner();
  }, COUNTDOWN_TICK_MS);
}

export function accept(cid) {
  const offer = offers.get(cid);
  if (!offer || offer.accepting) return;
  offer.accepting = true;
  offer.node.classList.add("accepting");
  renderBanner();
  const id = socket.request("accept", { conversation_id: cid });
  pending.set(id, { kind: "accept", cid });
}

export function decline(cid) {
  if (!offers.has(cid)) return;
  const id = socket.request("decline", { conversation_id: cid });
  pending.set(id, { kind: "decline", cid });
  removeOffer(cid);
}

/** The offer became ours: open a chat with its transcript, then catch up on what followed. */
export function takeOffer(cid) {
  const offer = offers.get(cid);
  if (chats.has(cid) || !offer) { removeOffer(cid); return; }
  const conv = offer.conv;
  const chat = addChat({ id: cid, visitorName: conv.visitor_name, language: conv.language,
    topic: conv.topic, skills: conv.skills, visitor: conv.visitor });
  for (const frame of conv.transcript || []) addFrame(chat, frame, { quiet: true });
  removeOffer(cid);
  openChat(cid);
  socket.raw({ type: "resume", conversation_id: cid, after_seq: chat.lastSeq });
}
