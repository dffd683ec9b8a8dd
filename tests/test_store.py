"""The Chroma schema on a real persistent client: generations switch atomically."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from topictalk.indexing import store, writer_lock
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import DocumentRecord, Topic


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


def _generations(*numbers: int) -> list[str]:
    return sorted(f"tt_g{n}_{kind}" for n in numbers for kind in ("documents", "map", "texts", "themes", "topics"))


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
    # a description's ids repeat where two sentences rest on one document: Chroma refuses a repeated id
    assert [d.id for d in reader.get_documents(["d1", "d3", "d1"])] == ["d1", "d3"]
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
    assert reader.generation == 1 and reader.count() == 20
    assert reader.topics()[0].label == "old 0"
    # the next run removes the partial generation and commits a fresh one under a new number
    gen = _write(client, 40, "newer")
    assert gen == 3
    names = [c.name for c in client.list_collections()]
    # generation 1 is kept until the next commit, for readers that still have it open
    assert sorted(n for n in names if n.startswith("tt_g")) == _generations(1, 3)
    reader = store.open_reader(location)
    assert reader.count() == 40 and reader.topics()[0].label == "newer 0"
    _write(client, 50, "newest")
    names = [c.name for c in client.list_collections()]
    assert sorted(n for n in names if n.startswith("tt_g")) == _generations(3, 4)


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
        assert following.count() == n or following.coordinates()["x"].shape == (n,)
    _write(client, 70, "run 70")
    assert pinned.topics()[0].label == "run 60 0"  # the replaced generation, still kept
    assert pinned.refresh(force=True) and pinned.topics()[0].label == "run 70 0"
    assert len(pinned.get_documents(["d65"])) == 1


def _append(client, docs, vectors, new: int, shared: bool = True, commit: bool = True) -> int:
    """Write ``docs`` as a new generation whose last ``new`` records are new: on the live one's parts
    (an add), or whole."""
    live = store.Reader(client)
    writer = store.begin(client)
    writer.batch = 7
    held = len(docs) - new
    writer.write_documents(docs, vectors, shared=store.Shared(live.parts, held) if shared else None)
    writer.write_topics([Topic(t, 1, f"topic {t}", "llm", ["k"], ["kb"], ["m"], ["d0"], np.ones(8, np.float32))
                         for t in (0, 1)])
    if commit:
        writer.commit({})
    return writer.generation


def test_an_add_shares_the_documents_it_keeps_and_its_generation_reads_as_one(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(31, 8)).astype(np.float32)
    docs = [DocumentRecord(f"d{i}", f"text {i}", f"title {i}", i % 2, 0.5, float(i), float(-i)) for i in range(31)]
    first = store.begin(client)
    first.batch = 7
    first.write_documents(docs[:20], vectors[:20])
    first.commit({})
    pinned = store.open_reader(location)
    pinned.follow_s = 3600
    assert _append(client, docs[:25], vectors[:25], new=5) == 2
    reader = store.open_reader(location)
    assert reader.parts == (1, 2) and reader.count() == 25
    assert [p.documents.count() for p in reader._open.parts] == [20, 5]  # only the new ones were written
    # one generation to every read: by id across parts, nearest of the union, members, all, the map
    assert [d.text for d in reader.get_documents(["d22", "d3", "d24"])] == ["text 22", "text 3", "text 24"]
    for i in (3, 22):
        hits = reader.query_documents(vectors[i], 6)
        exact = np.argsort(-(vectors[:25] @ vectors[i]) / np.linalg.norm(vectors[:25], axis=1))[:6]
        assert [d.id for d, _ in hits] == [f"d{j}" for j in exact]  # the union's order, not one part's
        assert [s for _, s in hits] == sorted(s for _, s in hits)
    assert {d.id for d, _ in reader.query_documents(vectors[0], 25, topic=1)} == {f"d{i}" for i in range(1, 25, 2)}
    cosine = (vectors[:25] @ vectors[0]) / np.linalg.norm(vectors[:25], axis=1)
    odd = [f"d{j}" for j in np.argsort(-cosine) if j % 2][:3]  # topic 1's nearest among the union's 25 nearest
    assert [(d.id, d.text) for d, _ in reader.query_documents(vectors[0], 3, topic=1, scan=25)] == [
        (i, f"text {i[1:]}") for i in odd]
    members, embedded = reader.topic_members(0)
    assert [d.id for d in members] == sorted(f"d{i}" for i in range(0, 25, 2))
    assert np.allclose(embedded, vectors[[int(d.id[1:]) for d in members]])
    assert [d.id for d in reader.all_documents()] == [f"d{i}" for i in range(25)]
    assert reader.coordinates()["ids"] == [f"d{i}" for i in range(25)]
    assert np.allclose(reader.embeddings(["d24", "d1"]), vectors[[24, 1]])
    # a second add shares both parts; the reader that opened generation 1 still answers from it
    assert _append(client, docs[:28], vectors[:28], new=3) == 3
    assert store.open_reader(location).parts == (1, 2, 3) and pinned.generation == 1 and pinned.count() == 20
    # an add killed before its commit: the next writer drops its part and keeps the parts in use
    _append(client, docs[:31], vectors[:31], new=3, commit=False)
    assert _append(client, docs[:31], vectors[:31], new=3) == 5
    reader = store.open_reader(location)
    assert reader.parts == (1, 2, 3, 5) and reader.count() == 31
    names = {c.name for c in client.list_collections()}
    assert "tt_g4_documents" not in names and {f"tt_g{n}_documents" for n in (1, 2, 3, 5)} <= names
    # a whole generation (a refine, or an add past store.MAX_PARTS) joins the parts again; the parts of the
    # one it replaced stay for its readers until the next commit
    assert _append(client, docs[:31], vectors[:31], new=0, shared=False) == 6
    assert store.open_reader(location).parts == (6,) and store.open_reader(location).count() == 31
    assert {f"tt_g{n}_documents" for n in (1, 2, 3, 5, 6)} <= {c.name for c in client.list_collections()}
    _append(client, docs[:31], vectors[:31], new=0, shared=False)
    assert sorted(c.name for c in client.list_collections() if c.name.startswith("tt_g")) == _generations(6, 7)


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
    assert {n: r.count() for n, r in readers.items()} == {"default": 20, "a": 30, "g1": 40}
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
    with writer_lock.Lease(client, location, ttl=30):
        with pytest.raises(TopictalkError, match="another `topictalk index` is writing") as err:
            writer_lock.Lease(client, location, ttl=30).acquire()
        assert "\n" not in str(err.value) and "--index-name" in str(err.value)
        with writer_lock.Lease(client, store.Location(path=tmp_path, index="other"), ttl=30):
            pass  # another index of the same store is not blocked
    with writer_lock.Lease(client, location, ttl=30) as again:  # released: the next writer gets it
        again.check()


class _Clock:
    """Wall-clock seconds the test moves: leases expire when it says, not when a sleep on a busy
    machine happens to end."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_crashed_writer_stops_blocking_and_can_no_longer_commit(tmp_path):
    location = store.Location(path=tmp_path, index="shared")
    client = store.connect(location)
    _write(client, 20, "live", names=location.names)
    clock = _Clock()
    crashed = writer_lock.Lease(client, location, ttl=60, clock=clock).acquire()
    crashed._stop.set()  # its heartbeat stops, as when its host dies
    half = store.begin(client, location.names, crashed)
    half.write_documents([], np.zeros((0, 8), np.float32))
    clock.now += 59
    with pytest.raises(TopictalkError, match="is writing"):  # still within its lease
        writer_lock.Lease(client, location, ttl=30, clock=clock).acquire()
    clock.now += 2  # its lease ran out unrenewed
    with writer_lock.Lease(client, location, ttl=30, clock=clock) as taker:
        _write(client, 40, "taker", names=location.names, lease=taker)
        with pytest.raises(TopictalkError, match="lost the writer lock"):
            half.commit({})
    assert store.open_reader(location).topics()[0].label == "taker 0"


