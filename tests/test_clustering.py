"""Topics as communities of the neighbour graph, themes above them, and HDBSCAN as given."""

from __future__ import annotations

import numpy as np
import pytest

from topictalk.indexing import clustering
from topictalk.indexing.schema import OUTLIER
from topictalk.indexing.topics import neighbours


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _groups(centers: np.ndarray, sizes: list[int], spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``centers``: one group of documents per center."""
    rng = np.random.default_rng(seed)
    points = np.concatenate([c + rng.normal(scale=spread, size=(s, centers.shape[1])) for c, s in zip(centers, sizes)])
    return _unit(points), np.repeat(np.arange(len(sizes)), sizes)


def _hierarchy(seed: int = 0, families: int = 3, dims: int = 16, size: int = 120
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Far-apart families of three near subtopics each, ``size`` documents a subtopic: by default 9 topics
    in 3 themes."""
    rng = np.random.default_rng(seed)
    centers = np.concatenate([f + rng.normal(scale=0.45, size=(3, dims)) for f in np.eye(families, dims) * 6])
    emb, topic = _groups(centers, [size] * 3 * families, 0.35, seed)
    return emb, topic, topic // 3


def _nmi(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(a, b))


def test_every_document_gets_a_topic_and_communities_recover_the_groups():
    emb, truth, _ = _hierarchy()
    chosen, _ = clustering.communities(*neighbours(emb, 15))
    assert (chosen.labels != OUTLIER).all(), "every document is placed in a topic by default"
    assert _nmi(truth, chosen.labels) > 0.8
    assert chosen.confidence.shape == (len(emb),) and ((0 <= chosen.confidence) & (chosen.confidence <= 1)).all()
    assert chosen.core.mean() > 0.8  # most documents' neighbours share their topic
    sizes = np.bincount(chosen.labels)
    assert list(sizes) == sorted(sizes, reverse=True), "topic ids are numbered biggest first"
    assert "Leiden" in chosen.summary() and chosen.manifest()["method"] == "leiden"


def test_themes_group_near_topics_and_nest_them():
    emb, _, family = _hierarchy()
    chosen, graph = clustering.communities(*neighbours(emb, 15))
    split = clustering.themes(chosen.labels, graph, wanted=(2, 4))
    theme_of_doc = split.theme_of_topic[chosen.labels]
    assert _nmi(family, theme_of_doc) > 0.9
    # nested: every topic lies in exactly one theme (a mapping), and themes are numbered biggest first
    assert split.theme_of_topic.shape == (chosen.labels.max() + 1,)
    sizes = np.bincount(theme_of_doc)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_with_the_embeddings_themes_are_found_first_and_topics_split_within_them():
    # six far-apart families of three near subjects, 60 documents each: 1,080 documents, about 15 topics
    emb, subject, family = _hierarchy(4, families=6, dims=24, size=60)
    knn = neighbours(emb, 26)
    chosen, _ = clustering.communities(*knn, embeddings=emb)
    split = chosen.themes
    assert split is not None and split.method == "kmeans" and split.tried
    assert [count for _, count, _ in split.tried] == [5, 6, 7]  # the readable counts for ~15 topics, at most half
    theme_of_doc = split.theme_of_topic[chosen.labels]
    assert _nmi(family, theme_of_doc) > 0.95 and split.theme_of_topic.max() + 1 in (6, 7)
    for theme in range(split.theme_of_topic.max() + 1):  # a theme never mixes families (7: one family in two)
        assert len(set(family[theme_of_doc == theme].tolist())) == 1
    assert _nmi(subject, chosen.labels) > 0.85  # the subjects, split out of their family's cell
    for topic in range(chosen.labels.max() + 1):  # each topic lies in one family, the one its theme is
        assert len(set(family[chosen.labels == topic].tolist())) == 1
    sizes = np.bincount(theme_of_doc)
    assert list(sizes) == sorted(sizes, reverse=True), "themes are numbered biggest first"
    # the graph's own grain (nr_topics 0) or another resolution: the themes are grouped from the topics
    assert clustering.communities(*knn, embeddings=emb, target=0)[0].themes is None
    assert clustering.communities(*knn, embeddings=emb, resolution=1.2)[0].themes is None


def test_a_topic_belongs_to_the_cell_that_holds_most_of_it_and_an_emptied_cell_is_no_theme():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    cells = np.array([2, 2, 0, 0, 0, 1, 2, 2, 2])  # cell 1's one document joined topic 2
    split = clustering.nest(labels, cells, clustering.ThemeSplit(np.arange(3), 0.0, 0.5, [(3.0, 3, 0.5)], "kmeans"))
    # topic 0 (mostly cell 2) and topic 2 (cell 2) make the biggest theme, 0; topic 1 (cell 0) theme 1
    assert split.theme_of_topic.tolist() == [0, 1, 0] and split.method == "kmeans"


def test_few_topics_are_each_their_own_theme():
    emb, truth = _groups(np.eye(3, 8) * 5, [80, 80, 80], 0.3)
    chosen, graph = clustering.communities(*neighbours(emb, 15), target=0)  # the three groups, unsplit
    split = clustering.themes(chosen.labels, graph)
    assert sorted(split.theme_of_topic.tolist()) == list(range(chosen.labels.max() + 1))


def test_far_apart_islands_are_never_one_topic():
    # two groups with identical keywords would be glued by a centroid merge; the graph keeps them apart
    emb, truth = _groups(np.stack([np.eye(8)[0] * 5, np.eye(8)[1] * 5]), [60, 60], 0.2)
    chosen, _ = clustering.communities(*neighbours(emb, 15))
    for topic in set(chosen.labels.tolist()):
        assert len(set(truth[chosen.labels == topic].tolist())) == 1


def test_tiny_communities_join_the_topic_they_link_to_most():
    emb, truth = _groups(np.eye(3, 8) * 5, [150, 150, 6], 0.3)
    chosen, _ = clustering.communities(*neighbours(emb, 15), min_size=10)
    assert np.bincount(chosen.labels).min() >= 10


def test_explicit_hdbscan_places_outliers_unless_kept():
    rng = np.random.default_rng(3)
    points = np.concatenate([rng.normal(0, 0.3, (200, 2)), rng.normal(6, 0.3, (200, 2)), rng.uniform(-3, 9, (40, 2))])
    placed = clustering.hdbscan(points.astype(np.float32), 20, 5)
    assert (placed.labels != OUTLIER).all() and (~placed.core).sum() > 0
    # a placed document's confidence is below 1, a core one's is HDBSCAN's membership
    assert (placed.confidence[~placed.core] < 1).all()
    kept = clustering.hdbscan(points.astype(np.float32), 20, 5, keep_outliers=True)
    assert (kept.labels == OUTLIER).sum() == (~kept.core).sum() > 0
    assert "as given" in kept.summary() and kept.details["min_cluster_size"] == 20


def test_place_picks_the_nearest_centroid():
    labels = np.array([0, 0, 1, 1, OUTLIER, OUTLIER])
    points = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [1, 0], [9, 0]], dtype=np.float32)
    placed, conf = clustering.place(labels, points)
    assert placed.tolist() == [0, 0, 1, 1, 0, 1]
    assert conf[4] > 0.5 and conf[5] > 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_communities_are_reproducible_for_a_seed(seed):
    emb, _, _ = _hierarchy(seed)
    knn = neighbours(emb, 15)
    a, _ = clustering.communities(*knn, seed=7)
    b, _ = clustering.communities(*knn, seed=7)
    assert (a.labels == b.labels).all()


