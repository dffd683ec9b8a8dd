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

On abstracts or news the partition of best modularity is coarse: about a dozen
communities at 5k documents and at 120k alike. So the biggest community is split
into the Leiden communities of its own subgraph, again and again, where that
split is itself clearly modular, until there are about 0.45 sqrt(n) topics and
none holds over 3% of the corpus (:func:`refine`).

Themes come first where a corpus holds ten topics or more: the k-means cells of
the embeddings, as many as a reader takes in (5 to 12, at most half the topics;
more for many topics), the count chosen by the cells' modularity on the graph.
The topics are then the graph communities split out of each cell (:func:`refine`
starting from the cells), so they nest in themes by construction. The cells
follow a corpus's own fields where graph communities cross them (bench/quality.py:
NMI against the arXiv categories 0.229 against 0.196 on 25k ML abstracts, and
the topics inside them gain too; see :func:`theme_cells`). A smaller corpus, or
one clustered at another resolution or grain, groups its topics afterwards: the
graph of topics (edge weight = the neighbour links between their documents) is
partitioned again, at the resolution that gives a readable number of themes with
the best modularity, or as few themes as a partition within Leiden's noise of
that modularity gives (:func:`themes`).

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

from topictalk.indexing.schema import OUTLIER

MIN_TOPIC = 10  # documents: a smaller community joins the topic it links to most (BERTopic's min_cluster_size)
# topics grow with the corpus (see refine): TOPICS_PER_SQRT * sqrt(n) of them, none over MAX_SHARE of it
TOPICS_PER_SQRT = 0.45
MAX_SHARE = 0.03
# ...but only where its subgraph has communities of its own: the modularity of a Leiden split of one
# community's subgraph is 0.3-0.5 for real sub-subjects (arXiv abstracts, MiniLM) and 0.65 for
# clearly separate ones, against 0.18-0.2 for a featureless cloud of 100-300 points, cut anywhere
MIN_SPLIT_MODULARITY = 0.3
THEMES = (5, 12)  # a readable number of themes for up to 60 topics; more topics widen it (theme_range)
MODULARITY_TIE = 0.01  # partitions of themes whose modularity differs by less are equally good (see themes)
SETTLE_ROUNDS = 3  # majority moves of the theme cells' documents on the graph (see settle)
RESOLUTIONS = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0)  # tried on the topic graph for themes


