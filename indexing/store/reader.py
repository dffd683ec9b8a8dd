"""Reading the live generation of one index from Chroma, following re-indexes between calls."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import DocumentRecord, Theme, Topic, biggest_first
from topictalk.indexing.store.layout import (
    FACET_KEY,
    FOLLOW_S,
    TOPIC_STRIDE,
    Location,
    Names,
    collection_names,
    connect,
    live_record,
    missing,
    parts_of,
    record_id,
    topic_at,
    topic_of,
)
from topictalk.indexing.trends import Trends

T = TypeVar("T")


@dataclass(frozen=True)
class _Part:
    """One documents collection of a generation and its texts collection (see ``layout.parts_of``)."""

    generation: int  # the generation that wrote them
    documents: object
    texts: object | None = None  # None for an index written before the texts collection (metadata holds them)


@dataclass(frozen=True)
class _Open:
    generation: int
    manifest: dict
    parts: tuple[_Part, ...]  # the generation's documents, in writing order
    topics: object
    themes: object | None  # None for an index written before themes existed
    map: object | None  # None for an index written before the map collection (documents hold the points)


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
        record = live_record(self.client, self.names)
        if record is None:
            return None
        generation = int(record["generation"])
        existing = collection_names(self.client)

        def collection(name: str):
            return self.client.get_collection(name, embedding_function=None)

        def optional(name: str):
            return collection(name) if name in existing else None

        parts = tuple(_Part(p, collection(self.names.generation(p)[0]), optional(self.names.texts(p)))
                      for p in parts_of(record))
        return _Open(generation, json.loads(record["manifest"]), parts,
                     collection(self.names.generation(generation)[1]),
                     optional(self.names.themes(generation)), optional(self.names.map(generation)))

    @property
    def generation(self) -> int:
        return self._open.generation

    @property
    def manifest(self) -> dict:
        return self._open.manifest

    @property
    def parts(self) -> tuple[int, ...]:
        """The generations whose collections hold this generation's documents (``layout.parts_of``); none
        for an index of an older layout, whose documents a new generation cannot share (it rewrites them)."""
        parts = self._open.parts
        return () if any(part.texts is None for part in parts) else tuple(part.generation for part in parts)

    def count(self) -> int:
        """How many documents the generation holds."""
        return self._read(lambda o: sum(part.documents.count() for part in o.parts))

    def embeddings(self, ids: Sequence[str]) -> np.ndarray:
        """The documents' embeddings, one row per id in the order given (every id must be indexed)."""
        ids = list(ids)
        batch = max(1, self.client.get_max_batch_size())

        def read(o: _Open) -> np.ndarray:
            rows: dict[str, np.ndarray] = {}
            for part in o.parts:  # each part is asked for the ids the parts before it did not hold
                left = [i for i in dict.fromkeys(ids) if i not in rows]
                for start in range(0, len(left), batch):
                    got = part.documents.get(ids=left[start:start + batch], include=["embeddings"])
                    rows.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
            if len(rows) < len(set(ids)):
                raise TopictalkError(f"{len(set(ids)) - len(rows)} of the documents asked for are not in the index "
                                     f"at {self.location}; rebuild it with `topictalk index` if this repeats")
            return np.stack([rows[i] for i in ids]) if ids else np.zeros((0, 0), np.float32)

        return self._read(read)

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
            if not missing(err):
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

    def trends(self) -> Trends | None:
        """The counts per topic x period and topic x facet value; None for an index built before them."""
        return Trends.from_dict(self.manifest.get("trends"))

    def topics(self) -> list[Topic]:
        """Every topic, the outlier topic -1 included, biggest first."""
        got = self._read(lambda o: o.topics.get(include=["metadatas", "embeddings"]))
        topics = [_topic(m, e) for m, e in zip(got["metadatas"], got["embeddings"])]
        return biggest_first(topics)

    def themes(self) -> list[Theme]:
        """Every theme, biggest first; [] for an index written before themes existed."""
        got = self._read(lambda o: o.themes.get(include=["metadatas", "embeddings"]) if o.themes is not None
                         else {"metadatas": [], "embeddings": []})
        themes = [_theme(m, e) for m, e in zip(got["metadatas"], got["embeddings"])]
        return biggest_first(themes)

    def get_documents(self, ids: Sequence[str]) -> list[DocumentRecord]:
        """Documents by id, each once, in the order first asked (unknown ids are skipped). A description's
        ids repeat where two sentences rest on one document, and Chroma refuses a get with repeated ids."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return []

        def read(o: _Open) -> list[DocumentRecord]:
            found = []
            for part in o.parts:  # each id is in one part: the others return nothing for it
                got = part.documents.get(ids=list(ids), include=["documents", "metadatas"])
                found += _documents(o, part, got["ids"], got["documents"], got["metadatas"])
            return found

        by_id = {d.id: d for d in self._read(read)}
        return [by_id[i] for i in ids if i in by_id]

    def query_documents(self, embedding: np.ndarray, n: int, topic: int | None = None, scan: int = 0, *,
                        period: str | None = None,
                        facet: tuple[str, str] | None = None) -> list[tuple[DocumentRecord, float]]:
        """Nearest documents by cosine distance, optionally within one topic: by Chroma's metadata filter,
        or, with ``scan``, the first ``n`` of that topic among the ``scan`` nearest of all (within the
        ``period`` and ``facet`` asked). ``period`` (a label of ``trends().periods``) and ``facet``
        ((field, value)) keep only the documents of that period / with that value; an index without them
        has none."""
        def read(o: _Open) -> list[tuple[DocumentRecord, float]]:
            clauses = []
            if topic is not None and not scan:
                clauses += _in_topic(o.parts[0], topic)  # every part has one layout: an older one is never shared
            if period is not None:
                clauses.append({"period": str(period)})
            if facet is not None:
                clauses.append({FACET_KEY.format(field=facet[0], value=facet[1]): True})
            where = _where(clauses)
            wanted = scan if topic is not None and scan else n
            rows = []  # (distance, part, id, text, metadata)
            for k, part in enumerate(o.parts):  # each part's nearest, then the nearest of them all: the union's
                include = ["metadatas", "distances"] + (["documents"] if part.texts is None else [])
                got = part.documents.query(query_embeddings=[np.asarray(embedding, dtype=np.float32)],
                                           n_results=wanted, where=where, include=include)
                texts = got["documents"][0] if part.texts is None else [None] * len(got["ids"][0])
                rows += zip(got["distances"][0], [k] * len(texts), got["ids"][0], texts, got["metadatas"][0])
            rows = sorted(rows, key=lambda row: (row[0], row[1]))[:wanted]
            if topic is not None and scan:
                rows = [r for r in rows if topic_of(r[4]) == topic][:n]
            # the texts of the rows kept only (a scan keeps a few of hundreds), read part by part
            docs = {}
            for k, part in enumerate(o.parts):
                mine = [r for r in rows if r[1] == k]
                docs.update(zip([r[2] for r in mine], _documents(o, part, [r[2] for r in mine], [r[3] for r in mine],
                                                                 [r[4] for r in mine])))
            return [(docs[r[2]], float(r[0])) for r in rows]

        return self._read(read)

    def topic_members(self, topic: int) -> tuple[list[DocumentRecord], np.ndarray]:
        """One topic's documents (sorted by id) and their embeddings, one row each: what a topic's subtopics
        are found from (indexing/subtopics.py). Read by the topic filter, a page at a time."""
        def read(o: _Open) -> tuple[list[DocumentRecord], np.ndarray]:
            page = max(1, self.client.get_max_batch_size())
            found: list[tuple[DocumentRecord, np.ndarray]] = []
            for part in o.parts:
                where = _where(_in_topic(part, topic))
                include = ["metadatas", "embeddings"] + (["documents"] if part.texts is None else [])
                rows: list[tuple] = []
                while True:
                    got = part.documents.get(where=where, include=include, limit=page, offset=len(rows))
                    texts = got["documents"] if part.texts is None else [None] * len(got["ids"])
                    rows += list(zip(got["ids"], texts, got["metadatas"], got["embeddings"]))
                    if len(got["ids"]) < page:
                        break
                docs = _documents(o, part, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
                found += zip(docs, [r[3] for r in rows])
            found.sort(key=lambda row: row[0].id)
            return [d for d, _ in found], np.asarray([e for _, e in found], dtype=np.float32).reshape(len(found), -1)

        return self._read(read)

    def all_documents(self) -> list[DocumentRecord]:
        """Every document of the generation (text, title, topic, theme, probability, map position), in
        writing order: what an export writes. The texts collection holds them in chunks of many records;
        their topics come from the map collection."""
        def read(o: _Open) -> list[DocumentRecord]:
            if o.parts[0].texts is None:  # an older layout (one part): every field in the document's own metadata
                got = o.parts[0].documents.get(include=["documents", "metadatas"])
                return [_document(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])]
            topic = {p[0]: int(p[3]) for p in _map_points(o)}
            period = _period_of(o)
            rows = []
            for part in o.parts:
                got = part.texts.get(include=["metadatas"])
                rows += [row for _, m in sorted(zip(got["ids"], got["metadatas"])) for row in json.loads(m["records"])]
            return [_record(row, topic[row[0]], period) for row in rows]

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


def _in_topic(part: _Part, topic: int) -> list[dict]:
    """The where-clauses that keep one topic's documents of ``part``: a range of ``topic_at`` (see
    ``layout.topic_at``), or the ``topic`` key of an older layout."""
    if part.texts is None:
        return [{"topic": int(topic)}]
    return [{"topic_at": {"$gte": topic_at(topic, 0)}}, {"topic_at": {"$lt": topic_at(topic + 1, 0)}}]


def _where(clauses: list[dict]) -> dict | None:
    """Chroma's where-filter keeping what all ``clauses`` keep (it takes "$and" of two or more only)."""
    return None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _map_points(opened: _Open) -> list[list]:
    """[id, x, y, topic, theme, core, title] per document, in writing order."""
    if opened.map is not None:
        got = opened.map.get(include=["metadatas"])
        chunks = sorted(zip(got["ids"], got["metadatas"]))
        return [p for _, m in chunks for p in json.loads(m["points"])]
    got = opened.parts[0].documents.get(include=["metadatas"])  # an index written before the map collection
    return [[i, m["x"], m["y"], m["topic"], m.get("theme", -1), m.get("core", True), m.get("title", "")]
            for i, m in zip(got["ids"], got["metadatas"])]


