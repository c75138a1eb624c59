"""`create_app(config)`: the one place that knows every part. Wiring only.

Resources open in the lifespan and close in reverse order: store, then the service and its
dispatcher; on the way out, sockets are told the server is going away.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from bot import Bot
from chatserver import config as config_module
from chatserver.attachments.links import Links
from chatserver.cluster.bus import Bus, LocalBus, RedisBus
from chatserver.cluster.connections import SLOW_CLOSED, Registry
from chatserver.cluster.router import LocalRouter, Router
from chatserver.config import CONFIG_FILE_ENV, Config, ConfigError
from chatserver.core.errors import ChatError
from chatserver.privacy import retention
from chatserver.privacy.iplimits import AbuseLimits, KeyedLimiter
from chatserver.privacy.redaction import Redactor, install_log_redaction
from chatserver.secrets_file import secret_key
from chatserver.service.api_tokens import ApiTokens
from chatserver.service.canned import CannedResponses
from chatserver.service.facade import ConversationService
from chatserver.service.integrations import Integrations
from chatserver.service.learning import Learning
from chatserver.service.mail import Mailer
from chatserver.service.webhooks import Webhooks
from chatserver.store.kb_store import KnowledgeBase
from chatserver.store.search import backfill as search_backfill
from chatserver.store.search import index_new_lines
from chatserver.store.store import Store, StoreUnavailable
from chatserver.telemetry import Labels
from chatserver.tokens import Signer

from . import (
    auth,
    conversations_api,
    kb_api,
    labels_api,
    learning_api,
    mail_api,
    openapi,
    pages,
    privacy_api,
    reports,
    tokens_api,
    widget_routes,
)
from .agent_socket import agent_endpoint
from .attachments_api import Uploads
from .attachments_api import routes as attachment_routes
from .bearer import TokenLimits
from .canned_api import routes as canned_routes
from .catalogue import N_
from .history_api import routes as history_routes
from .hub import Hub
from .log_hygiene import database_unavailable, quiet_client_faults
from .search_api import routes as search_api_routes
from .security_headers import SecurityHeaders
from .visitor_socket import visitor_endpoint
from .webhooks_api import routes as webhook_routes

if TYPE_CHECKING:  # needs numpy: imported only with [bot] semantic = true
    from chatserver.service.embeddings import Embeddings

log = logging.getLogger(__name__)


def register_gauges(hub: Hub) -> None:
    """Gauges read live state when scraped, so they can never drift from it. `across`: how
    several workers' values make one figure (docs/metrics.md)."""
    service, registry, telemetry = hub.service, hub.registry, hub.service.telemetry

    def sockets() -> list[tuple[Labels, float]]:
        return [((("role", "visitor"),), sum(len(c) for c in registry.visitors.values())),
                ((("role", "agent"),), sum(len(c) for c in registry.agents.values()))]

    telemetry.gauge("chat_connections", "Open sockets, by role.", sockets, labels=["role"],
                    across="livesum")
    telemetry.gauge("chat_process_connections", "Open sockets of each server process, by "
                    "role (a pid label with several workers: do they share the load?).",
                    sockets, labels=["role"], across="liveall")
    telemetry.gauge("chat_agents", "Connected agents, by status.", lambda: [
        ((("status", s),), sum(1 for a in service.agents.values() if a.status == s
                               and registry.agent_online(a.id)))
        for s in ("online", "away", "offline")], labels=["status"], across="livesum")
    # Every process reads the one shared queue (Redis): the highest live reading is the newest.
    telemetry.gauge("chat_queue_waiting", "Conversations waiting for a person.", lambda: [
        ((), service.queue_summary[0])], across="livemax")
    telemetry.gauge("chat_queue_oldest_wait_seconds", "Longest current wait.", lambda: [
        ((), service.queue_summary[1])], across="livemax")
    telemetry.gauge("chat_store_commits", "Transactions the store writer committed "
                    "(each holds a group of events).", lambda: [((), hub.store.writer.commits)],
                    across="sum")
    telemetry.gauge("chat_store_lock_wait_seconds", "Time the store writer waited for another "
                    "process's write lock.", lambda: [((), hub.store.writer.lock_wait_seconds)],
                    across="sum")
    telemetry.gauge("chat_slow_clients_closed", "Sockets closed because they could not "
                    "keep up.", lambda: [((), SLOW_CLOSED.value)], across="sum")


def semantic_worker(bot: Bot) -> Embeddings:
    """The re-ranker's encoder in its thread; a missing or broken extra stops start-up."""
    try:
        from bot.semantic import load_encoder
        from chatserver.service.embeddings import Embeddings

        return Embeddings(bot, load_encoder())
    except (ImportError, RuntimeError) as exc:  # RuntimeError: bot.semantic.SemanticUnavailable
        raise ConfigError(f"bot.semantic = true, but the re-ranker cannot load: {exc} "
                          "(pip install 'chatserver[semantic]', or set it to false)") from exc


