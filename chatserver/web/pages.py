"""Server-rendered pages: login, the agent console, the supervisor view and the admin pages.

Pages are thin jinja2 shells (autoescaped) that carry the session's CSRF token in a
`<meta name="csrf-token">`; the plain JavaScript in `static/` does the rest over the agent
socket and the JSON APIs. Every page checks the role on the server: a page GET without a
session redirects to /login, a wrong role gets 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chatserver.core.errors import Forbidden, PasswordChangeRequired, Unauthorized
from chatserver.store.store import Row

from . import audit_view, catalogue, http_fields, pages_api
from .auth import ACCOUNT, current_user, home, require
from .catalogue import N_, Translator

HERE = Path(__file__).resolve().parent
ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every value is text unless a template says otherwise (none does)
    undefined=jinja2.StrictUndefined,
)
STAFF = ("agent", "supervisor", "admin")
# The navigation each role sees: (path, label, roles allowed).
NAV = (
    ("/console", N_("Console"), STAFF),
    ("/console/search", N_("Search"), STAFF),
    ("/console/supervisor", N_("Supervisor"), ("supervisor", "admin")),
    ("/admin/reports", N_("Reports"), ("supervisor", "admin")),
    ("/admin", N_("Knowledge base"), ("admin",)),
    ("/admin/users", N_("Team"), ("admin",)),
    ("/admin/labels", N_("Labels"), ("admin",)),
    ("/admin/canned", N_("Canned responses"), ("admin",)),
    ("/admin/webhooks", N_("Webhooks"), ("admin",)),
    ("/admin/tokens", N_("API tokens"), ("admin",)),
    ("/admin/audit", N_("Audit log"), ("admin",)),
)
# Pages are private and change with every deploy: never cache them anywhere.
# (The CSP, nosniff and the referrer policy come from security_headers, for every response.)
NO_STORE = {"cache-control": "no-store", "x-frame-options": "DENY"}


def page_context(request: Request, user: Row | None, signed_out: str = "") -> dict[str, Any]:
    """What base.html needs on every page: the navigation this role sees, and the words and
    direction of the user's language (their choice on /account, else their browser's; signed
    out, `signed_out` if the login page's links chose one)."""
    chosen = user["language"] if user is not None else signed_out
    translator = Translator(catalogue.choose(chosen, request.headers.get("accept-language", "")))
    nav = [(path, translator(label)) for path, label, roles in NAV
           if user is not None and user["role"] in roles]
    return {"request_path": request.url.path, "nav": nav, "_": translator,
            "lang": translator.language, "dir": translator.direction,
            "i18n_messages": translator.script_messages(),
            "languages": list(catalogue.NATIVE_NAMES.items())}


def render(name: str, request: Request, status: int = 200, *, signed_out: str = "",
           **context: Any) -> HTMLResponse:
    html = ENV.get_template(name).render(
        **page_context(request, context.get("user"), signed_out), **context)
    return HTMLResponse(html, status_code=status, headers=NO_STORE)


async def page_user(request: Request, *roles: str) -> Row | Response:
    """The user for a page, or the response to send instead (login redirect or 403 page)."""
    try:
        return await require(request, *roles)
    except Unauthorized:
        return RedirectResponse("/login", status_code=303)
    except PasswordChangeRequired:
        return RedirectResponse(ACCOUNT, status_code=303)
    except Forbidden:
        user = await current_user(request)
        return render("forbidden.html", request, status=403, user=user,
                      title=N_("Not for your role"),
                      csrf=user["csrf"] if user is not None else "")


# The login page's language links (?lang=fa) hold on /login alone, through a wrong password's
# redirect: a cookie with that path. Signed in, the user's choice on /account decides.
LOGIN_LANGUAGE = "login_lang"


async def login_page(request: Request) -> Response:
    params = http_fields.query(request)
    failed = "failed" in params
    user = await current_user(request)
    if user is not None and not failed:
        return RedirectResponse(home(user), status_code=303)
    picked = params.get("lang", "")
    remembered = request.cookies.get(LOGIN_LANGUAGE, "")
    response = render("login.html", request, user=None, csrf="", failed=failed,
                      signed_out=picked if picked in catalogue.LANGUAGES else remembered)
    if picked in catalogue.LANGUAGES:
        response.set_cookie(LOGIN_LANGUAGE, picked, max_age=365 * 86_400, path="/login",
                            httponly=True, samesite="strict",
                            secure=request.app.state.hub.config.server.secure_cookies)
    return response


async def root(request: Request) -> Response:
    user = await current_user(request)
    return RedirectResponse(home(user) if user is not None else "/login", status_code=303)


def _page(template: str, *roles: str, title: str) -> Any:
    async def endpoint(request: Request) -> Response:
        user = await page_user(request, *roles)
        if isinstance(user, Response):
            return user
        return render(template, request, user=user, csrf=user["csrf"], title=title)

    endpoint.__name__ = template.removesuffix(".html").replace("-", "_")
    return endpoint


async def audit_page(request: Request) -> Response:
    """Every admin action, newest first, filterable by action group and user."""
    user = await page_user(request, "admin")
    if isinstance(user, Response):
        return user
    return render("audit.html", request, user=user, csrf=user["csrf"], title=N_("Audit log"),
                  **await audit_view.context(request))


routes: list[BaseRoute] = [
    Route("/", root, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/console", _page("console.html", *STAFF, title=N_("Console")), methods=["GET"]),
    Route("/console/supervisor", _page("supervisor.html", "supervisor", "admin",
                                       title=N_("Supervisor")), methods=["GET"]),
    Route("/admin", _page("admin.html", "admin", title=N_("Knowledge base")), methods=["GET"]),
    Route("/admin/users", _page("users.html", "admin", title=N_("Team")), methods=["GET"]),
    Route("/admin/labels", _page("labels.html", "admin", title=N_("Labels")), methods=["GET"]),
    Route("/admin/canned", _page("canned.html", "admin", title=N_("Canned responses")),
          methods=["GET"]),
    Route("/admin/webhooks", _page("webhooks.html", "admin", title=N_("Webhooks")),
          methods=["GET"]),
    Route("/admin/audit", audit_page, methods=["GET"]),
    Route("/account", _page("account.html", *STAFF, title=N_("Account")), methods=["GET"]),
    *pages_api.routes,
    Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
]
