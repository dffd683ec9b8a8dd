"""The Trends view's builders (fast tier): the chart's numbers are the counts it was given, a theme is the sum
of its topics, and the map filter keeps exactly the points of a period or a facet value."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from topictalk.indexing.schema import Theme, Topic
from topictalk.indexing.trends import FacetCounts, Trends
from topictalk.ui import map as map_mod
from topictalk.ui import trends_view

PERIODS = ["2025-01", "2025-02", "2025-03"]
COUNTS = {0: [3, 1, 0], 1: [1, 2, 5], 2: [0, 4, 2], -1: [2, 0, 1]}  # topic -> documents per period
TOPICS = [Topic(0, 4, "Speech recognition", "llm", ["speech"], theme=0),
          Topic(1, 8, "Speaker diarization", "llm", ["speaker"], theme=0),
          Topic(2, 6, "Image segmentation", "llm", ["image"], theme=1),
          Topic(-1, 3, "Outliers", "outliers", [])]
THEMES = [Theme(0, 12, "Audio", "llm", [1, 0]), Theme(1, 6, "Vision", "llm", [2])]


def dated(counts=COUNTS, periods=PERIODS, facets=None) -> Trends:
    return Trends(date_field="published", period="month", periods=list(periods),
                  counts={t: list(c) for t, c in counts.items()}, undated=2, words={}, facets=facets or {})


def traces(fig) -> dict[str, object]:
    return {t.name: t for t in fig.data}


def test_the_overview_stacks_each_themes_summed_counts_and_shares_with_the_outliers():
    fig = trends_view.chart(dated(), TOPICS, THEMES)
    got = traces(fig)
    assert list(got) == ["Audio", "Vision", "no topic (outliers)"]  # biggest theme first, outliers last
    totals = [6, 7, 8]  # every topic's documents in each period, outliers included
    expected = {"Audio": [4, 3, 5], "Vision": [0, 4, 2], "no topic (outliers)": [2, 0, 1]}
    for name, counts in expected.items():
        trace = got[name]
        assert [c[0] for c in trace.customdata] == counts and [c[1] for c in trace.customdata] == totals
        assert list(trace.y) == pytest.approx([c / t for c, t in zip(counts, totals)])
        assert trace.stackgroup == "one" and list(trace.x) == PERIODS
        assert "%{customdata[0]:,} of %{customdata[1]:,} documents (%{y:.1%})" in trace.hovertemplate
    # a stacked column is every dated document of its period
    assert [sum(got[n].y[i] for n in got) for i in range(3)] == pytest.approx([1.0, 1.0, 1.0])


def test_choosing_a_theme_shows_its_topics_with_their_own_counts():
    trends = dated()
    trends.words = {0: [["asr", "speech"], ["noisy", "<b>speech</b>"], []]}  # a topic's words per period
    view = trends_view.TrendsView(trends, TOPICS, THEMES, trends_view.filters(trends, [], []))
    got = traces(view.chart("0"))
    assert list(got) == ["1: Speaker diarization", "0: Speech recognition"]  # biggest first
    assert [c[0] for c in got["0: Speech recognition"].customdata] == COUNTS[0]
    assert [c[0] for c in got["1: Speaker diarization"].customdata] == COUNTS[1]
    assert [c[2] for c in got["0: Speech recognition"].customdata] == ["asr, speech", "noisy, &lt;b&gt;speech&lt;/b&gt;",
                                                                       ""]
    assert "%{customdata[2]}" in got["0: Speech recognition"].hovertemplate
    assert "%{customdata[2]}" not in got["1: Speaker diarization"].hovertemplate  # no words stored: none shown
    assert "Audio" in view.chart("0").layout.title.text
    # a value the dropdown never offered is the overview, not an error
    assert list(traces(view.chart("99"))) == list(traces(view.chart(trends_view.ALL)))
    assert trends_view.theme_choices(dated(), TOPICS, THEMES) == [("All themes", "all"), ("Audio", "0"),
                                                                  ("Vision", "1")]


def test_without_themes_the_biggest_topics_are_drawn_and_the_rest_summed(monkeypatch):
    monkeypatch.setattr(trends_view, "MAX_SERIES", 2)
    loose = [Topic(t.id, t.size, t.label, t.label_source, t.keywords) for t in TOPICS]
    got = traces(trends_view.chart(dated(), loose, []))
    assert list(got) == ["1: Speaker diarization", "2: Image segmentation", "1 smaller topic",
                         "no topic (outliers)"]
    assert [c[0] for c in got["1 smaller topic"].customdata] == COUNTS[0]


def test_names_from_the_index_are_plain_text_in_the_chart():
    hostile = [Topic(0, 4, '<a href="http://x">link</a>', "llm", [], theme=0)]
    fig = trends_view.chart(dated({0: [1, 1, 1]}), hostile, [Theme(0, 4, "<b>bold</b>", "llm", [0])])
    assert fig.data[0].name == "&lt;b&gt;bold&lt;/b&gt;" and "<b>bold" not in fig.data[0].hovertemplate


POINT_PERIODS = ["2025-01", "2025-01", "2025-02", None, "2025-03", "2025-02"]
POINT_FIELDS = [{"category": ["cs.CL", "cs.LG"]}, {"category": "cs.CV"}, {"category": ["cs.CL"]}, {},
                {"category": ["cs.LG"]}, {"category": []}]
FACETS = {"category": FacetCounts("category", ["cs.CL", "cs.LG", "cs.CV"], {0: [2, 2, 1]}, multi=True)}


def points(n: int = 6) -> map_mod.Points:
    return map_mod.Points(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32) % 3,
                          np.array([0, 1, 2, 0, 1, -1][:n], np.int32), [f"doc {i}" for i in range(n)], n,
                          np.array([0, 0, 1, 0, 0, -1][:n], np.int32))


def test_the_filter_offers_the_counted_periods_and_values_and_keeps_exactly_their_points():
    trends = dated(facets=FACETS)
    f = trends_view.filters(trends, POINT_PERIODS, POINT_FIELDS)
    assert [v for _, v in f.options] == ["all", "period:2025-01", "period:2025-02", "period:2025-03",
                                         "facet:category:cs.CL", "facet:category:cs.LG", "facet:category:cs.CV"]
    assert ("month 2025-02", "period:2025-02") in f.options and ("category: cs.CV", "facet:category:cs.CV") in f.options
    assert f.mask("all", 6) is None and f.mask("period:1999-01", 6) is None  # everything; not offered: everything
    assert np.flatnonzero(f.mask("period:2025-02", 6)).tolist() == [2, 5]
    assert np.flatnonzero(f.mask("facet:category:cs.CL", 6)).tolist() == [0, 2]  # a multi-valued field
    assert np.flatnonzero(f.mask("facet:category:cs.CV", 6)).tolist() == [1]  # a single value


def shown_titles(fig) -> tuple[list[str], int]:
    """(titles of the colored points, number of backdrop points) of a map figure."""
    kept = [h.split("<br>")[0] for t in fig.data if t.name != map_mod.OTHERS for h in t.hovertext]
    backdrop = sum(len(t.x) for t in fig.data if t.name == map_mod.OTHERS)
    return kept, backdrop


def test_the_filtered_map_colors_exactly_the_points_of_the_period_over_a_grey_backdrop_of_the_rest():
    f = trends_view.filters(dated(facets=FACETS), POINT_PERIODS, POINT_FIELDS)
    labels = {0: "Speech", 1: "Speakers", 2: "Images"}
    everything = map_mod.figure(points(), labels, theme_labels={0: "Audio", 1: "Vision"})
    assert sorted(shown_titles(everything)[0]) == [f"doc {i}" for i in range(6)]
    assert all(t.name != map_mod.OTHERS for t in everything.data)
    fig = map_mod.figure(points(), labels, theme_labels={0: "Audio", 1: "Vision"},
                         only=f.mask("period:2025-02", 6), within=f.name("period:2025-02"))
    kept, backdrop = shown_titles(fig)
    assert sorted(kept) == ["doc 2", "doc 5"] and backdrop == 4
    assert fig.data[0].name == map_mod.OTHERS and fig.data[0].hoverinfo == "skip"  # drawn first, under the rest
    assert "2 documents in month 2025-02 (of 6)" in fig.layout.title.text
    # the axes stay those of the whole map: the backdrop spans every point
    xs = np.concatenate([np.asarray(t.x) for t in fig.data])
    assert sorted(xs.tolist()) == list(range(6))


def test_a_filtered_map_is_drawn_once_a_generation_and_again_in_a_newer_ones_labels():
    # `topictalk demo` on a CPU commits the model's labels after the app opened with keyword ones: a
    # period's map drawn before must not be served with the old labels after
    import gradio as gr

    trends = dated(facets=FACETS)
    view = trends_view.TrendsView(trends, TOPICS, THEMES, trends_view.filters(trends, POINT_PERIODS, POINT_FIELDS))
    labels, generation, drawn = {2: "image, segmentation"}, [1], []

    def draw(**only):
        drawn.append(dict(labels))
        return map_mod.figure(points(), labels, **only)

    with gr.Blocks():
        plot = gr.Plot(render=False)
        chosen = trends_view.map_with_filter(view, plot, draw, 6, lambda: generation[0])
    first = chosen.drawn("period:2025-02")
    assert chosen.drawn("period:2025-02") is first and len(drawn) == 1  # every visitor gets one drawing
    labels[2], generation[0] = "Image Segmentation", 2
    again = chosen.drawn("period:2025-02")
    assert len(drawn) == 2 and again is not first
    assert "Image Segmentation" in str(again.layout.annotations) + str([t.name for t in again.data])


def test_a_filtered_map_of_many_points_draws_at_most_the_cap_and_every_kept_point_under_it():
    n = 500
    many = map_mod.Points(np.random.default_rng(0).random(n, dtype=np.float32),
                          np.random.default_rng(1).random(n, dtype=np.float32), np.arange(n, dtype=np.int32) % 5,
                          [f"doc {i}" for i in range(n)], n)
    only = np.arange(n) % 10 == 0
    fig = map_mod.figure(many, {}, max_points=100, only=only, within="x")
    kept, backdrop = shown_titles(fig)
    assert sorted(kept) == sorted(f"doc {i}" for i in range(0, n, 10)) and len(kept) + backdrop == 100


def test_points_take_their_period_and_values_from_the_documents_by_id():
    docs = [SimpleNamespace(id="b", period="2025-02", fields={"category": ["cs.CV"]}),
            SimpleNamespace(id="a", period=None, fields={})]
    reader = SimpleNamespace(all_documents=lambda: docs)
    periods, fields = trends_view.point_values(reader, {"ids": ["a", "b", "c"]})
    assert periods == [None, "2025-02", None] and fields == [{}, {"category": ["cs.CV"]}, {}]


def test_an_index_without_trends_has_no_view_and_one_with_only_groups_says_how_to_add_dates():
    index = SimpleNamespace(reader=SimpleNamespace(trends=lambda: None), topics=TOPICS, themes=THEMES)
    assert trends_view.TrendsView.load(index, {"ids": []}) is None
    older = SimpleNamespace(reader=SimpleNamespace(), topics=TOPICS, themes=THEMES)  # a Reader without trends()
    assert trends_view.TrendsView.load(older, {"ids": []}) is None
    assert "--date-field" in trends_view.NO_DATES


def app_over(trends, coords: dict | None = None):
    from tests.fakes import FakeLLM
    from topictalk.ui import app

    coords = coords or {"ids": [f"d{i}" for i in range(6)], "x": list(range(6)), "y": [0, 1, 2, 0, 1, 2],
                        "topic": [0, 1, 2, 0, 1, -1], "theme": [0, 0, 1, 0, 0, -1],
                        "title": [f"doc {i}" for i in range(6)], "period": POINT_PERIODS, "fields": POINT_FIELDS}
    index = SimpleNamespace(topics=TOPICS, themes=THEMES, by_id={t.id: t for t in TOPICS}, manifest={},
                            reader=SimpleNamespace(coordinates=lambda: coords, trends=lambda: trends))
    return app.build(app.AppParts(index, FakeLLM()))


def blocks(demo, kind: str) -> dict[str, object]:
    return {getattr(b, "elem_id", None): b for b in demo.blocks.values() if type(b).__name__ == kind}


def test_the_app_has_a_trends_tab_and_a_map_filter_only_for_an_index_with_trends_and_no_new_api():
    demo = app_over(dated(facets=FACETS))
    tabs = [b.label for b in demo.blocks.values() if type(b).__name__ == "Tab"]
    assert tabs == ["Chat", "Topics", "Map", "Trends"]
    dropdowns = blocks(demo, "Dropdown")
    assert {"tt-map-filter", "tt-trends-theme"} <= set(dropdowns)
    assert len(dropdowns["tt-map-filter"].choices) == 7
    chart = blocks(demo, "Plot")["tt-trends-chart"]
    assert "Audio" in str(chart.value)  # the overview, drawn when the page is built
    # every event of the view is the page's own: the API keeps its one endpoint
    assert [fn.api_name for fn in demo.fns.values() if fn.api_visibility != "private"] == ["ask"]

    plain = app_over(None)
    assert [b.label for b in plain.blocks.values() if type(b).__name__ == "Tab"] == ["Chat", "Topics", "Map"]
    assert "tt-map-filter" not in blocks(plain, "Dropdown")


def test_the_line_over_the_chart_says_the_span_and_groups_with_corpus_names_escaped():
    trends = dated(facets=FACETS)
    trends.date_field = "<img src=x>"
    line = trends_view.TrendsView(trends, TOPICS, THEMES, trends_view.filters(trends, [], [])).summary()
    assert "21 documents dated by their field “&lt;img src=x&gt;”, per month, 2025-01 to 2025-03; 2 have no date" \
        in line and "<img" not in line
    assert "“category” (3 values)" in line


def test_an_index_with_groups_but_no_dates_has_the_map_filter_and_a_tab_saying_how_to_add_dates():
    groups_only = Trends(None, None, [], {}, undated=6, facets=FACETS)
    demo = app_over(groups_only)
    assert [b.label for b in demo.blocks.values() if type(b).__name__ == "Tab"] == ["Chat", "Topics", "Map", "Trends"]
    assert [v for _, v in blocks(demo, "Dropdown")["tt-map-filter"].choices] == [
        "all", "facet:category:cs.CL", "facet:category:cs.LG", "facet:category:cs.CV"]
    assert "--date-field" in blocks(demo, "Markdown")["tt-trends-none"].value
    assert "tt-trends-chart" not in blocks(demo, "Plot")
