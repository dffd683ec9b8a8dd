"""Embeddings -> neighbours -> topics and themes -> BERTopic representations; UMAP for the map.

The documents' nearest neighbours are searched once: they make the graph
whose communities are the topics (:mod:`indexing.clustering`) and UMAP's
first step. UMAP runs here rather than inside BERTopic so its output can be
cached on disk (keyed by the embeddings and the UMAP settings): re-indexing
then skips both the embedding and the UMAP. The 5-D reduction is computed
only when HDBSCAN runs (explicit ``--min-cluster-size``/``--min-samples``).

Representations (c-TF-IDF, KeyBERTInspired, MMR) are fitted on a seeded
sample of at most ``sample_per_topic`` documents of each topic, so their cost
grows with the number of topics, not the corpus: a topic's keywords from 300
of its documents are its keywords from all of them, give or take the tail.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from topictalk.indexing import clustering, ctfidf, imports, jit_cache
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.paths import atomic_write, read_matrix
from topictalk.indexing.schema import OUTLIER, Theme, Topic, biggest_first
from topictalk.indexing.vocabulary import Tokens


@dataclass(frozen=True)
class TopicParams:
    """Every knob of the recipe; defaults are the reference's (min_cluster_size aside)."""

    n_neighbors: int = 15  # UMAP's
    # the topic graph's: 25 neighbours smooth it more than UMAP's 15 and gave higher NMI on all five
    # benchmark corpora (BBC +0.035, AG News +0.046, arXiv-all 20k +0.025, arXiv-ML 25k +0.005)
    graph_neighbors: int = 25
    n_components: int = 5
    min_dist: float = 0.0
    umap_metric: str = "cosine"
    random_state: int | None = 42
    min_cluster_size: int | None = None  # given (or min_samples): HDBSCAN on the 5-D UMAP output
    min_samples: int | None = None
    resolution: float = 1.0  # Leiden's modularity resolution for topics (1: plain modularity)
    # about how many topics (clustering.refine splits the biggest until there are as many):
    # None: 0.45 sqrt(n) (clustering.topic_target); 0: the graph's own communities, unsplit
    nr_topics: int | None = None
    # "cells": themes first, as k-means cells of the embeddings, and the topics split within them
    # (clustering.theme_cells; better on all five labelled benchmark corpora with MiniLM, worse with the
    # static model at 120k); "graph": the topics first, grouped into themes on the graph of topics
    themes: str = "cells"
    hdbscan_metric: str = "euclidean"
    cluster_selection_method: str = "eom"
    top_n_words: int = 10
    ngram_range: tuple[int, int] = (1, 2)
    stop_words: str | None = "english"
    # Keyword filler: a term in more than max_df of the documents ("said" in 85% of BBC articles,
    # "model" in 57% of ML abstracts) names no topic; one in fewer than min_df documents is noise.
    min_df: int = 2
    max_df: float = 0.4
    mmr_diversity: float = 0.3
    representative_docs: int = 5
    keep_outliers: bool = False  # True: documents that belong to no topic clearly stay in topic -1
    sample_per_topic: int = 300  # documents per topic that representations are fitted on


def check_size(n_documents: int, params: TopicParams) -> None:
    """A clear error when the corpus is too small for topics.

    Fewer documents than max(2 x the smallest topic, n_neighbors + 2, 20)
    cannot give UMAP its neighbours and two topics.
    """
    smallest = params.min_cluster_size or clustering.MIN_TOPIC
    needed = max(2 * smallest, params.n_neighbors + 2, 20)
    if n_documents < needed:
        lower = " or lower --min-cluster-size" if params.min_cluster_size else ""
        raise TopictalkError(f"only {n_documents} documents: topic modelling needs at least {needed}; "
                             f"add documents{lower}")


