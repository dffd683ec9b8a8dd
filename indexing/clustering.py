"""Topics and themes from the documents' nearest-neighbour graph; HDBSCAN when its settings are given.

By default topics are the communities of the graph that links each document
to its 25 nearest neighbours (cosine, from the search UMAP's 15 come from), found by
Leiden's modularity optimization. Modularity measures, on the data itself,
how much more weight a partition keeps inside its parts than chance would:
the number of topics is the one that maximizes it, not a documents-per-topic
ratio. Leiden's communities are connected in the graph, so a topic is one
region of the map, never far-apart islands glued together (which the former
merge of centroids did). Every document has a topic; its confidence is the
share of its neighbours' weight that lies in its own topic, and documents
whose neighbours mostly sit elsewhere are "placed" rather than "core".

Themes are the same method one level up: the graph of topics (edge weight =
the neighbour links between their documents) is partitioned again, at the
resolution that gives a readable number of themes (5 to 12, at most half the
topics, where the topics allow) with the best modularity. Topics nest in themes by construction.

Compared on the same embeddings (bench/quality.py), HDBSCAN on the 5-D UMAP
output either left a third of a continuum-like corpus (abstracts, news) out,
or, with coarse settings, collapsed it (AG News: 2 topics of 74% and 26%);
leaf selection gave fine topics with 25-40% outliers.

``--min-cluster-size`` / ``--min-samples`` still run HDBSCAN as given, on the
5-D UMAP output; its outliers are then placed at their nearest topic centroid
in that space unless ``--keep-outliers`` asks for topic -1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from indexing.schema import OUTLIER

MIN_TOPIC = 10  # documents: a smaller community joins the topic it links to most (BERTopic's min_cluster_size)
THEMES = (5, 12)  # a readable number of themes, where there are enough topics
RESOLUTIONS = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0)  # tried on the topic graph for themes


@dataclass
class Clustering:
    """One document partition with everything the manifest records about how it was found."""

    labels: np.ndarray  # topic per document (-1 only with keep_outliers)
    confidence: np.ndarray  # float32 in [0, 1]
    core: np.ndarray  # bool: False for documents placed at a topic they do not clearly belong to
    method: str  # "leiden" or "hdbscan"
    details: dict = field(default_factory=dict)

    def summary(self) -> str:
        """The one line `topictalk index` prints."""
        n, placed = len(self.labels), int((~self.core).sum())
        topics = len(set(self.labels.tolist()) - {OUTLIER})
        if self.method == "hdbscan":
            d = self.details
            how = f"HDBSCAN min_cluster_size={d['min_cluster_size']}, min_samples={d['min_samples']}, as given"
        else:
            how = f"Leiden communities of the {self.details['neighbours']}-neighbour graph (modularity " \
                  f"{self.details['modularity']:.2f})"
        rest = (f"{int((self.labels == OUTLIER).sum())} outliers kept" if (self.labels == OUTLIER).any()
                else f"{placed} of {n} documents placed at their nearest topic")
        return f"clustering: {how}: {topics} topics, {rest}"

    def manifest(self) -> dict:
        return {"method": self.method, "placed": int((~self.core).sum()),
                "outliers": int((self.labels == OUTLIER).sum()), **self.details}


def neighbour_graph(indices: np.ndarray, distances: np.ndarray):
    """The undirected weighted graph of each document's nearest neighbours (weight = cosine similarity).

    ``indices``/``distances`` are as :func:`indexing.topics.neighbours` gives them,
    each row's first entry the document itself (dropped here).
    """
    import igraph

    n = len(indices)
    src = np.repeat(np.arange(n, dtype=np.int64), indices.shape[1] - 1)
    dst = indices[:, 1:].astype(np.int64).ravel()
    weight = np.clip(1.0 - distances[:, 1:].astype(np.float64).ravel(), 1e-6, None)
    keep = src != dst
    low, high = np.minimum(src, dst)[keep], np.maximum(src, dst)[keep]
    pair, inverse = np.unique(low * n + high, return_inverse=True)
    merged = np.zeros(len(pair))
    np.maximum.at(merged, inverse, weight[keep])  # a link found from both ends counts once
    graph = igraph.Graph(n=n, edges=np.column_stack([pair // n, pair % n]), directed=False)
    graph.es["weight"] = merged
    return graph


def leiden(graph, resolution: float = 1.0, seed: int | None = 42) -> np.ndarray:
    """Leiden communities maximizing modularity at ``resolution``, numbered 0..k-1."""
    import igraph

    # igraph draws from one process-wide generator: seed it for this call, and give the default back
    igraph.set_random_number_generator(random.Random(seed))
    try:
        found = graph.community_leiden(objective_function="modularity", weights="weight", resolution=resolution,
                                       n_iterations=-1)
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(found.membership, dtype=np.int64)


def _links(labels: np.ndarray, graph, groups: int) -> np.ndarray:
    """The (groups x groups) sum of edge weights between groups of vertices (both triangles)."""
    edges = np.array(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    weight = np.asarray(graph.es["weight"], dtype=np.float64)
    a, b = labels[edges[:, 0]], labels[edges[:, 1]]
    inside = (a >= 0) & (b >= 0)
    matrix = np.zeros((groups, groups))
    np.add.at(matrix, (a[inside], b[inside]), weight[inside])
    return matrix + matrix.T


def _absorb(labels: np.ndarray, graph, min_size: int) -> np.ndarray:
    """Join each community smaller than ``min_size`` to the community it links to most, smallest first."""
    k = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k).astype(np.int64)
    if (sizes[sizes > 0] >= min_size).all():
        return labels
    links = _links(labels, graph, k)
    np.fill_diagonal(links, 0.0)
    owner = np.arange(k)
    while True:
        small = [c for c in np.argsort(sizes, kind="stable") if 0 < sizes[c] < min_size]
        if not small or (sizes > 0).sum() <= 1:
            break
        c = small[0]
        row = np.where(sizes > 0, links[c], -1.0)
        row[c] = -1.0
        # no link at all (an island of its own): it joins the biggest topic rather than stand alone
        target = int(np.argmax(row)) if row.max() > 0 else int(np.argmax(np.where(np.arange(k) == c, -1, sizes)))
        links[target] += links[c]
        links[:, target] += links[:, c]
        links[target, target] = 0.0
        links[c] = 0.0
        links[:, c] = 0.0
        sizes[target] += sizes[c]
        sizes[c] = 0
        owner[owner == c] = target
    return owner[labels]


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Topic ids 0..k-1, biggest first (ties by first appearance); -1 stays -1."""
    inside = labels[labels != OUTLIER]
    sizes = np.bincount(inside) if len(inside) else np.zeros(0, int)
    order = sorted(np.flatnonzero(sizes).tolist(), key=lambda c: -sizes[c])
    lookup = np.full(len(sizes), OUTLIER, dtype=np.int64)
    lookup[order] = np.arange(len(order))
    return np.where(labels == OUTLIER, OUTLIER, lookup[np.where(labels == OUTLIER, 0, labels)])


