"""Security headers on every response: `nosniff` and a referrer policy everywhere, a strict
Content-Security-Policy on every HTML page. The walk reads the application's own route table, so a
route added later is checked without anyone remembering to list it. Real HTTP, no browser."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.convertors import IntegerConvertor
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from chatserver import config as config_module
from chatserver.web.app import create_app
from chatserver.web.security_headers import with_headers

from .harness import PASSWORD, SECRET, Server, add_user

# Path parameters that reach a real handler rather than the router's 404.
SAMPLES = {"name": "app.js", "visitor_id": "v-sample"}
# Requests the walk makes besides the route table: what the router itself answers.
ROUTER_ANSWERS = [("GET", "/no-such-page"), ("DELETE", "/healthz"), ("GET", "/widget/nope.js")]
STRICT_SOURCES = ("'self'",)


def make_app(tmp_path: Path) -> Starlette:
    return create_app(config_module.load(None, environ={
        "CHATSERVER_SERVER_SECRET_KEY": SECRET,
        "CHATSERVER_STORAGE_PATH": str(tmp_path / "never-opened.db")}))


def walk(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path) for every method of every HTTP route, every file of every static mount."""
    out: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, WebSocketRoute):
            continue  # no HTTP response to carry headers
        if isinstance(route, Route):
            path = route.path_format.format(**{
                name: 1 if isinstance(conv, IntegerConvertor) else SAMPLES.get(name, "sample")
                for name, conv in route.param_convertors.items()})
            out += [(method, path) for method in sorted(route.methods or ())]
        elif isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            folder = Path(str(route.app.directory))
            out += [("GET", f"{route.path}/{f.name}") for f in sorted(folder.iterdir())]
            out.append(("GET", f"{route.path}/missing.js"))
        else:
            raise AssertionError(f"the header walk does not know {route!r}: teach it")
    # /logout ends the session the rest of the walk uses: last.
    return sorted(out, key=lambda request: request[1] == "/logout") + ROUTER_ANSWERS


def csp(value: str) -> dict[str, list[str]]:
    directives = (d.split() for d in value.split(";") if d.strip())
    return {name: sources for name, *sources in directives}


def problems(path: str, response: httpx.Response) -> list[str]:
    """What is wrong with one response's security headers (nothing, ideally)."""
    found = []
    headers = response.headers
    if headers.get_list("x-content-type-options") != ["nosniff"]:
        found.append(f"x-content-type-options {headers.get_list('x-content-type-options')}")
    if len(headers.get_list("referrer-policy")) != 1:
        found.append(f"referrer-policy {headers.get_list('referrer-policy')}")
    if not headers.get("content-type", "").startswith("text/html"):
        return found
    policies = headers.get_list("content-security-policy")
    if len(policies) != 1:
        return [*found, f"content-security-policy {policies}"]
    policy = csp(policies[0])
    for name, want in [("default-src", ["'self'"]), ("object-src", ["'none'"]),
                       ("base-uri", ["'none'"]), ("frame-ancestors", ["'none'"]),
                       ("connect-src", ["'self'"]), ("form-action", ["'self'"])]:
        if policy.get(name) != want:
            found.append(f"{name} {policy.get(name)}, want {want}")
    for name in ("script-src", "style-src"):
        sources = policy.get(name, [])
        # Staff pages run only their own files; the demo shop also its own inline blocks, by hash.
        allowed = [s for s in sources if s == "'self'" or
                   (path == "/demo" and s.startswith("'sha256-"))]
        if not sources or allowed != sources:
            found.append(f"{name} {sources}")
    return found


@pytest.fixture(scope="module")
def sessions(shared_server: Server) -> dict[str, str]:
    """Role -> username, each with a user on the shared server."""
    for role in ("agent", "admin"):
        add_user(shared_server.db, f"sh_{role}", role=role)
    return {"agent": "sh_agent", "admin": "sh_admin"}


@pytest.mark.parametrize("role", [None, "agent", "admin"])
def test_every_route_sends_nosniff_and_every_page_a_strict_csp(
        role: str | None, shared_server: Server, sessions: dict[str, str], tmp_path: Path) -> None:
    requests = walk(make_app(tmp_path).routes)
    assert len(requests) > 80  # the walk found the route table, not an empty list
    # 30 s, not httpx's 5: reports and the bot's try-out are slow on a loaded 2-core machine.
    with httpx.Client(base_url=shared_server.url, timeout=30) as client:
        headers = {}
        if role is not None:
            login = client.post("/login", data={"username": sessions[role], "password": PASSWORD},
                                headers={"accept": "application/json"})
            headers["x-csrf-token"] = login.json()["csrf_token"]
        failures, pages = [], []
        for method, path in requests:
            body = {} if method in ("POST", "PUT", "PATCH") else None
            response = client.request(method, path, headers=headers, json=body)
            failures += [f"{method} {path} -> {response.status_code}: {p}"
                         for p in problems(path, response)]
            if response.headers.get("content-type", "").startswith("text/html"):
                pages.append(path)
    assert failures == []
    # The walk reached real pages for this role, so the CSP checks above were not vacuous.
    want = {None: {"/login", "/demo"}, "agent": {"/console", "/admin", "/account"},
            "admin": {"/console", "/admin/reports", "/admin/audit", "/admin/users"}}[role]
    assert want <= set(pages), pages


@pytest.mark.anyio
async def test_an_uncaught_error_still_sends_nosniff(tmp_path: Path) -> None:
    """Starlette's own 500 is sent outside user middleware; the headers wrap even that."""
    app = make_app(tmp_path)

    async def boom(request: object) -> Response:
        raise RuntimeError("boom")

    app.router.routes.append(Route("/boom", boom))
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_endpoint_that_sets_its_own_headers_keeps_them() -> None:
    raw = [(b"content-type", b"text/html; charset=utf-8"),
           (b"Content-Security-Policy", b"default-src 'none'"),
           (b"referrer-policy", b"no-referrer")]
    added = with_headers(raw)
    assert added[:3] == raw
    names = [name.lower() for name, _ in added]
    assert names.count(b"content-security-policy") == 1
    assert names.count(b"referrer-policy") == 1
    assert (b"x-content-type-options", b"nosniff") in added


def test_only_html_gets_a_policy() -> None:
    for media in (b"application/json", b"text/csv; charset=utf-8", b"text/javascript"):
        names = [name for name, _ in with_headers([(b"content-type", media)])]
        assert b"content-security-policy" not in names
        assert b"x-content-type-options" in names
    assert b"content-security-policy" in [n for n, _ in with_headers([(b"content-type",
                                                                       b"text/html")])]
