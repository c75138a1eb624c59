"""Playwright driving Debian's Chromium (never a downloaded browser), headless.

`browser` is one Chromium per test module; each test takes a fresh `page` (its own context, so
cookies and localStorage never leak between tests). Every context the browser opens reports
Content-Security-Policy violations and uncaught page errors, and a browser test fails on any.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chatserver.web.widget_routes import WIDGET_DIR, lean

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


class Watched:
    """The browser, except that every context it opens reports what breaks its pages.

    `axe_running` is set by tests/axe_check.py while axe-core audits a page: axe styles probe
    elements inline, which the page's CSP refuses and reports; those reports are axe's, not the
    page's, and only they are let through (any other violation still fails the test)."""

    axe_running = False

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.problems: list[str] = []

    def new_context(self, **options: Any) -> Any:
        context = self.browser.new_context(**options)
        # Chromium logs each CSP violation as a console error naming the policy.
        context.on("console", lambda m: "Content Security Policy" in m.text
                   and not (Watched.axe_running and m.text.startswith("Applying inline style"))
                   and self.problems.append(f"{m.page.url if m.page else ''}: {m.text}"))
        context.on("weberror", lambda e: self.problems.append(
            f"{e.page.url if e.page else ''}: uncaught {e.error}"))
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self.browser, name)


# Module scope: the sync API runs an event loop while the browser lives, and async tests in
# later modules need the thread's loop free again.
@pytest.fixture(scope="module")
def browser() -> Iterator[Watched]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield Watched(chromium)
        chromium.close()


@pytest.fixture(autouse=True)
def no_policy_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Any test that drives the browser fails on a CSP violation or an uncaught page error."""
    if "browser" not in request.fixturenames:
        yield
        return
    watched: Watched = request.getfixturevalue("browser")
    watched.problems.clear()
    yield
    assert watched.problems == [], "\n".join(watched.problems)


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


class Site:
    """Another website on its own port: `pages[path]` is the HTML it answers for `path`."""

    def __init__(self) -> None:
        pages: dict[str, str] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.pages = pages
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A page on a 375 x 667 touch screen."""
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True,
                                  has_touch=True)
    yield context.new_page()
    context.close()


WIDGET_ORIGIN = "http://widget.test"


def widget_modules(page):
    """A blank page on its own origin that serves the widget's modules as the server does,
    for tests that import one module and drive it (the reducer, the view)."""

    def serve(route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        if name.endswith(".js"):
            route.fulfill(body=lean((WIDGET_DIR / name).read_text()),
                          content_type="text/javascript")
        else:
            route.fulfill(body="<!doctype html><title>t</title>", content_type="text/html")

    page.route(f"{WIDGET_ORIGIN}/**", serve)
    page.goto(f"{WIDGET_ORIGIN}/blank.html")
    return page
