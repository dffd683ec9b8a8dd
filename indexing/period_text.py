"""Which days a phrase about time names: "March", "March 2025", "2025", "Q1 2026", "since January",
"last month", "last 3 months", "from March to June 2025", "2025-03". Used by
:func:`indexing.trends.resolve_period`, which maps the days onto an index's periods.

Relative phrases count back from ``end``, the last day an index holds, not from today's clock. A
month or quarter without a year is the latest one that starts on or before ``end``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

MONTHS = {name: i + 1 for i, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
    ("november", "nov"), ("december", "dec"))) for name in names}
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|" \
         r"jun|jul|aug|sept|sep|oct|nov|dec)\b\.?"
_YEAR = r"((?:19|20)\d{2})\b"
_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1}
_UNITS = {"day": 1, "week": 7, "month": 0, "quarter": 0, "year": 0}


def interval(text: str, start: date, end: date) -> tuple[date, date] | None:
    """The first and last day ``text`` names, or None when it names no time."""
    low = " " + re.sub(r"\s+", " ", text.lower()) + " "
    got = re.search(r"\b(?:from|between)\s+(.+?)\s+(?:to|and|until|till|through|-)\s+(.+?)(?:[?.!,]|\s*$)", low)
    if got:
        right = _point(got.group(2), start, end)
        if right is not None:
            left = _point(got.group(1), start, min(end, right[1]), year_hint=_year_in(got.group(2)))
            if left is not None:
                return left[0], right[1]
    got = re.search(r"\b(?:since|after)\s+(?:the\s+)?(.+)", low)  # "from 2019" alone is 2019
    if got:
        point = _point(got.group(1), start, end)
        if point is not None:
            return (point[0] if "after" not in got.group(0)[:6] else point[1] + timedelta(days=1)), end
    got = re.search(r"\b(?:before|until|till|up to)\s+(.+)", low)
    if got:
        point = _point(got.group(1), start, end)
        if point is not None:
            return start, (point[0] - timedelta(days=1) if "before" in got.group(0)[:7] else point[1])
    relative = _relative(low, end)
    if relative is not None:
        return relative
    return _point(low, start, end)


def _year_in(text: str) -> int | None:
    got = re.search(_YEAR, text)
    return int(got.group(1)) if got else None


def _point(text: str, start: date, end: date, year_hint: int | None = None) -> tuple[date, date] | None:
    """One named period inside ``text``: an ISO date or month, a quarter, a month (with or without its
    year), a year, or a relative phrase."""
    got = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text)
    if got:
        day = date(*(int(g) for g in got.groups()))
        return day, day
    got = re.search(r"\b(\d{4})-(\d{2})\b", text)
    if got and 1 <= int(got.group(2)) <= 12:
        return _month(int(got.group(1)), int(got.group(2)))
    got = re.search(r"\bq([1-4])\s*(?:of\s+)?" + _YEAR, text) or re.search(_YEAR + r"\s*-?\s*q([1-4])\b", text)
    if got:
        a, b = got.groups()
        quarter, year = (int(a), int(b)) if len(a) == 1 else (int(b), int(a))
        return date(year, 3 * quarter - 2, 1), _month(year, 3 * quarter)[1]
    got = re.search(r"\b(?:q([1-4])|(first|second|third|fourth) quarter)\b", text)
    if got:
        quarter = int(got.group(1)) if got.group(1) else ("first", "second", "third", "fourth").index(got.group(2)) + 1
        year = year_hint or _latest_year(3 * quarter - 2, end)
        return date(year, 3 * quarter - 2, 1), _month(year, 3 * quarter)[1]
    got = re.search(r"\b" + _MONTH + r"(?:\s+(?:of\s+)?" + _YEAR + r")?", text)
    if got and got.group(1) == "may" and not got.group(2) and not re.search(r"\b(?:in|since|of|from|until|"
                                                                            r"during)\s+may\b", text):
        got = None  # "may" the verb, not the month
    if got:
        month = MONTHS[got.group(1)]
        year = int(got.group(2)) if got.group(2) else (year_hint or _latest_year(month, end))
        return _month(year, month)
    got = re.search(r"\b" + _YEAR, text)
    if got:
        year = int(got.group(1))
        return date(year, 1, 1), date(year, 12, 31)
    return _relative(" " + text + " ", end)


def _relative(text: str, end: date) -> tuple[date, date] | None:
    """"last month", "this year", "last 3 months", "past two weeks", "recently": counted back from ``end``."""
    got = re.search(r"\b(?:last|past|previous|recent|latest)\s+(\d+|one|two|three|four|five|six|seven|eight|nine|"
                    r"ten|eleven|twelve|a|an)?\s*(day|week|month|quarter|year)s?\b", text)
    if got is None:
        got = re.search(r"\b(?:this|current)\s+(day|week|month|quarter|year)\b", text)
        if got is None:
            return None
        unit, n, current = got.group(1), 1, True
    else:
        unit, current = got.group(2), False
        n = int(got.group(1)) if got.group(1) and got.group(1).isdigit() else _NUMBER.get(got.group(1) or "", 1)
    if unit == "day":
        return end - timedelta(days=n - 1), end
    if unit == "week":
        monday = end - timedelta(days=end.weekday())
        return monday - timedelta(days=7 * (n - 1)), end
    if current or (unit == "quarter" and n == 1):  # the calendar year / quarter / month that holds ``end``
        first_month = {"month": end.month, "quarter": 3 * ((end.month - 1) // 3) + 1, "year": 1}[unit]
        return date(end.year, first_month, 1), end
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n  # the last N calendar months, ``end``'s included
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1), end


def _latest_year(month: int, end: date) -> int:
    return end.year if month <= end.month else end.year - 1


def _month(year: int, month: int) -> tuple[date, date]:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return date(year, month, 1), last
