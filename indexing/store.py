"""The Chroma schema, written and read here only.

An index has a *name* (``--index-name``, default ``default``) that prefixes
its collections, so many indexes share one Chroma server. Collections
per *generation*: ``<prefix>g<N>_documents`` (id and embedding; one metadata key,
``topic_at``, that holds both the document's topic, filtered on as a range, and the number
of its record in ``<prefix>g<N>_texts``: see :func:`_topic_at`),
``<prefix>g<N>_texts`` (each document's text, title, probability, map position, core flag
and theme, as JSON, :data:`TEXT_CHUNK` documents a record), ``<prefix>g<N>_map`` (every document's map point,
in chunks of :data:`MAP_CHUNK`: the map reads a few records, not every document),
``<prefix>g<N>_topics`` (id = topic id;
the label as document; the topic embedding; metadata label, keywords,
KeyBERT and MMR words, size, theme, representative ids) and ``<prefix>g<N>_themes``
(id = theme id; label, size, keywords, topic ids; the theme's centroid). Indexes of older
layouts are read as they were written: without themes (none), without the map collection
(the text a Chroma document, every field its own key), without the texts collection (the
text and a JSON list of the other fields as metadata of each document).

Why the text is neither a Chroma document nor a metadata key of its own: embedded Chroma
indexes every document for full-text search (an FTS5 trigram index, 70% of the write time
at 40k abstracts) and every string metadata value in a B-tree over (key, value), neither of
which topictalk queries (Chroma's Schema can switch them off on Chroma Cloud, but the embedded
store ignores it); each metadata key costs a row and an index entry per document. At 20k
abstracts on 2 cores (scratch measurement): ids and embeddings alone 2.2 s, with two int keys
3.6 s, with the text as a key 7.9 s, with it in records of 32 documents 6.0 s; one int key
and the texts in records 3.5 s; commit ab30ae0's layout 20.1 s. The HNSW settings are in :data:`DOCUMENT_HNSW`. ``<prefix>meta`` holds one
record ``current`` whose metadata names the live generation (and the one
before it) and carries the manifest. The default index's prefix is ``tt_``,
the names every index had before names existed; others use ``tt_<name>_``.

A new index is written as generation N+1 and becomes live by one upsert of
that record, so a run killed at any point leaves generation N untouched and
still served. The commit keeps generation N until the next commit, so a
reader that opened N keeps answering while it moves to N+1 between queries.

Writers exclude each other where the data is (``indexing.writer_lock``): on a
server, by a lease record in the store; in an embedded folder, by a file lock.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from indexing.errors import TopictalkError
from indexing.paths import atomic_write
from indexing.schema import DocumentRecord, Theme, Topic

DEFAULT_INDEX = "default"
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_META_ID = "current"
_NO_EMBEDDING = [0.0]  # Chroma wants an embedding on every record, the meta one too
MAP_CHUNK = 5000  # map points per record of the map collection (~0.5 MB of JSON)
# documents per record of the texts collection: a search of 8 reads at most 8 records (~40 kB each,
# 7 ms at 20k documents; 256 a record writes no faster and reads 10 ms)
TEXT_CHUNK = 32
TOPIC_STRIDE = 2**31  # topic_at = (topic + 1) * TOPIC_STRIDE + record number (Chroma ints are 64-bit)
# The HNSW graph of the documents, measured at 60k static-model abstracts on 2 cores against exact
# search (bench/scale.py): Chroma's defaults (M 16, ef_construction 100, ef_search 100) found 88% of the
# true 8 nearest; M 12 and ef_construction 40 build in ~40% of the time, and ef_search 400 then finds
# 94%, in ~2 ms a query. Embedded Chroma (the Rust segment) reads space, max_neighbors,
# ef_construction, ef_search, sync_threshold and resize_factor; batch_size and num_threads belong to
# the pre-1.0 Python segment (insertion runs on every core). sync_threshold: see Writer.
DOCUMENT_HNSW = {"space": "cosine", "max_neighbors": 12, "ef_construction": 40, "ef_search": 400}
FOLLOW_S = 2.0  # how often a reader looks for a newer live generation, at most
T = TypeVar("T")


def check_index_name(name: str) -> str:
    # fullmatch: "$" also matches before a trailing newline, so "papers\n" would pass and fail in Chroma
    if not isinstance(name, str) or not _INDEX_NAME.fullmatch(name):
        raise TopictalkError(f"bad index name {name!r}: use 1-40 lowercase letters, digits and '-', starting "
                             "with a letter or digit (e.g. --index-name papers-2024)")
    return name


@dataclass(frozen=True)
class Names:
    """The collection names of one index."""

    index: str = DEFAULT_INDEX

    @property
    def prefix(self) -> str:
        return "tt_" if self.index == DEFAULT_INDEX else f"tt_{self.index}_"

    @property
    def meta(self) -> str:
        return self.prefix + "meta"

    def generation(self, n: int) -> tuple[str, str]:
        return f"{self.prefix}g{n}_documents", f"{self.prefix}g{n}_topics"

    def themes(self, n: int) -> str:
        return f"{self.prefix}g{n}_themes"

    def map(self, n: int) -> str:
        return f"{self.prefix}g{n}_map"

    def texts(self, n: int) -> str:
        return f"{self.prefix}g{n}_texts"

    def generation_of(self, collection: str) -> int | None:
        """The generation a collection of this index belongs to; None for anything else
        (the separator '_' cannot occur in an index name, so prefixes never overlap)."""
        got = re.fullmatch(re.escape(self.prefix) + r"g(\d+)_(?:documents|topics|themes|map|texts)", collection)
        return int(got.group(1)) if got else None

    def lock(self, epoch: int) -> str:
        return f"{self.prefix}lock_{epoch}"

    def lock_epoch(self, collection: str) -> int | None:
        got = re.fullmatch(re.escape(self.prefix) + r"lock_(\d+)", collection)
        return int(got.group(1)) if got else None


@dataclass(frozen=True)
class Location:
    """An embedded database folder, or a Chroma server for teams; and which index in it."""

    path: Path | None = None
    host: str | None = None
    port: int = 8000
    index: str = DEFAULT_INDEX

    def __post_init__(self) -> None:
        check_index_name(self.index)

    @property
    def names(self) -> Names:
        return Names(self.index)

    def __str__(self) -> str:
        where = f"chroma://{self.host}:{self.port}" if self.host else str(self.path)
        return where if self.index == DEFAULT_INDEX else f"{where} (index {self.index})"


def connect(location: Location):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    try:
        if location.host:
            client = chromadb.HttpClient(host=location.host, port=location.port, settings=settings)
            client.heartbeat()
            return client
        location.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(location.path), settings=settings)
    except TopictalkError:
        raise
    except Exception as err:  # chroma raises many types for "cannot reach/open"
        raise TopictalkError(f"cannot open the Chroma store at {location}: {err}; check --index-dir or "
                             "--chroma-host/--chroma-port") from err


def _collection_names(client) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def _missing(err: Exception) -> bool:
    """Chroma's "collection does not exist" (NotFoundError in 1.x, other classes before)."""
    return type(err).__name__ in ("NotFoundError", "InvalidCollectionException") or "does not exist" in str(err)


