"""The conversation service: one object the sockets, pages and app hold, built from its parts.

A thin facade, on purpose: callers (visitor_socket, agent_socket, pages_api, app) keep one
`hub.service` and its method names, while the work lives in rooms by concern, composed here
with narrow dependencies rather than mixed in:

- `journal.Journal` — cached projections, locks, append (check, store, apply, publish), backlog;
- `visitor_side.VisitorSide` — start, lines and the bot's turn, hand-off asked, consent,
  close, survey, offline message;
- `agent_side.AgentSide` — presence and status, accept, decline, lines, transfer, close;
- `supervision.Supervision` — a supervisor's whisper to the agent, and taking a chat over;
- `handoff.Handoff` — into the queue (or the offline line) and out of it at close;
- `recovery.Recovery` — restore after a restart, resync and redelivery after a Redis outage;
- `dispatcher.Dispatcher` — carries out the router's decisions; it sees the journal only
  through its `Conversations` interface, so it does not import this module.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from chatserver.cluster.bus import Bus
from chatserver.cluster.connections import Registry
from chatserver.cluster.router import Router
from chatserver.config import DeskConfig, SurveyConfig
from chatserver.store.store import Store
from chatserver.telemetry import Telemetry

from .agent_side import AgentProfile, AgentSide
from .attachment_lines import AttachmentLines
from .dispatcher import Dispatcher
from .handoff import Handoff
from .journal import Journal
from .labelling import Labelling
from .recovery import Recovery
from .supervision import Supervision
from .visitor_side import BotLike, VisitorSide


def now_ms() -> int:
    return int(time.time() * 1000)


class ConversationService:
    """The parts wired together; each public method is one part's, bound here by name."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        bus: Bus,
        router: Router,
        *,
        bot: BotLike | None = None,
        answers: Mapping[int, tuple[str, str]] | None = None,
        desk: DeskConfig | None = None,
        survey: SurveyConfig | None = None,
        shared: bool = False,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store, self.registry, self.bus, self.router = store, registry, bus, router
        self.clock = clock
        self.shared = shared  # other processes write to the same store
        self.desk = desk or DeskConfig()
        self.survey_config = survey or SurveyConfig()
        self.telemetry = Telemetry()
        self.agents: dict[int, AgentProfile] = {}
        self.journal = journal = Journal(store, bus, self.telemetry, shared=shared, clock=clock)
        self.dispatcher = Dispatcher(journal, router, self.agents, registry)
        self.handoff = Handoff(journal, router, self.dispatcher, self.desk, self.survey_config)
        journal.on_found = self.handoff.found
        self.visitors = VisitorSide(journal, self.handoff, router, bot=bot,
                                    answers=answers if answers is not None else {})
        self.agent_side = AgentSide(journal, self.handoff, router, self.dispatcher,
                                    self.agents, registry)
        # Agents the router sets away (missed offers) go into the presence log like any change.
        self.dispatcher.record_presence = self.agent_side.record_presence
        self.recovery = Recovery(journal, router, self.dispatcher, self.agents, registry)
        # Lines that carry a file; the bot answers a visitor's file it cannot read.
        self.attachments = AttachmentLines(journal, after_file=self.visitors.file_turn)
        self.labelling = Labelling(journal)
        self.supervision = Supervision(journal, router, self.dispatcher, self.agents,
                                       reload=self.agent_side.reload_profile)
        # What each socket catches up from (one callable per audience, not one per socket).
        self.visitor_backlog = partial(journal.backlog, for_visitor=True)
        self.agent_backlog = partial(journal.backlog, for_visitor=False)

        # The journal's: reading and changing a conversation.
        self.conversation = journal.conversation
        self.lock = journal.lock
        self.append = journal.append
        self.publish = journal.publish
        self.holders = journal.holders
        self.backlog = journal.backlog
        # The visitor side's.
        visitors = self.visitors
        self.start = visitors.start
        self.open_or_start = visitors.open_or_start
        self.visitor_message = visitors.visitor_message
        self.choose = visitors.choose
        self.request_human = visitors.request_human
        self.close_by_visitor = visitors.close_by_visitor
        self.survey = visitors.survey
        self.consent = visitors.consent
        self.has_consented = visitors.has_consented
        self.offline_message = visitors.offline_message
        self.agents_online = visitors.agents_online
        # The agent side's.
        agent_side = self.agent_side
        self.agent_connected = agent_side.agent_connected
        self.update_profile = agent_side.update_profile
        self.refresh_profile = agent_side.refresh_profile
        self.agent_backlog_for = agent_side.backlog_for
        self.agent_disconnected = agent_side.agent_disconnected
        self.set_status = agent_side.set_status
        self.record_presence = agent_side.record_presence
        self.agent_view = agent_side.agent_view
        self.open_conversations_of = agent_side.open_conversations_of
        self.accept = agent_side.accept
        self.decline = agent_side.decline
        self.agent_message = agent_side.agent_message
        self.transfer = agent_side.transfer
        self.close_by_agent = agent_side.close_by_agent
        # A supervisor's whisper and take-over.
        self.whisper = self.supervision.whisper
        self.take_over = self.supervision.take_over
        # Labels.
        self.set_label = self.labelling.set_label
        self.labels_of = self.labelling.labels_of
        # Hand-off, recovery.
        self.priority = self.handoff.priority
        self.wants_survey = self.handoff.wants_survey
        self.restore = self.recovery.restore
        self.resume_point = journal.resume_point
        self.resync = self.recovery.resync

    @property
    def queue_summary(self) -> tuple[int, float]:
        """(waiting, oldest wait in seconds) as the dispatcher last saw them, for gauges."""
        return self.dispatcher.queue_summary

    @property
    def on_entry_used(self) -> Callable[[str, int, str, int, int], Awaitable[Any]] | None:
        """Told when an agent answers with a knowledge-base entry (see AgentSide)."""
        return self.agent_side.on_entry_used

    @on_entry_used.setter
    def on_entry_used(self, hook: Callable[[str, int, str, int, int], Awaitable[Any]] | None
                      ) -> None:
        self.agent_side.on_entry_used = hook

    @property
    def entry_fits(self) -> Callable[[str, int], Awaitable[bool]] | None:
        """Asked whether an agent may name an entry in a chat (see AgentSide)."""
        return self.agent_side.entry_fits

    @entry_fits.setter
    def entry_fits(self, hook: Callable[[str, int], Awaitable[bool]] | None) -> None:
        self.agent_side.entry_fits = hook

    @property
    def prepare_message(self) -> Callable[[str], Awaitable[None]] | None:
        """Encodes a visitor's line for the semantic re-ranker (see VisitorSide)."""
        return self.visitors.prepare_message

    @prepare_message.setter
    def prepare_message(self, hook: Callable[[str], Awaitable[None]] | None) -> None:
        self.visitors.prepare_message = hook
