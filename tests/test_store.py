"""The Chroma schema on a real persistent client: generations switch atomically."""

from __future__ import annotations

import numpy as np
import pytest

from indexing import store
from indexing.errors import TopictalkError
from indexing.schema import DocumentRecord, Topic


def _write(client, n_docs: int, label: str, commit: bool = True) -> int:
    rng = np.random.default_rng(n_docs)
    vectors = rng.normal(size=(n_docs, 8)).astype(np.float32)
    writer = store.begin(client)
    writer.batch = 7  # several batches even for a handful of records
    docs = [DocumentRecord(f"d{i}", f"text {i}", f"title {i}", i % 2, 0.5, float(i), float(-i)) for i in range(n_docs)]
    writer.write_documents(docs, vectors)
    writer.write_topics([
        Topic(t, n_docs // 2, f"{label} {t}", "llm", ["k1", "k2"], ["kb"], ["m"], [f"d{t}"], np.ones(8, np.float32))
        for t in (0, 1)
    ])
    if commit:
        writer.commit({"corpus": {"documents": n_docs}})
    return writer.generation


def test_roundtrip_and_lists_survive_json(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    _write(client, 20, "first")
    reader = store.open_reader(location)
    topics = reader.topics()
    assert [t.label for t in topics] == ["first 0", "first 1"]
    assert topics[0].keywords == ["k1", "k2"] and topics[0].representative_ids == ["d0"]
    assert topics[0].embedding.shape == (8,)
    docs = reader.get_documents(["d3", "nope", "d1"])
    assert [d.id for d in docs] == ["d3", "d1"] and docs[0].title == "title 3" and docs[0].topic == 1
    assert reader.manifest["corpus"]["documents"] == 20 and reader.manifest["generation"] == 1
    hits = reader.query_documents(np.ones(8), 3, topic=0)
    assert len(hits) == 3 and all(d.topic == 0 for d, _ in hits)
    assert len(reader.coordinates()["x"]) == 20


def test_uncommitted_generation_is_invisible_and_cleaned_up(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    _write(client, 20, "old")
    # a run that dies after writing everything but before the switch
    _write(client, 30, "new", commit=False)
    reader = store.open_reader(location)
    assert reader.generation == 1 and reader.documents.count() == 20
    assert reader.topics()[0].label == "old 0"
    # the next run removes the partial generation and commits a fresh one
    gen = _write(client, 40, "newer")
    assert gen == 2
    names = [c.name for c in client.list_collections()]
    assert sorted(n for n in names if n.startswith("tt_g")) == ["tt_g2_documents", "tt_g2_topics"]
    reader = store.open_reader(location)
    assert reader.documents.count() == 40 and reader.topics()[0].label == "newer 0"


def test_missing_index_is_one_clear_line(tmp_path):
    with pytest.raises(TopictalkError, match="no topic index") as err:
        store.open_reader(store.Location(path=tmp_path / "nothing"))
    assert "\n" not in str(err.value)
    store.connect(store.Location(path=tmp_path / "empty"))  # a database with no index in it yet
    with pytest.raises(TopictalkError, match="no topic index"):
        store.open_reader(store.Location(path=tmp_path / "empty"))


def test_unreachable_chroma_server_is_one_clear_line():
    with pytest.raises(TopictalkError, match="cannot open the Chroma store"):
        store.connect(store.Location(host="127.0.0.1", port=9))