def _topic(meta: dict, embedding) -> Topic:
    return Topic(
        id=int(meta["topic"]), size=int(meta["size"]), label=meta["label"], label_source=meta["label_source"],
        keywords=json.loads(meta["keywords"]), keybert=json.loads(meta["keybert"]), mmr=json.loads(meta["mmr"]),
        representative_ids=json.loads(meta["representative_ids"]),
        embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
        theme=None if meta.get("theme", -1) < 0 else int(meta["theme"]),
        **_description(meta),
    )


def _theme(meta: dict, embedding) -> Theme:
    return Theme(
        id=int(meta["theme"]), size=int(meta["size"]), label=meta["label"], label_source=meta["label_source"],
        topic_ids=json.loads(meta["topic_ids"]), keywords=json.loads(meta["keywords"]),
        representative_ids=json.loads(meta.get("representative_ids", "[]")),
        embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
        **_description(meta),
    )


def _description(meta: dict) -> dict:
    """A topic's or theme's description and the documents it cites; none in indexes written before them."""
    return {"description": meta.get("description", ""), "description_ids": json.loads(meta.get("description_ids", "[]")),
            "description_source": meta.get("description_source", "")}


def _documents(opened: _Open, part: _Part, ids: Sequence[str], texts: Sequence[str | None],
               metas: Sequence[dict]) -> list[DocumentRecord]:
    """Documents from what Chroma returned for them from one ``part``: their records in its texts
    collection, read in one call, or, in older layouts, their own metadata."""
    if part.texts is None or not ids:
        return [_document(i, t, m) for i, t, m in zip(ids, texts, metas)]
    chunks = sorted({int(m["topic_at"]) % TOPIC_STRIDE for m in metas})
    got = part.texts.get(ids=[record_id(c) for c in chunks], include=["metadatas"])
    wanted = set(ids)
    rows = {row[0]: row for m in got["metadatas"] for row in json.loads(m["records"]) if row[0] in wanted}
    period = _period_of(opened)
    return [_record(rows[i], topic_of(meta), period) for i, meta in zip(ids, metas)]


def _record(row: list, topic: int, period) -> DocumentRecord:
    """A document from its row of the texts collection: id, text, title, probability, x, y, core, theme,
    then, where the corpus had them, its date and facet values."""
    i, text, title, probability, x, y, core, theme = row[:8]
    day, fields = (row[8], row[9]) if len(row) >= 10 else (None, {})
    return DocumentRecord(id=i, text=text, title=title, topic=topic, probability=float(probability), x=float(x),
                          y=float(y), core=bool(core), theme=None if theme < 0 else int(theme), date=day,
                          period=period(day), fields=dict(fields or {}))


def _period_of(opened: _Open):
    """date -> period label of this generation (the manifest's trends period), None without one."""
    from datetime import date

    from topictalk.indexing import dates

    chosen = (opened.manifest.get("trends") or {}).get("period")
    return lambda day: dates.label(date.fromisoformat(day), chosen) if day and chosen else None


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
