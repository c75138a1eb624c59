"""Reports in Persian, search in Chinese and the login page in Arabic, in Chromium on a 390x844
phone: right to left where the language is, the reader's digits and calendar, no English beyond
data, and nothing wider than the screen (wide tables scroll inside their own box)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bench.reports_bench import generate
from chatserver.web import locale_format

from .browser import screenshot
from .harness import PASSWORD, Server, add_user
from .test_search_browser import desk  # noqa: F401  (the fixture: three chats, Sue and Ann)

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
# What a page's text is once data is left out: names (dir=auto), the time zone (dir=ltr),
# avatars' initials and the filter menus' entries.
VISIBLE_WORDS = """(root) => {
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (parent.closest('[dir="auto"], [dir="ltr"], .avatar, option, script, style')) continue;
    if (!parent.closest("svg") && !parent.checkVisibility()) continue;
    out.push(node.textContent);
  }
  return out.join(" ");
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def phone(browser, locale: str, **options: object):
    """A tab on a 390x844 touch phone whose browser asks for `locale`."""
    return browser.new_context(viewport=PHONE, locale=locale, is_mobile=True, has_touch=True,
                               **options).new_page()


def log_in(page, server: Server, username: str, home: str) -> None:
    page.set_default_timeout(15_000)
    page.goto(server.url + "/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"**{home}")


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("reports_i18n_browser"))
    generate(server.db, target_events=6000, end=datetime.now(UTC), seed=9)
    add_user(server.db, "sara", role="supervisor", display_name="سارا")
    server.start()
    yield server
    server.stop()
    assert "Traceback" not in server.log.read_text()


def test_reports_in_persian_on_a_phone_in_the_dark(busy: Server, browser) -> None:
    page = phone(browser, "fa-IR", color_scheme="dark")
    try:
        log_in(page, busy, "sara", "/console/supervisor")
        page.goto(busy.url + "/admin/reports")
        page.click(".preset >> nth=1")  # ۳۰ روز
        page.wait_for_selector('.preset[aria-current="true"] >> text=۳۰ روز')
        assert page.evaluate("() => [document.documentElement.lang, document.dir]") == [
            "fa", "rtl"]
        words = page.locator("main").evaluate(VISIBLE_WORDS)
        latin = set(re.findall(r"[A-Za-z]{2,}", words))
        assert latin <= {"CSV", "NPS", "ETA", "UTC", "docs", "routing", "md"}, latin
        assert not re.search("[0-9]", words), re.findall(".{10}[0-9].{10}", words)
        chats = page.locator('.tile[data-key="conversations"] .tile-value').inner_text()
        assert re.fullmatch("[۰-۹٬]+", chats) and int(chats.translate(
            str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789", "٬"))) > 10
        today = datetime.now(UTC).date()
        assert locale_format.day("fa", today) in page.locator("#range-line").inner_text()
        # Ticks and hours on the charts in Persian digits too; the axis runs left to right.
        ticks = page.locator("svg.chart text.tick").all_text_contents()
        assert ticks and all(not re.search("[0-9]", t) for t in ticks)

        # The phone: nothing wider than the screen; the wide agents table scrolls in its box.
        assert page.evaluate(OVERFLOW) == 0
        for chart in page.locator("svg.chart").all():
            box = chart.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        scroller = page.locator("#agents-table").locator("xpath=..")
        assert scroller.evaluate("(e) => e.scrollWidth > e.clientWidth")
        assert page.locator(".tile").first.evaluate(
            "(e) => getComputedStyle(e).backgroundColor") != "rgb(255, 255, 255)"
        screenshot(page, "reports-fa-phone-dark")

        # A filter in Persian: its machine value goes in the address, the page stays Persian.
        page.select_option('select[name="language"]', "fa")
        page.wait_for_url("**language=fa**")
        assert page.locator('select[name="language"] option:checked').inner_text() == (
            "فارسی (fa)")
    finally:
        page.context.close()


def test_the_persian_calendar_matches_the_browsers(busy: Server, browser) -> None:
    """Every fourth day of 2024-2030 written by the server as Chromium's Intl writes it."""
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(0, 7 * 366, 4)]
    page = browser.new_context().new_page()
    try:
        page.goto(busy.url + "/login?lang=fa")
        theirs = page.evaluate("""(days) => days.map((d) => new Date(d + "T12:00:00Z")
          .toLocaleDateString("fa-IR-u-ca-persian-nu-arabext",
            { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" }))""",
                               [d.isoformat() for d in days])
        assert [locale_format.day("fa", d) for d in days] == theirs
    finally:
        page.context.close()


def test_search_in_chinese_on_a_phone(desk: Server, browser) -> None:  # noqa: F811
    page = phone(browser, "zh-CN")
    try:
        log_in(page, desk, "sue", "/console/supervisor")
        page.goto(desk.url + "/console/search")
        assert page.locator("h1").inner_text() == "搜索会话"
        page.fill("#s-q", "!!")
        page.click("#s-go")
        page.wait_for_selector("#s-error:not([hidden])")  # the check runs after the click
        assert page.locator("#s-error").inner_text() == (
            "关键词或号码：请输入要查找的词或数字（仅有标点符号查不到任何内容）")
        page.fill("#s-q", "退款")
        page.click("#s-go")
        page.wait_for_selector("#s-results li.result")
        assert page.locator("#s-status").inner_text() == "1 个会话"
        facts = page.locator("#s-results .result-facts").inner_text()
        assert "2026年" in facts and "已结束" in facts, facts
        page.locator("#s-results .result-open").click()
        page.wait_for_selector("#s-transcript li")
        assert "已结束" in page.locator("#s-transcript-facts").inner_text()
        assert page.locator("#s-close").inner_text() == "关闭"
        assert page.evaluate(OVERFLOW) == 0
        screenshot(page, "search-zh-phone")
    finally:
        page.context.close()


def test_login_in_arabic_and_the_language_links(busy: Server, browser) -> None:
    page = phone(browser, "ar-EG")
    try:
        page.set_default_timeout(15_000)
        page.goto(busy.url + "/login")
        assert page.evaluate("() => document.dir") == "rtl"
        assert page.locator("h1").inner_text() == "تسجيل الدخول"
        assert page.locator("#login-languages a[aria-current]").inner_text() == "العربية"
        assert page.evaluate(OVERFLOW) == 0
        screenshot(page, "login-ar-phone")
        page.click("#login-languages >> text=中文")
        page.wait_for_url("**/login?lang=zh")
        assert page.evaluate("() => [document.documentElement.lang, document.dir]") == [
            "zh", "ltr"]
        page.fill('input[name="username"]', "sara")
        page.fill('input[name="password"]', "wrong")
        page.click('button[type="submit"]')
        page.wait_for_url("**/login?failed=1")
        assert page.locator("#login-failed").inner_text() == "用户名或密码错误。"
        page.fill('input[name="username"]', "sara")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url("**/console/supervisor")
        # Signed in, the browser's Arabic applies again: the link chose the login page only.
        assert page.evaluate("() => document.documentElement.lang") == "ar"
    finally:
        page.context.close()
