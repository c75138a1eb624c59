"""`Authorization: Bearer <token>` on the API: who the token is, whether the route takes a
token at all (its OpenAPI declaration names a scope), whether the token holds that scope, and
its rate limit.

A token is not ambient (a browser never sends it by itself), so it needs no CSRF token and no
same-origin check. It works only where `auth.require` is asked: pages and sockets read the
session cookie alone. A refusal never echoes the token; 401s carry WWW-Authenticate (RFC 6750).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from chatserver.config import LimitsConfig
from chatserver.core.errors import Forbidden, RateLimited, Unauthorized
from chatserver.privacy.ratelimit import TokenBucket
from chatserver.service.api_tokens import ApiTokens

from .openapi import declared

REALM = 'Bearer realm="chatserver"'
MAX_BUCKETS = 10_000  # tokens remembered per process; each live token is one


class TokenRefused(Unauthorized):
    """401 with the challenge a client library reads."""

    def __init__(self, message: str, error: str = "invalid_token") -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": f'{REALM}, error="{error}"'}


class ScopeTooSmall(Forbidden):
    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"this token lacks the {scope} scope")
        self.headers = {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", '
                                            f'scope="{scope}"'}


class TokenThrottled(RateLimited):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests with this token; retry in {retry_after} s")
        self.headers = {"Retry-After": str(retry_after)}


@dataclass
class TokenLimits:
    """A token bucket per token and process: `api_requests_per_minute` on average,
    `api_burst` at once."""

    config: LimitsConfig
    buckets: dict[int, TokenBucket] = field(default_factory=dict)

    def wait(self, token: int, now: float) -> int:
        """0 when the request may go now, else the whole seconds until it may."""
        if self.config.api_requests_per_minute == 0:
            return 0
        bucket = self.buckets.get(token)
        if bucket is None:
            if len(self.buckets) >= MAX_BUCKETS:  # revoked tokens' buckets go first in time
                self.buckets.pop(next(iter(self.buckets)))
            bucket = self.buckets[token] = TokenBucket(self.config.api_requests_per_minute / 60,
                                                       self.config.api_burst)
        if bucket.allow(now):
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / bucket.rate))


def applies(request: Request) -> bool:
    """Whether a Bearer header is this request's credential: on the API and on the routes
    that declare a token scope. A page ignores it (the session alone decides)."""
    return request.url.path.startswith("/api/") or declared(
        request.scope.get("endpoint")) is not None


# The role each scope stands for: a token on a route acts as a session of this role would,
# never more (auth.require checks the route's roles against it).
ROLE_OF_SCOPE = {"read": "supervisor", "write": "supervisor", "admin": "admin"}


def principal(row: Any, scope: str) -> dict[str, Any]:
    """The token as the handlers see a user: its name, the id of the admin who made it (who
    stays the author of record of what it changes), and the role of the scope this route
    takes (a token holding admin too reads a `read` route as a supervisor would)."""
    scopes = row["scopes"].split()
    return {"id": row["created_by"], "username": f"token:{row['name']}",
            "display_name": row["name"], "role": ROLE_OF_SCOPE[scope],
            "token_id": row["id"], "scopes": scopes, "must_change_password": 0, "csrf": "",
            "language": "", "preferences": "{}"}


async def authenticate(request: Request, sent: tuple[str, str] | None) -> dict[str, Any]:
    """The token's principal for this request, or the refusal (401, 403 or 429)."""
    if sent is None:
        raise TokenRefused("the Authorization header holds no well-formed token "
                           "(Bearer cst_...)")
    tokens: ApiTokens = request.app.state.api_tokens
    row = await tokens.authenticate(*sent)
    if row is None:
        raise TokenRefused("unknown or revoked token")
    limits: TokenLimits = request.app.state.token_limits
    wait = limits.wait(int(row["id"]), time.monotonic())
    if wait:
        raise TokenThrottled(wait)
    operation = declared(request.scope.get("endpoint"))
    if operation is None or operation.scope is None:
        raise Forbidden("this route takes a staff session, not an API token")
    if operation.scope not in row["scopes"].split():
        raise ScopeTooSmall(operation.scope)
    return principal(row, operation.scope)
