"""`create_app(config)`: the one place that knows every part. Wiring only.

Resources open in the lifespan and close in reverse order: store, then the service and its
dispatcher; on the way out, sockets are told the server is going away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from bot import Bot

from . import auth, kb_api, pages, reports, widget_routes
from .agent_socket import agent_endpoint
from .config import Config
from .connections import Registry
from .errors import ChatError
from .kb_store import KnowledgeBase
from .passwords import hash_password
from .routing_board import Board
from .secrets_file import secret_key
from .service import ConversationService
from .store import Store
from .tokens import Signer, new_id
from .visitor_socket import visitor_endpoint

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """Everything a request handler may need, built once per app."""

    config: Config
    store: Store
    registry: Registry
    service: ConversationService
    visitor_signer: Signer
    session_signer: Signer
    bot: Bot
    kb: KnowledgeBase
    # A hash to verify against when the username is unknown, so timing reveals nothing.
    dummy_hash: str = field(default_factory=lambda: hash_password(new_id()))


def build_hub(config: Config) -> Hub:
    key = secret_key(config)
    store = Store(config.storage.path, config.storage.busy_timeout_ms, config.storage.max_batch)
    registry = Registry()
    board = Board(config.routing)
    bot = Bot()
    kb = KnowledgeBase(store, bot)
    service = ConversationService(store, registry, board, bot=bot, answers=kb.answers,
                                  desk=config.desk)
    return Hub(
        config=config, store=store, registry=registry, service=service,
        visitor_signer=Signer(key, "visitor"), session_signer=Signer(key, "session"),
        bot=bot, kb=kb,
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    if await hub.store.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "storage": "unreachable"}, status_code=503)


async def chat_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatError)
    return JSONResponse({"error": exc.code, "message": exc.message},
                        status_code=exc.http_status)


def create_app(config: Config) -> Starlette:
    hub = build_hub(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.store.open()
        await hub.kb.load(hub.service.clock())
        await hub.service.restore()
        dispatcher = asyncio.create_task(hub.service.run_dispatcher(), name="dispatcher")
        log.info("chatserver ready, database %s", config.storage.path)
        try:
            yield
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
            await hub.store.close()

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        WebSocketRoute("/ws/visitor", visitor_endpoint),
        WebSocketRoute("/ws/agent", agent_endpoint),
        *kb_api.routes,
        *reports.routes,
        *pages.routes,
        *widget_routes.routes,
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={ChatError: chat_error})
    app.state.hub = hub
    return app
