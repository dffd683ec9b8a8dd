"""A topic's subtopics (issue 27), found when first asked and cached (indexing/subtopics.py): on synthetic
embeddings in a real Chroma store written by the store's writer, so no model is loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from topictalk.indexing import store, subtopics
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import DocumentRecord, Theme, Topic

DIM = 16
WORDS = {0: "protein folding structure residues", 1: "galaxy telescope redshift survey", 2: "noise sample data value"}


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _corpus(seed: int = 0) -> tuple[list[DocumentRecord], np.ndarray]:
    """Topic 0: two far-apart blobs of 60 (protein folding, galaxies); topic 1: one featureless blob of 120."""
    rng = np.random.default_rng(seed)
    a, b, c = np.eye(3, DIM) * 4
    vectors = _unit(np.concatenate([a + rng.normal(scale=0.5, size=(60, DIM)), b + rng.normal(scale=0.5, size=(60, DIM)),
                                    c + rng.normal(scale=1.0, size=(120, DIM))]))
    kinds = [0] * 60 + [1] * 60 + [2] * 120
    docs = [DocumentRecord(f"d{i:03d}", f"{WORDS[k]} study {i} {WORDS[k].split()[i % 4]}", f"title {i}", int(k == 2),
                           0.9, float(i), 0.0, theme=0) for i, k in enumerate(kinds)]
    return docs, vectors


def _write(location: store.Location, docs: list[DocumentRecord], vectors: np.ndarray, stamp: str) -> None:
    writer = store.begin(store.connect(location))
    writer.write_documents(docs, vectors)
    topics = []
    for t in sorted({d.topic for d in docs}):
        rows = [i for i, d in enumerate(docs) if d.topic == t]
        centre = vectors[rows].mean(axis=0)
        topics.append(Topic(t, len(rows), f"Topic {t}", "keywords", ["k"], [], [], [docs[rows[0]].id],
                            (centre / np.linalg.norm(centre)).astype(np.float32), theme=0))
    writer.write_topics(topics)
    writer.write_themes([Theme(0, len(docs), "All", "keywords", [t.id for t in topics], ["k"], np.ones(DIM, np.float32))])
    writer.commit({"created": stamp, "corpus": {"documents": len(docs)}})


@pytest.fixture()
def index(tmp_path):
    location = store.Location(path=tmp_path / "index")
    docs, vectors = _corpus()
    _write(location, docs, vectors, "2026-01-01T00:00:00+00:00")
    return location


def test_a_topic_of_two_separate_blobs_has_two_subtopics(index):
    found = subtopics.find(store.open_reader(index), 0, index.path / "cache")
    assert len(found.parts) == 2 and not found.why_none and found.modularity >= subtopics.Settings().min_modularity
    assert sum(p.size for p in found.parts) == found.size == 120
    by_blob = [{int(i[1:]) < 60 for i in p.representative_ids} for p in found.parts]
    assert sorted(map(sorted, by_blob)) == [[False], [True]]  # each part's central documents are of one blob
    words = {" ".join(p.keywords) for p in found.parts}
    assert any("protein" in w for w in words) and any("galaxy" in w for w in words)
    assert len({p.label.lower() for p in found.parts}) == 2 and all(p.label != "Topic 0" for p in found.parts)
    assert [p.number for p in found.parts] == [1, 2] and found.parts[0].size >= found.parts[1].size


def test_a_featureless_blob_has_none_and_says_why(index):
    found = subtopics.find(store.open_reader(index), 1, index.path / "cache")
    assert found.parts == [] and found.size == 120
    assert "one subject" in found.why_none and f"{found.modularity:.2f}" in found.why_none


def test_a_small_topic_has_none(tmp_path):
    location = store.Location(path=tmp_path / "index")
    docs, vectors = _corpus()
    keep = list(range(15)) + list(range(60, 75)) + list(range(120, 240))  # topic 0: 30 documents of two blobs
    _write(location, [docs[i] for i in keep], vectors[keep], "x")
    found = subtopics.find(store.open_reader(location), 0, location.path / "cache")
    assert found.parts == [] and "too small" in found.why_none and found.size == 30


def test_the_second_ask_reads_the_cache_and_a_new_generation_does_not(index, monkeypatch):
    reader = store.open_reader(index)
    first = subtopics.find(reader, 0, index.path / "cache")
    assert not first.cached and len(list((index.path / "cache" / "subtopics").glob("*.json"))) == 1
    calls = []
    real = subtopics.compute
    monkeypatch.setattr(subtopics, "compute", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = subtopics.find(reader, 0, index.path / "cache")
    assert again.cached and calls == [] and again.parts == first.parts
    # a new generation of the same documents, relabelled: the cache is not read
    docs, vectors = _corpus()
    _write(index, docs, vectors, "2026-01-01T00:00:00+00:00")
    reader.refresh(force=True)
    fresh = subtopics.find(reader, 0, index.path / "cache")
    assert not fresh.cached and calls == [1] and fresh.generation == first.generation + 1
    assert len(list((index.path / "cache" / "subtopics").glob("*.json"))) == 2


def test_other_settings_are_another_cache_entry_and_a_torn_file_is_computed_again(index):
    reader = store.open_reader(index)
    cache = index.path / "cache"
    subtopics.find(reader, 0, cache)
    fewer = subtopics.find(reader, 0, cache, subtopics.Settings(max_parts=1))
    assert not fewer.cached and fewer.parts == []  # at most one part: no subtopics
    for path in (cache / "subtopics").glob("*.json"):
        path.write_text("{torn", encoding="utf-8")
    again = subtopics.find(reader, 0, cache)
    assert not again.cached and len(again.parts) == 2
    written = [p.read_text() for p in (cache / "subtopics").glob("*.json")]
    assert sorted(t == "{torn" for t in written) == [False, True]  # the one asked again was written whole
    assert json.loads(next(t for t in written if t != "{torn"))["topic"] == 0


def test_unknown_and_outlier_topics_are_one_line_errors(index):
    reader = store.open_reader(index)
    with pytest.raises(TopictalkError, match="no topic 7 in this index"):
        subtopics.find(reader, 7)
    with pytest.raises(TopictalkError, match="topic -1"):
        subtopics.find(reader, -1)


def test_without_a_cache_folder_nothing_is_written_and_a_memo_keeps_them(index, monkeypatch):
    reader, memo = store.open_reader(index), {}
    found = subtopics.find(reader, 0, None, memo=memo)
    assert len(found.parts) == 2 and not (index.path / "cache" / "subtopics").exists() and len(memo) == 1
    monkeypatch.setattr(subtopics, "compute", lambda *a, **k: pytest.fail("computed again"))
    again = subtopics.find(reader, 0, None, memo=memo)
    assert again.cached and again.parts == found.parts


def test_python_and_the_command_line_show_them(index, capsys):
    import topictalk
    from topictalk.ui import cli

    table = topictalk.open(index.path).subtopics(0)
    assert list(table.columns[:5]) == ["Subtopic", "Count", "Name", "Representation", "Representative_Docs"]
    assert list(table["Subtopic"]) == [1, 2] and table["Count"].sum() == 120 and set(table["Topic"]) == {0}
    assert table["Name"][0].startswith("0.1_")
    empty = topictalk.open(index.path).subtopics(1)
    assert empty.empty and "one subject" in empty.attrs["why_none"]
    assert cli.main(["topics", "--index-dir", str(index.path), "--subtopics", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("topic 0 'Topic 0' (120 documents): 2 subtopics") and "(cached)" in out
    assert all(label in out for label in table["Label"])
    assert cli.main(["topics", "--index-dir", str(index.path), "--subtopics", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["parts"] == [] and shown["size"] == 120 and shown["cached"] is True  # asked above
    assert cli.main(["topics", "--index-dir", str(index.path), "--subtopics", "0", "--split", "0"]) == 2
    assert "does not go with" in capsys.readouterr().err
