"""The Chroma schema, written and read here only.

Two collections per *generation*: ``tt_g<N>_documents`` (id, text, embedding;
metadata title, topic, probability, x, y) and ``tt_g<N>_topics`` (id = topic
id; the label as document; the topic embedding; metadata label, keywords,
KeyBERT and MMR words, size, representative ids). A third collection,
``tt_meta``, holds one record ``current`` whose metadata names the live
generation and carries the manifest. A new index is written as generation
N+1 and becomes live by one upsert of that record, so a run killed at any
point leaves generation N untouched and still served.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexing.errors import TopictalkError
from indexing.schema import DocumentRecord, Topic

META = "tt_meta"
_META_ID = "current"
_NO_EMBEDDING = [0.0]  # Chroma wants an embedding on every record, the meta one too


@dataclass(frozen=True)
class Location:
    """An embedded database folder, or a Chroma server for teams."""

    path: Path | None = None
    host: str | None = None
    port: int = 8000

    def __str__(self) -> str:
        return f"chroma://{self.host}:{self.port}" if self.host else str(self.path)


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


def _names(generation: int) -> tuple[str, str]:
    return f"tt_g{generation}_documents", f"tt_g{generation}_topics"


def _encode(items: Sequence[str]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class Writer:
    """Builds one new generation; :meth:`commit` makes it the live one."""

    def __init__(self, client, generation: int) -> None:
        self.client = client
        self.generation = generation
        self.batch = max(1, client.get_max_batch_size())
        docs_name, topics_name = _names(generation)
        for name in (docs_name, topics_name):  # leftovers of a killed run with the same number
            if name in _collection_names(client):
                client.delete_collection(name)
        space = {"hnsw": {"space": "cosine"}}
        self.documents = client.create_collection(docs_name, embedding_function=None, configuration=space)
        self.topics = client.create_collection(topics_name, embedding_function=None, configuration=space)

    def write_documents(self, records: Sequence[DocumentRecord], embeddings: np.ndarray, progress=None) -> None:
        for part in _batches(len(records), self.batch):
            chunk = records[part]
            self.documents.add(
                ids=[r.id for r in chunk],
                documents=[r.text for r in chunk],
                embeddings=np.asarray(embeddings[part], dtype=np.float32),
                metadatas=[
                    {"title": r.title, "topic": int(r.topic), "probability": float(r.probability),
                     "x": float(r.x), "y": float(r.y)}
                    for r in chunk
                ],
            )
            if progress is not None:
                progress(len(chunk))

    def write_topics(self, topics: Sequence[Topic]) -> None:
        for part in _batches(len(topics), self.batch):
            chunk = topics[part]
            self.topics.add(
                ids=[str(t.id) for t in chunk],
                documents=[t.label for t in chunk],
                embeddings=np.stack([t.embedding for t in chunk]).astype(np.float32),
                metadatas=[
                    {"topic": t.id, "label": t.label, "label_source": t.label_source, "size": t.size,
                     "keywords": _encode(t.keywords), "keybert": _encode(t.keybert), "mmr": _encode(t.mmr),
                     "representative_ids": _encode(t.representative_ids)}
                    for t in chunk
                ],
            )

    def commit(self, manifest: dict) -> None:
        """Switch readers to this generation in one write, then drop older ones."""
        manifest = {**manifest, "generation": self.generation}
        meta = self.client.get_or_create_collection(META, embedding_function=None)
        meta.upsert(ids=[_META_ID], embeddings=[_NO_EMBEDDING], documents=[""],
                    metadatas=[{"generation": self.generation, "manifest": json.dumps(manifest)}])
        drop_stale(self.client, keep=self.generation)


def live_generation(client) -> int | None:
    if META not in _collection_names(client):
        return None
    got = client.get_collection(META, embedding_function=None).get(ids=[_META_ID], include=["metadatas"])
    return int(got["metadatas"][0]["generation"]) if got["ids"] else None


def drop_stale(client, keep: int | None, also_keep: int | None = None) -> None:
    """Delete collections of generations other than ``keep`` (partial runs, replaced indexes)."""
    for name in _collection_names(client):
        if name.startswith("tt_g") and name != META:
            generation = int(name[4:].split("_", 1)[0])
            if generation not in (keep, also_keep):
                client.delete_collection(name)


def begin(client) -> Writer:
    """Start generation N+1 beside the live N (stale partial generations are removed first)."""
    live = live_generation(client)
    drop_stale(client, keep=live)
    existing = [int(n[4:].split("_", 1)[0]) for n in _collection_names(client) if n.startswith("tt_g")]
    return Writer(client, max([live or 0, *existing]) + 1)


class Reader:
    """Reads the live generation; what the agent and the app use."""

    def __init__(self, client, location: Location | str = "") -> None:
        generation = live_generation(client)
        if generation is None:
            raise TopictalkError(f"no topic index at {location}: build one with `topictalk index --input FILE` "
                                 "(or --dataset NAME) first")
        got = client.get_collection(META, embedding_function=None).get(ids=[_META_ID], include=["metadatas"])
        self.manifest: dict = json.loads(got["metadatas"][0]["manifest"])
        self.generation = generation
        docs_name, topics_name = _names(generation)
        self.documents = client.get_collection(docs_name, embedding_function=None)
        self.topics_collection = client.get_collection(topics_name, embedding_function=None)

    def topics(self) -> list[Topic]:
        """Every topic, the outlier topic -1 included, biggest first."""
        got = self.topics_collection.get(include=["metadatas", "embeddings"])
        topics = [_topic(m, e) for m, e in zip(got["metadatas"], got["embeddings"])]
        return sorted(topics, key=lambda t: (t.is_outlier, -t.size, t.id))

    def get_documents(self, ids: Sequence[str]) -> list[DocumentRecord]:
        """Documents by id, in the order asked (unknown ids are skipped)."""
        if not ids:
            return []
        got = self.documents.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {i: _document(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}
        return [by_id[i] for i in ids if i in by_id]

    def query_documents(self, embedding: np.ndarray, n: int, topic: int | None = None) -> list[tuple[DocumentRecord, float]]:
        """Nearest documents by cosine distance, optionally within one topic."""
        got = self.documents.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)], n_results=n,
            where={"topic": int(topic)} if topic is not None else None, include=["documents", "metadatas", "distances"],
        )
        return [(_document(i, d, m), float(dist)) for i, d, m, dist in
                zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])]

    def query_topics(self, embedding: np.ndarray, n: int) -> list[tuple[Topic, float]]:
        got = self.topics_collection.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)], n_results=n,
            include=["metadatas", "embeddings", "distances"],
        )
        return [(_topic(m, e), float(d)) for m, e, d in zip(got["metadatas"][0], got["embeddings"][0], got["distances"][0])]

    def coordinates(self) -> dict[str, np.ndarray | list]:
        """Every document's map position, topic and title (for the data map)."""
        got = self.documents.get(include=["metadatas"])
        metas = got["metadatas"]
        return {
            "ids": got["ids"],
            "x": np.array([m["x"] for m in metas], dtype=np.float32),
            "y": np.array([m["y"] for m in metas], dtype=np.float32),
            "topic": np.array([m["topic"] for m in metas], dtype=np.int32),
            "title": [m.get("title", "") for m in metas],
        }


def _topic(meta: dict, embedding) -> Topic:
    return Topic(
        id=int(meta["topic"]), size=int(meta["size"]), label=meta["label"], label_source=meta["label_source"],
        keywords=json.loads(meta["keywords"]), keybert=json.loads(meta["keybert"]), mmr=json.loads(meta["mmr"]),
        representative_ids=json.loads(meta["representative_ids"]),
        embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
    )


def _document(doc_id: str, text: str, meta: dict) -> DocumentRecord:
    return DocumentRecord(id=doc_id, text=text, title=meta.get("title", ""), topic=int(meta["topic"]),
                          probability=float(meta["probability"]), x=float(meta["x"]), y=float(meta["y"]))


def open_reader(location: Location) -> Reader:
    if location.path is not None and not location.host and not (location.path / "chroma.sqlite3").exists():
        raise TopictalkError(f"no topic index at {location.path}: build one with `topictalk index --input FILE` "
                             "(or --dataset NAME), or point --index-dir at an existing index")
    return Reader(connect(location), location)


def write_manifest_file(folder: Path, manifest: dict) -> None:
    """A human-readable copy of the live manifest beside an embedded database."""
    tmp = folder / f".manifest.json.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")
