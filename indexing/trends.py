"""Topics over time and across groups: counts per topic x period and topic x facet value.

Computed once at index time (``indexing.pipeline``) from each document's topic, date and facet
values, and kept in the generation's manifest under ``"trends"`` (:meth:`Trends.as_dict`), so no
question scans the corpus. The period is chosen from the span of the dates
(:func:`indexing.dates.choose_period`). Read back with ``Reader.trends()``.

The functions below are pure: the chat, the app and the command line call them on a
:class:`Trends`. How a change is judged more than noise: see :func:`changes` (and docs/trends.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from topictalk.indexing import dates
from topictalk.indexing.schema import OUTLIER

ALPHA = 0.05  # a change is "more than noise" when its Holm-adjusted p-value is below this
FISHER_BELOW = 5  # Fisher's exact test when any expected cell count of the 2x2 table is below this


@dataclass
class FacetCounts:
    field: str
    values: list[str]  # most documents first
    counts: dict[int, list[int]]  # topic id (incl. -1 outliers if any) -> documents per value, aligned with values
    multi: bool = False  # True: a document may count under several values (list / tag columns)

    def as_dict(self) -> dict:
        return {"field": self.field, "values": list(self.values), "multi": self.multi,
                "counts": {str(k): list(v) for k, v in self.counts.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> FacetCounts:
        return cls(field=data["field"], values=list(data["values"]), multi=bool(data.get("multi", False)),
                   counts={int(k): [int(x) for x in v] for k, v in data.get("counts", {}).items()})

    def totals(self) -> list[int]:
        """Documents per value over all topics (a multi-valued document counts under each of its values)."""
        return [sum(col) for col in zip(*self.counts.values())] if self.counts else [0] * len(self.values)


@dataclass
class Trends:
    date_field: str | None  # the column the dates came from, None when the corpus has none
    period: str | None  # "day" | "week" | "month" | "quarter" | "year", chosen from the span
    periods: list[str]  # period labels in time order, e.g. "2025-03" (month), "2025-W07", "2025", "2025-Q1"
    counts: dict[int, list[int]]  # topic id -> documents per period, aligned with periods
    undated: int = 0  # documents whose date is missing (counted nowhere in counts)
    words: dict[int, list[list[str]]] = field(default_factory=dict)  # topic -> top words per period (same c-TF-IDF)
    facets: dict[str, FacetCounts] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"date_field": self.date_field, "period": self.period, "periods": list(self.periods),
                "counts": {str(k): list(v) for k, v in self.counts.items()}, "undated": self.undated,
                "words": {str(k): v for k, v in self.words.items()},
                "facets": {name: f.as_dict() for name, f in self.facets.items()}}

    @classmethod
    def from_dict(cls, data: dict | None) -> Trends | None:
        if not data:
            return None
        return cls(date_field=data.get("date_field"), period=data.get("period"), periods=list(data.get("periods", [])),
                   counts={int(k): [int(x) for x in v] for k, v in data.get("counts", {}).items()},
                   undated=int(data.get("undated", 0)),
                   words={int(k): [list(w) for w in v] for k, v in data.get("words", {}).items()},
                   facets={name: FacetCounts.from_dict(f) for name, f in data.get("facets", {}).items()})

    @property
    def dated(self) -> bool:
        return bool(self.date_field and self.periods)

    def totals(self) -> list[int]:
        """Dated documents per period, all topics (outliers included)."""
        return [sum(col) for col in zip(*self.counts.values())] if self.counts else [0] * len(self.periods)


# -- building ------------------------------------------------------------------------------------


def count(topics: Sequence[int], when: Sequence[date | None], date_field: str | None, period: str | None,
          facets: dict[str, tuple[list[list[str]], bool]] | None = None) -> Trends:
    """The counts of one index: ``topics`` and ``when`` per document; ``facets`` maps a field to each
    document's values (a list, empty when it has none) and whether the field is multi-valued."""
    topic_ids = sorted(set(int(t) for t in topics))
    known = [d for d in when if d is not None]
    periods: list[str] = []
    counts: dict[int, list[int]] = {}
    if date_field and known and period:
        periods = dates.labels_between(min(known), max(known), period)
        slot = {p: i for i, p in enumerate(periods)}
        counts = {t: [0] * len(periods) for t in topic_ids}
        for t, d in zip(topics, when):
            if d is not None:
                counts[int(t)][slot[dates.label(d, period)]] += 1
    out = Trends(date_field if known else None, period if known else None, periods, counts,
                 undated=sum(d is None for d in when) if known else len(when))
    for name, (values, multi) in (facets or {}).items():
        out.facets[name] = count_facet(name, topics, values, multi)
    return out


