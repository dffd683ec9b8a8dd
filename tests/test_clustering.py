"""The HDBSCAN settings search, the split of oversized topics and the merge of similar ones."""

from __future__ import annotations

import numpy as np

from indexing import clustering
from indexing.clustering import Guards, choose, merge
from indexing.schema import OUTLIER


def _blobs(centers: np.ndarray, sizes: list[int], spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = np.concatenate([c + rng.normal(scale=spread, size=(s, centers.shape[1])) for c, s in zip(centers, sizes)])
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return points.astype(np.float32), truth


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_merge_joins_the_most_similar_topics_and_never_passes_the_share_guard():
    # six topics in three pairs of near-identical directions; sizes 100 each
    base = np.eye(3)
    centers = np.repeat(base, 2, axis=0) + np.array([[0, 0.05, 0]] * 6) * np.tile([1, -1], 3)[:, None]
    emb, truth = _blobs(centers, [100] * 6, 0.01)
    merged = merge(truth, _unit(emb), target=3, max_share=0.5)
    assert len(set(merged.tolist())) == 3
    for pair in range(3):  # each pair became one topic
        assert len(set(merged[truth == 2 * pair].tolist()) | set(merged[truth == 2 * pair + 1].tolist())) == 1
    capped = merge(truth, _unit(emb), target=1, max_share=0.34)  # 200 of 600 fit, 300 do not
    assert np.bincount(capped).max() <= 0.34 * 600 and len(set(capped.tolist())) == 3


def test_merge_keeps_outliers_and_numbers_topics_biggest_first():
    emb, truth = _blobs(np.eye(4), [50, 80, 30, 120], 0.01)
    labels = truth.copy()
    labels[::10] = OUTLIER
    merged = merge(labels, _unit(emb), target=4, max_share=1.0)
    assert (merged[labels == OUTLIER] == OUTLIER).all()
    sizes = np.bincount(merged[merged != OUTLIER])
    assert list(sizes) == sorted(sizes, reverse=True)


def test_a_chain_that_collapses_with_hdbscans_defaults_is_split_into_balanced_topics():
    # ten dense groups along a line, touching: HDBSCAN's eom with min_samples = min_cluster_size
    # sees one long continuum, which is how abstracts of one field look after UMAP
    centers = np.stack([np.linspace(0, 9, 10), np.zeros(10)], axis=1)
    points, truth = _blobs(centers, [300] * 10, 0.45, seed=1)
    old = choose(points, None, 27, None, searched=False)  # what topictalk did before the search
    n = len(points)
    old_sizes = np.bincount(old.labels[old.labels != OUTLIER])
    assert old_sizes.max() / n > 0.25, "the fixture no longer collapses under the old settings"
    emb = _unit(np.concatenate([points, np.ones((n, 1))], axis=1))
    new = choose(points, emb, 27, None, searched=True)
    sizes = np.bincount(new.labels[new.labels != OUTLIER])
    assert sizes.max() / n <= Guards().max_topic_share
    assert (new.labels == OUTLIER).mean() <= Guards().max_outlier_share
    assert len(sizes) >= 3
    assert new.source == "search" and new.trials and "min_samples" in new.summary()


def test_explicit_settings_are_used_as_given_without_search(monkeypatch):
    points, _ = _blobs(np.eye(2) * 10, [200, 200], 0.3)
    calls = []
    real = clustering._hdbscan
    monkeypatch.setattr(clustering, "_hdbscan", lambda *a: calls.append(a[1:3]) or real(*a))
    chosen = choose(points, None, 40, 7, searched=False)
    assert calls == [(40, 7)] and chosen.source == "option" and "as given" in chosen.summary()


def test_ladder_goes_from_coarse_to_fine():
    steps = clustering.ladder(40)
    assert steps[0] == (40, 40)
    assert all(ms <= mcs for mcs, ms in steps) and (20, 5) in steps
    assert [mcs for mcs, _ in steps] == sorted([mcs for mcs, _ in steps], reverse=True)
