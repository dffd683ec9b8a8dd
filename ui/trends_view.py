"""The Trends view: topic shares over time, and the map filtered to one period or one group.

The chart stacks each theme's share of the documents of each period (every
theme's topics summed), with the documents that fit no topic on top, so a
column adds up to all the period's dated documents; choosing a theme shows its
topics instead. Every number comes from the counts the index stored with its
generation (``indexing.trends``): nothing here scans the corpus.

The map filter marks each map point with its period and facet values once,
at start, and draws the points of the chosen one over a grey backdrop of the
rest (``ui.map.figure``'s ``only``).

Only built for an index with trends; an index without dates or facets gets a
plain line saying how to add them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from topictalk.indexing.schema import OUTLIER, Theme, Topic, biggest_first
from topictalk.indexing.trends import Trends
from topictalk.ui import map as map_mod
from topictalk.ui.markup import safe_markdown

ALL = "all"  # the value of "every theme" and of "every document"
NO_THEME = -2  # the series of topics that belong to no theme (an index written before themes, a stray topic)
MAX_SERIES = 20  # topics drawn one by one without themes; the rest are summed in one series
NO_DATES = ("This index has groups but no dates, so there is no chart over time. To add one, index the corpus "
            "again naming its date column: `topictalk index --input FILE --date-field published` (a column called "
            "date, published, created_at, year ... is found by itself).")
FIGURES_KEPT = 16  # filtered maps kept per app (each is the map's whole JSON); a period's map is drawn once


@dataclass(frozen=True)
class Series:
    """One band of the chart: documents of each period, and their share of the period's documents."""

    key: int  # a theme or topic id; OUTLIER for the documents of no topic, NO_THEME for topics of no theme
    name: str
    counts: list[int]
    shares: list[float]
    color: str
    words: list[str] = field(default_factory=list)  # a topic's own words in each period ("" where it has none)


def _series(key: int, name: str, counts: Sequence[int], totals: Sequence[int], color: str,
            words: Sequence[Sequence[str]] = ()) -> Series:
    counts = [int(n) for n in counts]
    said = [", ".join(words[i][:5]) if i < len(words) else "" for i in range(len(counts))] if words else []
    return Series(key, name, counts, [n / t if t else 0.0 for n, t in zip(counts, totals)], color, said)


def _topic_series(t: int, labels: dict[int, str], trends: Trends, counts: dict[int, list[int]],
                  totals: Sequence[int], palette: list[str]) -> Series:
    return _series(t, f"{t}: {labels.get(t, '')}", counts[t], totals, palette[t % len(palette)], trends.words.get(t, []))


def _summed(rows: list[Sequence[int]], periods: int) -> list[int]:
    return [int(sum(r[i] for r in rows)) for i in range(periods)]


def _palette() -> list[str]:
    import plotly.colors

    # the map's colors: a theme is the same color on the map and in the chart
    return plotly.colors.qualitative.Dark24 + plotly.colors.qualitative.Light24


def series(trends: Trends, topics: Sequence[Topic], themes: Sequence[Theme], theme: int | None = None) -> list[Series]:
    """The chart's bands, biggest first: every theme's (its topics' counts summed), then topics of no theme
    and outliers; or, for one ``theme``, each of its topics. Without themes, the biggest topics one by one
    and the rest summed."""
    n = len(trends.periods)
    counts = {int(t): list(row) for t, row in trends.counts.items()}
    totals = trends.totals()  # a share's denominator, as indexing.trends.shares has it: outliers included
    palette = _palette()
    by_theme: dict[int, list[int]] = {}
    for t in topics:
        if not t.is_outlier and t.id in counts:
            by_theme.setdefault(t.theme if t.theme is not None and themes else NO_THEME, []).append(t.id)
    labels = {t.id: t.label for t in topics}
    out: list[Series] = []
    if theme is not None:  # one theme's topics
        for t in by_theme.get(theme, []):
            out.append(_topic_series(t, labels, trends, counts, totals, palette))
        return sorted(out, key=lambda s: (-sum(s.counts), s.key))
    if themes:
        for th in biggest_first(themes):
            members = by_theme.get(th.id, [])
            if members:
                out.append(_series(th.id, th.label, _summed([counts[t] for t in members], n), totals,
                                   palette[th.id % len(palette)]))
        loose = by_theme.get(NO_THEME, [])
        if loose:
            out.append(_series(NO_THEME, "topics of no theme", _summed([counts[t] for t in loose], n), totals, "#9CA3AF"))
    else:
        ranked = sorted(by_theme.get(NO_THEME, []), key=lambda t: (-sum(counts[t]), t))
        for t in ranked[:MAX_SERIES]:
            out.append(_topic_series(t, labels, trends, counts, totals, palette))
        if ranked[MAX_SERIES:]:
            rest = len(ranked) - MAX_SERIES
            out.append(_series(NO_THEME, f"{rest} smaller topic{'s' if rest > 1 else ''}",
                               _summed([counts[t] for t in ranked[MAX_SERIES:]], n), totals, "#9CA3AF"))
    if any(counts.get(OUTLIER, [])):
        out.append(_series(OUTLIER, "no topic (outliers)", counts[OUTLIER], totals, map_mod.OUTLIER_COLOR))
    return out


