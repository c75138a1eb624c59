"""`Hub`: the shared application state every handler reads, built once per app.

It sits below the handlers (sockets, APIs, pages), so they import it from here and nothing
imports `app.py` but the entry points: `app.py` builds a Hub and wires the routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import Bot
from chatserver.cluster.bus import Bus
from chatserver.cluster.connections import Registry
from chatserver.config import Config
from chatserver.passwords import hash_password
from chatserver.privacy.iplimits import AbuseLimits
from chatserver.privacy.redaction import Redactor
from chatserver.service.facade import ConversationService
from chatserver.service.learning import Learning
from chatserver.store.kb_store import KnowledgeBase
from chatserver.store.store import Store
from chatserver.tokens import Signer, new_id

if TYPE_CHECKING:  # needs numpy: imported only with [bot] semantic = true
    from chatserver.service.embeddings import Embeddings


@dataclass
class Hub:
    """Everything a request handler may need, built once per app."""

    config: Config
    store: Store
    registry: Registry
    service: ConversationService
    visitor_signer: Signer
    session_signer: Signer
    bus: Bus
    bot: Bot
    kb: KnowledgeBase
    learning: Learning
    abuse: AbuseLimits
    redactor: Redactor
    embeddings: Embeddings | None = None  # the bot's semantic re-ranker, when [bot] semantic
    # A hash to verify against when the username is unknown, so timing reveals nothing.
    dummy_hash: str = field(default_factory=lambda: hash_password(new_id()))
