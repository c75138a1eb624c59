"""The admin pages on a 390 x 844 phone in Persian, Chinese and Arabic, in Chromium against the
real server: an admin writes a knowledge-base entry and reads its history in Persian (right to
left) and works through the learning inbox, adds a person to the team in Chinese, reads the
audit log and keeps labels in Arabic. On each page nothing is wider than the screen, and no
English is left in what the page shows: the only Latin letters are the data the test put there
(usernames, codes)."""

from __future__ import annotations

import json
import re
import time

import pytest

from .browser import screenshot
from .harness import Server, add_user, sql
from .test_admin_browser import log_in
from .test_learning_browser import seed as seed_proposals
from .test_pages import Session

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LOCALES = {"fa": "fa-IR", "ar": "ar-EG", "zh": "zh-CN"}

# The text the page shows, as a reader sees it: visible text nodes, leaving out the elements
# that hold data (names, titles and codes people typed are shown as they are).
VISIBLE_TEXT = """dataSelectors => {
  const skip = dataSelectors.join(",");
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("script, style, option, datalist")) continue;
    if (skip && parent.closest(skip)) continue;
    if (!parent.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    out.push(node.textContent);
  }
  for (const select of document.querySelectorAll("select")) {
    const chosen = select.selectedOptions[0];
    if (select.checkVisibility() && chosen) out.push(chosen.text);
  }
  for (const field of document.querySelectorAll("[placeholder]")) {
    if (field.checkVisibility() && !field.value) out.push(field.placeholder);
  }
  return out.join("\\n");
}"""
# The page's width, and the elements that stick out of the screen on either side.
WIDER_THAN = """screen => {
  const out = [...document.querySelectorAll("body *")].filter((n) => {
    const box = n.getBoundingClientRect();
    // The top bar's menu scrolls inside its own box.
    return box.width && (box.right > screen + 1 || box.left < -1) && !n.closest(".nav");
  }).slice(0, 5).map((n) => `${n.tagName.toLowerCase()}#${n.id}.${n.className}`);
  const width = document.documentElement.scrollWidth;
  return width > screen ? [`the page: ${width} px`, ...out] : out;
}"""
# What is data wherever it appears: the signed-in user's name in the top bar, usernames and
# values in <bdi>, codes in <code>.
DATA = [".who-name", ".avatar", "bdi", "code"]


@pytest.fixture(scope="module")
def desk(shared_server: Server) -> Server:
    """One server, with Rana (root), an admin, for the tests whose pages do not show what the
    others write: the audit log lists every change, so its test keeps a server of its own."""
    add_user(shared_server.db, "root", role="admin", display_name="Rana")
    return shared_server


def open_phone(browser, server: Server, language: str):
    context = browser.new_context(locale=LOCALES[language], **PHONE)
    page = context.new_page()
    log_in(page, server, "root")
    page.wait_for_url("**/admin")
    return context, page


# Technical names these languages write in Latin letters too ("توکن‌های API", "API 令牌",
# Chinese desks' "Webhook"): the menu shows them on every page.
TERMS = frozenset({"API", "Webhook"})


def english_left(page, data: list[str], allowed: set[str] = frozenset()) -> list[str]:
    text = page.evaluate(VISIBLE_TEXT, DATA + data)
    return sorted({word for word in re.findall(r"[A-Za-z]+", text)
                   if word not in allowed | TERMS})


def assert_fits_the_phone(page) -> None:
    # Against the screen's width, not innerWidth: a phone's browser widens its layout viewport
    # to a page that is wider than the screen, and innerWidth with it.
    screen = PHONE["viewport"]["width"]
    wider = page.evaluate(WIDER_THAN, screen)
    assert wider == [], f"wider than the {screen} px screen: {wider}"


