"""What a stranger's bytes may make the server log: one short line, never a flood of tracebacks.

A text frame that is not valid UTF-8 is refused by uvicorn's WebSocket layer (closed 1007, as
RFC 6455 requires), which logs it at ERROR with a full traceback: any client could fill the
logs. The filter here turns each such record into one WARNING line without the traceback and
lets at most one through per interval, counting the others into the next line it lets through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# uvicorn/protocols/websockets/websockets_sansio_impl.py logs exactly this (uvicorn 0.3x-0.5x).
_UVICORN_INVALID_UTF8 = "Invalid UTF-8 sequence received from client."
INTERVAL_SECONDS = 10.0  # one line per 10 s at most: enough to see an incident, not a flood
MESSAGE = "a client sent a text frame that is not UTF-8; its socket was closed with 1007"


class Throttle:
    """At most one line per interval; counts the ones held back for the next line."""

    def __init__(self, interval: float = INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last: float | None = None
        self.suppressed = 0

    def allow(self) -> str | None:
        """None when this line is held back; else the note to append (may be empty)."""
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            self.suppressed += 1
            return None
        more = f" ({self.suppressed} more since the last such line)" if self.suppressed else ""
        self.last, self.suppressed = now, 0
        return more


_outage_throttle = Throttle()


def database_unavailable(logger: logging.Logger, reason: str) -> None:
    """One WARNING per interval while the database is away: each refused frame or request
    would otherwise log its own traceback, though nothing is wrong with the code."""
    more = _outage_throttle.allow()
    if more is not None:
        logger.warning("database unavailable, asked clients to retry: %s%s", reason, more)


class ClientFaultFilter(logging.Filter):
    """Rewrites the WebSocket layer's record of a client's invalid UTF-8: WARNING, no traceback,
    rate-limited (`clock` is injectable for tests)."""

    def __init__(self, interval: float = INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.throttle = Throttle(interval, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.msg != _UVICORN_INVALID_UTF8 and not isinstance(error, UnicodeDecodeError):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.WARNING):
            return False  # the operator's level still rules the rewritten line
        more = self.throttle.allow()
        if more is None:
            return False
        record.msg, record.args = MESSAGE + more, None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def quiet_client_faults(logger: logging.Logger | None = None) -> None:
    """Add the filter to uvicorn's error logger (where the WebSocket layer logs), once."""
    target = logger or logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientFaultFilter) for f in target.filters):
        target.addFilter(ClientFaultFilter())
