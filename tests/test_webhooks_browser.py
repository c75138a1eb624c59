"""The webhooks page in Chromium, in Persian on a 390 x 844 phone, against the real server and a
real local receiver: an admin registers an endpoint (a wrong URL is refused beside its field),
sees the secret once, a chat's lines are delivered and listed with their status in Persian
digits, and the endpoint is disabled. Right to left, nothing wider than the screen, no English
left but data and the protocol's own words."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .browser import screenshot
from .harness import Server, add_user
from .test_admin_phone_browser import assert_fits_the_phone, english_left, open_phone
from .test_console_browser import visitor

pytestmark = pytest.mark.browser


@contextmanager
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    """An HTTP endpoint on a free local port answering 204; the bodies it got."""
    got: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hooks", got
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_admin_registers_a_webhook_in_persian_on_a_phone(tmp_path, browser) -> None:
    server = Server(tmp_path, CHATSERVER_WEBHOOKS_ALLOW_PRIVATE="true",
                    CHATSERVER_WEBHOOKS_POLL_MS="50")
    add_user(server.db, "root", role="admin", display_name="Rana")
    add_user(server.db, "maryam", skills={"lang:en": 5})
    server.start()
    context, page = open_phone(browser, server, "fa")
    try:
        with receiver() as (url, got):
            page.goto(server.url + "/admin/webhooks")
            assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") \
                == ["fa", "rtl"]
            page.wait_for_selector("#wh-events input")
            page.wait_for_selector("#wh-table >> text=هنوز وب‌هوکی نیست")
            page.fill("#wh-url", "ftp://example.com/in")
            page.click("#wh-form button[type=submit]")
            page.wait_for_selector('.field-error[data-for="url"] >> text=نشانی باید با https://')
            page.fill("#wh-url", url)
            page.fill("#wh-description", "سامانهٔ سفارش‌ها")
            page.check("#wh-events >> text=گفت‌وگو آغاز شد")
            page.click("#wh-form button[type=submit]")
            secret = page.locator("#wh-secret-value")
            secret.wait_for()
            assert secret.inner_text().startswith("whsec_")
            row = page.locator("#wh-table tbody tr").first
            row.locator(".wh-state-on >> text=فعال").wait_for()
            assert "پیام" in row.inner_text() and "گفت‌وگو بسته شد" in row.inner_text()
            with visitor(server, "Sara", "where is my parcel"):
                for _ in range(100):
                    if len(got) >= 2:
                        break
                    page.wait_for_timeout(100)
            assert len(got) >= 2  # started, and the visitor's line
            row.locator("text=تحویل‌ها").click()
            page.wait_for_selector("#wh-log tbody >> text=۲۰۴")
            assert "میلی‌ثانیه" in page.locator("#wh-log tbody").inner_text()
            assert english_left(page, [".wh-description"], {"URL", "POST", "xx", "API"}) == []
            assert_fits_the_phone(page)
            screenshot(page, "webhooks_fa_phone")
            row.locator("button >> text=غیرفعال کردن").click()
            row.locator(".wh-state-off >> text=غیرفعال").wait_for()
    finally:
        context.close()
        server.stop()
