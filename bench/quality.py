"""Topic quality on real labeled corpora: topictalk against its peers, on the same embeddings, in one run.

    .venv/bin/python bench/quality.py [--corpora arxiv_ml:5000 arxiv_ml ag_news_test bbc_news arxiv_all:20000]
                                      [--llm bundled | --no-llm] [--no-topeax] [--cache DIR] [--out FILE.json]

For each corpus of ../shared/data (gzipped JSON Lines with a ``label``; ``NAME:N`` takes
topictalk's seeded sample of N) the same documents and the same embeddings (bundled MiniLM)
go through:

  topeax         turftopic's Topeax (t-SNE, density peaks, Gaussian mixture; automatic topic count)
  bertopic-10    BERTopic's default clustering: HDBSCAN(min_cluster_size=10) on the 5-D UMAP output
  plain-150      the reference recipe: HDBSCAN(min_cluster_size=150) on the same UMAP output
  topictalk      topictalk's defaults, no flags (topics.fit): fine topics
  unsplit        the same graph's Leiden communities, not split (--nr-topics 0): topictalk before refine
  themes         the same run's themes (every document counted in its topic's theme)
  graph-topics   --themes graph: the topics found first on the graph, as before the themes came first
  graph-themes   and their themes, grouped on the graph of topics

Reported: topics, unassigned share (HDBSCAN's outliers, one cluster in NMI/ARI), largest share,
NMI and ARI against the corpus labels, seconds, and two coherence measures:
  knn     the share of each document's 15 nearest neighbours (embeddings) in its own topic
          (an outlier's neighbours never count);
  island  per topic, the share of its documents in its largest connected piece of the map
          (the 10-nearest-neighbour graph of topictalk's 2-D UMAP coordinates, links within the
          topic only), averaged over documents: 1.0 means every topic is one region of the map,
          a topic glued from far-apart islands scores its biggest island's share.
With an LLM (default: the bundled 1.5B) topics and themes are labeled and each label is checked
by indexing.labels.problem.

Peers are not topictalk dependencies: install them beside the venv for this bench only,
    .venv/bin/pip install --target .bench-peers --no-deps turftopic==0.28.0 texttable
(.bench-peers is put on sys.path here; without it the Topeax rows are skipped with a note).
Embeddings, UMAP outputs and LLM answers are cached under --cache; a corpus of at most 30,000
documents is embedded whole once, and its samples reuse those rows.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from topictalk.indexing import clustering, corpus, embedding, embedding_cache, pipeline, topics  # noqa: E402
from topictalk.indexing.labels import LabelCache, Labeler, problem  # noqa: E402
from topictalk.indexing.schema import OUTLIER  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPORA = ["arxiv_ml:5000", "arxiv_ml", "ag_news_test", "bbc_news", "arxiv_all:20000"]
PEERS = ROOT / ".bench-peers"
WHOLE = 30_000  # corpora up to this size are embedded whole and sampled by rows


def _read(name: str, limit: int | None) -> corpus.Corpus:
    with gzip.open(DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return corpus.from_records(rows, source=name, text_column="text", title_column="title", limit=limit), rows


def load(spec: str, cache: Path, model) -> tuple[corpus.Corpus, np.ndarray, np.ndarray]:
    """The sample, its labels and its embeddings."""
    name, _, limit = spec.partition(":")
    docs, rows = _read(name, int(limit) if limit else None)
    label = {str(r["id"]): str(r.get("label")) for r in rows}
    source = docs
    if docs.sampled_from and docs.sampled_from <= WHOLE:
        source, _ = _read(name, None)
    vectors, _ = embedding_cache.embed_cached(source.ids, source.texts, "bundled", cache, model=model)
    if source is not docs:
        row = {i: k for k, i in enumerate(source.ids)}
        vectors = vectors[[row[i] for i in docs.ids]]
    return docs, np.array([label[i] for i in docs.ids]), vectors


def knn_coherence(assigned: np.ndarray, indices: np.ndarray) -> float:
    same = (assigned[indices[:, 1:]] == assigned[:, None]) & (assigned[:, None] != OUTLIER)
    return float(same.mean())


def island_coherence(assigned: np.ndarray, coords: np.ndarray, k: int = 10) -> float:
    """Documents-weighted share of each topic in its largest connected piece of the map's kNN graph."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors

    _, near = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords)
    kept = 0
    for topic in set(assigned.tolist()) - {OUTLIER}:
        members = np.flatnonzero(assigned == topic)
        position = np.full(len(assigned), -1)
        position[members] = np.arange(len(members))
        src = np.repeat(np.arange(len(members)), k)
        dst = position[near[members, 1:].ravel()]
        ok = dst >= 0
        graph = csr_matrix((np.ones(ok.sum()), (src[ok], dst[ok])), shape=(len(members), len(members)))
        _, parts = connected_components(graph, directed=False)
        kept += np.bincount(parts).max()
    inside = (assigned != OUTLIER).sum()
    return float(kept / inside) if inside else 0.0


