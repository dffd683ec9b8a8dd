"""The reference corpus size on one machine: indexing, writing, memory and retrieval at 25k-120k.

    .venv/bin/python bench/scale.py [--sizes 25000,120000] [--work DIR] [--skip index,write,retrieval]
    .venv/bin/python bench/scale.py --report DIR/results.json      # print a saved run again

../shared/data/arxiv_all.jsonl.gz (120,222 distinct abstracts), embedded ONCE with the
static model (``--embedding-model bundled-static``) and saved as DIR/embeddings.npy, so
every later stage runs at full size in minutes. For each size (a ``--limit`` sample, seed
42; the largest size takes the whole corpus):

  index      `topictalk index --embeddings` as a user runs it (pipeline.build, --no-llm) in a
             fresh process: stage times from the manifest, and peak RSS per stage, sampled
             every 50 ms from /proc/self/status (the stage is what the pipeline's progress
             and log calls last named); VmHWM is the process's peak
  write      the same documents written twice into fresh stores in one process: the method
             of commit ab30ae0 (documents + seven metadata keys per record, Chroma's default
             HNSW settings) and store.Writer now; seconds, documents/s, the ratio
  retrieval  the built index opened as the app opens it (agent.retrieval.TopicIndex): 200
             questions (abstract titles) embedded and searched, k=8, and 200 searches within
             one topic; p50/p95 in milliseconds, and the reader's coordinates() (the map tab)

Re-running re-uses DIR/embeddings.npy; each size's index is rebuilt. Times are seconds on
this machine: the load average is printed with them, and ratios within one run are what
compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "arxiv_all.jsonl.gz"
MODEL = "bundled-static"
SEED = 42
TARGETS = {"end_to_end_s": 480, "write_ratio": 5.0, "peak_rss_gb": 4.0, "retrieval_p95_ms": 100}


def load_corpus(limit: int | None = None):
    from topictalk.indexing import corpus

    return corpus.from_files([DATA], limit=limit, seed=SEED)


def full_embeddings(work: Path):
    """The static embeddings of the whole cleaned corpus, in corpus order (made once, then loaded)."""
    import numpy as np

    path, ids_path = work / "embeddings.npy", work / "embeddings-ids.json"
    if path.is_file() and ids_path.is_file():
        return np.load(path, mmap_mode="r"), json.loads(ids_path.read_text())
    from topictalk.indexing import embedding, encoder

    documents = load_corpus()
    print(f"embedding {len(documents):,} documents once with {MODEL} ...", flush=True)
    t = time.perf_counter()
    vectors = encoder.encode(embedding.load(MODEL), documents.texts)
    print(f"  {time.perf_counter() - t:.0f} s ({len(documents) / (time.perf_counter() - t):.0f} docs/s)", flush=True)
    np.save(path, vectors)
    ids_path.write_text(json.dumps(documents.ids))
    return np.load(path, mmap_mode="r"), documents.ids


def sample_embeddings(work: Path, n: int) -> tuple[Path, int]:
    """The rows of the ``--limit n`` sample, in its order, as the file `--embeddings` reads."""
    import numpy as np

    vectors, ids = full_embeddings(work)
    limit = n if n < len(ids) else None
    documents = load_corpus(limit)
    row = {i: k for k, i in enumerate(ids)}
    path = work / f"embeddings-{len(documents)}.npy"
    if not path.is_file():
        np.save(path, np.asarray(vectors[[row[i] for i in documents.ids]], dtype=np.float32))
    return path, len(documents)


def load_average() -> float:
    return os.getloadavg()[0]


# --------------------------------------------------------------------------- children (fresh processes)


class RssSampler:
    """Peak resident memory per stage, sampled from /proc/self/status every ``every`` seconds."""

    def __init__(self, every: float = 0.05) -> None:
        self.stage, self.peaks, self.every = "start", {}, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _status(key: str) -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 2**20  # kB -> GB
        return 0.0

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            rss = self._status("VmRSS:")
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), rss)

    def enter(self, stage: str) -> None:
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), self._status("VmRSS:"))
        self.stage = stage

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"per_stage_gb": {k: round(v, 2) for k, v in self.peaks.items()}, "peak_gb": round(self._status("VmHWM:"), 2)}


def child_index(n: int, vectors: str, index_dir: str, result: str) -> None:
    from topictalk.indexing import pipeline

    rss = RssSampler()
    t = time.perf_counter()
    rss.enter("load corpus")
    documents = load_corpus(n if n < 120_222 else None)
    loaded = time.perf_counter() - t
    rss.enter("load embeddings + model")

    def progress(stage: str, total: int, seconds: float | None = None):
        rss.enter({"topics": "umap + clustering", "writing": "write"}.get(stage, stage))
        return lambda k: None

    def log(message: str) -> None:
        if message.startswith("building topic representations"):
            rss.enter("representations")

    settings = pipeline.IndexSettings(embedding_model=MODEL, embeddings_file=vectors)
    built = pipeline.build(documents, Path(index_dir), settings, None, progress=progress, log=log)
    rss.enter("done")
    Path(result).write_text(json.dumps({"n": len(documents), "load_corpus_s": round(loaded, 1),
                                        "end_to_end_s": round(time.perf_counter() - t, 1),
                                        "timings": built.manifest["timings"], "counts": built.manifest["counts"],
                                        "rss": rss.stop()}))


def _old_write(client, records, vectors) -> None:
    """Commit ab30ae0's write: the text as a Chroma document, seven metadata keys, default HNSW."""
    import numpy as np

    collection = client.create_collection("old_documents", embedding_function=None,
                                          configuration={"hnsw": {"space": "cosine"}})
    batch = client.get_max_batch_size()
    for start in range(0, len(records), batch):
        chunk = records[start:start + batch]
        collection.add(ids=[r.id for r in chunk], documents=[r.text for r in chunk],
                       embeddings=np.asarray(vectors[start:start + batch], dtype=np.float32),
                       metadatas=[{"title": r.title, "topic": int(r.topic), "probability": float(r.probability),
                                   "x": float(r.x), "y": float(r.y), "core": bool(r.core),
                                   "theme": -1 if r.theme is None else int(r.theme)} for r in chunk])