def test_a_big_community_with_subjects_of_its_own_is_split_into_them():
    # a family of three near subtopics given as one community (as modularity leaves a field of a big
    # corpus), beside a small separate group: over the cap, the family is split into its subtopics
    emb, truth, family = _hierarchy()
    keep = family < 2  # two families: one to split, one (labelled as three topics) to leave
    emb, truth, family = emb[keep], truth[keep], family[keep]
    given = np.where(family == 0, 0, truth - 2)  # family 0 as one community; family 1 as its 3 topics
    graph = clustering.neighbour_graph(*neighbours(emb, 26))
    labels, splits = clustering.refine(graph, given, target=5, max_size=400)
    assert splits == 1 and len(set(labels[family == 0].tolist())) == 3
    assert _nmi(truth, labels) > 0.9
    assert (labels[family == 1] == given[family == 1]).all()  # the smaller communities are untouched
    enough, _ = clustering.refine(graph, given, target=4, max_size=400)  # four already: nothing to do
    assert (enough == given).all()
    capped, _ = clustering.refine(graph, given, target=4, max_size=200)  # but the family is over the cap
    assert len(set(capped[family == 0].tolist())) == 3


def test_a_featureless_cloud_over_the_cap_stays_whole():
    rng = np.random.default_rng(0)
    cloud = _unit(rng.normal(size=(300, 384)))  # no subjects inside: any cut of it is arbitrary
    labels, splits = clustering.refine(clustering.neighbour_graph(*neighbours(cloud, 26)),
                                       np.zeros(300, dtype=np.int64), target=3, max_size=100)
    assert splits == 0 and (labels == 0).all()


