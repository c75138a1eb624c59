"""Staffing advice and the ETA accuracy on the reports page, in Chromium under the strict CSP."""

from __future__ import annotations

import pytest

from .browser import screenshot
from .harness import PASSWORD, Server, add_user
from .test_reports_staffing import RANGE, seed

pytestmark = pytest.mark.browser


def test_a_supervisor_sees_staffing_advice_and_eta_accuracy(tmp_path, page) -> None:
    server = Server(tmp_path)
    add_user(server.db, "ana", skills={"lang:en": 5}, capacity=2)
    add_user(server.db, "sue", role="supervisor", display_name="Sue", capacity=2)
    seed(server.db)
    server.start()
    try:
        page.set_default_timeout(15_000)
        page.set_viewport_size({"width": 1360, "height": 2400})
        page.goto(server.url + "/login")
        page.fill('input[name="username"]', "sue")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url("**/console/supervisor")
        page.goto(server.url + f"/admin/reports?from={RANGE['from']}&to={RANGE['to']}")
        staffing = page.locator("#staffing")
        staffing.wait_for()
        assert "80.0% answered within 20s" in staffing.inner_text()
        rows = page.locator("#staffing-table tbody tr")
        assert rows.count() == 3
        nine = page.locator('#staffing-table tr[data-hour="Mon 09:00"] td')
        assert [nine.nth(i).inner_text() for i in (0, 1, 2, 5)] == ["14.00", "5m 00s", "2m 00s",
                                                                     "1.5"]
        assert int(nine.nth(3).inner_text()) >= 2
        chart = staffing.locator("svg.chart")
        assert chart.locator("rect.bar").count() == 168
        assert chart.locator("polyline.line-2").count() >= 1
        assert chart.locator("polyline.line-3").count() >= 1
        assert page.locator("#eta-median-error").inner_text() == "50.0%"
        staffing.scroll_into_view_if_needed()
        screenshot(page, "reports-staffing")
        with page.expect_download() as download:
            page.click("#export-staffing")
        assert download.value.suggested_filename == "staffing-2026-01-05-2026-01-11.csv"
    finally:
        server.stop()