def chart(trends: Trends, topics: Sequence[Topic], themes: Sequence[Theme], theme: int | None = None):
    """A stacked area chart of ``series`` over the periods; hovering a band gives its count and share (and
    a topic's own words in that period, BERTopic's topics_over_time hover)."""
    import plotly.graph_objects as go

    bands = series(trends, topics, themes, theme)
    totals = trends.totals()
    fig = go.Figure()
    for s in bands:
        fig.add_trace(go.Scatter(
            x=list(trends.periods), y=s.shares, name=map_mod._plain(map_mod._short(s.name, 40)),
            mode="lines+markers",  # a marker per period: an index of one period still shows its values
            stackgroup="one", line={"width": 0.8, "color": s.color}, marker={"size": 4},
            customdata=[[c, t, map_mod._plain(w)] for c, t, w in zip(s.counts, totals, s.words or [""] * len(totals))],
            hovertemplate=f"<b>{map_mod._plain(map_mod._short(s.name, 60))}</b><br>%{{x}}: "
                          "%{customdata[0]:,} of %{customdata[1]:,} documents (%{y:.1%})"
                          + ("<br><i>%{customdata[2]}</i>" if any(s.words) else "") + "<extra></extra>"))
    chosen = next((t for t in themes if t.id == theme), None)
    what = (f"Topics of the theme {map_mod._plain(map_mod._short(chosen.label, 60))}" if chosen is not None
            else "Themes" if themes else "Topics")
    period = f" per {trends.period}" if trends.period else ""
    fig.update_layout(
        title={"text": f"{what}: share of the documents{period}", "x": 0, "xanchor": "left", "font": {"size": 14}},
        template="simple_white", height=520, margin={"l": 10, "r": 30, "t": 50, "b": 10},
        yaxis={"tickformat": ".0%", "title": None}, xaxis={"type": "category", "title": None},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.12, "yanchor": "top", "font": {"size": 11}},
        modebar={"orientation": "v"}, hovermode="closest", hoverlabel={"bgcolor": "white"},
    )
    return fig


def theme_choices(trends: Trends, topics: Sequence[Topic], themes: Sequence[Theme]) -> list[tuple[str, str]]:
    """The theme dropdown: every theme, then each theme that has topics with counts, biggest first."""
    having = {t.theme for t in topics if not t.is_outlier and t.id in trends.counts}
    return [("All themes", ALL)] + [(th.label, str(th.id)) for th in biggest_first(themes) if th.id in having]


# -- the map filter ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """Which map points each period and each facet value holds (indexes into the map's points)."""

    options: list[tuple[str, str]]  # (what the dropdown shows, its value), "every document" first
    points: dict[str, np.ndarray] = field(repr=False)  # value -> point indexes

    def mask(self, value: str, n: int) -> np.ndarray | None:
        """The points of ``value`` as a mask over ``n`` points; None for every document (or a value not
        offered)."""
        chosen = self.points.get(value)
        if chosen is None:
            return None
        mask = np.zeros(n, dtype=bool)
        mask[chosen] = True
        return mask

    def name(self, value: str) -> str:
        return next((label for label, v in self.options if v == value), "")


def period_value(label: str) -> str:
    return f"period:{label}"


def facet_value(field_name: str, value: str) -> str:
    return f"facet:{field_name}:{value}"


def filters(trends: Trends, periods: Sequence[str | None], fields: Sequence[dict]) -> Filters:
    """The filter's options and points from each map point's period (None: undated) and facet values
    (``fields``: per point, field -> a value or a list of values). Only periods and values the index
    counted are offered, in its order."""
    where: dict[str, list[int]] = {}
    for i, p in enumerate(periods):
        if p is not None:
            where.setdefault(period_value(p), []).append(i)
    facets = trends.facets
    for i, values in enumerate(fields):
        for name in facets:
            got = (values or {}).get(name)
            for v in (got if isinstance(got, list) else [got] if got not in (None, "") else []):
                where.setdefault(facet_value(name, str(v)), []).append(i)
    options = [("Every document", ALL)]
    options += [(f"{trends.period or 'period'} {p}", period_value(p)) for p in trends.periods
                if period_value(p) in where]
    for name, facet in facets.items():
        options += [(f"{name}: {v}", facet_value(name, v)) for v in facet.values if facet_value(name, v) in where]
    offered = {v for _, v in options}
    return Filters(options, {k: np.asarray(v, dtype=np.int64) for k, v in where.items() if k in offered})