def test_the_number_of_topics_and_themes_grows_with_the_corpus():
    assert 5 <= clustering.topic_target(300) < clustering.topic_target(5_000) < clustering.topic_target(120_000)
    assert clustering.topic_target(120_000) >= 100  # the reference recipe found over 100 in 117k abstracts
    assert clustering.theme_range(13) == clustering.THEMES
    low, high = clustering.theme_range(200)
    assert 10 <= low < high <= 25


def test_a_document_is_core_where_no_other_topic_holds_more_of_its_neighbours():
    labels = np.array([0, 0, 1, 1])
    indices = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0], [3, 2, 1]])
    distances = np.array([[0, .1, .5], [0, .1, .2], [0, .1, .4], [0, .3, .2]])
    own, other = clustering._shares(labels, indices, distances)
    assert np.allclose(own + other, 1.0)  # two topics: the rest is the other one
    assert (own >= other).tolist() == [True, True, True, False]


def test_themes_take_the_fewest_of_the_readable_partitions_about_as_modular_as_the_best():
    from topictalk.indexing.clustering import choose

    # AG News's ladder: 6 themes at 0.676 and 12 at 0.683 are one modularity within Leiden's noise
    ag = [(1.0, 4, 0.643), (2.0, 6, 0.676), (3.0, 12, 0.683), (5.0, 25, 0.657)]
    assert choose(ag, 5, 12) == 1
    # a clearly better partition wins even with more themes (arXiv 5k: 10 at 0.575 against 5 at 0.534)
    assert choose([(1.4, 5, 0.534), (2.0, 10, 0.575), (3.0, 15, 0.571)], 5, 12) == 1
    # no readable count: the nearest to the range
    assert choose([(0.5, 2, 0.35), (1.0, 3, 0.58), (5.0, 25, 0.66)], 5, 12) == 1


def test_themes_graph_groups_the_topics_found_first_and_the_command_line_names_it(tmp_path):
    from topictalk.indexing import topics
    from topictalk.ui import cli

    emb, _, _ = _hierarchy(5, families=6, dims=24, size=60)
    found = {}
    for how in ("cells", "graph"):
        params = topics.TopicParams(themes=how)
        chosen, _ = topics.find_topics(emb, params, topics._Neighbours(emb, params), tmp_path, print, {}, {})
        found[how] = chosen.themes
    assert found["cells"] is not None and found["cells"].method == "kmeans" and found["graph"] is None
    args = cli.build_parser().parse_args(["index", "--input", "x.csv", "--themes", "graph"])
    assert args.themes == "graph" and cli.build_parser().parse_args(["index", "--input", "x.csv"]).themes == "cells"
