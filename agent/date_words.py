"""Whether a question names a date, in time linear in the question (the router's rules run on any input).

Which periods a phrase means is the index's job (``indexing.trends.resolve_period``, read against the
index's own dates); the router only needs to know that a phrase names one, to route the question.
"""

from __future__ import annotations

import re

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
MONTH = r"(?:" + "|".join(_MONTHS) + r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?"
_TRAILING = re.compile(r"\b(?:last|past|previous)\s+(?:(\d{1,3}|two|three|four|five|six|twelve)\s+)?"
                       r"(day|week|month|quarter|year)s?\b")
_THIS = re.compile(r"\bthis\s+(week|month|quarter|year)\b")
_MONTH_YEAR = re.compile(r"\b(" + MONTH + r")(?:\s+(?:of\s+)?(\d{4}))?\b")
_QUARTER = re.compile(r"\bq([1-4])\s*(\d{4})?\b")
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")
_ISO = re.compile(r"\b(\d{4})-(\d{2})(?:-(\d{2}))?\b")
_MONTH_CONTEXT = re.compile(r"\b(?:in|since|of|during|from|until|till|before|after|by|last|this|early|late|mid)\s+$")


def _month(text: str) -> re.Match | None:
    """The first month name of ``text``; "may" (and "march") only where they read as a month: with a year,
    or after "in", "since", ... ("may I see" names no month)."""
    for m in _MONTH_YEAR.finditer(text):
        if m[1] in ("may", "march", "mar") and not m[2] and \
                not _MONTH_CONTEXT.search(text[max(0, m.start() - 12): m.start()]):  # a window: linear
            continue
        return m
    return None


def names_date(text: str) -> bool:
    """Whether ``text`` holds a date phrase: "March", "2025", "Q1", "2025-03", "last month", "this year"."""
    q = text.lower()
    return bool(_TRAILING.search(q) or _THIS.search(q) or _month(q) or _YEAR.search(q)
                or _QUARTER.search(q) or _ISO.search(q))
