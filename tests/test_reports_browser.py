"""The reports page in Chromium on a month of a busy desk: tiles, charts, filters, a CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.reports_bench import generate

from .browser import screenshot
from .harness import PASSWORD, Server, add_user

pytestmark = pytest.mark.browser


def test_a_supervisor_reads_a_month_and_filters_it(tmp_path, page) -> None:
    server = Server(tmp_path)
    now = datetime.now(UTC)
    generate(server.db, target_events=90_000, end=now, seed=11)  # ~7,300 chats over a year
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    server.start()
    try:
        page.set_default_timeout(15_000)
        page.set_viewport_size({"width": 1360, "height": 1480})
        page.goto(server.url + "/login")
        page.fill('input[name="username"]', "sue")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url("**/console/supervisor")
        page.goto(server.url + "/admin/reports")  # pages.NAV does not link it yet
        page.wait_for_selector('nav a[href="/admin/reports"][aria-current="page"]')
        page.click(".preset >> text=30 days")
        page.wait_for_selector('.preset[aria-current="true"] >> text=30 days')
        first = (now - timedelta(days=29)).date().isoformat()
        assert page.input_value('input[name="from"]') == first
        assert page.locator("svg.chart").count() == 5
        assert page.locator("svg.chart rect.bar").count() > 30
        assert page.locator("#agents-table tbody tr").count() == 25
        conversations = page.locator('.tile[data-key="conversations"] .tile-value')
        assert int(conversations.inner_text().replace(",", "")) > 300
        screenshot(page, "reports")

        # A filter applies on change (reports.js) and keeps the range; empty ones stay out.
        page.select_option('select[name="language"]', "fa")
        page.wait_for_url("**language=fa**")
        assert "agent=" not in page.url and f"from={first}" in page.url
        persian = int(conversations.inner_text().replace(",", ""))
        assert 0 < persian < 300

        with page.expect_download() as download:
            page.click("#export-agents")
        assert download.value.suggested_filename.startswith("agents-")
    finally:
        server.stop()
