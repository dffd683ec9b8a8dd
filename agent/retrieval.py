"""What the agent knows of an index: topics, themes, and documents found by meaning.

One ``TopicIndex`` per open index, shared by every conversation (it holds no
conversation state). It follows re-indexes; each question works on one
:class:`Snapshot` of it, taken when the question arrives, whose topics,
themes and document reads all come from one generation, so an answer never
mixes two. Questions are embedded with the index's own embedding model, so
they live in the same space as the stored documents.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from topictalk.agent import lexical
from topictalk.agent.spelling import Speller
from topictalk.indexing import embedding, encoder, store
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import DocumentRecord, Theme, Topic, biggest_first

# how many nearest neighbours of all are read, in turn, to find k of one topic before Chroma's topic
# filter is used (the first is skipped for a topic too small to hold k among them, at twice its share)
WIDE_SCANS = (200, 1500)
# how many nearest abstracts a search re-ranks by the words they share with it (lexical.rerank)
LEXICAL_POOL = 20
# a search restricted to a span of periods reads each period's nearest (Chroma filters on one period label);
# a longer span reads its newest this many
MAX_PERIODS = 24


@dataclass
class Hit:
    document: DocumentRecord
    similarity: float  # cosine similarity to the question

    @property
    def text(self) -> str:
        """What the lexical rules read of it: its title and text."""
        return f"{self.document.title} {self.document.text}"


def near_or_named(hits: list[Hit], query: str, similarity: float) -> list[Hit]:
    """The hits at least ``similarity`` near, or nearly near and naming every word of ``query``
    (``lexical.near_or_named``), in their order."""
    return lexical.near_or_named(hits, query, similarity, lambda h: h.similarity, lambda h: h.text)


@dataclass(frozen=True)
class Snapshot:
    """One generation of an index, never changed once made: what one question is answered from."""

    generation: int
    manifest: Mapping
    topics: tuple[Topic, ...]  # biggest first, the outlier topic -1 (if any) last
    themes: tuple[Theme, ...]  # biggest first; () for an index without themes
    _reader: store.Reader = field(repr=False)  # pinned to ``generation``: it never follows
    _embed_many: Callable[[list[str]], np.ndarray] = field(repr=False)
    _ranking: tuple = field(repr=False)  # (topic ids, centroids, described) of the real topics
    _theme_ranking: tuple = field(repr=False)  # (theme ids, centroids, described)
    # the subtopics this process computed (its TopicIndex's, shared by its snapshots): an index on a Chroma
    # server has no cache folder to keep them in
    _subtopics: dict = field(default_factory=dict, repr=False, compare=False)
    # the encoder's whole words (real words of the language): never mended to an index word (agent.spelling)
    known_words: frozenset = field(default=frozenset(), repr=False, compare=False)

    # cached_property writes the instance's __dict__ directly, which a frozen dataclass allows
    @functools.cached_property
    def by_id(self) -> dict[int, Topic]:
        return {t.id: t for t in self.topics}

    @functools.cached_property
    def themes_by_id(self) -> dict[int, Theme]:
        return {t.id: t for t in self.themes}

    @functools.cached_property
    def speller(self) -> Speller:
        """Mends a question's misspelled subject words to the words this generation's topics and themes use."""
        texts = [" ".join([t.label, *t.keywords, *(getattr(t, "keybert", None) or ()), *(getattr(t, "mmr", None) or ()),
                           t.description or ""]) for t in (*self.topics, *self.themes)]
        return Speller(texts, self.known_words)

    @property
    def real_topics(self) -> list[Topic]:
        return [t for t in self.topics if not t.is_outlier]

    def theme_of(self, topic: Topic) -> Theme | None:
        return self.themes_by_id.get(topic.theme) if topic.theme is not None else None

    def theme_topics(self, theme: Theme) -> list[Topic]:
        """The theme's topics, biggest first."""
        by_id = self.by_id
        return biggest_first(by_id[i] for i in theme.topic_ids if i in by_id)

    def embed_many(self, texts: list[str]) -> np.ndarray:
        return self._embed_many(texts)

    def embed(self, text: str) -> np.ndarray:
        return self._embed_many([text])[0]

    def rank_topics(self, vector: np.ndarray, k: int = 5) -> list[tuple[Topic, float]]:
        """Topics by meaning: the better of centroid and label+keywords similarity."""
        by_id = self.by_id
        return [(by_id[i], s) for i, s in _rank(self._ranking, vector, k)]

    def named_topics(self, name: str) -> list[Topic]:
        """The topics whose label holds every word of ``name`` ("the film topic": "Film and Actor"), plurals
        aside: a reader names a topic by the label the table shows, however far its meaning is from the
        centroid's (a one-word name is a weak embedding)."""
        wanted = _label_words(name)
        return [t for t in self.real_topics if wanted and wanted <= _label_words(t.label)]

    def rank_themes(self, vector: np.ndarray, k: int = 3) -> list[tuple[Theme, float]]:
        by_id = self.themes_by_id
        return [(by_id[i], s) for i, s in _rank(self._theme_ranking, vector, k)]

    def search(self, vector: np.ndarray, k: int, topic: int | None = None, exclude: set[str] = frozenset(),
               words: str = "", lexical_weight: float = 0.0) -> list[Hit]:
        """Nearest documents (optionally within one topic), skipping ids already shown; with ``words`` (and
        no topic), the nearest LEXICAL_POOL re-ranked by the words they share with it."""
        n = k + len(exclude)
        if topic is None:
            if not (words and lexical_weight > 0):
                return self._hits(self._reader.query_documents(vector, n), exclude, k)
            pool = self._hits(self._reader.query_documents(vector, max(n, LEXICAL_POOL)), exclude, max(k, LEXICAL_POOL))
            return lexical.rerank(words, pool, lambda h: h.similarity, lambda h: h.text, lexical_weight)[:k]
        size = self.by_id[topic].size if topic in self.by_id else 0
        n = min(n, max(1, size)) if size else n
        # Chroma's metadata filter reads every id of the topic first (133 ms p50 at 120k abstracts); a
        # question about a topic is near its documents, so the plain nearest neighbours, filtered here,
        # usually hold enough of them: at 120k, 8 of the topic were among the 200 nearest for 97 of 100
        # questions (10 ms), among the 1,500 nearest for all (25 ms). The filter runs only after both.
        share = size / max(1, sum(t.size for t in self.topics))
        wide = math.ceil(2 * n / share) if share else 0
        for scan in (s for s in WIDE_SCANS if wide and s >= min(wide, WIDE_SCANS[-1])):
            hits = self._reader.query_documents(vector, n, topic=topic, scan=scan)
            found = self._hits(hits, exclude, k)
            if len(found) == k or len(hits) >= size:
                return found
        return self._hits(self._reader.query_documents(vector, n, topic=topic), exclude, k)

    @functools.cached_property
    def _trends(self):
        read = getattr(self._reader, "trends", None)
        return read() if read is not None else None

    def trends(self):
        """The generation's counts per topic x period and per topic x facet value (``indexing.trends.Trends``);
        None for an index without dates or facets, or built before they were kept."""
        return self._trends

    def search_within(self, vector: np.ndarray, k: int, topic: int | None = None, periods: list[str] | None = None,
                      period: str | None = None, facet: tuple[str, str] | None = None,
                      exclude: set[str] = frozenset()) -> list[Hit]:
        """Nearest documents of one period (or of several, each read in turn, newest first, the nearest kept)
        and/or one facet value, optionally within one topic: by the index's metadata filter."""
        wanted = list(periods or ([period] if period else [None]))[-MAX_PERIODS:]
        found: list[Hit] = []
        for p in reversed(wanted):
            found += self._hits(self._reader.query_documents(vector, k + len(exclude), topic, period=p, facet=facet),
                                exclude, k)
        return sorted(found, key=lambda h: -h.similarity)[:k]

    def _hits(self, hits, exclude: set[str], k: int) -> list[Hit]:
        return [Hit(d, 1.0 - dist) for d, dist in self._pinned(hits) if d.id not in exclude][:k]

    def documents(self, ids: list[str]) -> list[DocumentRecord]:
        return self._pinned(self._reader.get_documents(ids))

    def subtopics(self, topic: int, llm=None):  # noqa: ANN001, ANN201 - a labels.Completer; a subtopics.Subtopics
        """The subtopics of ``topic`` in this generation: computed (and labelled by ``llm``, one call) the first
        time it is opened, then read from the index folder's cache (an index on a server has none: kept in this
        process's memory)."""
        from topictalk.indexing import subtopics

        return self._pinned(subtopics.of_index(self._reader, topic, memo=self._subtopics, llm=llm))

    def cached_subtopics(self, topic: int, llm=None):  # noqa: ANN001, ANN201 - as subtopics(), or None
        """The subtopics of ``topic`` if an earlier ask kept them (labelled by ``llm``; keyword-only without it),
        else None: nothing is computed and the model is not called (the app's table, beside the chat)."""
        from topictalk.indexing import subtopics

        return self._pinned(subtopics.cached(self._reader, topic, memo=self._subtopics, llm=llm))

    def _pinned(self, result):
        # the pinned reader moves only when its generation was dropped under it (two re-indexes
        # during one answer): answering on would mix generations
        if self._reader.generation != self.generation:
            raise TopictalkError("the topic index was re-indexed twice while this question was answered; ask again")
        return result


