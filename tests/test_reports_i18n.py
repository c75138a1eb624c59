"""Reports, search, login and the forbidden page in Persian, Arabic and Chinese, over real HTTP:
figures drawn on the server in the reader's digits and calendar, the words from the catalogue,
the exports still machine-readable, the login page's own language links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from bench.reports_bench import generate
from chatserver.core.search_text import BadSearch, parse_filters
from chatserver.reports.reports_query import BadParameter, parse
from chatserver.reports.reports_view import AGENT_COLUMNS, TILES
from chatserver.web import catalogue, locale_format
from chatserver.web.catalogue import Translator
from chatserver.web.reports_page import Figures

from .harness import Server, add_user, sql
from .test_pages import Session
from .test_staff_language import html_tag, page_messages

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

# --- the pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "persian"), [
    (date(2024, 3, 20), (1403, 1, 1)), (date(2025, 3, 21), (1404, 1, 1)),
    (date(2026, 3, 4), (1404, 12, 13)), (date(2026, 3, 21), (1405, 1, 1)),
    (date(2025, 9, 22), (1404, 6, 31)), (date(2025, 9, 23), (1404, 7, 1)),
    (date(2026, 1, 1), (1404, 10, 11))])
def test_persian_calendar_days(day: date, persian: tuple[int, int, int]) -> None:
    assert locale_format.persian_date(day) == persian


def test_numbers_and_days_as_each_language_writes_them() -> None:
    march = date(2026, 3, 4)
    assert [locale_format.number(lang, 1234567.5, 1) for lang in ("en", "fa", "zh")] == [
        "1,234,567.5", "۱٬۲۳۴٬۵۶۷٫۵", "1,234,567.5"]
    assert locale_format.percent("fa", 0.853) == "۸۵٫۳٪"
    assert locale_format.number("fa", -12, sign=True) == "\u200e−۱۲"
    assert locale_format.number("en", -12, sign=True) == "−12"
    assert [locale_format.day(lang, march) for lang in ("en", "fa", "ar", "zh")] == [
        "Mar 4, 2026", "۱۳ اسفند ۱۴۰۴", "4 مارس 2026", "2026年3月4日"]
    assert locale_format.day("fa", march, year=False) == "۱۳ اسفند"
    assert locale_format.weekday("zh", 6) == "周日" and locale_format.weekday("fa", 5) == "شنبه"


def test_report_figures_in_persian_and_english() -> None:
    fa, en = Figures(Translator("fa")), Figures(Translator("en"))
    assert (en(185, "seconds"), fa(185, "seconds")) == ("3m 05s", "۳ دقیقه و ۰۵ ثانیه")
    assert (en(4.25, "seconds"), fa(4.25, "seconds")) == ("4.2s", "۴٫۲ ثانیه")
    assert (en(7300, "seconds"), Figures(Translator("zh"))(7300, "seconds")) == (
        "2h 01m", "2小时01分")
    assert (en(12345, "count"), fa(12345, "count"), fa(None, "count")) == (
        "12,345", "۱۲٬۳۴۵", "–")
    tile = {"delta": -0.052, "relative": None, "unit": "rate", "better": "up"}
    assert en.delta(tile) == ("−5.2 pts", "bad")
    assert fa.delta(tile) == ("\u200e−۵٫۲ واحد", "bad")
    assert fa.delta({**tile, "delta": None}) == ("بدون دادهٔ قبلی", "flat")
    tiny = {"delta": 0.0004, "relative": 0.001, "unit": "count", "better": "up"}
    assert en.delta(tiny) == ("+0%", "flat")  # rounds to nothing: neither good nor bad


def test_words_the_server_reads_from_the_report_are_in_every_language() -> None:
    """Tile names and help, the agent table's columns, and the reasons a bad parameter or
    search gives after its field's name (reports_page and search.js translate them)."""
    wanted = {t.label for t in TILES} | {t.help for t in TILES} | {c[1] for c in AGENT_COLUMNS}
    today = date(2026, 3, 10)
    for params in ({"from": "x"}, {"from": "2026-03-05", "to": "2026-03-01"},
                   {"from": "2020-01-01"}, {"agent": "ana"}):
        with pytest.raises(BadParameter) as bad:
            parse(params, today)
        wanted.add(str(bad.value).removeprefix(f"{bad.value.field}: "))
    for params in ({"q": "x" * 201}, {"q": "!!"}, {"q": " ".join(f"w{i}" for i in range(30))},
                   {"from": "3 May"}, {"visitor": "x" * 121}, {"visitor": "?!"},
                   {"from": "2026-03-05", "to": "2026-03-01"}, {"rating": "9"}):
        with pytest.raises(BadSearch) as found:
            parse_filters(params)
        wanted.add(str(found.value).split(": ", 1)[1])
    for language in ("fa", "ar", "zh"):
        missing = wanted - catalogue.messages(language).keys()
        assert not missing, (language, missing)


# --- over HTTP -----------------------------------------------------------------------------