def scores(truth: np.ndarray, assigned: np.ndarray, indices: np.ndarray, coords: np.ndarray, seconds: float) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    inside = assigned != OUTLIER
    sizes = np.bincount(assigned[inside]) if inside.any() else np.zeros(1, int)
    return {
        "topics": int((sizes > 0).sum()), "unassigned": round(float((~inside).mean()), 3),
        "largest": round(float(sizes.max() / len(assigned)), 3),
        "nmi": round(float(normalized_mutual_info_score(truth, assigned)), 3),
        "ari": round(float(adjusted_rand_score(truth, assigned)), 3),
        "knn": round(knn_coherence(assigned, indices), 3), "island": round(island_coherence(assigned, coords), 3),
        "seconds": round(seconds, 1),
    }


def topeax(docs: corpus.Corpus, vectors: np.ndarray, model, saved: Path) -> tuple[np.ndarray | None, float]:
    """Topeax's topic per document (argmax of its document-topic matrix), on our embeddings; kept in
    ``saved`` (seeded, so a later run of the bench reads what this one computed, and its seconds)."""
    if saved.is_file():
        got = np.load(saved)
        return got["labels"], float(got["seconds"])
    if PEERS.is_dir() and str(PEERS) not in sys.path:
        sys.path.append(str(PEERS))  # after the venv: topictalk runs its own versions of shared packages
    try:
        from turftopic import Topeax
    except ImportError:
        print("  topeax skipped: turftopic is not installed in .bench-peers (see this script's docstring)")
        return None, 0.0
    from sklearn.feature_extraction.text import CountVectorizer

    t = time.perf_counter()
    # the vocabulary only shapes Topeax's keywords, not its clusters: a small one keeps its term step short
    fitted = Topeax(encoder=model, random_state=42, vectorizer=CountVectorizer(max_features=2000, stop_words="english"))
    matrix = fitted.fit_transform(docs.texts, embeddings=vectors)
    labels, seconds = np.argmax(matrix, axis=1), time.perf_counter() - t
    saved.parent.mkdir(parents=True, exist_ok=True)
    np.savez(saved, labels=labels, seconds=seconds)
    return labels, seconds


def run(spec: str, cache: Path, llm, with_topeax: bool) -> dict:
    model = embedding.load("bundled")
    docs, truth, vectors = load(spec, cache, model)
    n = len(docs)
    print(f"\n== {spec}: {n} documents, {len(set(truth))} labels", flush=True)
    params = topics.TopicParams()
    indices, _ = topics.neighbours(vectors, params.n_neighbors, params.random_state)  # the knn coherence's 15
    t = time.perf_counter()
    fitted = topics.fit(docs.texts, docs.ids, vectors, params, model, cache)
    ours_s = time.perf_counter() - t
    coords = fitted.coordinates
    result = {"corpus": spec, "documents": n, "runs": {}, "clustering": fitted.clustering.summary(),
              "timings": {k: round(v, 1) for k, v in fitted.timings.items()}}
    if with_topeax:
        labels, seconds = topeax(docs, vectors, model, cache / "peers" / f"topeax-{spec.replace(':', '-')}-{n}.npz")
        if labels is not None:
            result["runs"]["topeax"] = scores(truth, labels, indices, coords, seconds)
    t = time.perf_counter()
    reduced, _ = topics.reduce(vectors, params, params.n_components, cache,
                               knn=lambda: topics.neighbours(vectors, params.n_neighbors, params.random_state))
    umap_s = time.perf_counter() - t
    from hdbscan import HDBSCAN

    for name, mcs in (("bertopic-10", 10), ("plain-150", 150)):
        if n >= 2 * mcs:
            t = time.perf_counter()
            labels = HDBSCAN(min_cluster_size=mcs).fit(reduced).labels_
            result["runs"][name] = scores(truth, labels, indices, coords, time.perf_counter() - t + umap_s)
    result["runs"]["topictalk"] = scores(truth, fitted.assignments, indices, coords, ours_s)
    # the same graph's communities unsplit (nr_topics 0): topictalk's topics before refine
    t = time.perf_counter()
    graph_knn = topics.neighbours(vectors, params.graph_neighbors + 1, params.random_state)
    knn_s = time.perf_counter() - t
    coarse, _ = clustering.communities(*graph_knn, target=0)
    result["runs"]["unsplit"] = scores(truth, coarse.labels, indices, coords, time.perf_counter() - t)
    # the topics first and their themes grouped on the graph of topics (--themes graph; the default before
    # the themes came first), on the same neighbours
    t = time.perf_counter()
    graph_first, graph = clustering.communities(*graph_knn)
    grouped = clustering.themes(graph_first.labels, graph, params.random_state).theme_of_topic[graph_first.labels]
    seconds = knn_s + time.perf_counter() - t
    result["runs"]["graph-topics"] = scores(truth, graph_first.labels, indices, coords, seconds)
    result["runs"]["graph-themes"] = scores(truth, grouped, indices, coords, seconds)
    theme_of = {tp.id: tp.theme for tp in fitted.topics}
    by_theme = np.array([OUTLIER if theme_of[a] is None else theme_of[a] for a in fitted.assignments.tolist()])
    result["runs"]["themes"] = scores(truth, by_theme, indices, coords, ours_s)
    documents = {d.id: (d.title, d.text) for d in docs.documents}
    if llm is not None:
        labeler = Labeler(llm, LabelCache(cache / "labels.jsonl"))
        t = time.perf_counter()
        pipeline.label(fitted.topics, fitted.themes, documents, labeler)
        result["label_s_per_item"] = round((time.perf_counter() - t) / max(1, len(fitted.topics) + len(fitted.themes)), 2)
    result["labels"] = _label_rows(fitted, documents, llm is not None)
    if llm is not None:
        rows = result["labels"]
        result["accepted"] = round(sum(r["rule"] == "ok" for r in rows) / max(1, len(rows)), 3)
    return result