def confidence(labels: np.ndarray, indices: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """The share of each document's neighbour similarity that lies inside its own topic."""
    weight = np.clip(1.0 - distances[:, 1:], 0.0, None)
    same = labels[indices[:, 1:]] == labels[:, None]
    total = weight.sum(axis=1)
    return np.where(total > 0, (weight * same).sum(axis=1) / np.where(total > 0, total, 1), 0.0).astype(np.float32)


def communities(indices: np.ndarray, distances: np.ndarray, *, resolution: float = 1.0, seed: int | None = 42,
                min_size: int = MIN_TOPIC) -> tuple[Clustering, object]:
    """Topics of the neighbour graph (the default); returns the clustering and the graph, for themes."""
    graph = neighbour_graph(indices, distances)
    found = leiden(graph, resolution, seed)
    raw = int(found.max()) + 1
    labels = _renumber(_absorb(found, graph, min(min_size, max(2, len(found) // 4))))
    conf = confidence(labels, indices, distances)
    details = {"neighbours": int(indices.shape[1] - 1), "resolution": resolution,
               "modularity": round(float(graph.modularity(labels.tolist(), weights="weight")), 4),
               "communities": raw, "min_topic": min_size}
    return Clustering(labels, conf, conf >= 0.5, "leiden", details), graph


def hdbscan(points: np.ndarray, min_cluster_size: int, min_samples: int | None, *, metric: str = "euclidean",
            method: str = "eom", keep_outliers: bool = False) -> Clustering:
    """HDBSCAN as given (``--min-cluster-size``/``--min-samples``); outliers placed unless kept."""
    from hdbscan import HDBSCAN

    model = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, metric=metric,
                    cluster_selection_method=method).fit(points)
    labels = np.asarray(model.labels_, dtype=np.int64)
    probabilities = np.asarray(model.probabilities_, dtype=np.float32)
    core = labels != OUTLIER
    if not keep_outliers and core.any() and not core.all():
        labels, placed_conf = place(labels, points)
        probabilities = np.where(core, probabilities, placed_conf).astype(np.float32)
    details = {"min_cluster_size": min_cluster_size, "min_samples": min_samples,
               "hdbscan_outliers": int((~core).sum())}
    return Clustering(_renumber(labels), probabilities, core, "hdbscan", details)


def place(labels: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each outlier joins the topic whose centroid (in ``points``' space) is nearest.

    The confidence of a placed document compares its distance to the nearest
    and the second-nearest centroid: 0.5 when they tie, near 1 when the
    nearest is much closer.
    """
    ids = np.array(sorted(set(labels.tolist()) - {OUTLIER}))
    centroids = np.stack([points[labels == t].mean(axis=0) for t in ids])
    out = np.flatnonzero(labels == OUTLIER)
    placed = labels.copy()
    conf = np.zeros(len(labels), dtype=np.float32)
    for start in range(0, len(out), 4096):
        rows = out[start:start + 4096]
        d = np.sqrt(((points[rows, None, :] - centroids[None]) ** 2).sum(axis=-1))
        order = np.argsort(d, axis=1)
        placed[rows] = ids[order[:, 0]]
        if len(ids) > 1:
            near, second = d[np.arange(len(rows)), order[:, 0]], d[np.arange(len(rows)), order[:, 1]]
            conf[rows] = second / np.maximum(near + second, 1e-12)
        else:
            conf[rows] = 0.5
    return placed, conf


@dataclass
class ThemeSplit:
    theme_of_topic: np.ndarray  # theme id per topic id (0..k-1, biggest theme first)
    resolution: float
    modularity: float
    tried: list[tuple[float, int, float]]  # (resolution, themes, modularity)


def themes(labels: np.ndarray, graph, seed: int | None = 42, wanted: tuple[int, int] = THEMES) -> ThemeSplit:
    """Group topics into themes: Leiden on the graph of topics, over a ladder of resolutions; of the
    partitions with a readable number of themes (``wanted``, and at most half the topics) the one
    with the best modularity (at resolution 1, the only one comparable across partitions) wins. A corpus with no more topics than
    the low end of ``wanted`` gets one theme per topic."""
    import igraph

    topics = int(labels.max()) + 1
    inside = labels != OUTLIER
    matrix = _links(labels, graph, topics)  # the diagonal holds twice each topic's inner weight
    low, high = np.triu_indices(topics)
    keep = matrix[low, high] > 0
    topic_graph = igraph.Graph(n=topics, edges=np.column_stack([low[keep], high[keep]]), directed=False)
    topic_graph.es["weight"] = matrix[low, high][keep] / np.where(low[keep] == high[keep], 2.0, 1.0)
    lo, hi = wanted
    if topics <= lo:
        return ThemeSplit(np.arange(topics), 0.0, 0.0, [])
    # a theme should hold two topics on average, or the level adds nothing to read (10 topics, 9 themes)
    hi = max(lo, min(hi, topics // 2))
    tried = []
    best: tuple[tuple, float, np.ndarray, float] | None = None
    for resolution in RESOLUTIONS:
        found = leiden(topic_graph, resolution, seed)
        count = int(found.max()) + 1
        q = float(topic_graph.modularity(found.tolist(), weights="weight"))
        tried.append((resolution, count, round(q, 4)))
        # readable counts first; among them the best modularity; outside, the count nearest the range
        score = (0 if lo <= count <= hi else 1, abs(count - np.clip(count, lo, hi)), -q)
        if best is None or score < best[0]:
            best = (score, resolution, found, q)
    _, resolution, found, modularity = best
    sizes = np.bincount(found, weights=np.bincount(labels[inside], minlength=topics))
    order = np.argsort(-sizes, kind="stable")
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    return ThemeSplit(renumber[found], resolution, round(modularity, 4), tried)