class _Visible(HTMLParser):
    """The text a reader sees in <main>, without what is data: names (dir=auto), the time
    zone (dir=ltr), avatars' initials, the filter menus' entries, scripts."""

    SKIP = ("script", "style", "option")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.inside = False
        self.text: list[str] = []

    VOID = ("br", "input", "meta", "link", "img", "path", "circle", "line", "rect", "polyline")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = self.inside or tag == "main"
        if not self.inside or tag in self.VOID:
            return
        given = dict(attrs)
        data = (tag in self.SKIP or given.get("dir") in ("auto", "ltr")
                or "avatar" in (given.get("class") or ""))
        self.stack.append(data or bool(self.stack and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if self.inside and tag not in self.VOID:
            self.stack.pop()
        self.inside = self.inside and tag != "main"

    def handle_data(self, data: str) -> None:
        if self.inside and not (self.stack and self.stack[-1]):
            self.text.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.text).split())


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A month of a desk (agents "Agent 01"…) and a supervisor who reads it."""
    server = Server(tmp_path_factory.mktemp("reports_i18n"))
    generate(server.db, target_events=4000, end=datetime.now(UTC), seed=5)
    add_user(server.db, "sara", role="supervisor", display_name="سارا")
    add_user(server.db, "wang", role="agent", display_name="王")
    sql(server.db, "INSERT INTO labels (name, name_key, colour, created_ms, deleted) "
                   "VALUES ('refund', 'refund', 'teal', 0, 1)")
    server.start()
    yield server
    server.stop()


# Latin the Persian reports page may show besides data: file and metric names people know
# by their letters, the desk's time zone, the date format a bad date should take.
PERSIAN_KEEPS = {"CSV", "NPS", "ETA", "UTC", "docs", "routing", "md", "YYYY", "MM", "DD"}


def test_the_reports_page_in_persian(busy: Server) -> None:
    sara = Session(busy, "sara")
    page = sara.get("/admin/reports", headers={"accept-language": "fa-IR"})
    assert page.status_code == 200 and html_tag(page) == ("fa", "rtl")
    text = visible_text(page.text)
    assert set(LATIN_WORD.findall(text)) <= PERSIAN_KEEPS, set(LATIN_WORD.findall(text))
    assert not re.search(r"[0-9]", text), re.findall(r".{12}[0-9].{12}", text)
    assert "گزارش‌ها" in text and "سطح خدمت" in text and "کارشناسان" in text
    today = datetime.now(UTC).date()
    assert locale_format.day("fa", today) in text  # the range ends today, Persian calendar
    assert "۳۰ روز" in text and "ثانیه" in text
    # The deleted label is offered in Persian; filters keep their machine values.
    assert re.search(r'<option value="\d+">refund \(حذف‌شده\)</option>', page.text)
    assert f'<input type="date" name="to" value="{today.isoformat()}"' in page.text


@pytest.mark.parametrize(("language", "keeps"), [
    ("ar", PERSIAN_KEEPS), ("zh", PERSIAN_KEEPS | {"Erlang"})])  # 爱尔朗 is rarer than Erlang
def test_the_reports_page_in_arabic_and_chinese(busy: Server, language: str,
                                                 keeps: set[str]) -> None:
    sara = Session(busy, "sara")
    page = sara.get("/admin/reports?from=2026-01-01", headers={"accept-language": language})
    text = visible_text(page.text)
    assert set(LATIN_WORD.findall(text)) <= keeps, set(LATIN_WORD.findall(text))
    assert locale_format.day(language, date(2026, 1, 1)) in text


def test_a_bad_parameter_is_told_in_arabic_and_chinese(busy: Server) -> None:
    sara = Session(busy, "sara")
    arabic = sara.get("/admin/reports?from=soon", headers={"accept-language": "ar"})
    assert arabic.status_code == 400
    assert "من: ليس تاريخًا؛ استخدم الصيغة YYYY-MM-DD — تُعرض آخر 7 أيام بدلًا من ذلك." in (
        arabic.text)
    chinese = sara.get("/admin/reports?from=2026-03-05&to=2026-03-01",
                       headers={"accept-language": "zh-CN"})
    assert "从：开始日期晚于结束日期——改为显示最近 7 天。" in chinese.text


def test_the_exports_and_the_api_stay_machine_readable_in_persian(busy: Server) -> None:
    sara = Session(busy, "sara")
    assert sara.send("POST", "/api/account/preferences", json={"language": "fa"}).json()[
        "language"] == "fa"
    for path in ("/admin/reports/agents.csv", "/admin/reports/staffing.csv",
                 "/admin/reports/conversations.csv"):
        body = sara.get(path).text
        assert not re.search("[۰-۹٫٬]", body) and re.search("[0-9]", body), path
    report = sara.get("/api/reports").json()
    assert report["tiles"][0]["label"] == "Conversations"  # the API's words stay English
    assert "گزارش‌ها" in sara.get("/admin/reports").text
    sara.send("POST", "/api/account/preferences", json={"language": ""})


def test_search_and_forbidden_pages_in_chinese(busy: Server) -> None:
    wang = Session(busy, "wang")
    zh = {"accept-language": "zh-CN,zh;q=0.9"}
    search = wang.get("/console/search", headers=zh)
    assert html_tag(search) == ("zh", "ltr")
    assert "<h1>搜索会话</h1>" in search.text and ">更多结果</button>" in search.text
    words = page_messages(search)
    assert words["No conversation matches."] == "没有匹配的会话。"
    assert words["{field}: {reason}"] == "{field}：{reason}"
    forbidden = wang.get("/admin/reports", headers=zh)
    assert forbidden.status_code == 403 and "<h1>你的角色无权访问</h1>" in forbidden.text
    assert ">返回你的首页</a>" in forbidden.text
    persian = wang.get("/admin/reports", headers={"accept-language": "fa"})
    assert "<h1>برای نقش شما نیست</h1>" in persian.text and html_tag(persian) == ("fa", "rtl")
