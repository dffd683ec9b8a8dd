"""Cheaper 2-D maps: what drawing the map from the 5-D run or from a sample costs in map quality.

    .venv/bin/python bench/umap_map.py --index-dir DIR --embeddings FILE.npy [--sample 10000]

DIR is an index built with those embeddings (bench/scale.py leaves them in its work folder):
its cache holds the 5-D (clustering) and 2-D (map) UMAP outputs; its store, the topics. The
map today is a second full UMAP run on the embeddings (the neighbour graph shared with the
5-D run). Tried here, each timed:

  init      UMAP 2-D started from the 5-D output's first two principal axes, 50 epochs
            instead of UMAP's 200 (the layout is mostly found by the 5-D run already)
  sample    UMAP 2-D of a random sample only; every other document placed at the
            distance-weighted mean of its 10 nearest sampled documents in the 5-D space

Quality, against the embeddings themselves: the share of each document's 10 nearest
neighbours on the map that are among its 10 nearest by cosine in embedding space (on a
fixed sample of 2,000 documents), and the share of its 10 map neighbours in its own topic
(non-outliers). Today's map is the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def quality(coords: np.ndarray, vectors: np.ndarray, topics: np.ndarray, probe: np.ndarray, k: int = 10) -> dict:
    from sklearn.neighbors import NearestNeighbors

    true = np.argsort(-(vectors[probe] @ vectors.T), axis=1)[:, 1:k + 1]
    near = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords[probe], return_distance=False)[:, 1:]
    kept = np.mean([len(set(a) & set(b)) / k for a, b in zip(true, near)])
    real = topics[probe] >= 0
    same = (topics[near] == topics[probe][:, None]).mean(axis=1)[real].mean()
    return {"embedding_neighbours_kept": round(float(kept), 3), "same_topic_neighbours": round(float(same), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--sample", type=int, default=10000)
    args = parser.parse_args()
    from topictalk.indexing import host

    print(host.probe().line(), flush=True)  # every figure comes with its host
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors
    from umap import UMAP

    from topictalk.indexing import jit_cache, store

    jit_cache.enable()
    vectors = np.load(args.embeddings).astype(np.float32)
    n = len(vectors)
    outputs = {np.load(p).shape[1]: np.load(p) for p in (Path(args.index_dir) / "cache" / "umap").glob("*.npy")}
    reduced, baseline = outputs[5], outputs[2]
    reader = store.open_reader(store.Location(path=Path(args.index_dir)))
    points = reader.coordinates()
    topics = np.asarray(points["topic"])
    assert len(topics) == n and np.allclose(points["x"], baseline[:, 0], atol=1e-3), "index and cache differ"
    rng = np.random.default_rng(0)
    probe = rng.choice(n, 2000, replace=False)
    results = {"documents": n, "baseline": quality(baseline, vectors, topics, probe)}
    settings = dict(n_neighbors=15, n_components=2, min_dist=0.0, metric="cosine", random_state=42)

    t = time.perf_counter()
    start = PCA(n_components=2, random_state=0).fit_transform(reduced)
    start = 10 * (start - start.mean(axis=0)) / start.std(axis=0).max()  # UMAP's own init scale
    init = UMAP(**settings, init=start.astype(np.float32), n_epochs=50).fit_transform(vectors)
    results["init"] = {"seconds": round(time.perf_counter() - t, 1), **quality(init, vectors, topics, probe)}
    print(json.dumps(results), flush=True)

    t = time.perf_counter()
    chosen = np.sort(rng.choice(n, min(args.sample, n), replace=False))
    small = UMAP(**settings).fit_transform(vectors[chosen])
    distance, nearest = NearestNeighbors(n_neighbors=10).fit(reduced[chosen]).kneighbors(reduced)
    weight = 1 / (distance + 1e-6)
    placed = (small[nearest] * weight[..., None]).sum(axis=1) / weight.sum(axis=1, keepdims=True)
    placed[chosen] = small
    results["sample"] = {"seconds": round(time.perf_counter() - t, 1), "sampled": len(chosen),
                         **quality(placed, vectors, topics, probe)}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
