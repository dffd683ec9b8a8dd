"""The Chroma schema on a real persistent client: generations switch atomically."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from indexing import store
from indexing.errors import TopictalkError
from indexing.schema import DocumentRecord, Topic


def _write(client, n_docs: int, label: str, commit: bool = True, names=None, lease=None) -> int:
    rng = np.random.default_rng(n_docs)
    vectors = rng.normal(size=(n_docs, 8)).astype(np.float32)
    writer = store.begin(client) if names is None and lease is None else store.begin(client, names, lease)
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
    # the next run removes the partial generation and commits a fresh one under a new number
    gen = _write(client, 40, "newer")
    assert gen == 3
    names = [c.name for c in client.list_collections()]
    # generation 1 is kept until the next commit, for readers that still have it open
    assert sorted(n for n in names if n.startswith("tt_g")) == ["tt_g1_documents", "tt_g1_topics",
                                                                 "tt_g3_documents", "tt_g3_topics"]
    reader = store.open_reader(location)
    assert reader.documents.count() == 40 and reader.topics()[0].label == "newer 0"
    _write(client, 50, "newest")
    names = [c.name for c in client.list_collections()]
    assert sorted(n for n in names if n.startswith("tt_g")) == ["tt_g3_documents", "tt_g3_topics",
                                                                 "tt_g4_documents", "tt_g4_topics"]


def test_open_reader_keeps_answering_across_reindexes(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    _write(client, 20, "first")
    pinned, following = store.open_reader(location), store.open_reader(location)
    pinned.follow_s = 3600  # never looks for a new generation by itself
    following.follow_s = 0  # looks before every call
    _write(client, 30, "second")
    # the replaced generation is still there: the pinned reader answers from it
    assert pinned.generation == 1 and len(pinned.query_documents(np.ones(8), 3)) == 3
    assert pinned.topics()[0].label == "first 0"
    # the following reader moved to the new one between calls
    assert following.topics()[0].label == "second 0" and following.generation == 2
    for n in (40, 50, 60):  # several re-indexes in a row: generation 1 is long gone
        _write(client, n, f"run {n}")
        hits = pinned.query_documents(np.ones(8), 3, topic=0)
        # it answers from the live generation or the one just replaced, never from a dropped one
        assert len(hits) == 3 and pinned.generation >= store.live_generation(client) - 1
        assert following.documents.count() == n or following.coordinates()["x"].shape == (n,)
    _write(client, 70, "run 70")
    assert pinned.topics()[0].label == "run 60 0"  # the replaced generation, still kept
    assert pinned.refresh(force=True) and pinned.topics()[0].label == "run 70 0"
    assert len(pinned.get_documents(["d65"])) == 1


def test_a_reader_whose_index_is_gone_gets_one_clear_line(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    _write(client, 20, "only")
    reader = store.open_reader(location)
    reader.follow_s = 3600
    for collection in client.list_collections():
        client.delete_collection(collection.name)
    with pytest.raises(TopictalkError, match="changed while it was read"):
        reader.query_documents(np.ones(8), 3)


def test_named_indexes_share_one_store_without_touching_each_other(tmp_path):
    client = store.connect(store.Location(path=tmp_path))
    _write(client, 20, "default")
    for _ in range(3):  # re-indexing "a" drops only its own old generations
        _write(client, 30, "papers", names=store.Names("a"))
    _write(client, 40, "news", names=store.Names("g1"))  # a name that looks like a generation
    readers = {name: store.open_reader(store.Location(path=tmp_path, index=name)) for name in ("default", "a", "g1")}
    assert {n: r.topics()[0].label for n, r in readers.items()} == {"default": "default 0", "a": "papers 0",
                                                                      "g1": "news 0"}
    assert {n: r.documents.count() for n, r in readers.items()} == {"default": 20, "a": 30, "g1": 40}
    assert "tt_meta" in [c.name for c in client.list_collections()]  # the default index keeps its old names
    with pytest.raises(TopictalkError, match="no topic index"):
        store.open_reader(store.Location(path=tmp_path, index="b"))
    for bad in ("", "A", "a_b", "-a", "x" * 41, "a/b"):
        with pytest.raises(TopictalkError, match="bad index name"):
            store.Location(path=tmp_path, index=bad)


def test_an_index_name_with_a_trailing_newline_is_refused_before_any_work():
    for bad in ("papers\n", "papers\r\n", "\npapers", None):
        with pytest.raises(TopictalkError, match="bad index name"):
            store.check_index_name(bad)
    assert store.check_index_name("papers-2024") == "papers-2024"


def test_a_second_writer_is_refused_while_the_lease_is_held(tmp_path):
    location = store.Location(path=tmp_path, index="shared")
    client = store.connect(location)
    with store.Lease(client, location, ttl=30):
        with pytest.raises(TopictalkError, match="another `topictalk index` is writing") as err:
            store.Lease(client, location, ttl=30).acquire()
        assert "\n" not in str(err.value) and "--index-name" in str(err.value)
        with store.Lease(client, store.Location(path=tmp_path, index="other"), ttl=30):
            pass  # another index of the same store is not blocked
    with store.Lease(client, location, ttl=30) as again:  # released: the next writer gets it
        again.check()


def test_a_crashed_writer_stops_blocking_and_can_no_longer_commit(tmp_path):
    location = store.Location(path=tmp_path, index="shared")
    client = store.connect(location)
    _write(client, 20, "live", names=location.names)
    crashed = store.Lease(client, location, ttl=1.0).acquire()
    crashed._stop.set()  # its heartbeat stops, as when its host dies
    half = store.begin(client, location.names, crashed)
    half.write_documents([], np.zeros((0, 8), np.float32))
    with pytest.raises(TopictalkError, match="is writing"):  # still within its lease
        store.Lease(client, location, ttl=30).acquire()
    time.sleep(1.3)
    with store.Lease(client, location, ttl=30) as taker:
        _write(client, 40, "taker", names=location.names, lease=taker)
        with pytest.raises(TopictalkError, match="lost the writer lock"):
            half.commit({})
    assert store.open_reader(location).topics()[0].label == "taker 0"


def test_a_killed_writer_on_this_host_is_taken_over_at_once(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    held = store.Lease(client, location, ttl=600).acquire()
    held._stop.set()
    client.get_collection(location.names.lock(held.epoch)).modify(
        metadata={**held._metadata(time.time() + 600), "pid": int(dead.stdout)})
    with store.Lease(client, location, ttl=30) as taker:
        assert taker.epoch == held.epoch + 1


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
