"""Writing one index generation into Chroma, and switching readers to it in one write."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from topictalk.indexing.schema import DocumentRecord, Theme, Topic
from topictalk.indexing.store import folders, layout
from topictalk.indexing.store.layout import (
    META_ID,
    NO_EMBEDDING,
    Names,
    batches,
    collection_names,
    encode,
    live_record,
    missing,
    needed,
    parts_of,
    record_id,
    topic_at,
)


class Held(Protocol):
    """A writer lock a :class:`Writer` checks before switching generations (``writer_lock.Lease``)."""

    def check(self) -> None: ...


# An add shares the live generation's documents while they are at most this many parts: every search
# asks each part (a Chroma query apiece, ~2 ms); past it the add writes a whole generation again.
MAX_PARTS = 4


@dataclass(frozen=True)
class Shared:
    """What a new generation takes over from the live one unchanged: its documents' parts, which hold
    the first ``held`` records written (an add's records are the live ones, then the new ones)."""

    parts: tuple[int, ...]
    held: int


class Writer:
    """Builds one new generation; :meth:`commit` makes it the live one."""

    def __init__(self, client, generation: int, names: Names = Names(), lease: Held | None = None) -> None:
        self.client = client
        self.generation = generation
        self.parts: tuple[int, ...] = (generation,)
        self.names = names
        self.lease = lease
        self.batch = max(1, client.get_max_batch_size())
        docs_name, topics_name = names.generation(generation)
        themes_name, map_name, texts_name = names.themes(generation), names.map(generation), names.texts(generation)
        for name in (docs_name, topics_name, themes_name, map_name, texts_name):  # leftovers of a killed run
            if name in collection_names(client):
                client.delete_collection(name)
        space = {"hnsw": {"space": "cosine"}}
        # sync_threshold 2: the graph is saved, and Chroma's write log purged, after every add (one
        # batch). Above the batch size the log keeps growing and each add re-reads all of it; the last,
        # smaller batch would stay unsaved and be replayed by every reader that opens the index.
        hnsw = {**layout.DOCUMENT_HNSW, "sync_threshold": 2}
        self.documents = client.create_collection(docs_name, embedding_function=None, configuration={"hnsw": hnsw})
        self.topics = client.create_collection(topics_name, embedding_function=None, configuration=space)
        self.themes = client.create_collection(themes_name, embedding_function=None, configuration=space)
        self.map = client.create_collection(map_name, embedding_function=None, configuration=space)
        self.texts = client.create_collection(texts_name, embedding_function=None, configuration=space)

    def write_documents(self, records: Sequence[DocumentRecord], embeddings: np.ndarray, progress=None,
                        shared: Shared | None = None) -> None:
        """One add per batch of Chroma's maximum, then the texts and map points (see the module docstring).
        With ``shared``, the first ``shared.held`` records are the live generation's, already written in its
        parts: only the others are written, in this generation's own part; the map is always whole."""
        held = 0 if shared is None else shared.held
        if shared is not None:
            self.parts = (*shared.parts, self.generation)
        own, vectors = records[held:], embeddings[held:]
        for part in batches(len(own), self.batch):
            self.documents.add(
                ids=[r.id for r in own[part]],
                embeddings=np.asarray(vectors[part], dtype=np.float32),
                metadatas=[{"topic_at": topic_at(own[i].topic, i // layout.TEXT_CHUNK), **layout.filters(own[i])}
                           for i in range(part.start, part.stop)],
            )
            if progress is not None:
                progress(part.stop - part.start)
        self._write_texts(own)
        self._write_map(records)

    def _write_texts(self, records: Sequence[DocumentRecord]) -> None:
        self._write_chunked(self.texts, records, layout.TEXT_CHUNK, "records", lambda r: [
            r.id, r.text, r.title, round(float(r.probability), 4), round(float(r.x), 4), round(float(r.y), 4),
            bool(r.core), -1 if r.theme is None else int(r.theme), *_dated(r)])

    def _write_map(self, records: Sequence[DocumentRecord]) -> None:
        self._write_chunked(self.map, records, layout.MAP_CHUNK, "points", lambda r: [
            r.id, round(float(r.x), 4), round(float(r.y), 4), int(r.topic), -1 if r.theme is None else int(r.theme),
            bool(r.core), r.title])

    def _write_chunked(self, collection, records: Sequence[DocumentRecord], size: int, key: str,
                       row: Callable[[DocumentRecord], list]) -> None:
        """``size`` records a Chroma record, under ``key`` as a JSON list of ``row(record)``; its id is its
        number (:func:`record_id`). 256 Chroma records an add: Chroma's maximum (5,461) would hold every
        text of 120k abstracts as JSON at once, where the write stage had the index's peak memory (2.75 GB)."""
        chunks = list(batches(len(records), size))
        for part in batches(len(chunks), min(self.batch, 256)):
            collection.add(
                ids=[record_id(k) for k in range(part.start, part.stop)],
                embeddings=[NO_EMBEDDING] * (part.stop - part.start),
                metadatas=[{key: json.dumps([row(r) for r in records[c]], ensure_ascii=False)} for c in chunks[part]],
            )

    def write_topics(self, topics: Sequence[Topic]) -> None:
        self._write_groups(self.topics, topics, lambda t: {
            "topic": t.id, "keywords": encode(t.keywords), "keybert": encode(t.keybert), "mmr": encode(t.mmr),
            "theme": -1 if t.theme is None else int(t.theme)})

    def write_themes(self, themes: Sequence[Theme]) -> None:
        self._write_groups(self.themes, themes, lambda t: {
            "theme": t.id, "keywords": encode(t.keywords), "topic_ids": encode(t.topic_ids)})

    def _write_groups(self, collection, groups: Sequence[Topic] | Sequence[Theme], metadata) -> None:
        """Topics or themes: id, label as the document, centroid, and the metadata both kinds share."""
        for part in batches(len(groups), self.batch):
            chunk = groups[part]
            collection.add(
                ids=[str(g.id) for g in chunk],
                documents=[g.label for g in chunk],
                embeddings=np.stack([g.embedding for g in chunk]).astype(np.float32),
                metadatas=[{"label": g.label, "label_source": g.label_source, "size": g.size,
                            "representative_ids": encode(g.representative_ids), "description": g.description,
                            "description_ids": encode(g.description_ids),
                            "description_source": g.description_source, **metadata(g)} for g in chunk],
            )

    def commit(self, manifest: dict) -> None:
        """Switch readers to this generation in one write, then drop all but it and the one it replaces.

        The replaced generation stays until the next commit: readers that
        opened it keep answering until they notice the switch.
        """
        if self.lease is not None:
            self.lease.check()  # a writer that lost its lease must not switch what another one writes
        live = live_record(self.client, self.names)
        manifest = {**manifest, "generation": self.generation}
        meta = self.client.get_or_create_collection(self.names.meta, embedding_function=None)
        # every key, every time: Chroma's upsert merges metadata, so a key left out keeps its old value
        record = {"generation": self.generation, "manifest": json.dumps(manifest), "parts": json.dumps(list(self.parts))}
        if live is not None and int(live["generation"]) != self.generation:
            record["previous"] = int(live["generation"])
            record["previous_parts"] = json.dumps(parts_of(live))
        meta.upsert(ids=[META_ID], embeddings=[NO_EMBEDDING], documents=[""], metadatas=[record])
        drop_stale(self.client, self.names, keep=needed(record))
        folders.remove_orphans(self.client)  # the dropped generations' HNSW folders (Chroma keeps them)


def _dated(record: DocumentRecord) -> list:
    """A texts row's two optional last items, the date and the facet values: written only when the
    corpus has them, so an index without dates or facets keeps the rows it always had."""
    if record.date is None and not record.fields:
        return []
    return [record.date, record.fields]


def drop_stale(client, names: Names, keep: Collection[int | None]) -> None:
    """Delete this index's generations other than ``keep`` (partial runs, replaced indexes)."""
    for name in collection_names(client):
        generation = names.generation_of(name)
        if generation is not None and generation not in keep:
            try:
                client.delete_collection(name)
            except Exception as err:  # a concurrent drop got there first
                if not missing(err):
                    raise


def begin(client, names: Names = Names(), lease: Held | None = None) -> Writer:
    """Start a new generation beside the live one (and the one before it).

    Partial generations of killed runs are removed first: with the writer
    lock held no live writer owns them. The new number is above every
    number in use, so it never reuses a collection name still being read.
    """
    if lease is not None:
        lease.check()
    keep = needed(live_record(client, names))
    existing = [g for n in collection_names(client) if (g := names.generation_of(n)) is not None]
    number = max([0, *existing, *keep]) + 1
    drop_stale(client, names, keep=keep)
    folders.remove_orphans(client)  # and what killed runs and older versions left on disk
    return Writer(client, number, names, lease)