@dataclass
class Clustering:
    """One document partition with everything the manifest records about how it was found."""

    labels: np.ndarray  # topic per document (-1 only with keep_outliers)
    confidence: np.ndarray  # float32 in [0, 1]
    core: np.ndarray  # bool: False for documents placed at a topic they do not clearly belong to
    method: str  # "leiden" or "hdbscan"
    details: dict = field(default_factory=dict)
    themes: ThemeSplit | None = None  # found before the topics (theme_cells); else clustering.themes groups them

    def summary(self) -> str:
        """The one line `topictalk index` prints."""
        n, placed = len(self.labels), int((~self.core).sum())
        topics = len(set(self.labels.tolist()) - {OUTLIER})
        if self.method == "given":
            how = f"the topics of {self.details['source']}, as they were fitted"
        elif self.method == "hdbscan":
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
    # a link found from both ends counts once, at its larger weight: sort by (pair, weight), keep each
    # pair's last (np.maximum.at did this 10x slower: 20 s of 3 million links at 120k documents)
    key, weight = low * n + high, weight[keep]
    order = np.lexsort((weight, key))
    key, weight = key[order], weight[order]
    last = np.append(key[1:] != key[:-1], True)
    pair, merged = key[last], weight[last]
    graph = igraph.Graph(n=n, edges=np.column_stack([pair // n, pair % n]), directed=False)
    graph.es["weight"] = merged
    return graph


def leiden(graph, resolution: float = 1.0, seed: int | None = 42, iterations: int = 2) -> np.ndarray:
    """Leiden communities maximizing modularity at ``resolution``, numbered 0..k-1.

    ``iterations``: Leiden's own default of 2 passes; -1 runs until no vertex moves, which took
    over 4 minutes at 120k documents on 2 cores against 25 s for 2, for modularity 0.5837 against
    0.5826 (the same 13 communities). The small graph of topics (themes) runs to the end.
    """
    import igraph

    # igraph draws from one process-wide generator: seed it for this call, and give the default back
    igraph.set_random_number_generator(random.Random(seed))
    try:
        found = graph.community_leiden(objective_function="modularity", weights="weight", resolution=resolution,
                                       n_iterations=iterations)
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(found.membership, dtype=np.int64)


def split_modularity(graph, parts: np.ndarray) -> float:
    """How modular a split of ``graph`` into ``parts`` is: 0 for a single part. A split under
    :data:`MIN_SPLIT_MODULARITY` cuts one subject anywhere (the rule for topics, and for subtopics)."""
    return 0.0 if len(parts) == 0 or parts.max() == 0 else float(graph.modularity(parts.tolist(), weights="weight"))


def _links(labels: np.ndarray, graph, groups: int) -> np.ndarray:
    """The (groups x groups) sum of edge weights between groups of vertices (both triangles)."""
    edges = np.array(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    weight = np.asarray(graph.es["weight"], dtype=np.float64)
    a, b = labels[edges[:, 0]], labels[edges[:, 1]]
    inside = (a >= 0) & (b >= 0)
    matrix = np.zeros((groups, groups))
    np.add.at(matrix, (a[inside], b[inside]), weight[inside])
    return matrix + matrix.T


def absorb(labels: np.ndarray, graph, min_size: int, most: int | None = None) -> np.ndarray:
    """Join each community smaller than ``min_size`` to the community it links to most, smallest first;
    with ``most``, then the smallest again and again until at most ``most`` are left (a split into N
    parts, indexing/refine.py)."""
    k = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k).astype(np.int64)
    if (sizes[sizes > 0] >= min_size).all() and (most is None or (sizes > 0).sum() <= most):
        return labels
    links = _links(labels, graph, k)
    np.fill_diagonal(links, 0.0)
    owner = np.arange(k)
    while True:
        alive = [c for c in np.argsort(sizes, kind="stable") if sizes[c] > 0]
        small = [c for c in alive if sizes[c] < min_size] or (alive if most is not None and len(alive) > most else [])
        if not small or len(alive) <= 1:
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


def renumber(labels: np.ndarray) -> np.ndarray:
    """Topic ids 0..k-1, biggest first (ties by first appearance); -1 stays -1."""
    inside = labels[labels != OUTLIER]
    sizes = np.bincount(inside) if len(inside) else np.zeros(0, int)
    order = sorted(np.flatnonzero(sizes).tolist(), key=lambda c: -sizes[c])
    lookup = np.full(len(sizes), OUTLIER, dtype=np.int64)
    lookup[order] = np.arange(len(order))
    return np.where(labels == OUTLIER, OUTLIER, lookup[np.where(labels == OUTLIER, 0, labels)])


def confidence(labels: np.ndarray, indices: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """The share of each document's neighbour similarity that lies inside its own topic."""
    return _shares(labels, indices, distances)[0]


def _shares(labels: np.ndarray, indices: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per document, the share of its neighbour similarity inside its own topic, and the largest share
    inside any one other topic."""
    from scipy import sparse

    weight = np.clip(1.0 - distances[:, 1:], 0.0, None)
    total = weight.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    rows = np.repeat(np.arange(len(labels)), weight.shape[1])
    by_topic = sparse.csr_matrix((weight.ravel(), (rows, labels[indices[:, 1:]].ravel())),
                                 shape=(len(labels), int(labels.max()) + 1))  # duplicates are summed
    everyone = np.arange(len(labels))
    own = np.asarray(by_topic[everyone, labels]).ravel()
    without_own = by_topic - sparse.csr_matrix((own, (everyone, labels)), shape=by_topic.shape)
    other = without_own.max(axis=1).toarray().ravel()
    share = lambda w: np.clip(np.where(total > 0, w / safe, 0.0), 0.0, 1.0).astype(np.float32)  # noqa: E731
    return share(own), share(other)


def topic_target(n: int) -> int:
    """About how many topics a reader browses in ``n`` documents: 0.45 sqrt(n), so 8 at 300 documents,
    32 at 5k and 156 at 120k (the reference recipe found over 100 in 117k ML abstracts)."""
    return max(2, int(round(TOPICS_PER_SQRT * np.sqrt(n))))


def refine(graph, labels: np.ndarray, target: int, max_size: int, seed: int | None = 42,
           min_size: int = MIN_TOPIC) -> tuple[np.ndarray, int]:
    """Split the biggest community into the communities of its own subgraph, again and again, until
    there are ``target`` communities and none holds more than ``max_size`` vertices.

    Why: on a corpus that is a continuum of subjects (abstracts, news), the partition of best
    modularity is coarse, about a dozen communities at 5k and at 120k alike: whole fields at 120k.
    Inside one community's subgraph Leiden finds its sub-communities, which are connected like
    every Leiden community, so a topic stays one region of the map; the biggest is split first,
    so no topic is left at the coarse grain. A community whose best split is hardly modular
    (``MIN_SPLIT_MODULARITY``) is one subject and stays whole. Returns the new labels and how
    many communities were split.
    """
    import heapq

    labels = labels.copy()
    sizes = np.bincount(labels)
    heap = [(-int(size), c) for c, size in enumerate(sizes) if size > 0]
    heapq.heapify(heap)
    count, next_id, splits = len(heap), len(sizes), 0
    while heap:
        size, c = -heap[0][0], heap[0][1]
        if (count >= target and size <= max_size) or size < 2 * min_size:
            break
        heapq.heappop(heap)
        members = np.flatnonzero(labels == c)
        sub = graph.induced_subgraph(members.tolist())
        parts = leiden(sub, 1.0, seed)
        if split_modularity(sub, parts) < MIN_SPLIT_MODULARITY:
            continue  # no structure of its own to split on: it stays whole (and is not tried again)
        splits += 1
        for p in range(int(parts.max()) + 1):
            piece = members[parts == p]
            piece_id = c if p == 0 else next_id  # part 0 keeps the community's id
            if p:
                labels[piece] = piece_id
                next_id += 1
            heapq.heappush(heap, (-len(piece), piece_id))
        count += int(parts.max())
    return labels, splits


def communities(indices: np.ndarray, distances: np.ndarray, *, resolution: float = 1.0, seed: int | None = 42,
                min_size: int = MIN_TOPIC, target: int | None = None,
                embeddings: np.ndarray | None = None) -> tuple[Clustering, object]:
    """Topics of the neighbour graph (the default); returns the clustering and the graph, for themes.

    ``target``: about how many topics (:func:`refine`); None: by the corpus size (:func:`topic_target`);
    0: modularity's own communities, unsplit. With ``embeddings`` and a target of at least two topics
    per theme, the themes are found first (:func:`theme_cells`) and the topics are split within them.
    """
    graph = neighbour_graph(indices, distances)
    target = topic_target(len(indices)) if target is None else target
    split = None
    # the themes first where there are enough topics to group, and the graph's own grain is not asked for
    if embeddings is not None and target and target >= 2 * THEMES[0] and resolution == 1.0:
        cells, split = theme_cells(embeddings, graph, target, seed)
        found = cells.copy()
    else:
        found = leiden(graph, resolution, seed)
    raw = int(found.max()) + 1
    splits = 0
    if target:
        # none over 3% of a big corpus; in a small one, 4x a topic's average size (3% of 2,000 documents
        # would split every 60-document topic, far past the target)
        max_size = max(2 * min_size, int(MAX_SHARE * len(found)), 4 * len(found) // target)
        found, splits = refine(graph, found, target, max_size, seed, min_size)
    labels = renumber(absorb(found, graph, min(min_size, max(2, len(found) // 4))))
    conf, elsewhere = _shares(labels, indices, distances)
    details = {"neighbours": int(indices.shape[1] - 1), "resolution": resolution,
               "modularity": round(float(graph.modularity(labels.tolist(), weights="weight")), 4),
               "communities": raw, "min_topic": min_size, "target": target, "split": splits}
    if split is not None:  # a topic absorbed across a border belongs where most of its documents were
        split = nest(labels, cells, split)
    # core: no other single topic holds more of its neighbours than its own. A majority of them is too
    # strict for fine topics: a document between two sibling subjects has neighbours in both
    return Clustering(labels, conf, conf >= elsewhere, "leiden", details, split), graph


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
    return Clustering(renumber(labels), probabilities, core, "hdbscan", details)


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


def choose(tried: list[tuple[float, int, float]], lo: int, hi: int) -> int:
    """Which of the ``tried`` partitions (resolution, themes, modularity) becomes the themes.

    Readable counts (``lo``-``hi``) first, and among them the fewest themes whose modularity is within
    ``MODULARITY_TIE`` of the best: a smaller difference is Leiden's seed-to-seed noise, not structure
    (AG News: 6 themes at 0.676 against 12 at 0.683, seeds moving either by 0.003), and fewer themes are
    read faster. With no readable count, the count nearest the range, then the best modularity."""
    def outside(i: int) -> tuple:
        count, q = tried[i][1], tried[i][2]
        return (0 if lo <= count <= hi else 1, abs(count - int(np.clip(count, lo, hi))), -q)

    best = min(range(len(tried)), key=outside)
    if outside(best)[0]:
        return best
    ties = [i for i in range(len(tried)) if outside(i)[0] == 0 and tried[i][2] >= tried[best][2] - MODULARITY_TIE]
    return min(ties, key=lambda i: (tried[i][1], outside(i)))


@dataclass
class ThemeSplit:
    theme_of_topic: np.ndarray  # theme id per topic id (0..k-1, biggest theme first)
    resolution: float
    modularity: float
    tried: list[tuple[float, int, float]]  # (resolution, themes, modularity); for k-means cells (k, themes, ...)
    method: str = "leiden"  # "leiden": the graph of topics, partitioned; "kmeans": cells of the documents


def theme_cells(embeddings: np.ndarray, graph, target: int, seed: int | None = 42) -> tuple[np.ndarray, ThemeSplit]:
    """Themes of the documents before their topics: k-means cells of the (unit) embeddings.

    Why not communities of a graph: on labelled corpora the cells match the corpus's own fields far
    better (bench/quality.py, NMI against the arXiv categories: 0.24 against 0.196 for the graph of
    topics on arxiv_ml, 0.44 against 0.36 on arxiv_all 20k; Topeax 0.219 and 0.373). The topics a
    graph finds cross those fields' borders, so grouping them afterwards cannot recover them; splitting
    each cell into its own graph communities (:func:`refine`) can. A cell need not be one region of
    the graph: its topics are, since each is a community of the cell's subgraph.

    How many: the counts of :func:`theme_range` for ``target`` topics (at most half of them), each
    fitted once; of those, as :func:`choose` picks the themes of a graph of topics, by their
    modularity on ``graph``. Returns the cell per document and the split (its ``theme_of_topic`` is
    per cell, until :func:`nest` maps the topics found in the cells).
    """
    from sklearn.cluster import KMeans

    lo, hi = theme_range(target)
    hi = max(lo, min(hi, target // 2))
    counts = sorted({int(round(k)) for k in np.geomspace(lo, hi, 5)})
    adjacency = graph.get_adjacency_sparse(attribute="weight").tocsr()
    tried, found_at = [], []
    for k in counts:
        cells = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(embeddings).labels_.astype(np.int64)
        cells = np.unique(settle(cells, adjacency), return_inverse=True)[1]  # a cell may empty as it settles
        q = float(graph.modularity(cells.tolist(), weights="weight"))
        tried.append((float(k), int(cells.max()) + 1, round(q, 4)))
        found_at.append((cells, q))
    chosen = choose(tried, lo, hi)
    cells, q = found_at[chosen]
    k = int(cells.max()) + 1
    return cells, ThemeSplit(np.arange(k), 0.0, round(q, 4), tried, "kmeans")


def settle(cells: np.ndarray, adjacency, rounds: int = SETTLE_ROUNDS) -> np.ndarray:
    """Move each document to the cell that holds most of its neighbours' weight, ``rounds`` times.

    A k-means border is a plane through the embedding space, and cuts through groups of documents
    that are each other's neighbours; the topics split out of a cell then have neighbours across it
    (bench/quality.py's knn coherence of the topics: 0.54 against 0.66 for the graph's own topics on
    arxiv_ml). Each round moves the border to where the graph is thin: after three, 0.63, with the
    themes' NMI against the arXiv categories 0.230 (0.229 unsettled). Until nothing moves (about ten
    rounds) the cells turn into the graph's communities again: 0.221, the gain all but gone."""
    from scipy import sparse

    k = int(cells.max()) + 1
    for _ in range(rounds):
        member = sparse.csr_matrix((np.ones(len(cells)), (np.arange(len(cells)), cells)), shape=(len(cells), k))
        weight = np.asarray((adjacency @ member).todense())
        weight[np.arange(len(cells)), cells] += 1e-9  # a tie keeps the document where it is
        moved = weight.argmax(axis=1)
        if (moved == cells).all():
            break
        cells = moved
    return cells


def nest(labels: np.ndarray, cells: np.ndarray, split: ThemeSplit) -> ThemeSplit:
    """Each topic's theme: the cell that holds most of its documents (all of them, unless a small piece
    joined a topic across a border, :func:`absorb`), the themes numbered biggest first."""
    counts = np.zeros((int(labels.max()) + 1, int(cells.max()) + 1), np.int64)
    np.add.at(counts, (labels, cells), 1)
    # a cell whose documents all joined topics of other cells is no theme (biggest_first leaves it out)
    theme_of_topic = biggest_first(counts.argmax(axis=1), counts.sum(axis=1))
    return ThemeSplit(theme_of_topic, split.resolution, split.modularity, split.tried, split.method)


def theme_range(topics: int) -> tuple[int, int]:
    """How many themes a reader can take in over ``topics`` topics: 5-12 up to 60 topics, then growing
    with sqrt(topics) up to 10-25 (about 190 topics and more), so a theme holds 5-10 topics."""
    if topics <= 60:
        return THEMES
    return int(min(10, round(0.8 * np.sqrt(topics)))), int(min(25, round(1.5 * np.sqrt(topics))))


def themes(labels: np.ndarray, graph, seed: int | None = 42, wanted: tuple[int, int] | None = None) -> ThemeSplit:
    """Group topics into themes: Leiden on the graph of topics, over a ladder of resolutions; of the
    partitions with a readable number of themes (``wanted``, and at most half the topics) the one
    with the best modularity (at resolution 1, the only one comparable across partitions) wins, or
    the one with fewest themes among those within ``MODULARITY_TIE`` of it. A corpus with no more topics than
    the low end of ``wanted`` gets one theme per topic."""
    import igraph

    topics = int(labels.max()) + 1
    wanted = wanted or theme_range(topics)
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
    tried, found_at = [], []
    for resolution in RESOLUTIONS:
        found = leiden(topic_graph, resolution, seed, iterations=-1)
        q = float(topic_graph.modularity(found.tolist(), weights="weight"))
        tried.append((resolution, int(found.max()) + 1, round(q, 4)))
        found_at.append((found, q))
    chosen = choose(tried, lo, hi)
    (found, modularity), resolution = found_at[chosen], tried[chosen][0]
    return ThemeSplit(biggest_first(found, np.bincount(labels[inside], minlength=topics)), resolution,
                      round(modularity, 4), tried)


def biggest_first(theme_of_topic: np.ndarray, topic_sizes: np.ndarray) -> np.ndarray:
    """``theme_of_topic`` renumbered 0..k-1 by the documents each theme holds, biggest first (ties in
    order of the old ids); an id no topic has is left out."""
    used = np.unique(theme_of_topic)
    sizes = np.bincount(theme_of_topic, weights=topic_sizes)[used]
    rank = np.full(int(used.max()) + 1, -1, np.int64)
    rank[used[np.argsort(-sizes, kind="stable")]] = np.arange(len(used))
    return rank[theme_of_topic]
