"""The trends in a real Chroma index (issue 29): stored with the generation, the documents' dates,
periods and facet values read back, and nearest documents restricted to a period or a facet value."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from topictalk.indexing import export, store, trends
from topictalk.indexing.schema import DocumentRecord, Theme, Topic

CATS = [["cs.LG", "cs.AI"], ["cs.CV"], ["cs.LG"], ["cs.CL", "cs.LG"]]


def _index(tmp_path, with_trends: bool = True):
    location = store.Location(path=tmp_path / "index")
    writer = store.begin(store.connect(location))
    docs = [DocumentRecord(f"d{i}", f"text {i}", f"title {i}", i % 2, 0.5, float(i), 0.0,
                           date=f"2025-0{1 + i % 3}-15" if i != 5 else None,
                           period=f"2025-0{1 + i % 3}" if i != 5 else None,
                           fields={"categories": CATS[i % 4], "label": CATS[i % 4][0]}) for i in range(12)]
    vectors = np.random.default_rng(0).normal(size=(12, 8)).astype(np.float32)
    writer.write_documents(docs, vectors)
    writer.write_topics([Topic(t, 6, f"Topic {t}", "llm", ["k"], embedding=np.ones(8, np.float32), theme=0)
                         for t in (0, 1)])
    writer.write_themes([Theme(0, 12, "All", "llm", [0, 1], ["k"], np.ones(8, np.float32))])
    when = [None if d.date is None else date.fromisoformat(d.date) for d in docs]
    counted = trends.count([d.topic for d in docs], when, "published", "month",
                           {"categories": ([d.fields["categories"] for d in docs], True)})
    writer.commit({"corpus": {"documents": 12}, **({"trends": counted.as_dict()} if with_trends else {})})
    return location, docs, vectors, counted


def test_the_trends_and_each_documents_date_and_fields_read_back(tmp_path):
    location, docs, vectors, counted = _index(tmp_path)
    reader = store.open_reader(location)
    assert reader.trends() == counted and reader.trends().periods == ["2025-01", "2025-02", "2025-03"]
    got = reader.get_documents(["d4", "d5"])
    assert (got[0].date, got[0].period, got[0].fields) == ("2025-02-15", "2025-02",
                                                         {"categories": ["cs.LG", "cs.AI"], "label": "cs.LG"})
    assert (got[1].date, got[1].period) == (None, None)
    assert [d.fields for d in reader.all_documents()] == [d.fields for d in docs]


def test_nearest_documents_within_a_period_or_a_facet_value(tmp_path):
    location, docs, vectors, _ = _index(tmp_path)
    reader = store.open_reader(location)
    march = reader.query_documents(vectors[0], 12, period="2025-03")
    assert sorted(d.id for d, _ in march) == ["d11", "d2", "d8"]  # d5 is undated
    cv = reader.query_documents(vectors[0], 12, facet=("categories", "cs.CV"))
    assert sorted(d.id for d, _ in cv) == ["d1", "d5", "d9"]
    lg = reader.query_documents(vectors[0], 12, facet=("categories", "cs.LG"))  # a value among several
    assert len(lg) == 9 and all("cs.LG" in d.fields["categories"] for d, _ in lg)
    both = reader.query_documents(vectors[0], 12, topic=1, period="2025-02", facet=("categories", "cs.CV"))
    assert [d.id for d, _ in both] == ["d1"]
    assert reader.query_documents(vectors[0], 5, facet=("categories", "nope")) == []


def test_an_index_built_before_trends_has_none(tmp_path):
    location, *_ = _index(tmp_path, with_trends=False)
    assert store.open_reader(location).trends() is None


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_has_the_date_period_and_facet_columns(tmp_path, fmt):
    location, *_ = _index(tmp_path)
    frame = export.frames(store.open_reader(location))["documents"]
    assert {"date", "period", "categories", "label"} <= set(frame.columns)
    assert frame.loc[4, "period"] == "2025-02" and frame.loc[4, "categories"] == ["cs.LG", "cs.AI"]