@dataclass
class TopicResult:
    assignments: np.ndarray  # topic id per document
    probabilities: np.ndarray  # confidence in that topic
    core: np.ndarray  # bool per document: False where it was placed at its nearest topic
    coordinates: np.ndarray  # (n, 2) map positions
    topics: list[Topic]  # unlabeled yet; biggest first, outliers (-1) included when kept
    themes: list[Theme]  # unlabeled yet; biggest first
    clustering: clustering.Clustering  # how the topics were found
    theme_split: clustering.ThemeSplit
    timings: dict[str, float] = field(default_factory=dict)
    cached: dict[str, bool] = field(default_factory=dict)


class _Clustered:
    """A 'clustering model' whose labels were already chosen (see indexing.clustering)."""

    def __init__(self, labels: np.ndarray, probabilities: np.ndarray) -> None:
        self.labels_ = labels
        self.probabilities_ = probabilities

    def fit(self, X, y=None):  # noqa: N803 - sklearn's signature
        if len(X) != len(self.labels_):
            raise ValueError("chosen clusters used on other documents")
        return self


class _Precomputed:
    """A 'dimensionality reduction' that returns an already computed UMAP output."""

    def __init__(self, reduced: np.ndarray) -> None:
        self.reduced = reduced

    def fit(self, X, y=None):  # noqa: N803 - sklearn's signature
        return self

    def transform(self, X):  # noqa: N803
        if len(X) != len(self.reduced):
            raise ValueError("precomputed reduction used on other documents")
        return self.reduced


EXACT_NEIGHBOURS = 30_000  # up to this many documents the exact neighbours cost less than NN-descent