def test_kb_editor_in_persian_on_a_phone(desk: Server, browser) -> None:
    server = desk
    context, page = open_phone(browser, server, "fa")
    try:
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") \
            == ["fa", "rtl"]
        page.wait_for_selector("#kb-list li button")
        # Only the Persian entries: the default knowledge base has entries in every language.
        page.select_option("#kb-language", "fa")
        assert page.locator("#kb-language option[value='fa']").inner_text() == "فارسی"
        page.click("#kb-new")
        assert page.input_value("#f-language") == "fa"  # a new entry is in the page's language
        page.fill("#f-title", "ارسال به شهرستان")
        page.fill("#f-questions", "هزینهٔ ارسال به شیراز چقدر است\nبه شهرستان هم ارسال دارید")
        page.click("#kb-save")
        # The server's message beside the field, in Persian.
        page.wait_for_selector('.field-error[data-for="answer"] >> text=نباید خالی باشد')
        page.fill("#f-language", "farsi")
        page.fill("#f-answer", "بله، به همهٔ شهرها با پست پیشتاز ارسال می‌کنیم.")
        page.click("#kb-save")
        page.wait_for_selector('.field-error[data-for="language"] >> text=باید کد زبانی')
        page.fill("#f-language", "fa")
        page.click("#kb-save")
        page.wait_for_selector("#kb-badge >> text=پیش‌نویس")
        page.wait_for_selector("#kb-version >> text=نسخهٔ ۱")
        page.click("#kb-publish")
        page.wait_for_selector("#kb-badge >> text=منتشرشده")
        page.fill("#f-answer", "بله، به همهٔ شهرها ارسال می‌کنیم؛ هزینه‌اش ۵۰ هزار تومان است.")
        page.click("#kb-save")
        page.wait_for_selector("#kb-version >> text=نسخهٔ ۳")

        # History: three versions, newest first, named and dated in Persian.
        versions = page.locator("#versions button")
        versions.nth(2).wait_for()
        assert versions.nth(0).inner_text().startswith("نسخهٔ ۳ · ویرایش‌شده")
        assert versions.nth(2).inner_text().startswith("نسخهٔ ۱ · ایجادشده")
        assert re.search("[۰-۹]", versions.nth(0).locator(".version-meta").inner_text())
        versions.nth(0).click()
        page.wait_for_selector("#diff >> text=تغییرات از نسخهٔ ۲ تا نسخهٔ ۳")
        assert page.locator("#diff .diff-field h3").all_inner_texts() == ["پاسخ"]
        page.wait_for_selector("#diff .add >> text=هزار تومان")
        page.locator("#restore-btn").wait_for()
        assert page.locator("#restore-btn").inner_text() == "این نسخهٔ کنونی است"
        page.locator("#history").scroll_into_view_if_needed()
        screenshot(page, "admin_phone_fa_kb_history")

        assert_fits_the_phone(page)
        assert english_left(page, [".kb-item-title", "#kb-heading", "#diff pre"],
                            {"JSON", "CSV"}) == []
        # The editor is one column: the answer is as wide as the title.
        title, answer = (page.locator(s).bounding_box() for s in ("#f-title", "#f-language"))
        assert answer["width"] == pytest.approx(title["width"], abs=2)
    finally:
        context.close()


def test_team_page_in_chinese_on_a_phone(desk: Server, browser) -> None:
    server = desk
    context, page = open_phone(browser, server, "zh")
    try:
        page.goto(server.url + "/admin/users")
        page.wait_for_selector("#users-table tbody tr")
        assert page.evaluate("document.documentElement.dir") == "ltr"
        page.fill("#u-username", "meili")
        page.fill("#u-display", "王美丽")
        page.select_option("#u-role", "supervisor")
        page.fill("#u-skills", "lang:zh:5, billing:3")
        page.fill("#u-password", "short")
        page.click("#u-save")
        page.wait_for_selector('.field-error[data-for="password"] >> text=须为 8-256 个字符')
        page.fill("#u-password", "a long enough password")
        page.click("#u-save")
        page.wait_for_selector(".toast >> text=王美丽 现在可以登录了。")
        row = page.locator("#users-table tbody tr", has_text="王美丽")
        row.wait_for()
        # A stacked row on the phone: each value under its column's name.
        assert row.locator("td[data-label='角色']").inner_text() == "主管"
        assert row.locator("td[data-label='接待上限']").inner_text() == "3"
        screenshot(page, "admin_phone_zh_team")
        assert_fits_the_phone(page)
        assert english_left(page, ["#users-table strong", ".chip"]) == []

        row.locator("button").click()
        page.wait_for_selector("#user-form-title >> text=编辑 王美丽")
        assert page.locator("#u-save").inner_text() == "保存更改"
        assert english_left(page, ["#users-table strong", ".chip", "#user-form-title"]) == []
    finally:
        context.close()