def test_a_killed_writer_on_this_host_is_taken_over_at_once(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    held = writer_lock.Lease(client, location, ttl=600).acquire()
    held._stop.set()
    client.get_collection(location.names.lock(held.epoch)).modify(
        metadata={**held._metadata(held.clock() + 600), "pid": int(dead.stdout)})
    with writer_lock.Lease(client, location, ttl=30) as taker:
        assert taker.epoch == held.epoch + 1


def test_missing_index_is_one_clear_line(tmp_path):
    with pytest.raises(TopictalkError, match="no topic index") as err:
        store.open_reader(store.Location(path=tmp_path / "nothing"))
    assert "\n" not in str(err.value)
    store.connect(store.Location(path=tmp_path / "empty"))  # a database with no index in it yet
    with pytest.raises(TopictalkError, match="no topic index"):
        store.open_reader(store.Location(path=tmp_path / "empty"))


@pytest.mark.slow  # opens a socket to port 9
def test_unreachable_chroma_server_is_one_clear_line():
    with pytest.raises(TopictalkError, match="cannot open the Chroma store"):
        store.connect(store.Location(host="127.0.0.1", port=9))


def test_documents_keep_every_field_and_the_map_reads_its_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(store.layout, "MAP_CHUNK", 4)  # 11 documents: three map records
    monkeypatch.setattr(store.layout, "TEXT_CHUNK", 2)  # and six records of texts
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    writer = store.begin(client)
    writer.batch = 5
    docs = [DocumentRecord(f"d{i}", f"text {i} ünï", f"title {i}", i % 3, 0.25 * (i % 4), i / 3, -i / 7,
                           core=i % 2 == 0, theme=None if i % 3 == 2 else i % 2) for i in range(11)]
    writer.write_documents(docs, np.random.default_rng(0).normal(size=(11, 8)).astype(np.float32))
    writer.write_topics([])
    writer.commit({})
    reader = store.open_reader(location)
    assert reader._open.map.count() == 3 and reader._open.parts[0].texts.count() == 6
    back = reader.get_documents([d.id for d in docs])
    assert [d.id for d in reader.get_documents(["d9", "d0", "d4"])] == ["d9", "d0", "d4"]
    found = reader.query_documents(np.ones(8), 11, topic=1)
    assert sorted(d.id for d, _ in found) == sorted(d.id for d in docs if d.topic == 1)
    assert all(d.text == f"text {d.id[1:]} ünï" for d, _ in found)
    for got, want in zip(back, docs):
        assert (got.text, got.title, got.topic, got.core, got.theme) == (want.text, want.title, want.topic,
                                                                          want.core, want.theme)
        assert abs(got.x - want.x) < 1e-3 and abs(got.y - want.y) < 1e-3 and got.probability == want.probability
    coords = reader.coordinates()
    assert coords["ids"] == [d.id for d in docs] and coords["title"][4] == "title 4"
    assert np.allclose(coords["x"], [d.x for d in docs], atol=1e-3) and coords["topic"].tolist() == [i % 3 for i in range(11)]
    assert coords["core"].tolist() == [d.core for d in docs] and coords["theme"][2] == -1
    # no Chroma documents: embedded Chroma would build a full-text index of each (most of the write time)
    documents = reader._open.parts[0].documents
    assert documents.get(ids=["d0"], include=["documents"])["documents"] == [None]
    assert documents.configuration_json["hnsw"]["max_neighbors"] == store.DOCUMENT_HNSW["max_neighbors"]


def test_an_index_written_before_the_map_collection_still_reads(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    writer = store.begin(client)
    # the layout of earlier versions: text as the Chroma document, one metadata key per field, no map
    writer.documents.add(ids=["a", "b"], documents=["alpha text", "beta text"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
                         metadatas=[{"title": "Alpha", "topic": 0, "probability": 0.5, "x": 1.0, "y": 2.0},
                                    {"title": "Beta", "topic": 1, "probability": 0.9, "x": 3.0, "y": 4.0,
                                     "core": False, "theme": 2}])
    client.delete_collection(writer.names.map(writer.generation))
    client.delete_collection(writer.names.texts(writer.generation))
    writer.commit({})
    reader = store.open_reader(location)
    a, b = reader.get_documents(["a", "b"])
    assert (a.text, a.title, a.core, a.theme) == ("alpha text", "Alpha", True, None)
    assert (b.text, b.core, b.theme, b.x) == ("beta text", False, 2, 3.0)
    assert reader.query_documents(np.array([0.0, 1.0]), 1)[0][0].id == "b"
    coords = reader.coordinates()
    assert coords["ids"] == ["a", "b"] and coords["y"].tolist() == [2.0, 4.0] and coords["title"] == ["Alpha", "Beta"]


def test_an_index_written_before_the_texts_collection_still_reads(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    writer = store.begin(client)
    # the layout of the stop before: the text and a JSON list of the other fields as document metadata
    writer.documents.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
                         metadatas=[{"topic": 0, "theme": -1, "text": "alpha text",
                                     "shown": '["Alpha", 0.5, 1.0, 2.0, true]'},
                                    {"topic": 1, "theme": 2, "text": "beta text",
                                     "shown": '["Beta", 0.9, 3.0, 4.0, false]'}])
    client.delete_collection(writer.names.texts(writer.generation))
    writer.commit({})
    reader = store.open_reader(location)
    a, b = reader.get_documents(["a", "b"])
    assert (a.text, a.title, a.core, a.theme) == ("alpha text", "Alpha", True, None)
    assert (b.text, b.core, b.theme, b.x, b.probability) == ("beta text", False, 2, 3.0, 0.9)
    assert reader.query_documents(np.array([0.0, 1.0]), 1, topic=1)[0][0].title == "Beta"


def test_writer_lock_excludes_a_second_writer_of_an_embedded_folder(tmp_path):
    location = store.Location(path=tmp_path / "index")
    client = store.connect(location)
    with writer_lock.writer_lock(location, client) as lease:
        assert lease is None  # a file lock: an embedded store is one local folder
        with pytest.raises(TopictalkError, match="another `topictalk index` is writing") as err:
            with writer_lock.writer_lock(location, client):
                pass
        assert "\n" not in str(err.value)
    with writer_lock.writer_lock(location, client):  # released: the next writer gets it
        pass


def test_a_folder_named_by_a_string_is_a_folder(tmp_path):
    """From Python, Location(path="/some/folder") works like a Path (it was a TypeError traceback at the first read)."""
    assert store.Location(path=str(tmp_path)) == store.Location(path=tmp_path)
    with pytest.raises(TopictalkError, match="no topic index at"):
        store.open_reader(store.Location(path=str(tmp_path / "none")))