def neighbours(embeddings: np.ndarray, k: int, random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows by cosine distance (itself included), as UMAP's first step finds them.

    Computed once for both UMAP runs (5-D and 2-D), which would each search
    again. Up to :data:`EXACT_NEIGHBOURS` rows the search is exact, by blocks of
    matrix products (1 s for 5,000 rows on 2 cores): pynndescent's approximate
    search would compile for 10-20 s in every process and find 98.7% of these
    neighbours. Beyond that, one pynndescent search, as UMAP runs it.
    """
    import torch

    if len(embeddings) > EXACT_NEIGHBOURS:
        jit_cache.enable()
        from sklearn.utils import check_random_state
        from umap.umap_ import nearest_neighbors

        indices, distances, _ = nearest_neighbors(embeddings, k, "cosine", {}, True, check_random_state(random_state))
        return indices, distances
    rows = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
    indices = np.empty((len(rows), k), np.int64)
    distances = np.empty((len(rows), k), np.float32)
    for start in range(0, len(rows), 2048):
        nearest = torch.topk(rows[start:start + 2048] @ rows.T, k, dim=1)  # unit rows: the dot is the cosine
        indices[start:start + 2048] = nearest.indices.numpy()
        distances[start:start + 2048] = (1 - nearest.values).clamp_min(0).numpy()
    return indices, distances


def reduce(embeddings: np.ndarray, params: TopicParams, n_components: int, cache: Path,
           log: Callable[[str], None] = lambda _: None,
           knn: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None) -> tuple[np.ndarray, bool]:
    """UMAP to ``n_components`` dimensions, cached by (embeddings, settings).

    ``knn`` gives the neighbours (see :func:`neighbours`) when the metric is
    cosine; it is called only on a cache miss. A cached file that is
    unreadable or has the wrong shape, dtype or non-finite values is
    recomputed, and ``log`` says so.
    """
    settings = {"n_neighbors": params.n_neighbors, "n_components": n_components, "min_dist": params.min_dist,
                "metric": params.umap_metric, "random_state": params.random_state}
    shared = knn is not None and params.umap_metric == "cosine"
    digest = hashlib.sha256(np.ascontiguousarray(embeddings).tobytes())
    digest.update(json.dumps({**settings, "neighbours": "given" if shared else "umap"}, sort_keys=True).encode())
    path = cache / "umap" / f"{digest.hexdigest()[:24]}.npy"
    if path.is_file():
        cached, why = read_matrix(path, len(embeddings), n_components)
        if why is None:
            return cached, True
        log(f"warning: UMAP cache {path} is corrupt ({why}); recomputing it")
    jit_cache.enable()
    import warnings

    from umap import UMAP

    extra = {}
    if shared:
        indices, distances = knn()
        # UMAP edits the arrays it is given: each run gets copies
        extra["precomputed_knn"] = (indices.copy(), distances.copy(), None)
    with warnings.catch_warnings():
        # without a search index UMAP cannot transform new documents, which topictalk never asks of it;
        # a fixed random_state runs one thread, as wanted for reproducible maps
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]|n_jobs value")
        reduced = UMAP(**settings, **extra).fit_transform(embeddings).astype(np.float32)
    atomic_write(path, lambda f: np.save(f, reduced, allow_pickle=False))
    return reduced, False


class _Neighbours:
    """The documents' nearest neighbours, searched at most once: the graph and both UMAPs read them."""

    def __init__(self, embeddings: np.ndarray, params: TopicParams) -> None:
        self.embeddings, self.params = embeddings, params
        self._found: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest of each document, itself first."""
        if self._found is None:
            n, p = len(self.embeddings), self.params
            wanted = min(n - 1, max(p.n_neighbors, p.graph_neighbors + 1))
            self._found = neighbours(self.embeddings, wanted, p.random_state)
        indices, distances = self._found
        return indices[:, :k], distances[:, :k]

    def for_umap(self) -> tuple[np.ndarray, np.ndarray]:
        return self(self.params.n_neighbors)

    def for_graph(self) -> tuple[np.ndarray, np.ndarray]:
        return self(self.params.graph_neighbors + 1)


def find_topics(embeddings: np.ndarray, params: TopicParams, knn: _Neighbours, cache: Path,
                log: Callable[[str], None], timings: dict[str, float], cached: dict[str, bool]):
    """Each document's topic: Leiden communities of the neighbour graph, or HDBSCAN on a 5-D UMAP when its
    settings are given. Returns the clustering and the neighbour graph (the themes are found on it)."""
    if params.min_cluster_size is not None or params.min_samples is not None:
        t = time.perf_counter()
        log(f"reducing {len(embeddings)} embeddings with UMAP ({params.n_components}-D) for HDBSCAN")
        reduced, cached["umap"] = reduce(embeddings, params, params.n_components, cache, log, knn.for_umap)
        timings["umap"] = time.perf_counter() - t
        chosen = clustering.hdbscan(reduced, params.min_cluster_size or clustering.MIN_TOPIC, params.min_samples,
                                    metric=params.hdbscan_metric, method=params.cluster_selection_method,
                                    keep_outliers=params.keep_outliers)
        return chosen, clustering.neighbour_graph(*knn.for_graph())
    chosen, graph = clustering.communities(*knn.for_graph(), resolution=params.resolution, seed=params.random_state,
                                           target=params.nr_topics,
                                           embeddings=embeddings if params.themes == "cells" else None)
    if params.keep_outliers:
        chosen.labels = np.where(chosen.core, chosen.labels, OUTLIER)
    return chosen, graph


@dataclass(frozen=True)
class Given:
    """Topics found elsewhere: a label per document (-1: an outlier) and each topic's words."""

    labels: np.ndarray
    source: str
    words: dict[int, list[str]] = field(default_factory=dict)

    def clustering(self, knn: _Neighbours) -> clustering.Clustering:
        indices, distances = knn.for_graph()
        # outliers (-1) counted as one more group, so that -1 indexes nothing; their confidence is none
        confidence = clustering.confidence(self.labels + 1, indices, distances).astype(np.float32)
        confidence[self.labels == OUTLIER] = 0.0
        return clustering.Clustering(self.labels, confidence, self.labels != OUTLIER, "given",
                                     {"source": self.source})


def fit(
    texts: list[str],
    ids: list[str],
    embeddings: np.ndarray,
    params: TopicParams,
    embedding_model,
    cache: Path,
    log: Callable[[str], None] = lambda _: None,
    given: Given | None = None,
    tokens: Tokens | None = None,
) -> TopicResult:
    """Topics, themes and their representations; ``embeddings`` are unit-length rows, one per text.
    ``given``: each document's topic as another model found it (a saved BERTopic model), kept as it is.
    ``tokens``: the texts' words, when the caller counts them too (the trends)."""
    n = len(texts)
    check_size(n, params)
    timings: dict[str, float] = {}
    cached: dict[str, bool] = {}
    knn = _Neighbours(embeddings, params)

    t = time.perf_counter()
    if given is not None:
        chosen, graph = given.clustering(knn), clustering.neighbour_graph(*knn.for_graph())
    else:
        chosen, graph = find_topics(embeddings, params, knn, cache, log, timings, cached)
    labels = chosen.labels
    if set(labels.tolist()) <= {OUTLIER}:
        raise TopictalkError(f"no topic found in {n} documents with min_cluster_size={params.min_cluster_size}; "
                             "lower --min-cluster-size")
    split = chosen.themes or clustering.themes(labels, graph, params.random_state)
    timings["cluster"] = time.perf_counter() - t - timings.get("umap", 0.0)
    found_first = " (k-means cells of the embeddings, the topics split within them)" if split.method == "kmeans" else ""
    log(chosen.summary() + f"; {int(split.theme_of_topic.max()) + 1} themes{found_first}")

    t = time.perf_counter()
    log(f"reducing {n} embeddings with UMAP (2-D, for the map)")
    coords, cached["umap_2d"] = reduce(embeddings, params, 2, cache, log, knn.for_umap)
    timings["umap"] = timings.get("umap", 0.0) + time.perf_counter() - t

    t = time.perf_counter()
    log("building topic representations (c-TF-IDF, KeyBERTInspired, MMR)")
    topics, themes = represent(texts, ids, embeddings, labels, chosen.confidence, chosen.core, split.theme_of_topic,
                               params, embedding_model, tokens=tokens)
    for tp in topics if given is not None else []:  # the model's own words stay its topics' representation
        tp.keywords = given.words.get(tp.id, [])[:params.top_n_words] or tp.keywords
    timings["topics"] = time.perf_counter() - t
    return TopicResult(labels, chosen.confidence, chosen.core, coords, topics, themes, chosen, split, timings, cached)


def draw(seed: int | None, *key: int) -> np.random.Generator:
    """The random generator of one group (a topic, a topic's period) under ``seed``: one stream per group,
    so that the samples of groups an add or a refine leaves alone stay the same (and their words, read
    once, come from the token cache); unseeded when ``seed`` is None."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([int(seed), *(int(k) + 1 for k in key)])  # +1: the outlier bin is -1


def sample_members(labels: np.ndarray, per_topic: int, seed: int | None) -> np.ndarray:
    """Row indices of at most ``per_topic`` documents of each topic (seeded), sorted. Each topic draws from
    its own generator (:func:`draw`): a topic that an add grows leaves the others' samples as they were."""
    rows = []
    for topic in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == topic)
        rows.append(members if len(members) <= per_topic else draw(seed, topic).choice(members, per_topic, replace=False))
    return np.sort(np.concatenate(rows))


