"""Topic quality on real labeled corpora: the plain reference recipe against topictalk's defaults.

    .venv/bin/python bench/quality.py [--corpora arxiv_ml:5000 arxiv_ml ag_news_test bbc_news]
                                      [--llm bundled] [--no-llm] [--cache DIR] [--out FILE.json]

For each corpus of ../shared/data (gzipped JSON Lines with a ``label``; ``NAME:N`` takes
topictalk's seeded sample of N), on the same documents, the same embeddings (bundled
MiniLM) and the same 5-D UMAP output (the reference's n_neighbors=15, n_components=5,
min_dist=0, cosine, random_state=42):

  plain-150, plain-50  the reference recipe's clustering: HDBSCAN(min_cluster_size=150 or 50,
                       eom, min_samples = min_cluster_size), as BERTopic runs it
  topictalk            topictalk's defaults, no flags: topics.fit (settings search, split and
                       merge, keywords) and the LLM labels (bundled model unless --llm)

Reported: topics, outlier share, largest-topic share, NMI and ARI against the corpus's labels
over all documents (outliers as one cluster) and over non-outliers only; for topictalk the
label acceptance by indexing.labels.problem (2-6 words, not cut, not a keyword list, not a
copied title or method name, distinct), and every label for a human to read.

Embeddings, UMAP outputs and LLM answers are cached under --cache, so a second run takes
seconds. Embedding all 24,915 arxiv_ml abstracts takes about 20 minutes on 2 cores.
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

from indexing import clustering, corpus, embedding, embedding_cache, topics  # noqa: E402
from indexing.labels import LabelCache, Labeler, problem  # noqa: E402
from indexing.schema import OUTLIER  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPORA = ["arxiv_ml:5000", "arxiv_ml", "ag_news_test", "bbc_news"]


def load(spec: str) -> tuple[corpus.Corpus, np.ndarray]:
    name, _, limit = spec.partition(":")
    with gzip.open(DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    docs = corpus.from_records(rows, source=name, text_column="text", title_column="title",
                               limit=int(limit) if limit else None)
    label = {str(r["id"]): str(r.get("label")) for r in rows}
    return docs, np.array([label[i] for i in docs.ids])


def scores(truth: np.ndarray, assigned: np.ndarray) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    inside = assigned != OUTLIER
    sizes = np.bincount(assigned[inside]) if inside.any() else np.zeros(1, int)
    return {
        "topics": int((sizes > 0).sum()), "outliers": round(float((~inside).mean()), 3),
        "largest": round(float(sizes.max() / len(assigned)), 3),
        "nmi": round(float(normalized_mutual_info_score(truth, assigned)), 3),
        "ari": round(float(adjusted_rand_score(truth, assigned)), 3),
        "nmi_in": round(float(normalized_mutual_info_score(truth[inside], assigned[inside])), 3) if inside.any() else 0.0,
        "ari_in": round(float(adjusted_rand_score(truth[inside], assigned[inside])), 3) if inside.any() else 0.0,
    }


def run(spec: str, cache: Path, llm) -> dict:
    docs, truth = load(spec)
    n = len(docs)
    print(f"\n== {spec}: {n} documents, {len(set(truth))} labels", flush=True)
    model = embedding.load("bundled")
    t = time.perf_counter()
    vectors, _ = embedding_cache.embed_cached(docs.ids, docs.texts, "bundled", cache, model=model)
    params = topics.TopicParams()
    # the reduction topics.fit makes (same neighbours, same cache key): plain and topictalk share it
    reduced, _ = topics.reduce(vectors, params, params.n_components, cache,
                               knn=lambda: topics.neighbours(vectors, params.n_neighbors, params.random_state))
    prep = time.perf_counter() - t
    result = {"corpus": spec, "documents": n, "embed_and_umap_s": round(prep, 1), "runs": {}}
    for mcs in (150, 50):
        if n >= 2 * mcs:
            plain = clustering.choose(reduced, vectors, mcs, None, searched=False)
            result["runs"][f"plain-{mcs}"] = scores(truth, plain.labels)
    t = time.perf_counter()
    fitted = topics.fit(docs.texts, docs.ids, vectors, params, model, cache)
    result["topics_s"] = round(time.perf_counter() - t, 1)
    result["search_s"] = round(fitted.timings.get("cluster", 0.0), 2)
    result["clustering"] = fitted.clustering.summary()
    result["runs"]["topictalk"] = scores(truth, fitted.assignments)
    real = [tp for tp in fitted.topics if not tp.is_outlier]
    if llm is not None:
        documents = {d.id: (d.title, d.text) for d in docs.documents}
        t = time.perf_counter()
        Labeler(llm, LabelCache(cache / "labels.jsonl")).label(fitted.topics, documents)
        result["label_s_per_topic"] = round((time.perf_counter() - t) / max(1, len(real)), 2)
        taken: set[str] = set()
        rows = []
        for tp in real:  # biggest first, as the labeler takes them
            titles = [documents[i][0] for i in tp.representative_ids if i in documents]
            why = problem(tp.label, tp.keywords, taken, titles)
            taken.add(tp.label.lower())
            rows.append({"topic": tp.id, "size": tp.size, "label": tp.label, "source": tp.label_source.split(" ")[0],
                         "rule": why or "ok", "keywords": tp.keywords[:6]})
        result["labels"] = rows
        result["accepted"] = round(sum(r["rule"] == "ok" for r in rows) / max(1, len(rows)), 3)
    else:
        result["labels"] = [{"topic": tp.id, "size": tp.size, "keywords": tp.keywords[:6]} for tp in real]
    return result


def report(results: list[dict]) -> None:
    print("\n| corpus | docs | run | topics | outliers | largest | NMI | ARI | NMI non-outl. | ARI non-outl. | labels ok |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for name, s in r["runs"].items():
            ok = f"{r['accepted']:.0%}" if name == "topictalk" and "accepted" in r else ""
            print(f"| {r['corpus']} | {r['documents']} | {name} | {s['topics']} | {s['outliers']:.0%} | {s['largest']:.0%} "
                  f"| {s['nmi']:.3f} | {s['ari']:.3f} | {s['nmi_in']:.3f} | {s['ari_in']:.3f} | {ok} |")
    for r in results:
        print(f"\n{r['corpus']}: {r['clustering']} (search {r['search_s']} s of {r['topics_s']} s topic modelling)")
        for row in r["labels"]:
            label = f"{row.get('label', '')!s:<48} {row.get('source', '')!s:<10} {row.get('rule', '')}"
            print(f"  {row['topic']:>3} {row['size']:>5}  {label}  [{', '.join(row['keywords'])}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", nargs="+", default=CORPORA)
    ap.add_argument("--llm", default="bundled", help="model spec for the labels (default: bundled, the 1.5B)")
    ap.add_argument("--no-llm", action="store_true", help="clustering and keywords only")
    ap.add_argument("--cache", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "topictalk-quality"))
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()
    missing = [c for c in args.corpora if not (DATA / f"{c.partition(':')[0]}.jsonl.gz").is_file()]
    if missing:
        sys.exit(f"bench/quality.py: {', '.join(missing)} not in {DATA}")
    llm = None
    if not args.no_llm:
        from agent import models

        llm = models.load(args.llm)
    results = [run(spec, Path(args.cache), llm) for spec in args.corpora]
    report(results)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
