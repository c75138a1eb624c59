"""Security headers on every HTTP response, added in one place as the response starts.

Everything gets `X-Content-Type-Options: nosniff` and a referrer policy; HTML also gets a strict
Content-Security-Policy. A header the endpoint set itself is kept: the demo page sends its own
policy, which also allows its inline blocks by hash. A raw ASGI wrapper rather than
BaseHTTPMiddleware: it rewrites only the start message and never touches or buffers a body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages load only the server's own files: no inline script or style, no plugins, no <base>
# rewriting, forms post only here, and no other site may frame them (clickjacking).
# connect-src 'self' covers the same-origin ws:/wss: sockets (CSP Level 3).
DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Staff pages carry private paths (conversation ids) that other sites need not see.
REFERRER_POLICY = "same-origin"


def policy(**extra: str) -> str:
    """The strict policy, with sources added to some directives (`script_src="'sha256-…'"`)."""
    directives = dict(DIRECTIVES)
    for name, sources in extra.items():
        key = name.replace("_", "-")
        directives[key] = f"{directives[key]} {sources}"
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


STRICT = policy().encode()


def with_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers plus the security headers it does not already carry."""
    present = {name.lower(): value for name, value in headers}
    added = list(headers)
    if b"x-content-type-options" not in present:
        added.append((b"x-content-type-options", b"nosniff"))
    if b"referrer-policy" not in present:
        added.append((b"referrer-policy", REFERRER_POLICY.encode()))
    if (present.get(b"content-type", b"").lower().startswith(b"text/html")
            and b"content-security-policy" not in present):
        added.append((b"content-security-policy", STRICT))
    return added


class SecurityHeaders:
    """ASGI middleware: `with_headers` on every HTTP response start; other scopes pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_headers(list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, send_with_headers)