# What :func:`represent` imports of BERTopic.
BERTOPIC = ("bertopic.representation", "bertopic.vectorizers")
# Packages BERTopic imports with itself only for parts we never call, each guarded as optional: its multimodal
# (sentence-transformers) and OpenAI embedding backends, its text-generation and zero-shot representations
# (transformers), its plots' UMAP and its .bin saving and loading (PyTorch). They were 7 of the 8.8 s (one core)
# BERTopic took to import where nothing had imported them yet (an add, a refine).
BERTOPIC_SPARES = ("sentence_transformers", "transformers", "torch", "umap", "openai")


@contextmanager
def lean_bertopic() -> Iterator[None]:
    """Import BERTopic as :func:`represent` uses it, without :data:`BERTOPIC_SPARES` unless already imported, on
    a thread of its own while the block runs (~1.3 s of one core instead of 8.8); the block waits for it at its
    end, so no import is cut off when the process exits. Only for a process of its own, as a command's:
    BERTopic then finds them missing for good (its multimodal and OpenAI backends, its UMAP plots, .bin
    models say "pip install ..."), which a notebook that uses BERTopic beside topictalk must not meet."""
    thread = imports.in_background(*BERTOPIC, without=BERTOPIC_SPARES)
    try:
        yield
    finally:
        thread.join()


