"""Server-drawn SVG charts: bars, lines and a histogram, accessible and script-free.

Each chart is one `<svg role="img">` with a `<title>` and `<desc>` (the numbers in words, for
screen readers), labelled axes, and a `<title>` per mark for the hover tooltip. Every text is
escaped here; colours come from classes styled in reports.css with app.css's palette. The
caller gives every word and number format in the reader's language (`Words`); the charts'
own few words default to English.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import count

from markupsafe import Markup

W, H = 560, 220  # viewBox; the SVG scales to its card's width
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 26, 30  # room for axis titles above, ticks below
_ids = count(1)
Fmt = Callable[[float], str]


def _plain(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Words:
    """What a chart says besides its data: its numbers' digits and its own few words."""

    number: Fmt = _plain  # ticks and counts
    no_data: str = "No conversations in this range"
    no_data_desc: str = "No data in this range."
    target: str = "Target {value}"
    online: str = "online"


ENGLISH = Words()


@dataclass(frozen=True)
class Point:
    label: str  # the x label ("09", "May 4")
    value: float | None
    note: str = ""  # tooltip detail


def _nice_max(v: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above v, for round gridlines."""
    if v <= 0:
        return 1.0
    k = 1.0
    while k * 10 < v:
        k *= 10
    while k > v * 10:
        k /= 10
    for m in (1, 2, 2.5, 5, 10):
        if k * m >= v:
            return k * m
    return k * 10


def _frame(title: str, desc: str, body: list[str]) -> Markup:
    n = next(_ids)
    return Markup(  # noqa: S704  # every text inside went through escape()
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="chart-t{n} chart-d{n}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}'
        f'</desc>{"".join(body)}</svg>')


def _axis(top: float, fmt: Fmt, side: str, label: str) -> list[str]:
    """Four gridlines from 0 to `top` with their values on one side, and the axis title."""
    out = []
    x_text, anchor = (LEFT - 6, "end") if side == "left" else (W - RIGHT + 6, "start")
    for i in range(5):
        v = top * i / 4
        y = TOP + (H - TOP - BOTTOM) * (1 - i / 4)
        if side == "left":
            out.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" '
                       f'y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{x_text}" y="{y + 4:.1f}" text-anchor="{anchor}">'
                   f'{escape(fmt(v))}</text>')
    x = 12 if side == "left" else W - 8
    out.append(f'<text class="axis-title axis-{side}" x="{x}" y="11" '
               f'text-anchor="{"start" if side == "left" else "end"}">{escape(label)}</text>')
    return out


def _x_labels(points: Sequence[Point], every: int) -> list[str]:
    step = (W - LEFT - RIGHT) / max(1, len(points))
    return [f'<text class="tick" x="{LEFT + step * (i + 0.5):.1f}" y="{H - BOTTOM + 15}" '
            f'text-anchor="middle">{escape(p.label)}</text>'
            for i, p in enumerate(points) if i % every == 0]


def _y(value: float, top: float) -> float:
    return TOP + (H - TOP - BOTTOM) * (1 - min(value, top) / top)


def _line(points: Sequence[Point], top: float, fmt: Fmt, cls: str, name: str,
          dots: bool = True) -> list[str]:
    step = (W - LEFT - RIGHT) / max(1, len(points))
    out: list[str] = []
    run: list[str] = []
    for i, p in enumerate(points):
        if p.value is None:  # no data is a gap, not a zero
            if len(run) > 1:
                out.append(f'<polyline class="{cls}" points="{" ".join(run)}"/>')
            run = []
            continue
        x, y = LEFT + step * (i + 0.5), _y(p.value, top)
        run.append(f"{x:.1f},{y:.1f}")
        if not dots:  # too many points to mark each (the week's 168 hours)
            continue
        tip = f"{p.label}: {name} {fmt(p.value)}{(' · ' + p.note) if p.note else ''}"
        out.append(f'<circle class="{cls.replace("line", "dot")}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                   f'<title>{escape(tip)}</title></circle>')
    if len(run) > 1:
        out.insert(0, f'<polyline class="{cls}" points="{" ".join(run)}"/>')
    return out


def _bars(points: Sequence[Point], top: float, fmt: Fmt, name: str) -> list[str]:
    step = (W - LEFT - RIGHT) / max(1, len(points))
    width = max(1.0, step * 0.72)
    out = []
    for i, p in enumerate(points):
        v = p.value or 0
        y = _y(v, top)
        tip = f"{p.label}: {fmt(v)} {name}{(' · ' + p.note) if p.note else ''}"
        out.append(f'<rect class="bar" x="{LEFT + step * i + (step - width) / 2:.1f}" '
                   f'y="{y:.1f}" width="{width:.1f}" height="{H - BOTTOM - y:.1f}" rx="2">'
                   f'<title>{escape(tip)}</title></rect>')
    return out


def empty(title: str, words: Words = ENGLISH) -> Markup:
    return _frame(title, words.no_data_desc, [
        f'<text class="empty" x="{W / 2}" y="{H / 2}" text-anchor="middle">'
        f'{escape(words.no_data)}</text>'])


def bars_and_line(title: str, bars: Sequence[Point], bar_name: str, line: Sequence[Point],
                  line_name: str, line_fmt: Fmt, every: int = 1,
                  words: Words = ENGLISH) -> Markup:
    """Counts as bars on the left axis, a second measure as a line on the right axis."""
    if not any(p.value for p in bars):
        return empty(title, words)
    bar_top = _nice_max(max(p.value or 0 for p in bars))
    line_top = _nice_max(max((p.value for p in line if p.value is not None), default=1))
    desc = "; ".join(f"{b.label}: {words.number(b.value or 0)} {bar_name}"
                     + (f", {line_name} {line_fmt(p.value)}" if p.value is not None else "")
                     for b, p in zip(bars, line, strict=True))
    body = [*_axis(bar_top, words.number, "left", bar_name),
            *_axis(line_top, line_fmt, "right", line_name),
            *_bars(bars, bar_top, words.number, bar_name),
            *_line(line, line_top, line_fmt, "line line-2", line_name),
            *_x_labels(bars, every)]
    return _frame(title, desc, body)


def lines(title: str, points: Sequence[Point], name: str, fmt: Fmt, *, top: float = 1.0,
          target: float | None = None, every: int = 1, words: Words = ENGLISH) -> Markup:
    """One measure over time on a fixed scale (rates: 0..1), with an optional target line."""
    if all(p.value is None for p in points):
        return empty(title, words)
    desc = "; ".join(f"{p.label}: {fmt(p.value)}" for p in points if p.value is not None)
    body = [*_axis(top, fmt, "left", name)]
    if target is not None:
        y = _y(target, top)
        body.append(f'<line class="target" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" '
                    f'y2="{y:.1f}"><title>{escape(words.target.format(value=fmt(target)))}</title>'
                    '</line>')
    body += [*_line(points, top, fmt, "line", name), *_x_labels(points, every)]
    return _frame(title, desc, body)


def histogram(title: str, points: Sequence[Point], name: str,
              words: Words = ENGLISH) -> Markup:
    if not any(p.value for p in points):
        return empty(title, words)
    top = _nice_max(max(p.value or 0 for p in points))
    desc = "; ".join(f"{p.label}: {words.number(p.value or 0)}" for p in points)
    body = [*_axis(top, words.number, "left", name),
            *_bars(points, top, words.number, name), *_x_labels(points, 1)]
    return _frame(title, desc, body)


def staffing(title: str, online: Sequence[Point], needed: Sequence[tuple[str, Sequence[Point]]],
             every: int = 24, axis: str = "agents", words: Words = ENGLISH) -> Markup:
    """Agents online as bars and the agents each model says are needed as lines, one axis."""
    values = [p.value for p in online] + [p.value for _, pts in needed for p in pts]
    if not any(values):
        return empty(title, words)
    top = _nice_max(max(v for v in values if v is not None))
    agents = words.number
    desc = "; ".join(
        f"{p.label}: {agents(p.value or 0)} {words.online}" + "".join(
            f", {name} {agents(pts[i].value)}" for name, pts in needed
            if pts[i].value is not None)
        for i, p in enumerate(online) if p.value or any(pts[i].value for _, pts in needed))
    body = [*_axis(top, agents, "left", axis), *_bars(online, top, agents, words.online)]
    for n, (name, pts) in enumerate(needed, 2):
        body += _line(pts, top, agents, f"line line-{n}", name, dots=False)
    body += _x_labels(online, every)
    return _frame(title, desc, body)
