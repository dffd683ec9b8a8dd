"""HDBSCAN settings that never collapse a corpus into one giant topic.

HDBSCAN's ``eom`` selection with ``min_samples`` equal to ``min_cluster_size``
(its default) smooths the density so much that a corpus forming a continuum,
as abstracts of one field do, comes out as one cluster holding 99% of the
documents. Lower ``min_samples`` keeps finer density structure. HDBSCAN on
the cached 5-D UMAP output takes about a second per 5,000 documents, so we
try a short ladder of settings, coarsest first, and keep the first that
passes three guards:

- no topic holds more than ``max_topic_share`` of the documents;
- at most ``max_outlier_share`` are outliers;
- at least ``min_topics`` topics (8 from 5,000 documents on).

Coarsest first, because the fewest topics that pass read best in a table
and agree best with the categories people give their documents. When no
setting passes, the least collapsed one is kept and every topic still over
the share guard is clustered again on its own documents (split).

Settings that pass often still give dozens of small topics for a few
thousand documents (64 for 7,600 AG News items). A person reads a table of
about one topic per thousand documents (at least the guard's minimum), so the
most similar topics (cosine of their embedding centroids) are then merged,
BERTopic's topic reduction in spirit, down to that many, never past the
share guard. On AG News that lifts NMI against its four sections from
0.34 to 0.48; outliers stay outliers.

What the user passes (``--min-cluster-size``, ``--min-samples``) is used as
given, with no search.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from indexing.schema import OUTLIER


@dataclass(frozen=True)
class Guards:
    max_topic_share: float = 0.25
    max_outlier_share: float = 0.35
    min_topics_large: int = 8  # from `large_corpus` documents on
    large_corpus: int = 5000
    documents_per_topic: int = 1000  # merging stops at n / this many topics

    def min_topics(self, n_documents: int) -> int:
        return self.min_topics_large if n_documents >= self.large_corpus else 3

    def target_topics(self, n_documents: int) -> int:
        return max(self.min_topics(n_documents), round(n_documents / self.documents_per_topic))


@dataclass(frozen=True)
class Trial:
    """One HDBSCAN run of the search, as the manifest records it."""

    min_cluster_size: int
    min_samples: int
    topics: int
    outlier_share: float
    largest_share: float
    seconds: float
    failed: str | None  # the first guard it failed, None when it passed


@dataclass
class Clustering:
    labels: np.ndarray  # topic per document, -1 for outliers
    probabilities: np.ndarray
    min_cluster_size: int
    min_samples: int | None
    source: str  # "option" or "search"
    reason: str  # one line: why these settings
    trials: list[Trial] = field(default_factory=list)
    split: list[int] = field(default_factory=list)  # sizes of the topics split again
    merged: tuple[int, int] | None = None  # (topics before, after) merging similar topics

    def summary(self) -> str:
        """The one line `topictalk index` prints."""
        settings = f"min_cluster_size={self.min_cluster_size}, min_samples={self.min_samples}"
        if self.source == "option":
            return f"clustering: HDBSCAN {settings}, as given"
        merged = f"; merged {self.merged[0]} topics into {self.merged[1]}" if self.merged else ""
        return f"clustering: HDBSCAN {settings}, {self.reason}{merged}"

    def manifest(self) -> dict:
        return {"source": self.source, "reason": self.reason, "min_cluster_size": self.min_cluster_size,
                "min_samples": self.min_samples, "split": self.split, "merged": self.merged, "trials": [asdict(t) for t in self.trials]}


def _hdbscan(points: np.ndarray, mcs: int, ms: int | None, metric: str, method: str):
    from hdbscan import HDBSCAN

    return HDBSCAN(min_cluster_size=mcs, min_samples=ms, metric=metric, cluster_selection_method=method).fit(points)


def _stats(labels: np.ndarray) -> tuple[int, float, float]:
    n = len(labels)
    inside = labels[labels != OUTLIER]
    sizes = np.bincount(inside) if len(inside) else np.zeros(1, int)
    return int((sizes > 0).sum()), float((labels == OUTLIER).mean()), float(sizes.max() / n)


def _check(topics: int, outliers: float, largest: float, n: int, guards: Guards) -> str | None:
    if topics == 0:
        return "no topic"
    if largest > guards.max_topic_share:
        return f"largest topic {largest:.0%} > {guards.max_topic_share:.0%}"
    if outliers > guards.max_outlier_share:
        return f"outliers {outliers:.0%} > {guards.max_outlier_share:.0%}"
    if topics < guards.min_topics(n):
        return f"{topics} topics < {guards.min_topics(n)}"
    return None


def ladder(min_cluster_size: int) -> list[tuple[int, int]]:
    """(min_cluster_size, min_samples) pairs, coarsest first."""
    pairs = []
    for mcs in dict.fromkeys([min_cluster_size, max(5, min_cluster_size // 2)]):
        for ms in dict.fromkeys([mcs, max(2, mcs // 2), max(2, mcs // 4), 10, 5]):
            if ms <= mcs:
                pairs.append((mcs, ms))
    return pairs


def choose(points: np.ndarray, embeddings: np.ndarray, min_cluster_size: int, min_samples: int | None, *,
           searched: bool, metric: str = "euclidean", method: str = "eom", guards: Guards = Guards()) -> Clustering:
    """Cluster ``points`` (the 5-D UMAP output); search the settings and merge unless ``searched`` is False.

    ``embeddings`` are the documents' unit-length embeddings, for merging.
    """
    chosen = _search(points, min_cluster_size, min_samples, searched, metric, method, guards)
    if searched:
        before = len(set(chosen.labels.tolist()) - {OUTLIER})
        target = guards.target_topics(len(points))
        if before > target:
            chosen.labels = merge(chosen.labels, embeddings, target, guards.max_topic_share)
            chosen.merged = (before, len(set(chosen.labels.tolist()) - {OUTLIER}))
    return chosen


def merge(labels: np.ndarray, embeddings: np.ndarray, target: int, max_share: float) -> np.ndarray:
    """Merge the two topics with the most similar centroids until ``target`` remain.

    A merge that would make a topic larger than ``max_share`` of the
    documents is never made. Topic ids are renumbered 0..k-1, biggest first.
    """
    labels = labels.copy()
    ids = sorted(set(labels.tolist()) - {OUTLIER})
    sums = np.stack([embeddings[labels == t].sum(axis=0) for t in ids]).astype(np.float64)
    sizes = np.array([(labels == t).sum() for t in ids], dtype=np.int64)
    alive = np.ones(len(ids), bool)
    owner = np.arange(len(ids))  # which surviving topic each original one went into
    limit = max_share * len(labels)
    while alive.sum() > target:
        cent = sums / np.linalg.norm(sums, axis=1, keepdims=True)
        sim = cent @ cent.T
        ok = alive[:, None] & alive[None, :] & ((sizes[:, None] + sizes[None, :]) <= limit)
        np.fill_diagonal(ok, False)
        if not ok.any():
            break
        a, b = np.unravel_index(np.argmax(np.where(ok, sim, -np.inf)), sim.shape)
        sums[a] += sums[b]
        sizes[a] += sizes[b]
        alive[b] = False
        owner[owner == b] = a
    lookup = {t: owner[i] for i, t in enumerate(ids)}
    merged = np.array([lookup.get(t, OUTLIER) if t != OUTLIER else OUTLIER for t in labels.tolist()])
    order = sorted(set(owner.tolist()), key=lambda o: -sizes[o])
    renumber = {o: k for k, o in enumerate(order)}
    return np.array([renumber[t] if t != OUTLIER else OUTLIER for t in merged.tolist()])


def _search(points: np.ndarray, min_cluster_size: int, min_samples: int | None, searched: bool, metric: str,
            method: str, guards: Guards) -> Clustering:
    n = len(points)
    if not searched:
        model = _hdbscan(points, min_cluster_size, min_samples, metric, method)
        return Clustering(model.labels_, model.probabilities_, min_cluster_size, min_samples, "option",
                          "as given on the command line")
    trials: list[Trial] = []
    fitted = {}
    for mcs, ms in ladder(min_cluster_size):
        t = time.perf_counter()
        model = _hdbscan(points, mcs, ms, metric, method)
        topics, outliers, largest = _stats(model.labels_)
        failed = _check(topics, outliers, largest, n, guards)
        trials.append(Trial(mcs, ms, topics, round(outliers, 4), round(largest, 4),
                            round(time.perf_counter() - t, 2), failed))
        fitted[(mcs, ms)] = model
        if failed is None:
            return Clustering(model.labels_, model.probabilities_, mcs, ms, "search",
                              f"the coarsest of {len(trials)} settings tried that passes the guards "
                              f"({topics} topics, largest {largest:.0%}, outliers {outliers:.0%})", trials)
    # Nothing passed: keep a setting within the outlier guard (splitting adds no outliers, so it cannot
    # mend them), the least collapsed of those, and split what is still too big.
    best = min(trials, key=lambda tr: (tr.topics == 0, tr.outlier_share > guards.max_outlier_share,
                                       tr.largest_share > guards.max_topic_share,
                                       tr.largest_share + tr.outlier_share))
    model = fitted[(best.min_cluster_size, best.min_samples)]
    labels, probabilities, split = _split(points, model.labels_.copy(), model.probabilities_.copy(),
                                          best.min_cluster_size, metric, method, guards)
    topics, outliers, largest = _stats(labels)
    why = f"no setting passed the guards; kept min_samples={best.min_samples} ({best.failed})"
    if split:
        why += f" and split {len(split)} oversized topics"
    return Clustering(labels, probabilities, best.min_cluster_size, best.min_samples, "search",
                      f"{why}: {topics} topics, largest {largest:.0%}, outliers {outliers:.0%}", trials, split)


def _split(points: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, mcs: int, metric: str, method: str,
           guards: Guards) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Cluster each topic over the share guard again on its own documents (coarsest step that splits it)."""
    n = len(labels)
    split: list[int] = []
    queue = [t for t in set(labels.tolist()) if t != OUTLIER]
    while queue:
        topic = queue.pop()
        members = np.flatnonzero(labels == topic)
        if len(members) <= guards.max_topic_share * n or len(members) < 2 * mcs:
            continue
        for sub_mcs, ms in ladder(mcs):
            sub = _hdbscan(points[members], sub_mcs, ms, metric, method)
            found = sorted(set(sub.labels_.tolist()) - {OUTLIER})
            if len(found) >= 2:
                break
        else:
            continue  # no structure inside: it stays one topic
        split.append(len(members))
        parts = [topic]
        for k in found:
            chosen = members[sub.labels_ == k]
            if k != found[0]:  # the first part keeps the topic's id
                parts.append(int(labels.max()) + 1)
            labels[chosen] = parts[-1]
            probabilities[chosen] = sub.probabilities_[sub.labels_ == k]
        # what the topic's own run calls noise stays with its first part: splitting adds no outliers
        queue += parts
    return labels, probabilities, split