def represent(texts: list[str], ids: list[str], embeddings: np.ndarray, labels: np.ndarray, confidence: np.ndarray,
              core: np.ndarray, theme_of_topic: np.ndarray, params: TopicParams,
              embedding_model, needs=None, themes: bool = True,
              tokens: Tokens | None = None) -> tuple[list[Topic], list[Theme]]:
    """BERTopic's representations of each topic, and c-TF-IDF keywords of each theme, on a bounded sample.
    With ``needs(topic, c-TF-IDF words)`` (a refine or an add), KeyBERT and MMR words only for the topics
    it is true of (indexing/partial_representation.py), the others' are their c-TF-IDF words.
    BERTopic's own representative documents, which nothing reads (ours are the closest to the centroid),
    are never picked: that pass tokenizes every sampled document again. ``themes=False``: no themes (an
    add keeps theirs). ``tokens``: ``texts``' words as read already in this run (the trends count them too)."""
    if "bertopic" not in sys.modules:  # BERTopic imports umap: with its numba code cached, for a later reduce()
        jit_cache.enable()
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance
    from bertopic.vectorizers import ClassTfidfTransformer

    from topictalk.indexing.known_embedder import KnownEmbedder
    from topictalk.indexing.partial_representation import Only

    tuners = {"KeyBERT": KeyBERTInspired(), "MMR": MaximalMarginalRelevance(diversity=params.mmr_diversity)}
    rows = sample_members(labels, params.sample_per_topic, params.random_state)
    sample = [texts[i] for i in rows]
    counted = (tokens or Tokens(texts, params)).counts(rows)  # the vocabulary and the counts, one reading
    classes = sorted(set(labels[rows].tolist()))
    per_topic = ctfidf.class_sums(counted.matrix, np.searchsorted(classes, labels[rows]), len(classes))
    model = _counted_bertopic(
        lambda topic: per_topic[classes.index(topic)],
        embedding_model=KnownEmbedder(embedding_model, dict(zip(sample, embeddings[rows]))),
        umap_model=_Precomputed(embeddings[rows, :2]),  # the topics are given: no reduction is used
        hdbscan_model=_Clustered(labels[rows], confidence[rows]),
        vectorizer_model=counted.vectorizer(params),
        # BERTopic's remedy for words frequent in every topic ("model", "data", "learning")
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        representation_model={name: tuner if needs is None else Only(tuner, labels[rows], needs)
                              for name, tuner in tuners.items()},
        top_n_words=params.top_n_words,
    )
    # BERTopic has no switch for its representative documents; KeyBERTInspired picks its own from c-TF-IDF
    model._save_representative_docs = lambda documents: None
    fitted, _ = model.fit_transform(sample, embeddings[rows])
    # BERTopic numbers topics by their size in the sample: map ours onto its ids through the documents
    theirs = {int(ours): int(got) for ours, got in zip(labels[rows].tolist(), np.asarray(fitted).tolist())}
    aspects = getattr(model, "topic_aspects_", {}) or {}
    topics = []
    for topic_id in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == topic_id)
        centroid, closest = centre(embeddings, members, core, params.representative_docs)
        key = theirs[topic_id]
        topics.append(Topic(
            id=int(topic_id), size=len(members), label="", label_source="",
            keywords=_words(model.get_topic(key))[: params.top_n_words],
            keybert=_words(aspects.get("KeyBERT", {}).get(key)),
            mmr=_words(aspects.get("MMR", {}).get(key)),
            representative_ids=[ids[i] for i in closest], embedding=centroid.astype(np.float32),
            theme=None if topic_id == OUTLIER else int(theme_of_topic[topic_id]),
        ))
    topics = biggest_first(topics)
    if not themes:
        return topics, []
    return topics, _themes(topics, embeddings, labels, theme_of_topic, labels[rows], counted, params)


