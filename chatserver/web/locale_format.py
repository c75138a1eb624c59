"""Numbers, days and weekdays as each staff language writes them, for pages drawn on the server.

What the browser's Intl gives the page scripts (static/common.js), without a new dependency:
Persian in Extended Arabic-Indic digits (۱۲٬۳۴۵٫۶ and ۸۵٫۳٪) on the Persian (solar Hijri)
calendar; Arabic and Chinese in Western digits with their own month and weekday names. A sign
before a number gets a left-to-right mark, as ICU writes it, so "−12" stays "−12" in a
right-to-left line. Machine-readable outputs (CSV, JSON) never come through here.
"""

from __future__ import annotations

from datetime import date

LRM = "\u200e"  # keeps a leading sign on the number's left in right-to-left text
_PERSIAN = str.maketrans("0123456789,.%", "۰۱۲۳۴۵۶۷۸۹٬٫٪")
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "ar": ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر",
           "أكتوبر", "نوفمبر", "ديسمبر"),
    # The Persian calendar's months, Farvardin first.
    "fa": ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی",
           "بهمن", "اسفند"),
}
# Monday first, as date.weekday() counts.
_WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "fa": ("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"),
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
}


def localize(language: str, text: str) -> str:
    """English-formatted figures ("1,234.5", "−3", "85%") in `language`'s digits and marks."""
    if language in ("fa", "ar") and text[:1] in "+−":
        text = LRM + text
    return text.translate(_PERSIAN) if language == "fa" else text


def number(language: str, value: float, decimals: int = 0, *, sign: bool = False) -> str:
    """`value` rounded to `decimals`, digits grouped by thousands; `sign` shows + as well."""
    text = f"{value:{'+' if sign else ''},.{decimals}f}".replace("-", "−")
    return localize(language, text)


def percent(language: str, ratio: float, decimals: int = 1, *, sign: bool = False) -> str:
    """0.853 → "85.3%" (Persian "۸۵٫۳٪")."""
    return localize(language, number("en", ratio * 100, decimals, sign=sign) + "%")


def general(language: str, value: float) -> str:
    """A chart tick: as few digits as it needs (2.5, 10, 250)."""
    return localize(language, f"{value:g}")


def persian_date(day: date) -> tuple[int, int, int]:
    """The solar Hijri (Jalali) year, month and day of a Gregorian day: the arithmetic of the
    33-year cycle, which ICU's Persian calendar follows for these centuries."""
    before = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
    gy = day.year + 1 if day.month > 2 else day.year
    days = (355666 + 365 * day.year + (gy + 3) // 4 - (gy + 99) // 100 + (gy + 399) // 400
            + day.day + before[day.month - 1])
    year = -1595 + 33 * (days // 12053)
    days %= 12053
    year += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        year += (days - 1) // 365
        days = (days - 1) % 365
    if days < 186:
        return year, 1 + days // 31, 1 + days % 31
    return year, 7 + (days - 186) // 30, 1 + (days - 186) % 30


def day(language: str, when: date, *, year: bool = True) -> str:
    """A day as the language writes it short: "Mar 4, 2026", "۱۳ اسفند ۱۴۰۴", "4 مارس 2026",
    "2026年3月4日" (without the year: "Mar 4", "۱۳ اسفند", "4 مارس", "3月4日")."""
    if language == "fa":
        y, m, d = persian_date(when)
        text = f"{d} {_MONTHS['fa'][m - 1]}" + (f" {y}" if year else "")
        return text.translate(_PERSIAN)
    if language == "zh":
        return (f"{when.year}年" if year else "") + f"{when.month}月{when.day}日"
    if language == "ar":
        return f"{when.day} {_MONTHS['ar'][when.month - 1]}" + (f" {when.year}" if year else "")
    return f"{_MONTHS['en'][when.month - 1]} {when.day}" + (f", {when.year}" if year else "")


def weekday(language: str, index: int) -> str:
    """Monday (0) to Sunday (6), short where the language has a short form."""
    return _WEEKDAYS.get(language, _WEEKDAYS["en"])[index]
