"""Live counters, gauges and histograms for Prometheus, and the structured event log.

`prometheus_client` writes the exposition format and, with several worker processes
(`serve --workers N`), merges them: the command line gives the workers one fresh
`PROMETHEUS_MULTIPROC_DIR`, every process writes its figures to its own files there, and a
scrape of any worker reads them all (counters summed, histograms merged, each gauge by the
rule `across` names). Every instrument is declared here, once, with its help text. The figures
managers read (CSAT, service level, FCR…) come from the event log via `metrics`; these are the
operational signals an on-call engineer graphs and alerts on.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Literal

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from chatserver.core import json_text
from chatserver.core.metrics import HANDLE_TIME_BUCKETS_S, RESPONSE_TIME_BUCKETS_S

# One JSON object per line: response times and closed conversations as they happen.
events_log = logging.getLogger("chatserver.events")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's switch, read at its import
# A start's directory: this prefix, the server's pid, "-", mkdtemp's random part.
MULTIPROC_PREFIX = "chatserver-metrics-"
# 1 s: a worker's gauges reach the other workers' scrapes at most this late; a refresh sets a
# dozen values (microseconds), and scrapes come every 15-60 s.
PUBLISH_INTERVAL_S = 1.0

# The `_created` series would double every counter's series for a start time nobody graphs
# (and multiprocess mode has none): both modes print the same series.
prometheus_client.disable_created_metrics()

Labels = tuple[tuple[str, str], ...]
# How a gauge's per-process values become one figure (prometheus_client's multiprocess_mode):
# livesum: add up the live processes (each counts its own sockets);
# livemax: every live process reads the same shared state, take the highest reading;
# sum: a per-process running total, kept for exited workers as a counter's would be;
# liveall: one series per live process, with a `pid` label.
Across = Literal["livesum", "livemax", "sum", "liveall"]


class Counter:
    """A counter whose labels are named where it is counted: `errors.inc(code="…")`."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str],
                 registry: CollectorRegistry) -> None:
        self.metric = prometheus_client.Counter(name, help_text, labels, registry=registry)
        # Children by the call's labels: labels() checks its names on every call (2.5 µs).
        self.children: dict[Labels, prometheus_client.Counter] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(labels.items())
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = self.metric.labels(**labels) if labels else self.metric
        child.inc(amount)


class Gauge:
    """A value read from live state (connections, queue length), so it can never drift; set
    when scraped and, with several workers, every PUBLISH_INTERVAL_S for the others' scrapes."""

    def __init__(self, name: str, help_text: str,
                 read: Callable[[], Sequence[tuple[Labels, float]]], labels: Sequence[str],
                 across: Across, registry: CollectorRegistry) -> None:
        self.read = read
        self.metric = prometheus_client.Gauge(name, help_text, labels, registry=registry,
                                              multiprocess_mode=across)

    def refresh(self) -> None:
        for labels, value in self.read():
            (self.metric.labels(**dict(labels)) if labels else self.metric).set(value)