def child_write(n: int, vectors_path: str, index_dir: str, work: str, result: str) -> None:
    """Old and new writes of the same records (the built index's topics and map positions)."""
    import numpy as np

    from topictalk.indexing import store
    from topictalk.indexing.schema import DocumentRecord

    documents = load_corpus(n if n < 120_222 else None)
    vectors = np.load(vectors_path)
    if (Path(index_dir) / "chroma.sqlite3").is_file():  # the built index's topics and map positions
        points = store.open_reader(store.Location(path=Path(index_dir))).coordinates()
    else:  # run on its own (--skip index): values of the same types and spread
        rng = np.random.default_rng(SEED)
        points = {"ids": documents.ids, "topic": rng.integers(-1, 120, len(documents)),
                  "x": rng.normal(size=len(documents)), "y": rng.normal(size=len(documents)),
                  "core": rng.random(len(documents)) < 0.6, "theme": rng.integers(0, 12, len(documents))}
    at = {i: k for k, i in enumerate(points["ids"])}
    records = [DocumentRecord(d.id, d.text, d.title, int(points["topic"][at[d.id]]), 0.5,
                              float(points["x"][at[d.id]]), float(points["y"][at[d.id]]),
                              bool(points["core"][at[d.id]]), int(points["theme"][at[d.id]]))
               for d in documents.documents]
    out: dict = {"n": len(records), "load_before": round(load_average(), 2)}

    def fresh(name: str):
        folder = Path(work) / name
        shutil.rmtree(folder, ignore_errors=True)
        return store.connect(store.Location(path=folder))

    def cpu() -> float:  # this process and Chroma's threads in it: steadier than wall time on a loaded machine
        import resource

        used = resource.getrusage(resource.RUSAGE_SELF)
        return used.ru_utime + used.ru_stime

    client = fresh("write-new")
    t, c = time.perf_counter(), cpu()
    writer = store.begin(client)
    writer.write_documents(records, vectors)
    out["new_s"], out["new_cpu_s"] = round(time.perf_counter() - t, 1), round(cpu() - c, 1)
    client = fresh("write-graph")  # the index build alone: ids and embeddings, the same HNSW settings
    collection = client.create_collection("graph", embedding_function=None,
                                          configuration={"hnsw": {**store.DOCUMENT_HNSW, "sync_threshold": 2}})
    t = time.perf_counter()
    for start in range(0, len(records), writer.batch):
        collection.add(ids=[r.id for r in records[start:start + writer.batch]],
                       embeddings=vectors[start:start + writer.batch])
    out["new_index_build_s"] = round(time.perf_counter() - t, 1)
    client = fresh("write-old")
    t, c = time.perf_counter(), cpu()
    _old_write(client, records, vectors)
    out["old_s"], out["old_cpu_s"] = round(time.perf_counter() - t, 1), round(cpu() - c, 1)
    out["ratio"] = round(out["old_s"] / out["new_s"], 2)
    out["cpu_ratio"] = round(out["old_cpu_s"] / out["new_cpu_s"], 2)
    out["load_after"] = round(load_average(), 2)
    Path(result).write_text(json.dumps(out))


