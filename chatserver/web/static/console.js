/* The agent console: status, offers with a countdown, chats in tabs, the transcript with what
   the bot tried, canned responses, knowledge-base assist, notes, transfer and close.

   ES modules by part, loaded by the browser as they are (no build step; module scripts from
   'self' pass the pages' CSP). Each console_*.js holds one part; this entry wires them, in the
   order the page needs: the socket first, then the controls, then what loads in the background.
   The page's classic scripts run before any module and give every part the same globals:
   el, api, toast, fmtWait, fmtTime, languageName (common.js), AgentSocket and showConnection
   (agent_socket.js), renderFrame (transcript.js), Labels (labels.js) — shared with the
   supervisor view as they are.

   The parts, lowest first (each imports only parts above it in this list, so no circles):
   state (me, chats, offers, pending, view) · connection (the socket) · alerts (beep, notify) ·
   rail (counts, empty states, title) · receipts (read, each way) · typing (ours) · draft (what
   goes into the composer, entry_id) · assist · labels (the open chat's chips and picker) ·
   visitor (verified mark, returning at a glance, history) · chats (tabs, header, select, end) ·
   frames (the transcript) · offers · status · canned · composer · dialogs (transfer, close) ·
   dispatch (socket frames) · shortcuts · left (messages left offline) · attach (files: the
   button, drop and paste, upload progress) · views (on a phone: list, chat, visitor, one at a
   time; it imports only state, so chats and offers may use it). */

import { connect } from "./console_connection.js";
import { handleFrame, welcome } from "./console_dispatch.js";
import { wireStatusSwitch } from "./console_status.js";
import { startCountdowns, wireOfferBanner } from "./console_offers.js";
import { wireComposer } from "./console_composer.js";
import { loadCanned } from "./console_canned.js";
import { wireDialogs } from "./console_dialogs.js";
import { wireShortcuts } from "./console_shortcuts.js";
import { watchVisibility } from "./console_chats.js";
import { pollLeft } from "./console_left.js";
import { wireVisitor } from "./console_visitor.js";
import { wireAttach } from "./console_attach.js";
import { wireViews } from "./console_views.js";
import { renderRail } from "./console_rail.js";
import { watchSwitches } from "./console_alerts.js";

connect({ onState: showConnection, onWelcome: welcome, onFrame: handleFrame });
wireStatusSwitch();
startCountdowns();
wireOfferBanner();
wireComposer();
loadCanned();
wireDialogs();
wireShortcuts();
watchVisibility();
pollLeft();
wireVisitor();
wireAttach();
wireViews();
renderRail(); // the counts in the page's digits before the first chat arrives
watchSwitches();