def count_facet(name: str, topics: Sequence[int], values: Sequence[Sequence[str]], multi: bool) -> FacetCounts:
    """Documents per topic x value; a document counts once under each of its (distinct) values."""
    totals: dict[str, int] = {}
    for vs in values:
        for v in dict.fromkeys(vs):
            totals[v] = totals.get(v, 0) + 1
    order = sorted(totals, key=lambda v: (-totals[v], v))
    slot = {v: i for i, v in enumerate(order)}
    counts = {t: [0] * len(order) for t in sorted(set(int(t) for t in topics))}
    for t, vs in zip(topics, values):
        for v in dict.fromkeys(vs):
            counts[int(t)][slot[v]] += 1
    return FacetCounts(name, order, counts, multi)


# -- reading -------------------------------------------------------------------------------------


def shares(trends: Trends) -> dict[int, list[float]]:
    """Each topic's share of each period's dated documents (0.0 in a period without documents)."""
    totals = trends.totals()
    return {t: [c / n if n else 0.0 for c, n in zip(row, totals)] for t, row in trends.counts.items()}


@dataclass
class Change:
    """How one topic moved between an earlier span and a later one."""

    topic: int
    first: tuple[str, str]  # the earlier span's first and last period
    last: tuple[str, str]  # the later span's
    first_count: int  # the topic's documents in the earlier span
    first_total: int  # all dated documents in the earlier span
    last_count: int
    last_total: int
    first_share: float
    last_share: float
    delta: float  # last_share - first_share
    test: str  # "fisher" (a small count) or "z" (two-proportion z-test)
    p_value: float
    p_adjusted: float  # Holm-adjusted over the topics compared
    significant: bool  # p_adjusted < ALPHA: more than noise

    @property
    def direction(self) -> str:
        if not self.significant:
            return "steady"
        return "grew" if self.delta > 0 else "shrank"

    def as_dict(self) -> dict:
        return {**{k: v for k, v in vars(self).items()}, "first": list(self.first), "last": list(self.last),
                "direction": self.direction}


Span = str | tuple[str, str] | None


def span(trends: Trends, value: Span) -> tuple[int, int] | None:
    """Indices (inclusive) of a span: a period label, ``"A..B"``, or a (first, last) pair of labels."""
    if value is None:
        return None
    if isinstance(value, tuple):
        first, last = value
    elif ".." in value:
        first, last = value.split("..", 1)
    else:
        first = last = value
    if first not in trends.periods or last not in trends.periods:
        raise ValueError(f"no period {first if first not in trends.periods else last!r} in this index "
                         f"(periods {trends.periods[0]} to {trends.periods[-1]})")
    a, b = trends.periods.index(first), trends.periods.index(last)
    return (min(a, b), max(a, b))


