"""The one-time admin password in Chromium: logging in with it leads to the account page, which
asks for a new password and then opens the admin pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import screenshot
from .harness import Server

pytestmark = pytest.mark.browser


def test_a_one_time_password_leads_to_choosing_a_new_one(tmp_path: Path, page) -> None:
    first = subprocess.run([sys.executable, "-m", "chatserver", "db", "migrate"], cwd=tmp_path,
                           env={**os.environ, "CHATSERVER_STORAGE_PATH": str(tmp_path / "chat.db")},
                           capture_output=True, text=True, timeout=60, check=True)
    one_time = first.stdout.split("one-time password: ")[1].split()[0]
    server = Server(tmp_path).start()
    try:
        page.set_default_timeout(10_000)
        page.goto(server.url + "/login")
        page.fill('input[name="username"]', "admin")
        page.fill('input[name="password"]', one_time)
        page.click('button[type="submit"]')
        page.wait_for_url("**/account")
        assert page.locator("h1").inner_text() == "Choose a new password"
        assert page.locator("nav.nav a").count() == 0  # every other page would send you back
        page.goto(server.url + "/admin/users")
        page.wait_for_url("**/account")

        page.fill('input[name="current_password"]', one_time)
        page.fill('input[name="new_password"]', "short")
        page.click("#password-form button[type=submit]")
        page.wait_for_selector('.field-error[data-for="new_password"]:not(:empty)')
        screenshot(page, "account-one-time-password")
        page.fill('input[name="new_password"]', "a brand new password")
        page.click("#password-form button[type=submit]")
        page.wait_for_url("**/admin")
        assert page.locator("nav.nav a").count() > 1
    finally:
        server.stop()
