"""Agents' and admins' logins: a server-side session behind a signed, HttpOnly cookie.

The cookie holds only a signed random session id; the session row (and so logout) lives in the
database. State-changing requests from a browser must come from our own origin (the Origin
header, which browsers always send on cross-site POSTs), and requests made with a session must
also carry that session's CSRF token.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from chatserver.core import api_tokens
from chatserver.core.errors import Forbidden, PasswordChangeRequired, Unauthorized
from chatserver.passwords import verify_password
from chatserver.privacy.iplimits import Throttled
from chatserver.store.store import Row
from chatserver.tokens import new_id

from . import bearer, http_fields
from .catalogue import N_

if TYPE_CHECKING:
    from .hub import Hub

COOKIE = "chat_session"
ROLES = (N_("agent"), N_("supervisor"), N_("admin"))  # translated where shown
# Where each role lands after logging in.
HOME = {"agent": "/console", "supervisor": "/console/supervisor", "admin": "/admin"}
# All a user logged in with a one-time password may open until they choose their own.
ACCOUNT = "/account"
PASSWORD_CHANGE_PATHS = frozenset({ACCOUNT, "/api/account/password"})


def home(user: Row) -> str:
    """Where this user lands: their role's home, or the account page while a change is due."""
    return ACCOUNT if user["must_change_password"] else HOME[user["role"]]


def same_origin(conn: HTTPConnection) -> bool:
    """True unless the browser says the request comes from another site."""
    origin = conn.headers.get("origin")
    if origin is None:  # not a browser, or a same-origin GET
        return True
    return urlsplit(origin).netloc == conn.headers.get("host", "")  # "null" never matches


async def current_user(conn: HTTPConnection) -> Row | None:
    """The logged-in user for this request or socket, from the session cookie."""
    hub: Hub = conn.app.state.hub
    token = conn.cookies.get(COOKIE)
    session_id = hub.session_signer.unsign(token) if token else None
    if session_id is None:
        return None
    return await hub.store.session(session_id, hub.service.clock())


async def require(request: Request, *roles: str) -> Row:
    """The user, if logged in with one of `roles`; state-changing methods also need CSRF.
    An `Authorization: Bearer` API token instead: its scope, then the role that scope stands
    for against `roles`, as a session's role is (bearer.py; no CSRF)."""
    sent = api_tokens.bearer(request.headers.get("authorization"))
    if sent is not False and bearer.applies(request):
        token = await bearer.authenticate(request, sent)
        if roles and token["role"] not in roles:
            raise Forbidden(N_("your role may not do this"))
        return token  # type: ignore[return-value]
    user = await current_user(request)
    if user is None:
        raise Unauthorized(N_("log in first"))
    if user["must_change_password"] and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired(N_("choose your own password first (on /account)"))
    if roles and user["role"] not in roles:
        raise Forbidden(N_("your role may not do this"))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not same_origin(request):
            raise Forbidden(N_("cross-site request refused"))
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = str((await http_fields.form(request)).get("csrf_token", ""))
        # As bytes: compare_digest raises TypeError on a str beyond ASCII (a header is Latin-1).
        if not sent or not secrets.compare_digest(sent.encode(), user["csrf"].encode()):
            raise Forbidden(N_("missing or wrong CSRF token"))
    return user


async def login(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    if not same_origin(request):
        raise Forbidden("cross-site login refused")
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    # A control character in any field is a wrong login, counted like one: the name is not
    # looked up (PostgreSQL's text cannot hold a NUL), and scrypt's HMAC pads its key with
    # NULs, so it would take the password with a NUL appended for the password.
    hostile = http_fields.refused(form.multi_items()) is not None
    wants_json = "application/json" in request.headers.get("accept", "")
    address = request.client.host if request.client else None
    try:
        hub.abuse.login_allowed(address, username, time.monotonic())
    except Throttled as refused:
        if wants_json:
            return JSONResponse({"error": refused.code, "message": refused.message},
                                status_code=429, headers={"retry-after": str(refused.retry_after)})
        return RedirectResponse("/login?failed=1", status_code=303)
    user = await hub.store.user_by_name(username) if username and not hostile else None
    # Verify even for unknown users so timing does not reveal which usernames exist.
    stored = user["password_hash"] if user is not None else hub.dummy_hash
    if not verify_password(password, stored) or hostile or user is None or user["disabled"]:
        hub.abuse.login_failed(address, username, time.monotonic())
        if wants_json:
            return JSONResponse({"error": "unauthorized", "message": "wrong username or "
                                 "password"}, status_code=401)
        return RedirectResponse("/login?failed=1", status_code=303)
    now = hub.service.clock()
    session_id, csrf = new_id(24), new_id(24)
    await hub.store.add_session(session_id, user["id"], csrf, now,
                                now + hub.config.server.session_seconds * 1000)
    target = home(user)
    response: Response
    if wants_json:
        response = JSONResponse({"user": user["username"], "role": user["role"],
                                 "csrf_token": csrf,
                                 "must_change_password": bool(user["must_change_password"])})
    else:
        response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, hub.session_signer.sign(session_id), max_age=hub.config.server.session_seconds,
        httponly=True, samesite="strict", secure=hub.config.server.secure_cookies, path="/",
    )
    return response


async def logout(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    if not same_origin(request):
        raise Forbidden("cross-site logout refused")
    token = request.cookies.get(COOKIE)
    session_id = hub.session_signer.unsign(token) if token else None
    if session_id is not None:
        await hub.store.delete_session(session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
