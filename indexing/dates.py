"""Dates in a corpus column, read without guessing, and the periods they are counted in.

A value parses when it is an ISO date or datetime (``2025-03-04``, ``2025-03-04T10:00:00Z``,
``2025/03/04``), a month (``2025-03``), a year (``2025``, or a whole number 1000-2999), a
date object (Parquet, pandas), or, only in a column named like a timestamp
(:func:`timestamp_name`), unix seconds or milliseconds. A day/month date (``03/04/2025``) is
read only when every value of the column shows its order by itself (a part above 12, or day
equal to month): one ``03/04/2025`` whose order nothing settles makes the column unreadable,
as the whole column is one format. Each value keeps its precision (day, month or year), and
the period of a column is never finer than its coarsest value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

PERIODS = ("day", "week", "month", "quarter", "year")
PRECISION = {"day": 0, "month": 2, "year": 4}  # index into PERIODS: the finest period a value allows

_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ].*)?$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR = re.compile(r"^(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def timestamp_name(name: str) -> bool:
    """A column whose whole numbers may be unix times: created_at, timestamp, epoch, unix_time, *_ts."""
    low = name.lower()
    return any(w in low for w in ("timestamp", "epoch", "unix")) or low.endswith(("_ts", "_at"))


@dataclass
class Parsed:
    """A column's values as dates: ``None`` where a value is empty; what did not parse, counted."""

    dates: list[date | None]
    precision: str  # "day", "month" or "year": the coarsest of its values
    failed: int  # non-empty values that are not dates
    example: str = ""  # one value that failed, or why the column cannot be read
    ambiguous: bool = False  # day/month dates whose order the values do not settle


def parse_column(values: list[object], name: str) -> Parsed:
    """Every value of one column as a date (see the module docstring)."""
    numbers_ok = timestamp_name(name)
    dates: list[date | None] = []
    precisions: set[str] = set()
    slashed: list[tuple[int, int, int, int]] = []  # (row, a, b, year) for day/month dates
    failed, example = 0, ""
    for row, value in enumerate(values):
        got = _one(value, numbers_ok, name)
        if got is None:
            dates.append(None)
            continue
        if isinstance(got, tuple) and got[0] == "slashed":
            dates.append(None)
            slashed.append((row, *got[1:]))
            continue
        if got == "bad":
            failed += 1
            example = example or str(value)[:40]
            dates.append(None)
            continue
        dates.append(got[0])
        precisions.add(got[1])
    ambiguous = False
    if slashed:
        day_first = any(a > 12 for _, a, _, _ in slashed)
        month_first = any(b > 12 for _, _, b, _ in slashed)
        unsettled = [s for s in slashed if s[1] <= 12 and s[2] <= 12 and s[1] != s[2]]
        if unsettled or (day_first and month_first):  # one column, one format: no order fits every value
            ambiguous = bool(unsettled)
            failed += len(slashed)
            bad = unsettled[0] if unsettled else slashed[0]
            example = example or f"{bad[1]:02d}/{bad[2]:02d}/{bad[3]}"
        else:
            for row, a, b, year in slashed:
                day, month = (b, a) if month_first else (a, b)
                try:
                    dates[row] = date(year, month, day)
                    precisions.add("day")
                except ValueError:
                    failed += 1
                    example = example or f"{a}/{b}/{year}"
    coarsest = max(precisions, key=lambda p: PRECISION[p]) if precisions else "day"
    return Parsed(dates, coarsest, failed, example, ambiguous)


def _one(value: object, numbers_ok: bool, name: str):
    """(date, precision), ("slashed", a, b, year), "bad", or None for an empty value."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, datetime):
        return (value.date(), "day")
    if isinstance(value, date):
        return (value, "day")
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp (NaT is caught as empty by its != itself)
        try:
            if value != value:
                return None
            return (value.to_pydatetime().date(), "day")
        except (TypeError, ValueError):
            return "bad"
    if isinstance(value, bool):
        return "bad"
    if isinstance(value, (int, float)) or type(value).__name__.startswith(("int", "float")):
        number = float(value)
        if number.is_integer() and 1000 <= number <= 2999 and not numbers_ok:
            return (date(int(number), 1, 1), "year")
        if numbers_ok:
            seconds = number / 1000 if number > 1e11 else number
            if 1e8 <= seconds <= 4.2e9:  # 1973 to 2103: a number outside is not a unix time
                return (datetime.fromtimestamp(seconds, tz=timezone.utc).date(), "day")
        return "bad"
    text = str(value).strip()
    if not text:
        return None
    for pattern, precision in ((_ISO, "day"), (_MONTH, "month"), (_YEAR, "year")):
        got = pattern.match(text)
        if got:
            parts = [int(p) for p in got.groups()] + [1] * (3 - len(got.groups()))
            if precision == "year" and numbers_ok and not name.lower().endswith("year"):
                return "bad"  # a 4-digit "timestamp" is no year
            try:
                return (date(parts[0], parts[1], parts[2]), precision)
            except ValueError:
                return "bad"
    got = _SLASHED.match(text)
    if got:
        a, b, year = (int(p) for p in got.groups())
        return ("slashed", a, b, year)
    if numbers_ok and re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return _one(float(text), True, name)
    return "bad"


def choose_period(dates: list[date], precision: str = "day") -> str:
    """The period of a span: days under ~2 months, weeks under ~6, months under ~4 years, quarters under
    ~10 years, years beyond; never finer than the values' precision. The span is the 1st to 99th
    percentile of the dates (from 100 dates on), so a stray date decades off does not choose years."""
    ordered = sorted(dates)
    if not ordered:
        return "year"
    cut = len(ordered) // 100 if len(ordered) >= 100 else 0
    span = (ordered[len(ordered) - 1 - cut] - ordered[cut]).days
    period = ("day" if span < 62 else "week" if span < 183 else "month" if span < 4 * 365
              else "quarter" if span < 10 * 365 else "year")
    return PERIODS[max(PERIODS.index(period), PRECISION[precision])]


def label(day: date, period: str) -> str:
    """The period a date falls in: 2025-03-04, 2025-W10 (ISO week), 2025-03, 2025-Q1, 2025."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def bounds(text: str) -> tuple[date, date]:
    """The first and last day of a period label (any of :func:`label`'s forms)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = date.fromisoformat(text)
        return day, day
    got = re.fullmatch(r"(\d{4})-W(\d{2})", text)
    if got:
        start = date.fromisocalendar(int(got.group(1)), int(got.group(2)), 1)
        return start, start + timedelta(days=6)
    got = re.fullmatch(r"(\d{4})-Q([1-4])", text)
    if got:
        year, quarter = int(got.group(1)), int(got.group(2))
        return date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter)
    got = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if got:
        year, month = int(got.group(1)), int(got.group(2))
        return date(year, month, 1), _month_end(year, month)
    year = int(text)
    return date(year, 1, 1), date(year, 12, 31)


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))


def period_of(text: str) -> str:
    """Which period a label names."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return "day"
    if "-W" in text:
        return "week"
    if "-Q" in text:
        return "quarter"
    return "month" if "-" in text else "year"


def labels_between(first: date, last: date, period: str) -> list[str]:
    """Every period label from the one holding ``first`` to the one holding ``last``, in order (empty
    periods included: a time axis without gaps)."""
    out: list[str] = []
    step = {"day": 1, "week": 7}.get(period, 28)
    day = first
    while day <= last + timedelta(days=step):
        name = label(min(day, last) if day > last else day, period)
        if not out or out[-1] != name:
            out.append(name)
        if day > last:
            break
        day += timedelta(days=step)
    return out
