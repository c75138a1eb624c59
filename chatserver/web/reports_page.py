"""The reports page as HTML: its figures in the reader's language, the charts, the template.

Every number, day and unit on the page is written as the user's language writes it
(`locale_format`: Persian digits and calendar for fa); the CSV exports and the JSON API stay
machine-readable. Words the server puts on the page are marked N_() and come from the
reports catalogue (i18n/<lang>/reports.json).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chatserver.reports import reports_svg as svg
from chatserver.reports.reports_query import BadParameter, ReportQuery, parse

from . import http_fields, locale_format
from .catalogue import N_, Translator
from .pages import ENV, NO_STORE, page_context, page_user

PRESETS = ((N_("7 days"), 7), (N_("30 days"), 30), (N_("90 days"), 90),
           (N_("12 months"), 365))
# What a bad parameter's field is called on the page (the filter form's labels).
FIELDS = {"from": N_("From"), "to": N_("To"), "agent": N_("Agent"), "skill": N_("Skill"),
          "topic": N_("Topic"), "language": N_("Language"), "label": N_("Label")}
# The staff languages by name in the language filter; others show their code alone.
LANGUAGE_NAMES = {"en": N_("English"), "fa": N_("Persian"), "ar": N_("Arabic"),
                  "zh": N_("Chinese")}
# A label the team deleted, still offered as a filter: past periods carry it.
DELETED = N_("{name} (deleted)")


class Figures:
    """The report's numbers, days and units in one language (`fmt`, `delta` in the template)."""

    def __init__(self, translator: Translator) -> None:
        self._ = translator
        self.language = translator.language

    def number(self, value: float, decimals: int = 0) -> str:
        return locale_format.number(self.language, value, decimals)

    def __call__(self, value: float | None, unit: str) -> str:
        """One figure of `unit`: "count", "rate" (0..1), "seconds" or "points" (NPS)."""
        if value is None:
            return "–"
        if unit == "rate":
            return locale_format.percent(self.language, value)
        if unit == "seconds":
            return self.duration(value)
        if unit == "points":
            return locale_format.number(self.language, value, sign=True)
        return self.number(value)

    def duration(self, value: float) -> str:
        s = round(value)
        two = lambda n: locale_format.localize(self.language, f"{n:02d}")  # noqa: E731
        if s < 60:
            return self._("{s}s", s=self.number(value, 0 if value >= 10 else 1))
        if s < 3600:
            return self._("{m}m {s}s", m=self.number(s // 60), s=two(s % 60))
        return self._("{h}h {m}m", h=self.number(s // 3600), m=two(s % 3600 // 60))

    def delta(self, tile: Mapping[str, Any]) -> tuple[str, str]:
        """The change from the previous period as text and a class: good, bad or flat."""
        d, rel, unit = tile["delta"], tile["relative"], tile["unit"]
        if d is None:
            return self._(N_("no earlier data")), "flat"
        lang = self.language
        if unit in ("rate", "points"):
            shown = d * 100 if unit == "rate" else d
            decimals = 1 if unit == "rate" else 0
            text = self._(N_("{n} pts"), n=locale_format.number(lang, shown, decimals, sign=True))
        elif rel is None:
            shown, decimals = d, 0
            number = locale_format.number(lang, d, sign=True)
            text = number if unit == "count" else self._("{s}s", s=number)
        else:
            shown, decimals = rel * 100, 0
            text = locale_format.percent(lang, rel, 0, sign=True)
        if round(shown, decimals) == 0 or not tile["better"]:  # rounds to nothing
            return text, "flat"
        good = (d > 0) == (tile["better"] == "up")
        return text, "good" if good else "bad"

    def percent(self, ratio: float, decimals: int = 1) -> str:
        return locale_format.percent(self.language, ratio, decimals)

    def bias(self, ratio: float) -> str:
        """How much longer (+) or shorter (−) the promised wait was: "+12%"."""
        return locale_format.percent(self.language, ratio, 0, sign=True)

    def day(self, iso: str, *, year: bool = True) -> str:
        return locale_format.day(self.language, date.fromisoformat(iso), year=year)

    def hour(self, hour: int) -> str:
        """An hour of the day on a chart's axis: "09"."""
        return locale_format.localize(self.language, f"{hour:02d}")

    def week_hour(self, weekday: int, hour: int) -> str:
        """An hour of the week: "Mon 09:00", «دوشنبه ۰۹:۰۰»."""
        return f"{locale_format.weekday(self.language, weekday)} " + locale_format.localize(
            self.language, f"{hour:02d}:00")

    def chart_words(self) -> svg.Words:
        return svg.Words(
            number=lambda v: locale_format.general(self.language, v),
            no_data=self._(N_("No conversations in this range")),
            no_data_desc=self._(N_("No data in this range.")),
            target=self._(N_("Target {value}")), online=self._(N_("online")))


def _bucket_label(le: float | None, f: Figures) -> str:
    """A response-time bucket: "≤30s", "≤2m", ">30m"."""
    _, lang = f._, f.language
    if le is None:
        return _(N_(">{m}m"), m=locale_format.general(lang, 30))
    if le < 60:
        return _(N_("≤{s}s"), s=locale_format.general(lang, le))
    return _(N_("≤{m}m"), m=locale_format.general(lang, le / 60))


def charts(report: Mapping[str, Any], f: Figures) -> dict[str, Markup]:
    _, words = f._, f.chart_words()
    hours = report["by_hour"]
    points = report["series"]["points"]
    unit = report["series"]["unit"]
    target = f.duration(report["thresholds"]["answer_within_s"])
    every = max(1, len(points) // 8)
    rt = report["response_times"]
    labels = [_bucket_label(b["le"], f) for b in rt["buckets"]]
    pct = lambda v: locale_format.percent(f.language, v, 0)  # noqa: E731
    return {
        "volume": svg.bars_and_line(
            _(N_("Volume and wait by hour of day")),
            [svg.Point(f.hour(h["hour"]), h["conversations"],
                       _(N_("{n} asked for a person"), n=f.number(h["asked"])))
             for h in hours], _(N_("chats")),
            [svg.Point(f.hour(h["hour"]), h["asa_s"]) for h in hours],
            _(N_("avg wait")), lambda v: f(v, "seconds"), every=3, words=words),
        "service": svg.lines(
            _(N_("Service level by day (answered within {target})"), target=target)
            if unit == "day" else
            _(N_("Service level by week (answered within {target})"), target=target),
            [svg.Point(f.day(p["start"], year=False), p["service_level"],
                       _(N_("{n} in the queue"), n=f.number(p["queue_base"])))
             for p in points],
            _(N_("service level")), pct, target=0.8, every=every, words=words),
        "responses": svg.histogram(
            _(N_("Agent response times")),
            [svg.Point(label, b["count"]) for label, b in zip(labels, rt["buckets"],
                                                              strict=True)],
            _(N_("replies")), words=words),
        "csat": svg.lines(
            _(N_("CSAT by day")) if unit == "day" else _(N_("CSAT by week")),
            [svg.Point(f.day(p["start"], year=False), p["csat"],
                       _(N_("{n} ratings"), n=f.number(p["ratings"]))) for p in points],
            _(N_("CSAT")), pct, every=every, words=words),
        "staffing": staffing_chart(report, f),
    }


def staffing_chart(report: Mapping[str, Any], f: Figures) -> Markup:
    """Agents online per hour of the week (bars) beside those Erlang C and A say are needed."""
    _ = f._
    hours = report["staffing"]["hours"]
    label = [locale_format.weekday(f.language, h["weekday"]) if h["hour"] == 0
             else f.week_hour(h["weekday"], h["hour"]) for h in hours]
    return svg.staffing(
        _(N_("Agents online and needed by hour of the week")),
        [svg.Point(x, h["online"], _(N_("{n} requests"), n=f.number(h["requests"])))
         for x, h in zip(label, hours, strict=True)],
        [(name, [svg.Point(x, h[key]) for x, h in zip(label, hours, strict=True)])
         for name, key in ((_(N_("needed (Erlang C)")), "erlang_c"),
                           (_(N_("needed (Erlang A)")), "erlang_a"))],
        axis=_(N_("agents")), words=f.chart_words())


def presets(query: ReportQuery, today: date) -> list[tuple[str, str, bool]]:
    out = []
    for label, days in PRESETS:
        first = today - timedelta(days=days - 1)
        q = ReportQuery(first, today, query.filters)
        out.append((label, q.query_string(), (query.first, query.last) == (first, today)))
    return out


def problem(error: BadParameter, _: Translator) -> str:
    """A bad parameter in the page's language: "From: not a date; use YYYY-MM-DD"."""
    reason = str(error).removeprefix(f"{error.field}: ")
    return _(N_("{field}: {reason}"), field=_(FIELDS.get(error.field, error.field)),
             reason=_(reason))


Compute = Callable[[Request, ReportQuery], Awaitable[dict[str, Any]]]
Options = Callable[[Request], Awaitable[Mapping[str, Sequence[tuple[str, str, bool]]]]]


async def page(request: Request, compute: Compute, options: Options, today: date,
               roles: Sequence[str]) -> Response:
    user = await page_user(request, *roles)
    if isinstance(user, Response):
        return user
    error, status = None, 200
    try:
        query = parse(http_fields.query(request), today)
    except BadParameter as e:
        error, status = e, 400
        query = parse({}, today)
    report = await compute(request, query)
    context = page_context(request, user)
    _: Translator = context["_"]
    figures = Figures(_)
    offered = {name: [(value, _(DELETED, name=text) if deleted else text)
                      for value, text, deleted in entries]
               for name, entries in (await options(request)).items()}
    offered["language"] = [(code, _(N_("{language} ({code})"), language=_(
        LANGUAGE_NAMES[code]), code=code) if code in LANGUAGE_NAMES else code)
        for code, _text in offered.get("language", [])]
    context |= {
        "user": user, "csrf": user["csrf"], "title": N_("Reports"), "report": report,
        "query": query, "error": problem(error, _) if error else None,
        "error_field": error.field if error else None, "options": offered,
        "charts": charts(report, figures), "presets": presets(query, today),
        "fmt": figures, "delta": figures.delta, "figures": figures,
        "qs": query.query_string(),
    }
    html = ENV.get_template("reports.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=NO_STORE)