def build_hub(config: Config) -> Hub:
    key = secret_key(config)
    store = Store(config.storage.location, config.storage.busy_timeout_ms, config.storage.max_batch,
                  config.storage.synchronous, config.storage.commit_interval_ms)
    registry = Registry()
    bus: Bus
    router: Router
    cluster = config.cluster
    if cluster.backend == "redis":
        from chatserver.cluster.redis_router import RedisRouter

        # A blocking pool: under a burst, callers wait their turn for one of 64 connections
        # instead of failing; 5 s bounds the wait and every socket operation.
        pool = aioredis.BlockingConnectionPool.from_url(
            cluster.redis_url, max_connections=64, timeout=5, socket_timeout=5,
            socket_connect_timeout=5, health_check_interval=10)
        client = aioredis.Redis(connection_pool=pool)
        bus = RedisBus(registry, client, cluster.key_prefix + "bus")
        router = RedisRouter(client, config.routing, cluster.key_prefix)
    else:
        bus, router = LocalBus(registry), LocalRouter(config.routing)
    bot = Bot(config.bot)
    embeddings = semantic_worker(bot) if config.bot.semantic else None
    kb = KnowledgeBase(store, bot)
    service = ConversationService(store, registry, bus, router, bot=bot, answers=kb.answers,
                                  desk=config.desk, survey=config.survey,
                                  shared=cluster.backend == "redis")
    if isinstance(bus, RedisBus):
        bus.on_recovered = service.resync
    service.journal.links = Links(Signer(key, "attachment"))  # visitors' file URLs
    learning = Learning(store, kb, bot)
    service.on_entry_used = learning.agent_used
    service.entry_fits = learning.entry_fits
    if embeddings is not None:
        service.prepare_message = embeddings.prepare
    hub = Hub(
        config=config, store=store, registry=registry, service=service,
        visitor_signer=Signer(key, "visitor"), session_signer=Signer(key, "session"),
        bus=bus, bot=bot, kb=kb, learning=learning, abuse=AbuseLimits(config.abuse),
        redactor=Redactor.from_config(config.privacy), embeddings=embeddings,
    )
    register_gauges(hub)
    return hub


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    problems = {}
    if not await hub.store.ping():
        problems["storage"] = "unreachable"
    if not hub.bus.healthy:
        problems["redis"] = "unreachable"
    if problems:
        return JSONResponse({"status": "not ready", **problems}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    """Prometheus scrape: a bearer token from config, or an admin's session."""
    hub: Hub = request.app.state.hub
    token = hub.config.metrics.token
    sent = request.headers.get("authorization", "")
    if not (token and secrets.compare_digest(sent.encode(), f"Bearer {token}".encode())):
        await auth.require(request, "admin")
    return Response(hub.service.telemetry.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)


async def chat_error(request: HTTPConnection, exc: Exception) -> Response:
    assert isinstance(exc, ChatError)
    return JSONResponse({"error": exc.code, "message": exc.message},
                        status_code=exc.http_status, headers=getattr(exc, "headers", None))


async def store_unavailable(request: HTTPConnection, exc: Exception) -> Response:
    """503 with a retry hint, and one log line per interval: an outage is not a bug."""
    database_unavailable(log, str(exc))
    return JSONResponse(
        {"error": "unavailable",
         "message": N_("the database is unavailable; retry in a few seconds")},
        status_code=503, headers={"Retry-After": "5"})


class App(Starlette):
    """Starlette with the security headers outermost: even its own 500 answer carries them.

    The chat sockets skip Starlette's stack (error and exception middleware, router, the
    exception wrapper around every send): none of it does anything for a socket (headers are
    for HTTP answers; the endpoints answer their own errors on the socket), yet each layer
    stays a live coroutine frame for as long as the socket is open and a wrapper on each
    frame sent, for every one of thousands of idle visitors (docs/performance.md)."""

    def __init__(self, *args: Any, sockets: dict[str, Callable[[WebSocket], Awaitable[None]]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sockets = sockets

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.sockets.get(scope["path"]) if scope["type"] == "websocket" else None
        if endpoint is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        websocket = WebSocket(scope, receive, send)
        try:
            await endpoint(websocket)
        except (StoreUnavailable, ChatError) as error:  # an outage, a refusal: no bug
            answer = await (store_unavailable if isinstance(error, StoreUnavailable)
                            else chat_error)(websocket, error)
            if websocket.client_state is WebSocketState.CONNECTING:  # before the accept:
                await answer(scope, receive, send)  # the HTTP answer, as Starlette gave it


# The cyclic collector's thresholds: a young collection every 50,000 allocations instead of 700,
# an older one every 20 of those, a full one every 100 of those. Every open socket is a few
# hundred live objects, and with CPython's defaults the collector walked them again and again:
# a reconnect storm of 2,000 visitors spent 1.2 s of its 5 s of CPU in collections, 0.2 s
# with these (docs/performance.md); cyclic garbage waits a little longer to be freed.
COLLECTOR_THRESHOLDS = (50_000, 20, 100)


def quiet_collector() -> None:
    """What start-up built lives as long as the process (the bot's index, the catalogues, the
    knowledge base): frozen out of the collector's sight; then the thresholds above."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def create_app(config: Config) -> Starlette:
    hub = build_hub(config)
    webhooks = Webhooks(hub.store, config.webhooks, hub.service.clock)
    mailer = Mailer(config.email, hub.store, desk_language=config.desk.language,
                    clock=hub.service.clock)
    hub.service.visitors.offline_mail = mailer.offline_alert
    hub.service.visitors.mail_queued = mailer.wake
    hub.service.telemetry.gauge("chat_mail_sent", "E-mails this process handed to the SMTP "
                                "server.", lambda: [((), mailer.sent)], across="sum")
    hub.service.telemetry.gauge("chat_mail_failed", "E-mails this process gave up on (refused "
                                "for good, or unsent past give_up_hours).",
                                lambda: [((), mailer.failed)], across="sum")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.store.open()
        await hub.kb.load(hub.service.clock())
        await CannedResponses(hub.store).seed(hub.service.clock())  # the team's set, once
        if hub.embeddings is not None:  # vectors in the background; BM25 alone until ready
            await hub.embeddings.start()
        await hub.bus.start()
        if not isinstance(hub.bus, RedisBus):  # with Redis, restore runs once it is reached
            await hub.service.restore()
        dispatcher = asyncio.create_task(hub.service.dispatcher.run(), name="dispatcher")
        purger = asyncio.create_task(retention.purge_loop(hub.store, config), name="retention")
        indexer = asyncio.create_task(search_backfill(hub.store), name="search backfill")
        new_lines = asyncio.create_task(index_new_lines(hub.store), name="search indexer")
        await webhooks.start()  # off the chat path: its own tasks, one per endpoint
        sender = asyncio.create_task(mailer.run(), name="e-mail")
        telemetry = hub.service.telemetry
        gauges = asyncio.create_task(telemetry.publish_loop(), name="gauges")
        # Always: API tokens are masked whatever the settings. uvicorn's loggers have their
        # own handlers, not the root's.
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
            install_log_redaction(hub.redactor, logging.getLogger(name))
        quiet_client_faults()  # a client's invalid UTF-8: one WARNING line, no traceback
        quiet_collector()
        log.info("chatserver ready, database %s", hub.store.backend.describe())
        try:
            yield
        finally:
            for task in (gauges, sender, new_lines, indexer, purger, dispatcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            telemetry.close()
            await webhooks.stop()
            if hub.embeddings is not None:
                await hub.embeddings.stop()
            await hub.bus.stop()
            await hub.store.close()

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        *attachment_routes,
        *kb_api.routes,
        *canned_routes,
        *labels_api.routes,
        *history_routes,
        *learning_api.routes,
        *privacy_api.routes,
        *reports.routes,
        *search_api_routes,
        *webhook_routes,
        *mail_api.routes,
        *conversations_api.routes,
        *tokens_api.routes,
        Route("/api/openapi.json", openapi.openapi_json, methods=["GET"]),
        *pages.routes,
        *widget_routes.routes,
    ]
    app = App(routes=routes, lifespan=lifespan,
              exception_handlers={ChatError: chat_error, StoreUnavailable: store_unavailable},
              sockets={"/ws/visitor": visitor_endpoint, "/ws/agent": agent_endpoint})
    app.state.hub = hub
    app.state.uploads = Uploads(config.attachments)
    app.state.webhooks = webhooks
    app.state.mailer = mailer
    app.state.transcripts_per_ip = KeyedLimiter(config.email.transcripts_per_ip, 3600.0)
    app.state.api_tokens = ApiTokens(hub.store, hub.service.clock)
    app.state.token_limits = TokenLimits(config.limits)
    app.state.integrations = Integrations(hub.service.journal, hub.service.handoff)
    return app


def app_from_environment() -> Starlette:
    """For `serve --workers N`: each worker process builds its app from the same config file."""
    path = os.environ.get(CONFIG_FILE_ENV) or None
    return create_app(config_module.load(path))