def child_store(n: int, vectors_path: str, index_dir: str, result: str, topics: int = 100) -> None:
    """A committed index of the corpus without the topic stage (--store-only): each document in the topic
    of its nearest of ``topics`` documents drawn as centers (uneven sizes, as real topics), random map
    positions. For retrieval and the map at full size when the topic stage is too slow to wait for."""
    import numpy as np

    from topictalk.indexing import store
    from topictalk.indexing.schema import DocumentRecord, Topic

    documents = load_corpus(n if n < 120_222 else None)
    vectors = np.load(vectors_path)
    rng = np.random.default_rng(SEED)
    centers = vectors[rng.choice(len(vectors), topics, replace=False)]
    assigned = np.concatenate([np.argmax(vectors[i:i + 8192] @ centers.T, axis=1) for i in range(0, len(vectors), 8192)])
    xy = rng.normal(size=(len(vectors), 2)) + 8 * rng.normal(size=(topics, 2))[assigned]
    records = [DocumentRecord(d.id, d.text, d.title, int(assigned[i]), 0.9, float(xy[i, 0]), float(xy[i, 1]))
               for i, d in enumerate(documents.documents)]
    client = store.connect(store.Location(path=Path(index_dir)))
    t = time.perf_counter()
    writer = store.begin(client)
    writer.write_documents(records, vectors)
    written = time.perf_counter() - t
    topic_list = []
    for k in range(topics):
        members = np.flatnonzero(assigned == k)
        centroid = vectors[members].mean(axis=0)
        topic_list.append(Topic(k, len(members), f"topic {k}", "keywords", [f"word{k}"],
                                representative_ids=[documents.ids[i] for i in members[:5]],
                                embedding=(centroid / np.linalg.norm(centroid)).astype(np.float32)))
    writer.write_topics(topic_list)
    writer.commit({"models": {"embedding_name": MODEL}, "corpus": {"documents": len(records)}})
    Path(result).write_text(json.dumps({"n": len(records), "write_s": round(written, 1),
                                        "largest_topic": int(np.bincount(assigned).max())}))


def child_retrieval(index_dir: str, result: str, questions: int = 200) -> None:
    import random

    import numpy as np

    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import store
    from topictalk.ui import map as map_mod

    t = time.perf_counter()
    index = TopicIndex.open(store.Location(path=Path(index_dir)))
    opened = time.perf_counter() - t
    t = time.perf_counter()
    coords = index.reader.coordinates()
    coordinates_s = time.perf_counter() - t
    t = time.perf_counter()
    points = map_mod.Points.from_coordinates(coords)
    figure = map_mod.figure(points, map_mod.labels_of(index.topics))
    figure_s, figure_mb = time.perf_counter() - t, len(figure.to_json()) / 1e6
    titles = random.Random(SEED).sample([t for t in coords["title"] if t], questions)
    plain, within = [], []
    for title in titles:
        t = time.perf_counter()
        vector = index.embed(title)
        hits = index.search(vector, 8)
        plain.append(time.perf_counter() - t)
        topic = index.rank_topics(vector, 1)[0][0].id
        t = time.perf_counter()
        index.search(vector, 8, topic=topic)
        within.append(time.perf_counter() - t)
        assert hits, "a search found nothing"

    def ms(values: list[float]) -> dict:
        return {"p50": round(1000 * float(np.median(values)), 1), "p95": round(1000 * float(np.percentile(values, 95)), 1)}

    Path(result).write_text(json.dumps({
        "open_s": round(opened, 1), "coordinates_s": round(coordinates_s, 2), "map_figure_s": round(figure_s, 2),
        "map_points": len(map_mod.sample(points)), "map_json_mb": round(figure_mb, 1),
        "search_ms": ms(plain), "search_in_topic_ms": ms(within), "questions": questions}))


# --------------------------------------------------------------------------- parent


def run_child(args: list[str], result: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args, str(result)]
    subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    return json.loads(result.read_text())


def run(sizes: list[int], work: Path, skip: set[str]) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"sizes": {}}
    for n in sizes:
        vectors, count = sample_embeddings(work, n)
        folder = work / f"index-{count}"
        shutil.rmtree(folder, ignore_errors=True)
        row: dict = {"n": count, "load": round(load_average(), 2)}
        print(f"== {count:,} documents (load {row['load']}) ==", flush=True)
        if "index" not in skip:
            row["index"] = run_child(["--child-index", str(count), str(vectors), str(folder)], work / f"index-{count}.json")
            print(json.dumps(row["index"]), flush=True)
        elif "retrieval" not in skip:  # the index without its topic stage, for retrieval and the map
            row["store_only"] = run_child(["--child-store", str(count), str(vectors), str(folder)],
                                          work / f"store-{count}.json")
            print(json.dumps(row["store_only"]), flush=True)
        if "retrieval" not in skip:
            row["retrieval"] = run_child(["--child-retrieval", str(folder)], work / f"retrieval-{count}.json")
            print(json.dumps(row["retrieval"]), flush=True)
        if "write" not in skip:
            row["write"] = run_child(["--child-write", str(count), str(vectors), str(folder), str(work)],
                                     work / f"write-{count}.json")
            print(json.dumps(row["write"]), flush=True)
        results["sizes"][str(count)] = row
        (work / "results.json").write_text(json.dumps(results, indent=1))
    return results