def test_audit_log_in_arabic_on_a_phone(server: Server, browser) -> None:
    add_user(server.db, "root", role="admin", display_name="Rana")
    admin = Session(server, "root")
    assert admin.send("POST", "/api/kb", json={
        "title": "Gift wrapping", "language": "en", "questions": ["do you gift wrap"],
        "answer": "Yes.", "status": "draft"}).status_code == 201
    assert admin.send("POST", "/api/users", json={
        "username": "salma", "display_name": "سلمى", "role": "agent", "password": "long enough",
        "skills": {}, "capacity": 2}).status_code == 201
    assert admin.send("POST", "/api/labels", json={"name": "استرداد", "colour": "#ffeb3b"}) \
        .status_code == 201
    now = int(time.time() * 1000)
    sql(server.db, "INSERT INTO audit_log (ts_ms, user_id, username, action, target, detail, "
                   "address) VALUES (?, NULL, 'system', 'retention.purge', '', ?, '')",
        (now, json.dumps({"message_texts": 1200, "cutoffs_ms": {"presence": now - 86_400_000}})))
    context, page = open_phone(browser, server, "ar")
    try:
        page.goto(server.url + "/admin/audit")
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") \
            == ["ar", "rtl"]
        rows = page.locator("#audit-table tbody tr")
        assert [rows.nth(i).get_attribute("data-action") for i in range(4)] == [
            "retention.purge", "label.create", "user.create", "kb.create"]
        purge, label, person, entry = (rows.nth(i) for i in range(4))
        assert purge.locator("td[data-label='الإجراء']").inner_text().endswith(
            "حُذفت البيانات القديمة")
        assert "الخادم" in purge.locator("td[data-label='مَن']").inner_text()
        assert "نصوص الرسائل: 1,200" in purge.inner_text()
        assert entry.locator("td[data-label='الهدف']").inner_text().split()[-2] == "المدخل"
        assert "الدور: موظف دعم" in person.inner_text()
        assert "الاسم: استرداد" in label.inner_text()
        # Times in Arabic, from the browser's Intl (the server sends UTC digits).
        when = entry.locator("time").inner_text()
        assert re.search(r"[\u0600-\u06ff]", when) and not re.search("[A-Za-z]", when)
        screenshot(page, "admin_phone_ar_audit")
        assert_fits_the_phone(page)
        # "IP" is how Arabic (and Persian) write an IP address too.
        assert english_left(page, [], {"IP"}) == []

        # The filter offers the actions by name; a group lists its actions only.
        page.select_option("select[name='action']", "kb.")
        page.click(".audit-filter button")
        page.wait_for_url("**/admin/audit?action=kb.*")
        assert [rows.nth(i).get_attribute("data-action") for i in range(rows.count())] == [
            "kb.create"]
        assert page.locator("select[name='action'] option:checked").inner_text() == \
            "الكل: قاعدة المعرفة"
        assert_fits_the_phone(page)
    finally:
        context.close()
        admin.client.close()


def test_labels_page_in_arabic_on_a_phone(desk: Server, browser) -> None:
    server = desk
    context, page = open_phone(browser, server, "ar")
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    try:
        page.goto(server.url + "/admin/labels")
        page.wait_for_selector("#labels-table >> text=لا توجد تصنيفات بعد")
        page.fill("#l-name", "استرداد")
        page.click("#l-save")
        page.wait_for_selector(".toast >> text=أُضيف «استرداد».")
        page.fill("#l-name", "استرداد")
        page.click("#l-save")
        page.wait_for_selector('.field-error[data-for="name"] >> text=يوجد تصنيف آخر بهذا الاسم')
        row = page.locator("#labels-table tbody tr", has_text="استرداد")
        assert row.locator("td[data-label='اللون'] code").inner_text() == "#1a73e8"
        assert_fits_the_phone(page)
        assert english_left(page, [".label-chip"]) == []
        row.locator(".btn-danger-quiet").click()
        name = "\u2068استرداد\u2069"  # isolated inside the Arabic sentence
        page.wait_for_selector(f".toast >> text=حُذف «{name}».")
        assert asked == [f"هل تريد حذف التصنيف «{name}»؟ تحتفظ به المحادثات التي تحمله، "
                         "ولن يستطيع أحد إضافته مجددًا."]
    finally:
        context.close()


def test_learning_inbox_in_persian_on_a_phone(desk: Server, browser) -> None:
    server = desk
    seed_proposals(server)
    context, page = open_phone(browser, server, "fa")
    try:
        page.wait_for_selector("#proposals .proposal >> nth=1")
        assert page.locator("#learn-count").inner_text() == "۲"
        meta = page.locator(".proposal-meta").first.inner_text()
        assert "یک کارشناس، در پاسخی به کار رفت" in meta and re.search("[۰-۹]", meta)
        assert meta.startswith("← ")  # towards the entry's name, which follows on the left
        group = page.locator(".unanswered-group", has_text="llama")
        assert group.locator(".group-meta").inner_text().startswith("۲ بازدیدکننده · انگلیسی · ")
        page.locator("#learn-card").scroll_into_view_if_needed()
        screenshot(page, "admin_phone_fa_learning")
        assert_fits_the_phone(page)
        assert english_left(page, [".kb-item-title", ".proposal-entry", ".unanswered-group ul"],
                            {"JSON", "CSV"}) == []
        page.locator(".proposal").first.locator('[data-action="reject"]').click()
        page.wait_for_selector(".toast >> text=رد شد: به مدخل افزوده نمی‌شود.")
        page.locator(".proposal").first.locator('[data-action="approve"]').click()
        page.wait_for_selector(".toast >> text=ربات اکنون آن را می‌داند")
        page.wait_for_selector("#proposals >> text=چیزی برای بررسی نیست.")
    finally:
        context.close()