def changes(trends: Trends, first: Span = None, last: Span = None) -> list[Change]:
    """Every topic (not the outlier bin) compared between two spans, biggest growth first, biggest fall last.

    A span is a period label, ``"A..B"`` or a (first, last) pair. Defaults: ``last`` is the periods
    after ``first`` when only ``first`` is given, else the final third of the periods (at least one);
    ``first`` is every period before ``last``. Each topic's share of
    the dated documents in the two spans is compared by Fisher's exact test when any expected count of
    the 2x2 table (topic / other topics x first / last span) is below 5, else by the two-proportion
    z-test; the p-values are Holm-adjusted over the topics compared, and a change is significant (more
    than noise) when the adjusted p-value is below 0.05.
    """
    n = len(trends.periods)
    if n < 2 or not trends.counts:
        return []
    a = span(trends, first)
    b = span(trends, last) or ((a[1] + 1, n - 1) if a is not None and a[1] < n - 1 else (n - max(1, n // 3), n - 1))
    a = a or ((0, b[0] - 1) if b[0] > 0 else None)
    if a is None:
        return []
    totals = trends.totals()
    first_total, last_total = sum(totals[a[0]:a[1] + 1]), sum(totals[b[0]:b[1] + 1])
    rows = []
    for topic, row in trends.counts.items():
        if topic == OUTLIER:
            continue
        x1, x2 = sum(row[a[0]:a[1] + 1]), sum(row[b[0]:b[1] + 1])
        test, p = two_proportions(x1, first_total, x2, last_total)
        s1 = x1 / first_total if first_total else 0.0
        s2 = x2 / last_total if last_total else 0.0
        rows.append([topic, x1, x2, s1, s2, test, p])
    adjusted = holm([r[6] for r in rows])
    out = [Change(topic, (trends.periods[a[0]], trends.periods[a[1]]), (trends.periods[b[0]], trends.periods[b[1]]),
                  x1, first_total, x2, last_total, round(s1, 6), round(s2, 6), round(s2 - s1, 6), test, p, q,
                  q < ALPHA)
           for (topic, x1, x2, s1, s2, test, p), q in zip(rows, adjusted)]
    return sorted(out, key=lambda c: (-c.delta, c.topic))


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> tuple[str, float]:
    """("fisher" | "z", two-sided p-value) for x1 of n1 against x2 of n2."""
    if not n1 or not n2:
        return "none", 1.0
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    total = n1 + n2
    column = x1 + x2
    expected = [n1 * column / total, n1 * (total - column) / total, n2 * column / total, n2 * (total - column) / total]
    if min(expected) < FISHER_BELOW:
        from scipy.stats import fisher_exact

        return "fisher", float(fisher_exact(table)[1])
    from math import sqrt

    from scipy.stats import norm

    pooled = column / total
    se = sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return "z", 1.0
    z = (x2 / n2 - x1 / n1) / se
    return "z", float(2 * norm.sf(abs(z)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: controls the chance of any false "more than noise" among the topics."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def resolve_period(trends: Trends, text: str, today: date | None = None) -> tuple[str, str] | None:
    """The span of this index's periods a phrase names ("March", "March 2025", "2025", "Q1 2026", "since
    January", "last month", "last 3 months", "from March to June 2025"), or None when it names none the
    index holds. Relative phrases count back from the index's latest date, not from today: a corpus is a
    snapshot, and "last month" of a corpus that ends in July is July."""
    from topictalk.indexing.period_text import interval

    if not trends.dated:
        return None
    start, end = dates.bounds(trends.periods[0])[0], dates.bounds(trends.periods[-1])[1]
    got = interval(text, start, end)
    if got is None:
        return None
    lo, hi = got
    inside = [p for p in trends.periods if dates.bounds(p)[1] >= lo and dates.bounds(p)[0] <= hi]
    return (inside[0], inside[-1]) if inside else None


# -- BERTopic's shapes ---------------------------------------------------------------------------


def _names(topics: Iterable) -> tuple[dict[int, str], dict[int, list[str]]]:
    names, words = {}, {}
    for t in topics or []:
        names[t.id] = t.label or f"{t.id}_" + "_".join(t.keywords[:4])
        words[t.id] = list(t.keywords)
    return names, words


def topics_over_time(trends: Trends, topics: Iterable = ()):
    """BERTopic's ``topics_over_time`` table: Topic, Words, Frequency, Timestamp (the period's first day),
    Name; a row per topic and period with documents. Words are the topic's words in that period, or its
    keywords where the period had too few documents for words of its own."""
    import pandas as pd

    names, keywords = _names(topics)
    rows = []
    for topic, row in sorted(trends.counts.items()):
        per = trends.words.get(topic, [])
        for i, (label, n) in enumerate(zip(trends.periods, row)):
            if n:
                words = per[i] if i < len(per) and per[i] else keywords.get(topic, [])[:5]
                rows.append({"Topic": topic, "Words": ", ".join(words), "Frequency": n,
                             "Timestamp": pd.Timestamp(dates.bounds(label)[0]), "Name": names.get(topic, str(topic))})
    return pd.DataFrame(rows, columns=["Topic", "Words", "Frequency", "Timestamp", "Name"])


def topics_per_class(facet: FacetCounts, topics: Iterable = ()):
    """BERTopic's ``topics_per_class`` table: Topic, Words (the topic's keywords), Frequency, Class, Name;
    a row per topic and value with documents."""
    import pandas as pd

    names, keywords = _names(topics)
    rows = [{"Topic": topic, "Words": ", ".join(keywords.get(topic, [])[:5]), "Frequency": n, "Class": value,
             "Name": names.get(topic, str(topic))}
            for topic, row in sorted(facet.counts.items()) for value, n in zip(facet.values, row) if n]
    return pd.DataFrame(rows, columns=["Topic", "Words", "Frequency", "Class", "Name"])


def rebin(trends: Trends, period: str) -> Trends:
    """The same counts in a coarser period (days -> weeks/months/..., months -> quarters/years); the
    per-period words are dropped (they were computed for the stored period). Raises ValueError for a
    finer period, or weeks -> months, which labels cannot split."""
    if not trends.dated or period == trends.period:
        return trends
    have = dates.PERIODS.index(trends.period)
    if period not in dates.PERIODS or dates.PERIODS.index(period) < have or (trends.period == "week" and period != "year"):
        coarser = [p for p in dates.PERIODS[have:] if trends.period != "week" or p in ("week", "year")]
        raise ValueError(f"this index counts by {trends.period}: use --period {' or '.join(coarser)}")
    start = dates.bounds(trends.periods[0])[0]
    end = dates.bounds(trends.periods[-1])[1] if trends.period != "week" else dates.bounds(trends.periods[-1])[0]
    labels = dates.labels_between(start, end, period)
    slot = {p: i for i, p in enumerate(labels)}

    def target(label: str) -> str:
        first = dates.bounds(label)[0]
        if trends.period == "week":  # a week belongs to the year of its Thursday, as ISO weeks do
            return str(date.fromisocalendar(first.isocalendar()[0], first.isocalendar()[1], 4).year)
        return dates.label(first, period)

    counts = {t: [0] * len(labels) for t in trends.counts}
    for i, label in enumerate(trends.periods):
        j = slot[target(label)]
        for t, row in trends.counts.items():
            counts[t][j] += row[i]
    return Trends(trends.date_field, period, labels, counts, trends.undated, {}, trends.facets)