def header(*columns: str) -> None:
    print("\n| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")


def report(results: dict) -> None:
    rows = list(results["sizes"].values())
    header("documents", "load", "end to end s", "corpus load s", "UMAP s", "clustering s", "representations s",
           "write s", "peak RSS GB", "peak stage")
    for r in rows:
        if "index" not in r:
            continue
        i, t = r["index"], r["index"]["timings"]
        stages = i["rss"]["per_stage_gb"]
        top = max(stages, key=stages.get)
        print(f"| {r['n']:,} | {r['load']} | {i['end_to_end_s']} | {i['load_corpus_s']} | {t.get('umap')} | "
              f"{t.get('cluster')} | {t.get('topics')} | {t.get('write')} | {i['rss']['peak_gb']} | {top} |")
    print("\nPeak RSS per stage (GB): " + "; ".join(
        f"{r['n']:,}: " + ", ".join(f"{k} {v}" for k, v in r["index"]["rss"]["per_stage_gb"].items())
        for r in rows if "index" in r))
    header("documents", "old write s (CPU s)", "new write s (CPU s)", "ratio wall (CPU)", "new: index build s",
           "load before/after")
    for r in rows:
        if "write" in r:
            w = r["write"]
            print(f"| {r['n']:,} | {w['old_s']} ({w.get('old_cpu_s')}) | {w['new_s']} ({w.get('new_cpu_s')}) | "
                  f"{w['ratio']}x ({w.get('cpu_ratio')}x) | {w['new_index_build_s']} | {w['load_before']}/{w['load_after']} |")
    header("documents", "search p50/p95 ms", "in-topic p50/p95 ms", "coordinates s", "map figure s", "map points",
           "map JSON MB")
    for r in rows:
        if "retrieval" in r:
            q = r["retrieval"]
            print(f"| {r['n']:,} | {q['search_ms']['p50']}/{q['search_ms']['p95']} | "
                  f"{q['search_in_topic_ms']['p50']}/{q['search_in_topic_ms']['p95']} | {q['coordinates_s']} | "
                  f"{q['map_figure_s']} | {q['map_points']:,} | {q['map_json_mb']} |")
    big = rows[-1]
    print(f"\ntargets at {big['n']:,} ({', '.join(f'{k} {v}' for k, v in TARGETS.items())}):")
    if "index" in big:
        print(f"  end to end {big['index']['end_to_end_s']} s, peak RSS {big['index']['rss']['peak_gb']} GB")
    if "write" in big:
        print(f"  write ratio {big['write']['ratio']}x wall, {big['write'].get('cpu_ratio')}x CPU")
    if "retrieval" in big:
        print(f"  retrieval p95 {big['retrieval']['search_ms']['p95']} ms, within one topic "
              f"{big['retrieval']['search_in_topic_ms']['p95']} ms")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("--child-"):
        kind, rest = sys.argv[1], sys.argv[2:]
        if kind == "--child-index":
            child_index(int(rest[0]), rest[1], rest[2], rest[3])
        elif kind == "--child-write":
            child_write(int(rest[0]), rest[1], rest[2], rest[3], rest[4])
        elif kind == "--child-store":
            child_store(int(rest[0]), rest[1], rest[2], rest[3])
        else:
            child_retrieval(rest[0], rest[1])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25000,120222", help="comma-separated document counts")
    parser.add_argument("--work", default="/tmp/topictalk-scale", help="embeddings, indexes and results")
    parser.add_argument("--skip", default="", help="comma-separated stages to skip: index, retrieval, write "
                        "(without index, retrieval runs on an index written without the topic stage)")
    parser.add_argument("--report", metavar="FILE.json", help="print a saved run")
    args = parser.parse_args()
    from topictalk.indexing import host

    print(host.probe().line(), flush=True)  # every figure comes with its host
    if args.report:
        report(json.loads(Path(args.report).read_text()))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"bench/scale.py: sizes {sizes}, {os.cpu_count()} cores, load {load_average():.2f}", flush=True)
    report(run(sizes, Path(args.work), {s for s in args.skip.split(",") if s}))


if __name__ == "__main__":
    main()
