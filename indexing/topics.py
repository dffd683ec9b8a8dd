"""Embeddings -> UMAP -> HDBSCAN -> BERTopic representations, as the reference recipe.

UMAP runs here rather than inside BERTopic so its output can be cached on
disk (keyed by the embeddings and the UMAP settings): re-indexing with a
different ``min_cluster_size`` then skips both the embedding and the UMAP.
BERTopic gets a pass-through reducer that hands it the cached result.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from indexing import clustering, jit_cache
from indexing.errors import TopictalkError
from indexing.paths import atomic_write, read_matrix
from indexing.schema import OUTLIER, Topic


@dataclass(frozen=True)
class TopicParams:
    """Every knob of the recipe; defaults are the reference's (min_cluster_size aside)."""

    n_neighbors: int = 15
    n_components: int = 5
    min_dist: float = 0.0
    umap_metric: str = "cosine"
    random_state: int | None = 42
    min_cluster_size: int | None = None  # None: chosen from the corpus size
    min_samples: int | None = None
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
    reduce_outliers: bool = False


# Words that name no topic in any corpus, beyond sklearn's English stop words: contraction fragments
# ("don't" -> "don"), honorifics, reporting verbs, conversational filler and HTML entity names.
FILLER = frozenset("""
    aren couldn didn doesn don hadn hasn haven isn ll mightn mustn needn shan shouldn ve wasn weren won wouldn
    mr mrs ms dr sir said says say told like just really actually got going lot lots thing things want
    quot amp nbsp lt gt apos
""".split())
# Tokens of two or more word characters with at least one letter: no "39" (from "&#39;") or "000".
TOKEN_PATTERN = r"(?u)\b(?=\w*[^\W\d_])\w\w+\b"


def vectorizer(texts: list[str], params: TopicParams):
    """BERTopic's CountVectorizer over a vocabulary chosen on the documents themselves.

    BERTopic fits its vectorizer on one concatenated document per topic, so
    its min_df/max_df would count topics; document frequencies are what tell
    filler ("said", "model") from topic words, so the vocabulary is picked here.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop = sorted(FILLER | (ENGLISH_STOP_WORDS if params.stop_words == "english" else frozenset()))
    shape = {"stop_words": stop, "ngram_range": tuple(params.ngram_range), "token_pattern": TOKEN_PATTERN}
    min_df = params.min_df if len(texts) >= 5 * params.min_df else 1  # a tiny corpus keeps every word
    try:
        counted = CountVectorizer(min_df=min_df, max_df=params.max_df, **shape).fit(texts)
    except ValueError:  # every term pruned (tiny or uniform corpus): keep the plain vocabulary
        counted = CountVectorizer(**shape).fit(texts)
    return CountVectorizer(vocabulary=sorted(counted.vocabulary_), **shape)


def default_min_cluster_size(n_documents: int) -> int:
    """150 suits the reference's ~117k abstracts; smaller corpora get about sqrt(n)/2, at least 10."""
    return int(min(150, max(10, round(0.5 * math.sqrt(n_documents)))))


def check_size(n_documents: int, params: TopicParams) -> int:
    """The min_cluster_size to use; a clear error when the corpus is too small for it.

    Fewer documents than max(2 x min_cluster_size, n_neighbors + 2, 20) cannot
    give UMAP its neighbours and HDBSCAN two clusters.
    """
    mcs = params.min_cluster_size or default_min_cluster_size(n_documents)
    needed = max(2 * mcs, params.n_neighbors + 2, 20)
    if n_documents < needed:
        raise TopictalkError(
            f"only {n_documents} documents: topic modelling with min_cluster_size={mcs} needs at least "
            f"{needed}; add documents or lower --min-cluster-size"
        )
    return mcs


@dataclass
class TopicResult:
    assignments: np.ndarray  # topic id per document
    probabilities: np.ndarray
    coordinates: np.ndarray  # (n, 2) map positions
    topics: list[Topic]  # unlabeled yet; biggest first, outliers (-1) included when present
    clustering: clustering.Clustering  # the HDBSCAN settings used, and the search that chose them
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


