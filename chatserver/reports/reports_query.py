"""What a report asks for: a date range on the desk's wall clock and filters, validated.

`parse(params, today)` turns the query string of `/admin/reports`, `/api/reports` and the CSV
exports into a `ReportQuery`, or raises `BadParameter` naming the parameter at fault. Pure: the
caller passes today's date, so nothing here reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import urlencode

from chatserver.core.errors import BadFrame

DEFAULT_DAYS = 7  # a week: long enough to smooth the weekday rhythm, short enough to act on
MAX_DAYS = 732  # two years, so "this year against last" is still one range
FILTERS = ("agent", "skill", "topic", "language", "label")
# Agent and label ids are numbers; skills, topics and languages are short tokens ("lang:fa").
_IDS = ("agent", "label")
_TOKEN = re.compile(r"^[\w:.\-]{1,64}$")
_AGENT = re.compile(r"^[0-9]{1,12}$")


class BadParameter(BadFrame):
    """A query parameter that is malformed or out of range; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Filters:
    """Narrow a report to one agent's share, or to chats of one skill, topic, language or
    label (a label id: the chats carrying it at the end of their log)."""

    agent: str | None = None
    skill: str | None = None
    topic: str | None = None
    language: str | None = None
    label: str | None = None

    def as_params(self) -> dict[str, str]:
        return {name: value for name in FILTERS if (value := getattr(self, name))}


@dataclass(frozen=True)
class ReportQuery:
    """Whole local days `first` .. `last` (inclusive) and the filters."""

    first: date
    last: date
    filters: Filters = Filters()

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds_ms(self, tz: tzinfo) -> tuple[int, int]:
        """[start, end) in epoch ms: local midnight of `first` to local midnight after `last`."""
        return _midnight_ms(self.first, tz), _midnight_ms(self.last + timedelta(days=1), tz)

    def previous(self) -> ReportQuery:
        """The same number of days just before, for the change tiles."""
        length = timedelta(days=self.days)
        return ReportQuery(self.first - length, self.last - length, self.filters)

    def as_params(self, **override: str) -> dict[str, str]:
        params = {"from": self.first.isoformat(), "to": self.last.isoformat(),
                  **self.filters.as_params()}
        params.update(override)
        return {k: v for k, v in params.items() if v}

    def query_string(self, **override: str) -> str:
        return urlencode(self.as_params(**override))


def _midnight_ms(day: date, tz: tzinfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=tz).timestamp() * 1000)


def _date(params: Mapping[str, str], name: str) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, "not a date; use YYYY-MM-DD") from None


def parse(params: Mapping[str, str], today: date) -> ReportQuery:
    """Validate every parameter; unknown parameters are ignored (links may carry others)."""
    last = _date(params, "to") or today
    first = _date(params, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadParameter("from", "the range starts after it ends")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadParameter("from", f"the range is longer than {MAX_DAYS} days")
    values: dict[str, str | None] = {}
    for name in FILTERS:
        raw = params.get(name, "").strip()
        pattern = _AGENT if name in _IDS else _TOKEN
        if raw and not pattern.match(raw):
            raise BadParameter(name, "not a valid value")
        values[name] = raw or None
    return ReportQuery(first, last, Filters(**values))
