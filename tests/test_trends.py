"""Topics over time and across groups (issue 29), pure logic: date and facet columns, the period rule,
periods named in words, the noise test and BERTopic's table shapes. No model, no index."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from topictalk.indexing import corpus, dates, fields, trends
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import Topic
from topictalk.indexing.trends import FacetCounts, Trends


def _rows(n=60, **columns):
    return [{"id": str(i), "text": f"document number {i}", **{k: v(i) for k, v in columns.items()}} for i in range(n)]


# -- date columns --------------------------------------------------------------------------------

@pytest.mark.parametrize("name,value,expected,precision", [
    ("published", lambda i: f"2025-03-{1 + i % 28:02d}", date(2025, 3, 2), "day"),
    ("created_at", lambda i: f"2025-03-{1 + i % 28:02d}T10:11:12Z", date(2025, 3, 2), "day"),
    ("listing_date", lambda i: f"2025-{1 + i % 12:02d}", date(2025, 2, 1), "month"),
    ("year", lambda i: 2000 + i % 20, date(2001, 1, 1), "year"),
    ("timestamp", lambda i: 1740787200 + 86400 * i, date(2025, 3, 2), "day"),  # unix seconds, named so
    ("date", lambda i: f"{13 + i % 15}/03/2025", date(2025, 3, 14), "day"),  # day first: every value shows it
])
def test_a_clear_date_column_is_found_and_parsed(name, value, expected, precision):
    c = corpus.from_records(_rows(**{name: value}), source="t")
    assert c.columns["date_field"] == name and c.columns["date_precision"] == precision
    assert c.documents[1].date == expected.isoformat() and c.columns["reported"] == []


def test_a_date_named_column_that_does_not_parse_is_reported_once_and_not_used():
    c = corpus.from_records(_rows(date=lambda i: "yesterday" if i % 5 == 0 else "2025-03-01"), source="t")
    assert c.columns["date_field"] is None and all(d.date is None for d in c.documents)  # never half-used
    assert len(c.columns["reported"]) == 1 and "'date'" in c.columns["reported"][0]
    assert "12 of 60 values are not dates" in c.columns["reported"][0]


def test_day_month_dates_that_could_be_read_either_way_are_not_guessed():
    c = corpus.from_records(_rows(date=lambda i: "03/04/2025" if i == 7 else f"{13 + i % 15}/03/2025"), source="t")
    assert c.columns["date_field"] is None and "either way" in c.columns["reported"][0]
    with pytest.raises(TopictalkError, match="either way"):  # named explicitly, it is an error
        corpus.from_records(_rows(date=lambda i: "03/04/2025"), source="t", date_field="date")


def test_a_few_missing_or_odd_values_leave_the_column_in_use_and_the_first_good_name_wins():
    rows = _rows(100, updated_at=lambda i: "2024-01-01", published=lambda i: "" if i < 10 else
                 ("n/a" if i == 50 else f"2025-03-{1 + i % 28:02d}"))
    c = corpus.from_records(rows, source="t")
    assert c.columns["date_field"] == "published"  # published before updated_at
    assert sum(d.date is None for d in c.documents) == 11


def test_numbers_are_unix_times_only_in_a_column_named_like_a_timestamp():
    parsed = dates.parse_column([1740787200] * 5, "date")
    assert parsed.failed == 5
    assert dates.parse_column([1740787200000] * 5, "created_ts").dates[0] == date(2025, 3, 1)  # milliseconds


def test_explicit_fields_must_exist():
    with pytest.raises(TopictalkError, match=r"no column 'when' \(columns: id, text, published\)"):
        corpus.from_records(_rows(published=lambda i: "2025"), source="t", date_field="when")
    with pytest.raises(TopictalkError, match="--facet-field"):
        corpus.from_records(_rows(), source="t", facet_fields=["tags"])


# -- facet columns -------------------------------------------------------------------------------

def test_arxiv_categories_are_multi_valued_and_msc_codes_are_dropped():
    cats = ["cs.LG cs.AI stat.ML", "cs.CV cs.LG 68T45, 62H30 I.5.3; I.2.10", "hep-th gr-qc", "cs.CL", "cs.LG"]
    c = corpus.from_records(_rows(50, categories=lambda i: cats[i % 5]), source="t")
    assert c.columns["facet_fields"] == {"categories": True}
    assert c.documents[0].fields["categories"] == ["cs.LG", "cs.AI", "stat.ML"]
    assert c.documents[1].fields["categories"] == ["cs.CV", "cs.LG"]  # 68T45, I.5.3 never lead a cell
    assert c.documents[2].fields["categories"] == ["hep-th", "gr-qc"]


def test_single_valued_labels_with_spaces_stay_whole_and_lists_are_multi():
    c = corpus.from_records(_rows(40, label=lambda i: ["World News", "Local News"][i % 2],
                                  tags=lambda i: ["a", "b"] if i % 2 else '["c"]'), source="t")
    assert c.columns["facet_fields"] == {"label": False, "tags": True}
    assert c.documents[0].fields == {"label": "World News", "tags": ["c"]}
    assert c.documents[1].fields["tags"] == ["a", "b"]


def test_a_column_of_unique_values_or_one_value_is_no_facet():
    c = corpus.from_records(_rows(40, label=lambda i: f"x{i}", source=lambda i: "same"), source="t")
    assert c.columns["facet_fields"] == {}


def test_files_keep_their_date_and_facet_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,text,published,category,other\n" + "".join(
        f"{i},text {i},2025-0{1 + i % 3}-01,{'ab'[i % 2]},{i}\n" for i in range(30)))
    c = corpus.from_files([path])
    assert c.columns["date_field"] == "published" and c.columns["facet_fields"] == {"category": False}
    assert c.documents[4].date == "2025-02-01" and c.documents[4].fields == {"category": "a"}


# -- the period rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("days,precision,period", [
    (30, "day", "day"), (100, "day", "week"), (400, "day", "month"), (5 * 365, "day", "quarter"),
    (20 * 365, "day", "year"), (30, "month", "month"), (400, "year", "year")])
def test_the_period_follows_the_span_and_never_the_precision_below(days, precision, period):
    start = date(2020, 1, 1)
    assert dates.choose_period([start + timedelta(days=d) for d in range(0, days + 1, max(1, days // 50))],
                               precision) == period


def test_a_stray_date_does_not_choose_years():
    many = [date(2025, 3, 1) + timedelta(days=i % 300) for i in range(500)] + [date(1990, 1, 1)]
    assert dates.choose_period(many) == "month"


def test_period_labels_and_bounds_agree():
    day = date(2025, 2, 14)
    assert [dates.label(day, p) for p in dates.PERIODS] == ["2025-02-14", "2025-W07", "2025-02", "2025-Q1", "2025"]
    for p in dates.PERIODS:
        lo, hi = dates.bounds(dates.label(day, p))
        assert lo <= day <= hi
    assert dates.labels_between(date(2025, 11, 30), date(2026, 2, 1), "month") == ["2025-11", "2025-12", "2026-01",
                                                                                   "2026-02"]


# -- counts, shares, changes ---------------------------------------------------------------------

def _monthly(rows: dict[int, list[int]], start="2025-01") -> Trends:
    n = len(next(iter(rows.values())))
    first = date.fromisoformat(start + "-01")
    labels = dates.labels_between(first, first + timedelta(days=31 * (n - 1)), "month")[:n]
    return Trends("published", "month", labels, rows)


def test_count_puts_each_document_in_its_period_and_values():
    when = [date(2025, 1, 5), date(2025, 3, 2), None, date(2025, 3, 9)]
    t = trends.count([0, 1, 1, 0], when, "d", "month", {"cat": ([["a", "b"], ["a"], ["b"], []], True)})
    assert t.periods == ["2025-01", "2025-02", "2025-03"] and t.undated == 1
    assert t.counts == {0: [1, 0, 1], 1: [0, 0, 1]}
    assert t.facets["cat"].values == ["a", "b"] and t.facets["cat"].counts == {0: [1, 1], 1: [1, 1]}
    assert Trends.from_dict(t.as_dict()) == t and Trends.from_dict(None) is None
    assert trends.shares(t)[0] == [1.0, 0.0, 0.5]


def test_a_real_change_is_more_than_noise_and_a_small_one_is_not():
    grown = _monthly({0: [10, 10, 10, 60, 60, 60], 1: [90, 90, 90, 40, 40, 40], 2: [5, 5, 5, 5, 5, 5]})
    moved = {c.topic: c for c in trends.changes(grown)}
    assert moved[0].significant and moved[0].direction == "grew" and moved[0].test == "z"
    assert moved[1].direction == "shrank" and moved[0].first_count == 90 and moved[0].last_count == 120  # the last third: 2 of 6
    small = _monthly({0: [1, 1, 1, 2, 3, 3], 1: [9, 9, 9, 8, 8, 8]})
    change = {c.topic: c for c in trends.changes(small)}[0]
    assert change.test == "fisher" and not change.significant and change.delta > 0  # 3/30 -> 6/30 is noise
    assert [c.topic for c in trends.changes(grown)][0] == 0  # biggest growth first


def test_changes_between_named_spans():
    t = _monthly({0: [1, 2, 3, 4], 1: [4, 3, 2, 1]})
    c = {c.topic: c for c in trends.changes(t, "2025-01", ("2025-03", "2025-04"))}[0]
    assert (c.first_count, c.first_total, c.last_count, c.last_total) == (1, 5, 7, 10)
    assert trends.changes(t, last="2025-02..2025-04")[0].first == ("2025-01", "2025-01")
    with pytest.raises(ValueError, match="no period"):
        trends.changes(t, "2024-01")


def test_holm_keeps_the_order_and_caps_at_one():
    assert trends.holm([0.01, 0.04, 0.5]) == pytest.approx([0.03, 0.08, 0.5])


# -- periods named in words ----------------------------------------------------------------------

@pytest.mark.parametrize("text,span", [
    ("What was new in March?", ("2026-03", "2026-03")), ("March 2025", ("2025-03", "2025-03")),
    ("2025", ("2025-03", "2025-12")), ("in Q1 2026", ("2026-01", "2026-03")),
    ("What's new since January?", ("2026-01", "2026-07")), ("last month", ("2026-07", "2026-07")),
    ("the last 3 months", ("2026-05", "2026-07")), ("from March to June 2025", ("2025-03", "2025-06")),
    ("2025-11", ("2025-11", "2025-11")), ("this year", ("2026-01", "2026-07")),
    ("What are the biggest topics?", None), ("papers from 2019", None), ("What may change?", None)])
def test_resolve_period(text, span):
    t = _monthly({0: [1] * 17}, start="2025-03")
    assert t.periods[-1] == "2026-07"
    assert trends.resolve_period(t, text) == span


def test_resolve_period_maps_onto_coarser_periods_and_needs_dates():
    t = Trends("d", "quarter", ["2025-Q1", "2025-Q2", "2025-Q3"], {0: [1, 2, 3]})
    assert trends.resolve_period(t, "May 2025") == ("2025-Q2", "2025-Q2")
    assert trends.resolve_period(Trends(None, None, [], {}), "March") is None


def test_rebin_to_a_coarser_period():
    t = _monthly({0: [1, 2, 3, 4, 5, 6]})
    q = trends.rebin(t, "quarter")
    assert q.periods == ["2025-Q1", "2025-Q2"] and q.counts == {0: [6, 15]}
    with pytest.raises(ValueError, match="counts by month"):
        trends.rebin(t, "week")


# -- BERTopic's shapes ---------------------------------------------------------------------------

def test_dataframes_have_bertopics_columns():
    t = _monthly({0: [2, 0, 1], 1: [0, 3, 0]})
    t.words = {0: [["a", "b"], [], []]}
    topic_list = [Topic(0, 3, "Zero", "llm", ["k1", "k2"]), Topic(1, 3, "One", "llm", ["j1"])]
    over = trends.topics_over_time(t, topic_list)
    assert list(over.columns) == ["Topic", "Words", "Frequency", "Timestamp", "Name"] and len(over) == 3
    assert over.iloc[0]["Words"] == "a, b" and over.iloc[1]["Words"] == "k1, k2"  # too few documents: keywords
    assert str(over.iloc[0]["Timestamp"].date()) == "2025-01-01" and over["Frequency"].sum() == 6
    facet = FacetCounts("cat", ["a", "b"], {0: [3, 0], 1: [1, 2]}, multi=True)
    per = trends.topics_per_class(facet, topic_list)
    assert list(per.columns) == ["Topic", "Words", "Frequency", "Class", "Name"] and len(per) == 3
    assert per[per.Topic == 1]["Class"].tolist() == ["a", "b"] and per.iloc[0]["Name"] == "Zero"


def test_fields_wanted_names_only_candidate_columns():
    assert fields.wanted("listing_date", None, ()) and fields.wanted("categories", None, ())
    assert not fields.wanted("abstract", None, ()) and fields.wanted("abstract", None, ["abstract"])


def test_parquet_dates_and_list_cells(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"id": [str(i) for i in range(30)], "text": [f"text {i}" for i in range(30)],
                          "created_at": [pd.Timestamp("2025-01-01") + pd.Timedelta(days=3 * i) if i != 4 else pd.NaT
                                         for i in range(30)],
                          "tags": [["x", "y"] if i % 2 else ["z"] for i in range(30)]})
    frame.to_parquet(tmp_path / "d.parquet")
    c = corpus.from_files([tmp_path / "d.parquet"])
    assert c.columns["date_field"] == "created_at" and c.columns["facet_fields"] == {"tags": True}
    assert c.documents[1].date == "2025-01-04" and c.documents[4].date is None
    assert c.documents[1].fields == {"tags": ["x", "y"]}


def test_one_span_given_the_other_is_the_rest():
    t = _monthly({0: [1, 2, 3, 4, 5, 6], 1: [6, 5, 4, 3, 2, 1]})
    c = trends.changes(t, first="2025-01..2025-02")[0]
    assert (c.first, c.last) == (("2025-01", "2025-02"), ("2025-03", "2025-06"))
    c = trends.changes(t, last=trends.resolve_period(t, "since April"))[0]
    assert (c.first, c.last) == (("2025-01", "2025-03"), ("2025-04", "2025-06"))