_NOT_NAMES = frozenset("the and for with about topic topics theme themes one".split())


def _label_words(text: str) -> frozenset[str]:
    """A label's or name's words of 3 letters or more, lower case, a plural's "s" dropped."""
    words = (w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
             for w in re.findall(r"[a-z0-9]{3,}", text.lower()))
    return frozenset(words) - _NOT_NAMES


def _ranking(items, texts: list[str], embed_many) -> tuple:
    if not items:
        return [], np.zeros((0, 1), np.float32), np.zeros((0, 1), np.float32)
    return [t.id for t in items], np.stack([t.embedding for t in items]), embed_many(texts)


def _rank(ranking: tuple, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    ids, centroids, described = ranking
    if not ids:
        return []
    scores = np.maximum(centroids @ vector, described @ vector)
    return [(ids[i], float(scores[i])) for i in np.argsort(-scores)[:k]]


class TopicIndex:
    def __init__(self, reader: store.Reader, embedder=None) -> None:
        self.reader = reader
        models = reader.manifest.get("models", {})
        self.embedding_name = models.get("embedding_name") or embedding.DEFAULT
        # questions go through the documents' encoder (its plan, OpenVINO, bf16): one vector space
        self._encoder = encoder.Encoder(embedder or embedding.encoding_model(self.embedding_name))
        self._lock = threading.Lock()  # sentence-transformers' encode is not re-entrant on one model
        self._examples = None  # the router's example questions, embedded by this index's model (examples())
        self._examples_lock = threading.Lock()
        self._follow_lock = threading.Lock()
        self._subtopics: dict = {}  # see Snapshot._subtopics
        self._load()
        # the examples are embedded (or read from the cache) while the first question is typed, not after it
        threading.Thread(target=self.examples, name="route-examples", daemon=True).start()

    def _load(self) -> None:
        """A snapshot of the live generation; its reader is pinned to that generation."""
        source = self.reader
        pinned = store.Reader(source.client, source.location, follow_s=math.inf)
        manifest = pinned.manifest
        name = manifest.get("models", {}).get("embedding_name") or embedding.DEFAULT
        if name != self.embedding_name:  # re-indexed with another model: questions must be in its space
            self._encoder, self.embedding_name = encoder.Encoder(embedding.encoding_model(name)), name
        topics = pinned.topics()
        themes = [t for t in pinned.themes() if t.embedding is not None]
        real = [t for t in topics if not t.is_outlier]
        ranking = _ranking(real, [f"{t.label}: {', '.join(t.keywords[:6])}" for t in real], self.embed_many)
        theme_ranking = _ranking(themes, [f"{t.label}: {', '.join(t.keywords[:6])}" for t in themes], self.embed_many)
        # one object, swapped in one assignment: a question holding the old one keeps answering from it
        self._snapshot = Snapshot(pinned.generation, manifest, tuple(topics), tuple(themes), pinned, self.embed_many,
                                  ranking, theme_ranking, self._subtopics, self._known_words())

    def _known_words(self) -> frozenset:
        """The encoder tokenizer's whole words (a WordPiece or BPE vocabulary), empty where it has none."""
        tokenizer = getattr(self.embedder, "tokenizer", None)
        try:
            vocabulary = tokenizer.get_vocab() if tokenizer is not None else {}
        except (AttributeError, TypeError):
            vocabulary = {}
        return frozenset(w.lower() for w in vocabulary if w.isalpha())

    def follow(self, force: bool = False) -> None:
        """Move to a newer generation once a re-index commits, topics and documents together (``force``:
        look now, not at most every few seconds: after a change this process made)."""
        self.reader.refresh(force)
        if self.reader.generation != self._snapshot.generation:
            with self._follow_lock:
                if self.reader.generation != self._snapshot.generation:
                    self._load()

    def snapshot(self) -> Snapshot:
        """The newest generation, as one immutable snapshot: take one per question."""
        self.follow()
        return self._snapshot

    def examples(self):
        """The router's labelled example questions, embedded once by this index's model (kept in the index
        folder's cache, so a restart reads them back; a Chroma server index embeds them once per process)."""
        from topictalk.agent.examples import Examples

        with self._examples_lock:
            if self._examples is None or self._examples[0] != self.embedding_name:
                folder = getattr(self.reader.location, "path", None)
                cache = Path(folder) / "cache" if folder else None
                self._examples = (self.embedding_name, Examples.embedded(self.embed_many, cache=cache,
                                                                         model=self.embedding_name))
            return self._examples[1]

    @classmethod
    def open(cls, location: store.Location, embedder=None) -> TopicIndex:
        return cls(store.open_reader(location), embedder)

    @property
    def embedder(self):  # noqa: ANN201 - the sentence-transformers model (a refinement re-uses it)
        return self._encoder.model

    def embed_many(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return encoder.query_vectors(self._encoder, texts)

    def embed(self, text: str) -> np.ndarray:
        return self.embed_many([text])[0]

    # the newest snapshot's view, for callers that read one thing at a time (the app's table and map)
    @property
    def topics(self) -> list[Topic]:
        return list(self.snapshot().topics)

    @property
    def themes(self) -> list[Theme]:
        return list(self.snapshot().themes)

    @property
    def by_id(self) -> dict[int, Topic]:
        return self.snapshot().by_id

    @property
    def manifest(self) -> dict:
        return dict(self.snapshot().manifest)

    @property
    def real_topics(self) -> list[Topic]:
        return self.snapshot().real_topics

    def rank_topics(self, vector: np.ndarray, k: int = 5) -> list[tuple[Topic, float]]:
        return self.snapshot().rank_topics(vector, k)

    def search(self, vector: np.ndarray, k: int, topic: int | None = None, exclude: set[str] = frozenset(),
               words: str = "", lexical_weight: float = 0.0) -> list[Hit]:
        return self.snapshot().search(vector, k, topic, exclude, words, lexical_weight)

    def documents(self, ids: list[str]) -> list[DocumentRecord]:
        return self.snapshot().documents(ids)