def _label_rows(fitted, documents: dict, judged: bool) -> list[dict]:
    """Themes with their topics, biggest first, each label checked by the rule in the order labeled."""
    taken: set[str] = set()
    checked = {}
    for item in [*fitted.topics, *fitted.themes]:  # the order the labeler took them
        if item.is_outlier or not judged or item.label_source == "topic":
            continue
        titles = [documents[i][0] for i in item.representative_ids if i in documents]
        checked[id(item)] = problem(item.label, item.keywords, taken, titles) or "ok"
        taken.add(item.label.lower())
    rows = []
    by_id = {tp.id: tp for tp in fitted.topics}
    for theme in fitted.themes:
        for item, level in [(theme, "theme"), *((by_id[i], "topic") for i in theme.topic_ids)]:
            rows.append({"level": level, "id": item.id, "size": item.size, "label": item.label,
                         "source": item.label_source.split(" ")[0], "rule": checked.get(id(item), ""),
                         "keywords": item.keywords[:6]})
    return rows


def report(results: list[dict]) -> None:
    print("\n| corpus | docs | run | topics | unassigned | largest | NMI | ARI | knn coh. | island coh. | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for name, s in r["runs"].items():
            print(f"| {r['corpus']} | {r['documents']} | {name} | {s['topics']} | {s['unassigned']:.0%} | {s['largest']:.0%} "
                  f"| {s['nmi']:.3f} | {s['ari']:.3f} | {s['knn']:.3f} | {s['island']:.3f} | {s['seconds']} |")
    for r in results:
        ok = f", labels accepted {r['accepted']:.0%}" if "accepted" in r else ""
        print(f"\n{r['corpus']}: {r['clustering']} (stages {r['timings']}){ok}")
        for row in r["labels"]:
            indent = "  " if row["level"] == "theme" else "      "
            print(f"{indent}{row['id']:>3} {row['size']:>5}  {row['label']!s:<44} {row['source']!s:<10} "
                  f"{row['rule']}  [{', '.join(row['keywords'])}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", nargs="+", default=CORPORA)
    ap.add_argument("--llm", default="bundled", help="model spec for the labels (default: bundled, the 1.5B)")
    ap.add_argument("--no-llm", action="store_true", help="clustering and keywords only")
    ap.add_argument("--no-topeax", action="store_true", help="skip the Topeax rows (its t-SNE is the slow part)")
    ap.add_argument("--cache", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "topictalk-quality"))
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()
    from topictalk.indexing import host

    print(host.probe().line(), flush=True)  # every figure comes with its host
    missing = [c for c in args.corpora if not (DATA / f"{c.partition(':')[0]}.jsonl.gz").is_file()]
    if missing:
        sys.exit(f"bench/quality.py: {', '.join(missing)} not in {DATA}")
    llm = None
    if not args.no_llm:
        from topictalk.agent import models

        llm = models.load(args.llm)
    results = []
    for spec in args.corpora:
        results.append(run(spec, Path(args.cache), llm, not args.no_topeax))
        if args.out:  # after each corpus: a long run keeps what it finished
            Path(args.out).write_text(json.dumps(results, indent=1))
    report(results)


if __name__ == "__main__":
    main()