def _counted_bertopic(counts_of, **settings):
    """A BERTopic model whose c-TF-IDF reads ``counts_of(topic)``, each topic's word counts (a 1 x terms
    row, over its vectorizer's terms) as :class:`~topictalk.indexing.vocabulary.Tokens` made them.

    BERTopic's own joins each topic's sampled documents into one text and reads it again with the
    vectorizer: the sample's second reading in a run that has just read it to choose the vocabulary (at
    20,000 abstracts, 4.4 s of an add's 53). The counts are the same but for the bigrams the joining made
    across two documents ("... graphs" + "We propose ..." -> "graphs propose"), which no document holds."""
    from bertopic import BERTopic
    from scipy.sparse import vstack

    class Counted(BERTopic):
        def _c_tf_idf(self, documents_per_topic, fit=True, partial_fit=False):  # noqa: ANN001, ANN202
            if not fit or partial_fit:  # KeyBERTInspired's documents, one by one: BERTopic's own way
                return super()._c_tf_idf(documents_per_topic, fit, partial_fit)
            # BERTopic renumbered the topics by size: its ids back to ours (the clustering's labels)
            ours = {int(new): int(old) for old, new in self.topic_mapper_.get_mappings(original_topics=True).items()}
            counts = vstack([counts_of(ours[int(t)]) for t in documents_per_topic.Topic]).tocsr()
            self.ctfidf_model = self.ctfidf_model.fit(counts)
            return self.ctfidf_model.transform(counts), self.vectorizer_model.get_feature_names_out()

    return Counted(**settings)


def centre(embeddings: np.ndarray, members: np.ndarray, core: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A topic's unit centroid and its representative documents (rows): the ``n`` core members closest to
    the centroid (all members when none is core)."""
    centroid = _unit(embeddings[members].mean(axis=0))
    pool = members[core[members]] if core[members].any() else members
    return centroid, pool[np.argsort(-(embeddings[pool] @ centroid))[:n]]


def _themes(topics: list[Topic], embeddings: np.ndarray, labels: np.ndarray, theme_of_topic: np.ndarray,
            sample_labels: np.ndarray, counted, params: TopicParams) -> list[Theme]:
    """Each theme's size, topics (biggest first), centroid, c-TF-IDF keywords (from the sample's ``counted``
    words) and representative documents (the first representative of each of its biggest topics)."""
    inside = sample_labels != OUTLIER
    k = int(theme_of_topic.max()) + 1
    words = ctfidf.class_words(counted.matrix[np.flatnonzero(inside)], counted.terms,
                               theme_of_topic[sample_labels[inside]], k, params.top_n_words)
    themes = []
    for theme_id in range(k):
        members = [t for t in topics if t.theme == theme_id]
        rows = np.flatnonzero(np.isin(labels, [t.id for t in members]))
        themes.append(Theme(
            id=theme_id, size=sum(t.size for t in members), label="", label_source="",
            topic_ids=[t.id for t in members], keywords=words[theme_id],
            embedding=_unit(embeddings[rows].mean(axis=0)).astype(np.float32),
            representative_ids=[t.representative_ids[0] for t in members if t.representative_ids]
            [: params.representative_docs],
        ))
    return biggest_first(themes)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector) or 1.0)


def _words(pairs) -> list[str]:
    return [w for w, _ in pairs or [] if w]


def params_dict(params: TopicParams, chosen: clustering.Clustering) -> dict:
    return {**asdict(params), "method": chosen.method}