def point_values(reader, coords: dict) -> tuple[list[str | None], list[dict]]:
    """Each map point's period and facet values, in the order of ``coords`` (``Reader.coordinates()``):
    from the coordinates where the index keeps them there, else from the documents' records."""
    ids = coords["ids"]
    if "period" in coords:
        fields = coords.get("fields")
        return list(coords["period"]), list(fields) if fields is not None else [{} for _ in ids]
    by_id = {d.id: d for d in reader.all_documents()}
    docs = [by_id.get(i) for i in ids]
    return [d.period if d is not None else None for d in docs], [d.fields if d is not None else {} for d in docs]


# -- the view -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrendsView:
    """What the Trends tab and the map filter draw from, read once when the app starts."""

    trends: Trends
    topics: list[Topic]
    themes: list[Theme]
    filters: Filters

    @classmethod
    def load(cls, index, coords: dict) -> TrendsView | None:
        """The view of ``index`` whose map points are ``coords``, or None when it has no trends."""
        read = getattr(index.reader, "trends", None)  # a reader of another kind (a test's, a remote one) may lack it
        trends = read() if read is not None else None
        if trends is None or not (trends.periods or trends.facets):
            return None
        periods, fields = point_values(index.reader, coords)
        return cls(trends, list(index.topics), list(index.themes), filters(trends, periods, fields))

    def chart(self, theme: str = ALL):
        """The chart for the dropdown's ``theme`` (ALL, or a theme id as text)."""
        chosen = int(theme) if theme not in (None, "", ALL) and str(theme).lstrip("-").isdigit() else None
        if chosen is not None and chosen not in {t.id for t in self.themes}:
            chosen = None  # a value the dropdown never offered: the overview
        return chart(self.trends, self.topics, self.themes, chosen)

    def summary(self) -> str:
        """A line over the chart: what dated the documents, the span, the groups. Names from the corpus
        are escaped like document text (a column may be called anything)."""
        t = self.trends
        parts = []
        if t.periods:
            undated = f"; {t.undated:,} have no date" if t.undated else ""
            parts.append(f"{sum(t.totals()):,} documents dated by their field “{safe_markdown(t.date_field or '')}”, "
                         f"per {t.period}, {t.periods[0]} to {t.periods[-1]}{undated}.")
        if t.facets:
            groups = ", ".join(f"“{safe_markdown(name)}” ({len(f.values):,} values)" for name, f in t.facets.items())
            parts.append(f"Groups: {groups}. Filter the map to a period or a group in the Map tab.")
        return " ".join(parts)


def map_with_filter(view: TrendsView | None, plot, draw: Callable, n: int,
                    generation: Callable[[], object]) -> MapFilter | None:
    """Render the map ``plot`` (made with ``render=False``) under a dropdown that redraws it for one period
    or group; ``draw(only=mask, within=name)`` draws the map of ``n`` points in the labels of the live
    ``generation()``. Without trends, the map alone (and None)."""
    import gradio as gr

    if view is None or len(view.filters.options) < 2:
        plot.render()
        return None
    choose = gr.Dropdown(choices=view.filters.options, value=ALL, label="Show the documents of",
                         filterable=True, elem_id="tt-map-filter")
    plot.render()

    # this app's own: a period drawn once is served to every visitor, until a newer generation (the model's
    # labels after `demo`'s keyword ones, an edit) renames its topics
    @lru_cache(maxsize=FIGURES_KEPT)
    def drawn_in(value: str, _generation):
        mask = view.filters.mask(value, n)
        return draw() if mask is None else draw(only=mask, within=view.filters.name(value))

    chosen = MapFilter(choose, lambda value: drawn_in(value or ALL, generation()))
    # queued in a group of one: a big map takes a while to draw, and many visitors must not draw at once
    choose.change(chosen.drawn, choose, plot, concurrency_limit=1, concurrency_id="map-filter")
    return chosen


@dataclass(frozen=True)
class MapFilter:
    """The map's period or group dropdown, and the map of a value of it in the live labels."""

    dropdown: object
    drawn: Callable[[str], object]


def add_tab(view: TrendsView | None) -> None:
    """The Trends tab: the chart and its theme dropdown (a line on how to add dates where the index has
    groups only); no tab for an index without trends."""
    import gradio as gr

    if view is None:
        return
    with gr.Tab("Trends", id="trends"):
        _tab(view)


def _tab(view: TrendsView) -> None:
    import gradio as gr

    gr.Markdown(view.summary(), elem_id="tt-trends-summary")
    if not view.trends.periods:
        gr.Markdown(NO_DATES, elem_id="tt-trends-none")
        return
    themes = theme_choices(view.trends, view.topics, view.themes)
    pick = gr.Dropdown(choices=themes, value=ALL, label="Theme", elem_id="tt-trends-theme",
                       visible=len(themes) > 1)
    plot = gr.Plot(value=view.chart(), elem_id="tt-trends-chart", show_label=False)
    pick.change(view.chart, pick, plot, queue=False)