def fit(
    texts: list[str],
    ids: list[str],
    embeddings: np.ndarray,
    params: TopicParams,
    embedding_model,
    cache: Path,
    log: Callable[[str], None] = lambda _: None,
) -> TopicResult:
    """Cluster and represent topics; ``embeddings`` are unit-length rows, one per text."""
    n = len(texts)
    mcs = check_size(n, params)
    timings: dict[str, float] = {}
    cached: dict[str, bool] = {}

    t = time.perf_counter()
    log(f"reducing {n} embeddings with UMAP ({params.n_components}-D for clustering, 2-D for the map)")
    found: list[tuple[np.ndarray, np.ndarray]] = []  # the neighbours, searched at most once

    def knn() -> tuple[np.ndarray, np.ndarray]:
        if not found:
            found.append(neighbours(embeddings, params.n_neighbors, params.random_state))
        return found[0]

    reduced, cached["umap"] = reduce(embeddings, params, params.n_components, cache, log, knn)
    coords, cached["umap_2d"] = reduce(embeddings, params, 2, cache, log, knn)
    timings["umap"] = time.perf_counter() - t

    jit_cache.enable()
    from bertopic import BERTopic
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance
    from bertopic.vectorizers import ClassTfidfTransformer

    t = time.perf_counter()
    # the user's explicit settings are used as given; otherwise a few settings are tried on the cached UMAP output
    searched = params.min_cluster_size is None and params.min_samples is None
    chosen = clustering.choose(reduced, embeddings, mcs, params.min_samples, searched=searched, metric=params.hdbscan_metric,
                               method=params.cluster_selection_method)
    timings["cluster"] = time.perf_counter() - t
    log(chosen.summary())

    t = time.perf_counter()
    log("building topic representations (c-TF-IDF, KeyBERTInspired, MMR)")
    vectorizer_model = vectorizer(texts, params)
    representation = {"KeyBERT": KeyBERTInspired(), "MMR": MaximalMarginalRelevance(diversity=params.mmr_diversity)}
    model = BERTopic(
        embedding_model=embedding_model,
        umap_model=_Precomputed(reduced),
        hdbscan_model=_Clustered(chosen.labels, chosen.probabilities),
        vectorizer_model=vectorizer_model,
        # BERTopic's remedy for words frequent in every topic ("model", "data", "learning")
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        representation_model=representation,
        top_n_words=params.top_n_words,
    )
    assignments, probabilities = model.fit_transform(texts, embeddings)
    assignments = np.asarray(assignments)
    probabilities = np.asarray(probabilities if probabilities is not None else np.ones(n), dtype=np.float32)
    if set(assignments.tolist()) <= {OUTLIER}:
        raise TopictalkError(
            f"HDBSCAN found no topic in {n} documents with min_cluster_size={mcs}; lower --min-cluster-size"
        )
    if params.reduce_outliers and (assignments == OUTLIER).any():
        log("reassigning outliers to their nearest topics (reduce_outliers)")
        new = np.asarray(model.reduce_outliers(texts, assignments.tolist()))
        probabilities = np.where(assignments == OUTLIER, 0.0, probabilities).astype(np.float32)
        assignments = new
        # update_topics resets the vectorizer and representations unless they are passed again
        model.update_topics(texts, topics=assignments.tolist(), top_n_words=params.top_n_words,
                            vectorizer_model=vectorizer_model, ctfidf_model=model.ctfidf_model,
                            representation_model=representation)
    timings["topics"] = time.perf_counter() - t

    topics = _collect(model, assignments, embeddings, ids, params)
    return TopicResult(assignments, probabilities, coords, topics, chosen, timings, cached)


def _words(pairs) -> list[str]:
    return [w for w, _ in pairs or [] if w]


def _collect(model, assignments: np.ndarray, embeddings: np.ndarray, ids: list[str], params: TopicParams) -> list[Topic]:
    aspects = getattr(model, "topic_aspects_", {}) or {}
    topics = []
    for topic_id in sorted(set(assignments.tolist())):
        members = np.flatnonzero(assignments == topic_id)
        centroid = embeddings[members].mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        # representative documents: the members closest to the topic's centroid
        closest = members[np.argsort(-(embeddings[members] @ centroid))[: params.representative_docs]]
        topics.append(Topic(
            id=int(topic_id), size=len(members), label="", label_source="",
            keywords=_words(model.get_topic(topic_id))[: params.top_n_words],
            keybert=_words(aspects.get("KeyBERT", {}).get(topic_id)),
            mmr=_words(aspects.get("MMR", {}).get(topic_id)),
            representative_ids=[ids[i] for i in closest], embedding=centroid.astype(np.float32),
        ))
    return sorted(topics, key=lambda t: (t.is_outlier, -t.size, t.id))


def params_dict(params: TopicParams, chosen: clustering.Clustering) -> dict:
    return {**asdict(params), "min_cluster_size": chosen.min_cluster_size, "min_samples": chosen.min_samples}