class Telemetry:
    """Every instrument the server exports; gauges read live state through callbacks."""

    def __init__(self) -> None:
        # Set by the command line for `--workers N`; prometheus_client read it at import.
        self.multiproc_dir = os.environ.get(MULTIPROC_ENV) or None
        # A registry of its own: two services in one process (tests) never share a name.
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.messages = Counter("chat_messages_total", "Chat lines stored, by sender.",
                                ["sender"], r)
        self.conversations = Counter("chat_conversations_started_total",
                                     "Conversations started.", [], r)
        self.closed = Counter("chat_conversations_closed_total",
                              "Conversations closed, by who closed them and outcome.",
                              ["by", "resolved"], r)
        self.handoffs = Counter("chat_handoffs_total",
                                "Conversations sent to the queue for a person, by reason.",
                                ["reason"], r)
        self.offers = Counter("chat_offers_total", "Offers made to agents, by outcome.",
                              ["outcome"], r)
        self.offline = Counter("chat_offline_total",
                               "Requests for a person nobody could take, by reason.",
                               ["reason"], r)
        self.surveys = Counter("chat_surveys_total", "Survey answers, by rating.", ["rating"], r)
        self.errors = Counter("chat_client_errors_total",
                              "Frames refused with an error, by code.", ["code"], r)
        self.response = prometheus_client.Histogram(
            "chat_agent_response_seconds", "Visitor line to the next agent line.",
            buckets=RESPONSE_TIME_BUCKETS_S, registry=r)
        self.queue_wait = prometheus_client.Histogram(
            "chat_queue_wait_seconds", "Request for a person to a person accepting.",
            buckets=RESPONSE_TIME_BUCKETS_S, registry=r)
        self.handle = prometheus_client.Histogram(
            "chat_handle_seconds", "A person accepting to the conversation closing.",
            buckets=HANDLE_TIME_BUCKETS_S, registry=r)
        # The live forms of the report's headline figures (docs/deploy.md has their queries).
        self.first_response = prometheus_client.Histogram(
            "chat_first_response_seconds",
            "Request for a person to the first accepting agent's first line.",
            buckets=RESPONSE_TIME_BUCKETS_S, registry=r)
        self.abandoned = prometheus_client.Histogram(
            "chat_queue_abandoned_seconds",
            "Request for a person to the visitor leaving before anyone accepted.",
            buckets=RESPONSE_TIME_BUCKETS_S, registry=r)
        self.contained = Counter("chat_bot_contained_total",
                                 "Conversations closed that never asked for a person.", [], r)
        self.gauges: list[Gauge] = []

    def gauge(self, name: str, help_text: str,
              read: Callable[[], Sequence[tuple[Labels, float]]], *,
              labels: Sequence[str] = (), across: Across) -> None:
        """Declare a gauge and how several processes' values combine (docs/metrics.md)."""
        self.gauges.append(Gauge(name, help_text, read, labels, across, self.registry))

    def publish(self) -> None:
        """Set every gauge from the live state it reads."""
        for gauge in self.gauges:
            gauge.refresh()

    async def publish_loop(self) -> None:
        """With several workers: keep this process's gauges current for the others' scrapes
        (alone, the scrape sets them)."""
        while self.multiproc_dir is not None:
            self.publish()
            await asyncio.sleep(PUBLISH_INTERVAL_S)

    def render(self) -> bytes:
        """The scrape: this process alone, or every worker of this server start."""
        self.publish()
        if self.multiproc_dir is None:
            return generate_latest(self.registry)
        forget_dead_workers(self.multiproc_dir)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiproc_dir)
        return generate_latest(merged)

    def close(self) -> None:
        """A worker stopping: its live gauges leave the machine's figures (counters stay)."""
        if self.multiproc_dir is not None:
            mark_process_dead(os.getpid(), self.multiproc_dir)


def forget_dead_workers(path: str) -> None:
    """Drop the live gauges of workers that died without `close` (killed; uvicorn starts
    another in their place), so their last connection counts do not stay in the sum."""
    pids = {os.path.basename(f).rsplit("_", 1)[1].removesuffix(".db")
            for f in glob.glob(os.path.join(path, "gauge_live*_*.db"))}
    for pid in pids:
        if pid.isdigit() and not process_alive(int(pid)):
            mark_process_dead(int(pid), path)


def metrics_dir_for_start(parent: str) -> str:
    """A new, empty directory for this start's workers, named after this server process;
    first the directories of earlier starts that were killed before they could remove theirs
    (SIGKILL, the OOM killer), once neither their server nor any of their workers runs."""
    for path in glob.glob(os.path.join(parent, MULTIPROC_PREFIX + "*-*")):
        owner = os.path.basename(path).removeprefix(MULTIPROC_PREFIX).split("-", 1)[0]
        pids = [owner, *(name.rsplit("_", 1)[-1].removesuffix(".db")
                         for name in os.listdir(path))]
        if all(pid.isdigit() and not process_alive(int(pid)) for pid in pids):
            shutil.rmtree(path, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{MULTIPROC_PREFIX}{os.getpid()}-", dir=parent)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def log_event(kind: str, **fields: Any) -> None:
    """One structured line, e.g. {"event": "response_time", "seconds": 12.3, ...}."""
    if events_log.isEnabledFor(logging.INFO):
        events_log.info(json_text.dumps({"event": kind, **fields}))