def _encode(items: Sequence[str]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class Held(Protocol):
    """A writer lock a :class:`Writer` checks before switching generations (``writer_lock.Lease``)."""

    def check(self) -> None: ...


class Writer:
    """Builds one new generation; :meth:`commit` makes it the live one."""

    def __init__(self, client, generation: int, names: Names = Names(), lease: Held | None = None) -> None:
        self.client = client
        self.generation = generation
        self.names = names
        self.lease = lease
        self.batch = max(1, client.get_max_batch_size())
        docs_name, topics_name = names.generation(generation)
        themes_name, map_name, texts_name = names.themes(generation), names.map(generation), names.texts(generation)
        for name in (docs_name, topics_name, themes_name, map_name, texts_name):  # leftovers of a killed run
            if name in _collection_names(client):
                client.delete_collection(name)
        space = {"hnsw": {"space": "cosine"}}
        # sync_threshold 2: the graph is saved, and Chroma's write log purged, after every add (one
        # batch). Above the batch size the log keeps growing and each add re-reads all of it; the last,
        # smaller batch would stay unsaved and be replayed by every reader that opens the index.
        hnsw = {**DOCUMENT_HNSW, "sync_threshold": 2}
        self.documents = client.create_collection(docs_name, embedding_function=None, configuration={"hnsw": hnsw})
        self.topics = client.create_collection(topics_name, embedding_function=None, configuration=space)
        self.themes = client.create_collection(themes_name, embedding_function=None, configuration=space)
        self.map = client.create_collection(map_name, embedding_function=None, configuration=space)
        self.texts = client.create_collection(texts_name, embedding_function=None, configuration=space)

    def write_documents(self, records: Sequence[DocumentRecord], embeddings: np.ndarray, progress=None) -> None:
        """One add per batch of Chroma's maximum, then the texts and map points (see the module docstring)."""
        for part in _batches(len(records), self.batch):
            self.documents.add(
                ids=[r.id for r in records[part]],
                embeddings=np.asarray(embeddings[part], dtype=np.float32),
                metadatas=[{"topic_at": _topic_at(records[i].topic, i // TEXT_CHUNK)} for i in range(part.start, part.stop)],
            )
            if progress is not None:
                progress(part.stop - part.start)
        self._write_texts(records)
        self._write_map(records)

    def _write_texts(self, records: Sequence[DocumentRecord]) -> None:
        self._write_chunked(self.texts, records, TEXT_CHUNK, "records", lambda r: [
            r.id, r.text, r.title, round(float(r.probability), 4), round(float(r.x), 4), round(float(r.y), 4),
            bool(r.core), -1 if r.theme is None else int(r.theme)])

    def _write_map(self, records: Sequence[DocumentRecord]) -> None:
        self._write_chunked(self.map, records, MAP_CHUNK, "points", lambda r: [
            r.id, round(float(r.x), 4), round(float(r.y), 4), int(r.topic), -1 if r.theme is None else int(r.theme),
            bool(r.core), r.title])

    def _write_chunked(self, collection, records: Sequence[DocumentRecord], size: int, key: str,
                       row: Callable[[DocumentRecord], list]) -> None:
        """``size`` records a Chroma record, under ``key`` as a JSON list of ``row(record)``; its id is its
        number (:func:`_record_id`). 256 Chroma records an add: Chroma's maximum (5,461) would hold every
        text of 120k abstracts as JSON at once, where the write stage had the index's peak memory (2.75 GB)."""
        chunks = list(_batches(len(records), size))
        for part in _batches(len(chunks), min(self.batch, 256)):
            collection.add(
                ids=[_record_id(k) for k in range(part.start, part.stop)],
                embeddings=[_NO_EMBEDDING] * (part.stop - part.start),
                metadatas=[{key: json.dumps([row(r) for r in records[c]], ensure_ascii=False)} for c in chunks[part]],
            )

    def write_topics(self, topics: Sequence[Topic]) -> None:
        self._write_groups(self.topics, topics, lambda t: {
            "topic": t.id, "keywords": _encode(t.keywords), "keybert": _encode(t.keybert), "mmr": _encode(t.mmr),
            "theme": -1 if t.theme is None else int(t.theme)})

    def write_themes(self, themes: Sequence[Theme]) -> None:
        self._write_groups(self.themes, themes, lambda t: {
            "theme": t.id, "keywords": _encode(t.keywords), "topic_ids": _encode(t.topic_ids)})

    def _write_groups(self, collection, groups: Sequence[Topic] | Sequence[Theme], metadata) -> None:
        """Topics or themes: id, label as the document, centroid, and the metadata both kinds share."""
        for part in _batches(len(groups), self.batch):
            chunk = groups[part]
            collection.add(
                ids=[str(g.id) for g in chunk],
                documents=[g.label for g in chunk],
                embeddings=np.stack([g.embedding for g in chunk]).astype(np.float32),
                metadatas=[{"label": g.label, "label_source": g.label_source, "size": g.size,
                            "representative_ids": _encode(g.representative_ids), **metadata(g)} for g in chunk],
            )

    def commit(self, manifest: dict) -> None:
        """Switch readers to this generation in one write, then drop all but it and the one it replaces.

        The replaced generation stays until the next commit: readers that
        opened it keep answering until they notice the switch.
        """
        if self.lease is not None:
            self.lease.check()  # a writer that lost its lease must not switch what another one writes
        previous = live_generation(self.client, self.names)
        manifest = {**manifest, "generation": self.generation}
        meta = self.client.get_or_create_collection(self.names.meta, embedding_function=None)
        record = {"generation": self.generation, "manifest": json.dumps(manifest)}
        if previous is not None and previous != self.generation:
            record["previous"] = previous
        meta.upsert(ids=[_META_ID], embeddings=[_NO_EMBEDDING], documents=[""], metadatas=[record])
        drop_stale(self.client, self.names, keep=(self.generation, previous))


def _live_record(client, names: Names) -> dict | None:
    if names.meta not in _collection_names(client):
        return None
    got = client.get_collection(names.meta, embedding_function=None).get(ids=[_META_ID], include=["metadatas"])
    return got["metadatas"][0] if got["ids"] else None


def live_generation(client, names: Names = Names()) -> int | None:
    record = _live_record(client, names)
    return int(record["generation"]) if record else None


def drop_stale(client, names: Names, keep: Sequence[int | None]) -> None:
    """Delete this index's generations other than ``keep`` (partial runs, replaced indexes)."""
    for name in _collection_names(client):
        generation = names.generation_of(name)
        if generation is not None and generation not in keep:
            try:
                client.delete_collection(name)
            except Exception as err:  # a concurrent drop got there first
                if not _missing(err):
                    raise


def begin(client, names: Names = Names(), lease: Held | None = None) -> Writer:
    """Start a new generation beside the live one (and the one before it).

    Partial generations of killed runs are removed first: with the writer
    lock held no live writer owns them. The new number is above every
    number in use, so it never reuses a collection name still being read.
    """
    if lease is not None:
        lease.check()
    record = _live_record(client, names) or {}
    keep = (record.get("generation"), record.get("previous"))
    existing = [g for n in _collection_names(client) if (g := names.generation_of(n)) is not None]
    number = max([0, *existing, *(k for k in keep if k is not None)]) + 1
    drop_stale(client, names, keep=keep)
    return Writer(client, number, names, lease)


@dataclass(frozen=True)
class _Open:
    generation: int
    manifest: dict
    documents: object
    topics: object
    themes: object | None  # None for an index written before themes existed
    map: object | None  # None for an index written before the map collection (documents hold the points)
    texts: object | None = None  # None for an index written before the texts collection (metadata holds them)


class Reader:
    """Reads the live generation of one index; what the agent and the app use.

    Between calls it looks for a newer live generation (at most every
    ``follow_s`` seconds) and moves to it, so a long-running chat follows
    re-indexes; a generation dropped under it is one retry on the live one.
    """

    def __init__(self, client, location: Location | str = "", follow_s: float = FOLLOW_S) -> None:
        self.client = client
        self.location = location
        self.names = location.names if isinstance(location, Location) else Names()
        self.follow_s = follow_s
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._open = self._load()
        if self._open is None:
            raise TopictalkError(f"no topic index at {location}: build one with `topictalk index --input FILE` "
                                 "(or --dataset NAME) first")

    def _load(self) -> _Open | None:
        record = _live_record(self.client, self.names)
        if record is None:
            return None
        generation = int(record["generation"])
        docs_name, topics_name = self.names.generation(generation)
        existing = _collection_names(self.client)

        def optional(name: str):
            return self.client.get_collection(name, embedding_function=None) if name in existing else None

        return _Open(generation, json.loads(record["manifest"]),
                     self.client.get_collection(docs_name, embedding_function=None),
                     self.client.get_collection(topics_name, embedding_function=None),
                     optional(self.names.themes(generation)), optional(self.names.map(generation)),
                     optional(self.names.texts(generation)))

    @property
    def generation(self) -> int:
        return self._open.generation

    @property
    def manifest(self) -> dict:
        return self._open.manifest

    @property
    def documents(self):
        return self._open.documents

    def refresh(self, force: bool = False) -> bool:
        """Move to the live generation if a newer one was committed; True when it moved.

        Without ``force`` it looks at most every ``follow_s`` seconds, and a
        failed look keeps the generation it has (it still answers).
        """
        now = time.monotonic()
        if not force and now - self._checked < self.follow_s:
            return False
        with self._lock:
            self._checked = now
            try:
                opened = self._load()
            except Exception:
                if force:
                    raise
                return False
            if opened is None or opened.generation == self._open.generation:
                return False
            self._open = opened
            return True

    def _read(self, call: Callable[[_Open], T]) -> T:
        self.refresh()
        current = self._open
        try:
            return call(current)
        except Exception as err:
            if not _missing(err):
                raise
            lost = err
        # our generation was dropped (two re-indexes since we last looked): retry once on the live one
        try:
            if self.refresh(force=True):
                return call(self._open)
        except Exception as err:
            lost = err
        raise TopictalkError(f"the topic index at {self.location} changed while it was read and could not be "
                             f"reopened ({type(lost).__name__}); ask again, or restart if it keeps failing") from lost

    def topics(self) -> list[Topic]:
        """Every topic, the outlier topic -1 included, biggest first."""
        got = self._read(lambda o: o.topics.get(include=["metadatas", "embeddings"]))
        topics = [_topic(m, e) for m, e in zip(got["metadatas"], got["embeddings"])]
        return sorted(topics, key=lambda t: (t.is_outlier, -t.size, t.id))

    def themes(self) -> list[Theme]:
        """Every theme, biggest first; [] for an index written before themes existed."""
        got = self._read(lambda o: o.themes.get(include=["metadatas", "embeddings"]) if o.themes is not None
                         else {"metadatas": [], "embeddings": []})
        themes = [_theme(m, e) for m, e in zip(got["metadatas"], got["embeddings"])]
        return sorted(themes, key=lambda t: (-t.size, t.id))

    def get_documents(self, ids: Sequence[str]) -> list[DocumentRecord]:
        """Documents by id, in the order asked (unknown ids are skipped)."""
        if not ids:
            return []
        def read(o: _Open) -> list[DocumentRecord]:
            got = o.documents.get(ids=list(ids), include=["documents", "metadatas"])
            return _documents(o, got["ids"], got["documents"], got["metadatas"])

        by_id = {d.id: d for d in self._read(read)}
        return [by_id[i] for i in ids if i in by_id]

    def query_documents(self, embedding: np.ndarray, n: int, topic: int | None = None,
                        scan: int = 0) -> list[tuple[DocumentRecord, float]]:
        """Nearest documents by cosine distance, optionally within one topic: by Chroma's metadata filter,
        or, with ``scan``, the first ``n`` of that topic among the ``scan`` nearest of all."""
        def read(o: _Open) -> list[tuple[DocumentRecord, float]]:
            where = None
            if topic is not None and not scan:
                where = {"topic": int(topic)} if o.texts is None else {"$and": [  # see _topic_at
                    {"topic_at": {"$gte": _topic_at(topic, 0)}}, {"topic_at": {"$lt": _topic_at(topic + 1, 0)}}]}
            include = ["metadatas", "distances"] + (["documents"] if o.texts is None else [])
            got = o.documents.query(query_embeddings=[np.asarray(embedding, dtype=np.float32)],
                                    n_results=scan if topic is not None and scan else n, where=where, include=include)
            rows = list(zip(got["ids"][0], got["documents"][0] if o.texts is None else [None] * len(got["ids"][0]),
                            got["metadatas"][0], got["distances"][0]))
            if topic is not None and scan:
                rows = [r for r in rows if _topic_of(r[2]) == topic][:n]
            docs = _documents(o, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
            return [(d, float(r[3])) for d, r in zip(docs, rows)]

        return self._read(read)

    def coordinates(self) -> dict[str, np.ndarray | list]:
        """Every document's map position, topic and title (for the data map)."""
        points = self._read(_map_points)
        return {
            "ids": [p[0] for p in points],
            "x": np.array([p[1] for p in points], dtype=np.float32),
            "y": np.array([p[2] for p in points], dtype=np.float32),
            "topic": np.array([p[3] for p in points], dtype=np.int32),
            "theme": np.array([p[4] for p in points], dtype=np.int32),
            "core": np.array([p[5] for p in points], dtype=bool),
            "title": [p[6] for p in points],
        }


def _map_points(opened: _Open) -> list[list]:
    """[id, x, y, topic, theme, core, title] per document, in writing order."""
    if opened.map is not None:
        got = opened.map.get(include=["metadatas"])
        chunks = sorted(zip(got["ids"], got["metadatas"]))
        return [p for _, m in chunks for p in json.loads(m["points"])]
    got = opened.documents.get(include=["metadatas"])  # an index written before the map collection
    return [[i, m["x"], m["y"], m["topic"], m.get("theme", -1), m.get("core", True), m.get("title", "")]
            for i, m in zip(got["ids"], got["metadatas"])]


def _topic(meta: dict, embedding) -> Topic:
    return Topic(
        id=int(meta["topic"]), size=int(meta["size"]), label=meta["label"], label_source=meta["label_source"],
        keywords=json.loads(meta["keywords"]), keybert=json.loads(meta["keybert"]), mmr=json.loads(meta["mmr"]),
        representative_ids=json.loads(meta["representative_ids"]),
        embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
        theme=None if meta.get("theme", -1) < 0 else int(meta["theme"]),
    )


def _theme(meta: dict, embedding) -> Theme:
    return Theme(
        id=int(meta["theme"]), size=int(meta["size"]), label=meta["label"], label_source=meta["label_source"],
        topic_ids=json.loads(meta["topic_ids"]), keywords=json.loads(meta["keywords"]),
        representative_ids=json.loads(meta.get("representative_ids", "[]")),
        embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
    )


def _record_id(chunk: int) -> str:
    """The id of a texts or map record: its number, zero-padded so that ids sort as numbers."""
    return f"{chunk:07d}"


def _topic_at(topic: int, chunk: int) -> int:
    """A document's topic and its texts record in one int: each metadata key costs embedded Chroma a
    row and an index entry per document, 20% of the write with two keys; a topic is the range
    [_topic_at(t, 0), _topic_at(t + 1, 0))."""
    return (int(topic) + 1) * TOPIC_STRIDE + chunk


def _topic_of(meta: dict) -> int:
    return int(meta["topic_at"]) // TOPIC_STRIDE - 1 if "topic_at" in meta else int(meta["topic"])


def _documents(opened: _Open, ids: Sequence[str], texts: Sequence[str | None], metas: Sequence[dict]) -> list[DocumentRecord]:
    """Documents from what Chroma returned for them: their records in the texts collection, read in
    one call, or, in older layouts, their own metadata."""
    if opened.texts is None or not ids:
        return [_document(i, t, m) for i, t, m in zip(ids, texts, metas)]
    chunks = sorted({int(m["topic_at"]) % TOPIC_STRIDE for m in metas})
    got = opened.texts.get(ids=[_record_id(c) for c in chunks], include=["metadatas"])
    wanted = set(ids)
    rows = {row[0]: row for m in got["metadatas"] for row in json.loads(m["records"]) if row[0] in wanted}
    out = []
    for i, meta in zip(ids, metas):
        _, text, title, probability, x, y, core, theme = rows[i]
        out.append(DocumentRecord(id=i, text=text, title=title, topic=_topic_of(meta), probability=float(probability),
                                  x=float(x), y=float(y), core=bool(core), theme=None if theme < 0 else int(theme)))
    return out


def _document(doc_id: str, text: str | None, meta: dict) -> DocumentRecord:
    theme = None if meta.get("theme", -1) < 0 else int(meta["theme"])
    if "shown" in meta:
        title, probability, x, y, core = json.loads(meta["shown"])
        return DocumentRecord(id=doc_id, text=meta["text"], title=title, topic=int(meta["topic"]),
                              probability=float(probability), x=float(x), y=float(y), core=bool(core), theme=theme)
    # written before the map collection: the text is the Chroma document, every field its own key
    return DocumentRecord(id=doc_id, text=text or "", title=meta.get("title", ""), topic=int(meta["topic"]),
                          probability=float(meta["probability"]), x=float(meta["x"]), y=float(meta["y"]),
                          core=bool(meta.get("core", True)), theme=theme)


def open_reader(location: Location) -> Reader:
    if location.path is not None and not location.host and not (location.path / "chroma.sqlite3").exists():
        raise TopictalkError(f"no topic index at {location.path}: build one with `topictalk index --input FILE` "
                             "(or --dataset NAME), or point --index-dir at an existing index")
    return Reader(connect(location), location)


def manifest_file(folder: Path, index: str = DEFAULT_INDEX) -> Path:
    """Where the human-readable manifest of an index lives beside an embedded database."""
    return folder / ("manifest.json" if index == DEFAULT_INDEX else f"manifest-{index}.json")


def write_manifest_file(folder: Path, manifest: dict, index: str = DEFAULT_INDEX) -> None:
    """A human-readable copy of the live manifest beside an embedded database."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
    atomic_write(manifest_file(folder, index), lambda f: f.write(text))
