"""Live counters and histograms in the Prometheus text format, and the structured event log.

Small on purpose: the exposition format is a few lines of text, so we write it rather than
add a client library. Every instrument is declared here, once, with its help text. The
figures managers read (CSAT, service level, FCR…) come from the event log via `metrics`;
these are the operational signals an on-call engineer graphs and alerts on.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from chatserver.core.metrics import HANDLE_TIME_BUCKETS_S, RESPONSE_TIME_BUCKETS_S

# One JSON object per line: response times and closed conversations as they happen.
events_log = logging.getLogger("chatserver.events")

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self.values: defaultdict[Labels, float] = defaultdict(float)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [f"{self.name}{_labels(k)} {v:g}" for k, v in sorted(self.values.items())]
        return lines


class Gauge:
    """A value read when scraped (connections, queue length), so it can never drift."""

    def __init__(self, name: str, help_text: str,
                 read: Callable[[], Sequence[tuple[Labels, float]]]) -> None:
        self.name, self.help, self.read = name, help_text, read

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        lines += [f"{self.name}{_labels(k)} {v:g}" for k, v in self.read()]
        return lines


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name, self.help = name, help_text
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(f'{self.name}_bucket{{le="{le}"}} {running}')
        lines += [f"{self.name}_sum {self.total:g}", f"{self.name}_count {running}"]
        return lines


class Telemetry:
    """Every instrument the server exports; gauges read live state through callbacks."""

    def __init__(self) -> None:
        self.messages = Counter("chat_messages_total", "Chat lines stored, by sender.")
        self.conversations = Counter("chat_conversations_started_total",
                                     "Conversations started.")
        self.closed = Counter("chat_conversations_closed_total",
                              "Conversations closed, by who closed them and outcome.")
        self.handoffs = Counter("chat_handoffs_total",
                                "Conversations sent to the queue for a person, by reason.")
        self.offers = Counter("chat_offers_total", "Offers made to agents, by outcome.")
        self.offline = Counter("chat_offline_total",
                               "Requests for a person nobody could take, by reason.")
        self.surveys = Counter("chat_surveys_total", "Survey answers, by rating.")
        self.errors = Counter("chat_client_errors_total",
                              "Frames refused with an error, by code.")
        self.response = Histogram("chat_agent_response_seconds",
                                  "Visitor line to the next agent line.",
                                  RESPONSE_TIME_BUCKETS_S)
        self.queue_wait = Histogram("chat_queue_wait_seconds",
                                    "Request for a person to a person accepting.",
                                    RESPONSE_TIME_BUCKETS_S)
        self.handle = Histogram("chat_handle_seconds",
                                "A person accepting to the conversation closing.",
                                HANDLE_TIME_BUCKETS_S)
        self.gauges: list[Gauge] = []

    def gauge(self, name: str, help_text: str,
              read: Callable[[], Sequence[tuple[Labels, float]]]) -> None:
        self.gauges.append(Gauge(name, help_text, read))

    def render(self) -> str:
        lines: list[str] = []
        instruments: list[Counter | Histogram | Gauge] = [
            self.messages, self.conversations, self.closed, self.handoffs, self.offers,
            self.offline, self.surveys, self.errors, self.response, self.queue_wait,
            self.handle, *self.gauges]
        for instrument in instruments:
            lines += instrument.render()
        return "\n".join(lines) + "\n"


def log_event(kind: str, **fields: Any) -> None:
    """One structured line, e.g. {"event": "response_time", "seconds": 12.3, ...}."""
    if events_log.isEnabledFor(logging.INFO):
        events_log.info(json.dumps({"event": kind, **fields}, ensure_ascii=False,
                                   separators=(",", ":")))
