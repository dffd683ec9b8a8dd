"""What the agent knows of an index: topics, and documents found by meaning.

One ``TopicIndex`` per open index, shared by every conversation (it holds no
conversation state). Questions are embedded with the index's own embedding
model, so they live in the same space as the stored documents.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from indexing import embedding, encoder, store
from indexing.schema import DocumentRecord, Topic


@dataclass
class Hit:
    document: DocumentRecord
    similarity: float  # cosine similarity to the question


class TopicIndex:
    def __init__(self, reader: store.Reader, embedder=None) -> None:
        self.reader = reader
        models = reader.manifest.get("models", {})
        self.embedding_name = models.get("embedding_name") or embedding.DEFAULT
        # questions go through the documents' encoder (its plan, OpenVINO, bf16): one vector space
        self._encoder = encoder.Encoder(embedder or embedding.load(self.embedding_name))
        self._lock = threading.Lock()  # sentence-transformers' encode is not re-entrant on one model
        self._follow_lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        """Topics and their ranking vectors from the reader's generation."""
        generation, manifest = self.reader.generation, self.reader.manifest
        name = manifest.get("models", {}).get("embedding_name") or embedding.DEFAULT
        if name != self.embedding_name:  # re-indexed with another model: questions must be in its space
            self._encoder, self.embedding_name = encoder.Encoder(embedding.load(name)), name
        topics = self.reader.topics()
        real = [t for t in topics if not t.is_outlier]
        if real:
            centroids = np.stack([t.embedding for t in real])
            described = self.embed_many([f"{t.label}: {', '.join(t.keywords[:6])}" for t in real])
        else:
            centroids = described = np.zeros((0, 1), np.float32)
        by_id = {t.id: t for t in topics}
        # one tuple, swapped in one assignment: a question ranking meanwhile sees one generation
        self._ranking = ([t.id for t in real], centroids, described, by_id)
        self._topics, self._by_id, self._manifest, self._generation = topics, by_id, manifest, generation

    def follow(self) -> None:
        """Move to a newer generation once a re-index commits, topics and documents together."""
        self.reader.refresh()
        if self.reader.generation != self._generation:
            with self._follow_lock:
                if self.reader.generation != self._generation:
                    self._load()

    @property
    def topics(self) -> list[Topic]:
        self.follow()
        return self._topics

    @property
    def by_id(self) -> dict[int, Topic]:
        self.follow()
        return self._by_id

    @property
    def manifest(self) -> dict:
        self.follow()
        return self._manifest

    @classmethod
    def open(cls, location: store.Location, embedder=None) -> TopicIndex:
        return cls(store.open_reader(location), embedder)

    def embed_many(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return encoder.query_vectors(self._encoder, texts)

    def embed(self, text: str) -> np.ndarray:
        return self.embed_many([text])[0]

    @property
    def real_topics(self) -> list[Topic]:
        return [t for t in self.topics if not t.is_outlier]

    def rank_topics(self, vector: np.ndarray, k: int = 5) -> list[tuple[Topic, float]]:
        """Topics by meaning: the better of centroid and label+keywords similarity."""
        self.follow()
        topic_ids, centroids, described, by_id = self._ranking
        if not topic_ids:
            return []
        scores = np.maximum(centroids @ vector, described @ vector)
        order = np.argsort(-scores)[:k]
        return [(by_id[topic_ids[i]], float(scores[i])) for i in order]

    def search(self, vector: np.ndarray, k: int, topic: int | None = None, exclude: set[str] = frozenset()) -> list[Hit]:
        """Nearest documents (optionally within one topic), skipping ids already shown."""
        n = k + len(exclude)
        if topic is not None:
            n = min(n, max(1, self.by_id[topic].size)) if topic in self.by_id else n
        hits = self.reader.query_documents(vector, n, topic=topic)
        return [Hit(d, 1.0 - dist) for d, dist in hits if d.id not in exclude][:k]

    def documents(self, ids: list[str]) -> list[DocumentRecord]:
        return self.reader.get_documents(ids)
