"""Indexing speed, memory and topic quality: topictalk against the plain BERTopic recipe.

    .venv/bin/python bench/index.py [--n 5000] [--seed 42] [--min-cluster-size N] [--skip-plain] [--out FILE.json]
    .venv/bin/python bench/index.py --report FILE.json      # print a saved run again

One reproducible sample of ../shared/data/arxiv_ml.jsonl.gz (abstracts of ML papers, each
with its first arXiv category as a label), indexed four ways, each in a fresh process run
under /usr/bin/time -v (peak RSS):

  A  the reference recipe as plain BERTopic code: SentenceTransformer (bundled MiniLM),
     UMAP(15, 5, 0.0, cosine, 42), HDBSCAN(min_cluster_size, eom, prediction_data),
     KeyBERTInspired + MMR(0.3) + LlamaCPP(bundled GGUF, the label prompt; BERTopic's
     4 whole representative abstracts per topic, the outlier topic -1 included; the
     reference's generation settings: up to 500 tokens, temperature 0.1, repeat
     penalty 1.1), plus the 2-D UMAP its document map needs. No caches of its own:
     numba compiles in the process, except the functions umap and pynndescent declare
     cache=True, which numba keeps in their __pycache__ after any first run
     (--plain-cold-jit gives it an empty NUMBA_CACHE_DIR instead)
  B  `topictalk index`, cold: empty index folder and an empty numba cache
     (TOPICTALK_CACHE is a fresh folder; only the joined GGUF is linked into it)
  C  `topictalk index` again on the same folder with min_cluster_size x 2 (re-indexing)
  D  the same as C with --no-llm (what the LLM costs on a re-index)

Quality: topics, outlier share, NMI and ARI of the topic assignments against the arXiv
category, over all documents (outliers as one cluster) and over non-outliers only.
Times are seconds on this machine; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv_ml.jsonl.gz"
TIME = "/usr/bin/time"
REFERENCE_MAX_TOKENS = 500  # the reference's transformers pipeline: max_new_tokens=500
TARGETS = {
    "end_to_end": "topictalk no slower than plain (ratio plain/topictalk >= 1.0)",
    "llm_per_topic": "LLM labeling >= 2x faster per topic",
    "reindex": "re-index >= 10x faster than the first run",
    "rss": "peak RSS < 4 GB at 25k documents",
}


# --------------------------------------------------------------------------- sample


def load_sample(n: int, seed: int) -> tuple[list[dict], int]:
    """``n`` documents drawn with ``seed``, in file order; empty and duplicate texts dropped
    first (as topictalk's corpus loader would), so both sides index exactly the same set."""
    rows, seen = [], set()
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = (row.get("text") or "").strip()
            if not text or text in seen:
                continue
            seen.add(text)
            rows.append({"id": str(row["id"]), "title": (row.get("title") or "").strip(), "text": text,
                         "label": row.get("label") or ""})
    if n > len(rows):
        raise SystemExit(f"--n {n} is more than the {len(rows)} distinct documents in {DATA.name}")
    keep = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep], len(rows)


# --------------------------------------------------------------------------- children


def run_child(name: str, cmd: list[str], work: Path, env: dict[str, str], required: bool = True) -> dict:
    """Run ``cmd`` under /usr/bin/time -v; wall seconds, peak RSS and the output files.

    A failed run stops the benchmark when ``required``, else comes back as {"error": ...}."""
    rusage = work / f"{name}.time"
    out, err = work / f"{name}.stdout", work / f"{name}.stderr"
    full = [TIME, "-v", "-o", str(rusage), *cmd] if Path(TIME).exists() else cmd
    print(f"[{name}] {' '.join(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.run(full, stdout=o, stderr=e, env=env, cwd=str(ROOT))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = err.read_text(errors="replace")[-3000:]
        if required:
            raise SystemExit(f"[{name}] failed with exit status {proc.returncode}:\n{tail}")
        last = [line for line in tail.splitlines() if line.strip()][-1:] or [""]
        print(f"[{name}] failed with exit status {proc.returncode}: {last[0]}", file=sys.stderr, flush=True)
        return {"error": f"exit status {proc.returncode}: {last[0]}", "wall_s": round(wall, 2)}
    rss_kb, cpu = None, None
    if rusage.is_file():  # CPU seconds: less at the mercy of other jobs on a shared machine than wall time
        for line in rusage.read_text().splitlines():
            if "Maximum resident set size" in line:
                rss_kb = int(line.rsplit(":", 1)[1])
            elif line.strip().startswith(("User time", "System time")):
                cpu = (cpu or 0.0) + float(line.rsplit(":", 1)[1])
    print(f"[{name}] done in {wall:.1f} s", file=sys.stderr, flush=True)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 1) if cpu is not None else None,
            "peak_rss_mb": round(rss_kb / 1024, 1) if rss_kb else None, "stdout": str(out), "stderr": str(err)}


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)  # each side decides for itself
    env.setdefault("HF_HUB_OFFLINE", "1")  # local models only, the same for both sides
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def plain_child(config_path: str) -> None:
    """Side A, in its own process: the reference recipe as plain BERTopic code."""
    started = time.perf_counter()
    cfg = json.loads(Path(config_path).read_text())
    timings: dict[str, float] = {}
    calls = {"llm": 0, "prompt_tokens": 0, "completion_tokens": 0, "per_call": []}

    t = time.perf_counter()
    from bertopic import BERTopic
    from bertopic.representation import KeyBERTInspired, LlamaCPP, MaximalMarginalRelevance
    from hdbscan import HDBSCAN
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer
    from umap import UMAP
    timings["import"] = time.perf_counter() - t

    rows = [json.loads(line) for line in Path(cfg["sample"]).read_text(encoding="utf-8").splitlines() if line]
    docs = [r["text"] for r in rows]

    t = time.perf_counter()
    sentence_model = SentenceTransformer(cfg["embedding_model"])
    timings["embed_load"] = time.perf_counter() - t
    t = time.perf_counter()
    embeddings = sentence_model.encode(docs, show_progress_bar=False)
    timings["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    llm = Llama(model_path=cfg["gguf"], n_ctx=4096, n_threads=os.cpu_count(), verbose=False)
    timings["llm_load"] = time.perf_counter() - t

    chat = llm.create_chat_completion

    def counted_chat(*args, **kwargs):
        t0 = time.perf_counter()
        answer = chat(*args, **kwargs)
        seconds = time.perf_counter() - t0
        usage = answer.get("usage") or {}
        calls["llm"] += 1
        calls["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
        calls["completion_tokens"] += int(usage.get("completion_tokens") or 0)
        calls["per_call"].append([round(seconds, 2), usage.get("prompt_tokens"), usage.get("completion_tokens")])
        return answer

    llm.create_chat_completion = counted_chat

    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
    hdbscan_model = HDBSCAN(min_cluster_size=cfg["min_cluster_size"], metric="euclidean",
                            cluster_selection_method="eom", prediction_data=True)
    llama2 = LlamaCPP(llm, prompt=cfg["prompt"], system_prompt=cfg["system_prompt"],
                      pipeline_kwargs={"max_tokens": cfg["max_tokens"], "temperature": 0.1,
                                       "repeat_penalty": 1.1, "seed": 42})
    representation_model = {"KeyBERT": KeyBERTInspired(), "MMR": MaximalMarginalRelevance(diversity=0.3),
                            "Llama2": llama2}
    labeled: set[int] = set()

    def timed(key: str, func, record=None):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            result = func(*args, **kwargs)
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
            if record is not None:
                record(result)
            return result
        return wrapper

    umap_model.fit_transform = timed("umap_5d", umap_model.fit_transform)
    hdbscan_model.fit = timed("hdbscan", hdbscan_model.fit)
    llama2.extract_topics = timed("llm_label", llama2.extract_topics, lambda r: labeled.update(r))

    topic_model = BERTopic(
        embedding_model=sentence_model,
        umap_model=umap_model,
        hdbscan_model=hdbscan_model,
        representation_model=representation_model,
        top_n_words=10,
        verbose=False,
    )
    t = time.perf_counter()
    assignments, _ = topic_model.fit_transform(docs, embeddings)
    timings["fit_transform"] = time.perf_counter() - t
    # the rest of fit_transform: c-TF-IDF, KeyBERTInspired, MMR, bookkeeping
    timings["representations"] = (timings["fit_transform"] - timings.get("umap_5d", 0.0)
                                  - timings.get("hdbscan", 0.0) - timings.get("llm_label", 0.0))

    t = time.perf_counter()  # the document map: visualize_documents reduces the embeddings to 2-D
    UMAP(n_neighbors=15, n_components=2, min_dist=0.0, metric="cosine", random_state=42).fit_transform(embeddings)
    timings["umap_2d"] = time.perf_counter() - t

    aspects = topic_model.topic_aspects_.get("Llama2", {})
    info = topic_model.get_topic_info()
    topics = [{"topic": int(r.Topic), "count": int(r.Count),
               "label": (aspects.get(int(r.Topic)) or [("", 0)])[0][0],
               "keywords": [w for w, _ in (topic_model.get_topic(int(r.Topic)) or [])][:4]}
              for r in info.itertuples()]
    timings["process_to_end"] = time.perf_counter() - started
    llm.close()
    Path(cfg["result"]).write_text(json.dumps({
        "ids": [r["id"] for r in rows], "assignments": [int(a) for a in assignments],
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "llm_labeled_topics": len(labeled), "llm": calls, "topics": topics,
    }))


def read_store_child(index_dir: str, result: str) -> None:
    """Document ids and topics of the live generation (in its own process: Chroma caches clients)."""
    from topictalk.indexing import store

    reader = store.open_reader(store.Location(path=Path(index_dir)))
    points = reader.coordinates()
    topics = [{"topic": t.id, "count": t.size, "label": t.label, "source": t.label_source,
               "keywords": t.keywords[:4]} for t in reader.topics()]
    Path(result).write_text(json.dumps({"ids": points["ids"], "assignments": points["topic"].tolist(),
                                        "topics": topics}))


# --------------------------------------------------------------------------- quality


def quality(ids: list[str], assignments: list[int], labels: dict[str, str]) -> dict:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth = [labels[i] for i in ids]
    pred = np.asarray(assignments)
    inliers = pred != -1
    result = {"documents": len(ids), "topics": len(set(pred.tolist()) - {-1}),
              "outlier_share": round(float((~inliers).mean()), 4),
              "nmi_all": round(float(normalized_mutual_info_score(truth, pred)), 4),
              "ari_all": round(float(adjusted_rand_score(truth, pred)), 4)}
    if inliers.sum() > 1:
        kept = [t for t, keep in zip(truth, inliers) if keep]
        result["nmi_inliers"] = round(float(normalized_mutual_info_score(kept, pred[inliers])), 4)
        result["ari_inliers"] = round(float(adjusted_rand_score(kept, pred[inliers])), 4)
    return result


# --------------------------------------------------------------------------- runs


def run_plain(work: Path, sample: Path, mcs: int, gguf: Path, max_tokens: int, labels: dict[str, str],
              cold_jit: bool = False) -> dict:
    from topictalk import prompts
    from topictalk.indexing import embedding

    cfg = {"sample": str(sample), "min_cluster_size": mcs, "gguf": str(gguf),
           "embedding_model": str(embedding.bundled_path()), "max_tokens": max_tokens,
           "system_prompt": prompts.load("label_system"), "prompt": prompts.load("label_user"),
           "result": str(work / "plain.json")}
    (work / "plain.config.json").write_text(json.dumps(cfg))
    env = base_env()
    if cold_jit:  # a first-ever run: not even the functions umap declares cache=True are on disk yet
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-", dir=work)
    run = run_child("A-plain", [sys.executable, str(Path(__file__).resolve()), "--plain-child",
                                str(work / "plain.config.json")], work, env)
    got = json.loads((work / "plain.json").read_text())
    tm = got["timings"]
    stages = {
        "embed": tm["embed_load"] + tm["embed"],
        "umap": tm.get("umap_5d", 0.0) + tm["umap_2d"],
        "topics": tm.get("hdbscan", 0.0) + tm["representations"],
        "label": tm.get("llm_label", 0.0),
        "llm_load": tm["llm_load"],
        "import": tm["import"],
    }
    n_labeled = got["llm_labeled_topics"]
    return {**run, "timings": tm, "stages": {k: round(v, 2) for k, v in stages.items()},
            "llm_labeled_topics": n_labeled, "llm_calls": got["llm"],
            "llm_s_per_topic": round(stages["label"] / n_labeled, 3) if n_labeled else None,
            "quality": quality(got["ids"], got["assignments"], labels), "topic_table": got["topics"]}


def topictalk_cmd() -> list[str]:
    script = Path(sys.executable).with_name("topictalk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "topictalk.ui.cli"]


def run_topictalk(name: str, work: Path, sample: Path, index_dir: Path, cache: Path, mcs: int,
                  labels: dict[str, str], no_llm: bool = False, required: bool = True) -> dict:
    env = base_env()
    env["TOPICTALK_CACHE"] = str(cache)
    cmd = [*topictalk_cmd(), "index", "--input", str(sample), "--index-dir", str(index_dir),
           "--min-cluster-size", str(mcs), "--quiet"] + (["--no-llm"] if no_llm else [])
    run = run_child(name, cmd, work, env, required)
    if "error" in run:
        return {**run, "min_cluster_size": mcs, "no_llm": no_llm}
    manifest = json.loads((index_dir / "manifest.json").read_text())
    store_json = work / f"{name}.store.json"
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--read-store-child", str(index_dir),
                    str(store_json)], check=True, env=base_env(), cwd=str(ROOT))
    got = json.loads(store_json.read_text())
    tm = manifest["timings"]
    n_topics = manifest["counts"]["topics"]
    stats = (manifest.get("cache") or {}).get("labels") or {}
    llm_calls = stats.get("asked", 0)
    return {**run, "min_cluster_size": mcs, "no_llm": no_llm, "timings": tm,
            "stages": {k: tm.get(k, 0.0) for k in ("embed", "umap", "topics", "label", "write")},
            "manifest_total_s": tm.get("total"), "cache": manifest.get("cache"),
            "llm_labeled_topics": 0 if no_llm else n_topics, "llm_calls": llm_calls,
            "llm_s_per_topic": round(tm["label"] / n_topics, 3) if n_topics and not no_llm else None,
            "llm_s_per_call": round(tm["label"] / llm_calls, 3) if llm_calls else None,
            "documents_indexed": manifest["corpus"]["documents"],
            "quality": quality(got["ids"], got["assignments"], labels), "topic_table": got["topics"]}


def seeded_cache(folder: Path, gguf: Path) -> Path:
    """A fresh TOPICTALK_CACHE holding only a link to the already joined GGUF: numba starts cold,
    but the one-time join of the bundled model's six chunks (not part of indexing) is not redone."""
    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / gguf.name).symlink_to(gguf)
    marker = gguf.with_suffix(".sha256")
    if marker.is_file():
        shutil.copy(marker, models / marker.name)
    return folder


# --------------------------------------------------------------------------- report


def ratio(a, b) -> float | None:
    return round(a / b, 2) if a and b else None


def fmt(v, width: int = 11, digits: int = 1) -> str:
    if v is None or v == "":
        return f"{'-':>{width}}"
    if isinstance(v, float):
        return f"{v:>{width}.{digits}f}"
    return f"{v!s:>{width}}"


def report(result: dict) -> None:
    runs = {k: v for k, v in result["runs"].items() if "error" not in v}
    failed = {k: v for k, v in result["runs"].items() if "error" in v}
    cols = [k for k in ("A", "B", "C", "D") if k in runs]
    names = {"A": "plain", "B": "tt cold", "C": "tt re-idx", "D": "tt re-noLLM"}
    print(f"\nsample: {result['n']} documents (seed {result['seed']}) of {result['pool']} distinct in "
          f"{DATA.name}; min_cluster_size {result['min_cluster_size']} (re-index: {result['reindex_min_cluster_size']});"
          f" {os.cpu_count()} cores; load average at start {result['load_average']}")
    print("A = plain BERTopic recipe, B = topictalk index (cold caches), C = topictalk re-index (same folder, "
          "other min_cluster_size), D = C with --no-llm\n")
    header = f"{'stage (s)':<40}" + "".join(f"{names[c]:>12}" for c in cols)
    print(header)
    print("-" * len(header))
    rows = [
        ("embed (load model + encode)", "embed"),
        ("UMAP 5-D + 2-D (incl. numba JIT)", "umap"),
        ("HDBSCAN + c-TF-IDF + KeyBERT + MMR", "topics"),
        ("LLM labels", "label"),
        ("write Chroma", "write"),
    ]
    for title, key in rows:
        print(f"{title:<40}" + "".join(" " + fmt(runs[c]["stages"].get(key)) for c in cols))
    print(f"{'LLM load (A only; B-D: outside stages)':<40}" + "".join(
        " " + fmt(runs[c]["stages"].get("llm_load")) for c in cols))
    print(f"{'imports (A only)':<40}" + "".join(" " + fmt(runs[c]["stages"].get("import")) for c in cols))
    print(f"{'in-process total (B-D: manifest)':<40}" + "".join(
        " " + fmt(runs[c]["timings"].get("process_to_end") if c == "A" else runs[c].get("manifest_total_s"))
        for c in cols))
    print(f"{'process wall (end to end)':<40}" + "".join(" " + fmt(runs[c]["wall_s"]) for c in cols))
    print(f"{'process CPU, user + system':<40}" + "".join(" " + fmt(runs[c].get("cpu_s")) for c in cols))
    print(f"{'peak RSS (MB)':<40}" + "".join(" " + fmt(runs[c]["peak_rss_mb"], digits=0) for c in cols))
    print(f"{'LLM-labeled topics (A: incl. -1)':<40}" + "".join(
        " " + fmt(runs[c]["llm_labeled_topics"]) for c in cols))
    print(f"{'LLM calls':<40}" + "".join(
        " " + fmt(runs[c]["llm_calls"]["llm"] if c == "A" else runs[c]["llm_calls"]) for c in cols))
    print(f"{'LLM s per labeled topic':<40}" + "".join(
        " " + fmt(runs[c]["llm_s_per_topic"], digits=2) for c in cols))

    print(f"\n{'quality vs arXiv category':<40}" + "".join(f"{names[c]:>12}" for c in cols))
    print("-" * len(header))
    for key, title in (("topics", "topics (without -1)"), ("outlier_share", "outlier share"),
                       ("nmi_all", "NMI, all documents"), ("ari_all", "ARI, all documents"),
                       ("nmi_inliers", "NMI, non-outliers"), ("ari_inliers", "ARI, non-outliers")):
        print(f"{title:<40}" + "".join(" " + fmt(runs[c]["quality"].get(key), digits=3) for c in cols))

    for c, run in failed.items():
        print(f"\n{names[c]} (min_cluster_size {run.get('min_cluster_size')}) failed after {run['wall_s']} s: "
              f"{run['error']}")
    if "A" in runs:
        llm = runs["A"]["llm_calls"]
        seconds = sum(call[0] for call in llm["per_call"])
        print(f"\nA's LLM calls: {llm['llm']}, {llm['prompt_tokens']} prompt + {llm['completion_tokens']} answer "
              f"tokens, {llm['prompt_tokens'] / max(seconds, 1e-9):.0f} prompt tok/s overall; "
              f"per call [s, prompt, answer]: {llm['per_call'][:8]}{' ...' if len(llm['per_call']) > 8 else ''}")
    s = result["summary"]
    print("\nratios (targets are printed, not asserted)")
    print(f"  end to end, process wall A / B:        {fmt(s.get('end_to_end_wall'), 6, 2)}x   "
          f"target: {TARGETS['end_to_end']}")
    print(f"  end to end, in-process A / B:          {fmt(s.get('end_to_end_in_process'), 6, 2)}x")
    print(f"  end to end, CPU seconds A / B:         {fmt(s.get('end_to_end_cpu'), 6, 2)}x")
    print(f"  LLM s per topic, A / B:                {fmt(s.get('llm_per_topic'), 6, 2)}x   "
          f"target: {TARGETS['llm_per_topic']}")
    print(f"  re-index, B wall / C wall:             {fmt(s.get('reindex_wall'), 6, 2)}x   "
          f"target: {TARGETS['reindex']}")
    print(f"  re-index, B manifest / C manifest:     {fmt(s.get('reindex_manifest'), 6, 2)}x")
    print(f"  re-index, B CPU / C CPU:               {fmt(s.get('reindex_cpu'), 6, 2)}x")
    if "reindex_no_llm_wall" in s:
        print(f"  re-index without LLM, B wall / D wall: {fmt(s.get('reindex_no_llm_wall'), 6, 2)}x")
    print(f"  peak RSS of topictalk (max of B-D):     {fmt(s.get('topictalk_peak_rss_mb'), 6, 0)} MB at "
          f"{result['n']} documents   target: {TARGETS['rss']}")

    for c in cols:
        table = runs[c]["topic_table"]
        print(f"\n{names[c]}: {len(table)} topics (first 12)")
        for t in table[:12]:
            print(f"  {t['topic']:>4} {t['count']:>5}  {t['label'][:60]!r:<64} {', '.join(t['keywords'])}")


def summarize(runs: dict) -> dict:
    s: dict = {}
    runs = {k: v for k, v in runs.items() if "error" not in v}
    a, b, c, d = (runs.get(k) for k in "ABCD")
    if a and b:
        s["end_to_end_wall"] = ratio(a["wall_s"], b["wall_s"])
        s["end_to_end_in_process"] = ratio(a["timings"]["process_to_end"], b["manifest_total_s"])
        s["end_to_end_cpu"] = ratio(a.get("cpu_s"), b.get("cpu_s"))
        s["llm_per_topic"] = ratio(a["llm_s_per_topic"], b["llm_s_per_topic"])
    if b and c:
        s["reindex_wall"] = ratio(b["wall_s"], c["wall_s"])
        s["reindex_manifest"] = ratio(b["manifest_total_s"], c["manifest_total_s"])
        s["reindex_cpu"] = ratio(b.get("cpu_s"), c.get("cpu_s"))
    if b and d:
        s["reindex_no_llm_wall"] = ratio(b["wall_s"], d["wall_s"])
        s["reindex_no_llm_manifest"] = ratio(b["manifest_total_s"], d["manifest_total_s"])
    rss = [r["peak_rss_mb"] for r in (b, c, d) if r and r["peak_rss_mb"]]
    if rss:
        s["topictalk_peak_rss_mb"] = max(rss)
    if a:
        s["plain_peak_rss_mb"] = a["peak_rss_mb"]
    return s


def reference_min_cluster_size(n_documents: int) -> int:
    """The plain recipe's HDBSCAN setting: 150 for the reference's ~117k abstracts, about sqrt(n)/2 (at
    least 10) for a smaller sample, as topictalk itself used before its graph topics."""
    return int(min(150, max(10, round(0.5 * n_documents ** 0.5))))


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="sample size (documents)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the sample")
    parser.add_argument("--min-cluster-size", type=int, help="HDBSCAN; default: topictalk's default for --n")
    parser.add_argument("--reindex-min-cluster-size", type=int, help="for the re-index runs (default: x 2)")
    parser.add_argument("--skip-plain", action="store_true", help="skip A, the plain BERTopic recipe")
    parser.add_argument("--skip-no-llm", action="store_true", help="skip D, the re-index with --no-llm")
    parser.add_argument("--plain-max-tokens", type=int, default=REFERENCE_MAX_TOKENS,
                        help="max_tokens of A's label answers (the reference's max_new_tokens: 500)")
    parser.add_argument("--plain-cold-jit", action="store_true",
                        help="give A an empty NUMBA_CACHE_DIR (by default numba reuses what umap and pynndescent "
                        "declare cache=True, from their __pycache__ folders, as the plain recipe does after its "
                        "first run)")
    parser.add_argument("--out", type=Path, help="save every number as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it (default: a temp dir, "
                        "removed at the end)")
    parser.add_argument("--report", type=Path, metavar="FILE.json", help="print the report of a saved --out file")
    parser.add_argument("--plain-child", help=argparse.SUPPRESS)
    parser.add_argument("--read-store-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from topictalk.indexing import host

    print(host.probe().line(), flush=True)  # every figure comes with its host
    if args.plain_child:
        return plain_child(args.plain_child)
    if args.read_store_child:
        return read_store_child(*args.read_store_child)
    if args.report:
        return report(json.loads(args.report.read_text()))

    if not DATA.is_file():
        raise SystemExit(f"{DATA} not found: this benchmark needs ../shared/data beside the project")
    from topictalk.agent.bundled import gguf_path

    rows, pool = load_sample(args.n, args.seed)
    n = len(rows)
    mcs = args.min_cluster_size or reference_min_cluster_size(n)
    mcs2 = args.reindex_min_cluster_size or mcs * 2
    labels = {r["id"]: r["label"] for r in rows}
    gguf = gguf_path()  # joined once, outside every timing

    work = args.keep or Path(tempfile.mkdtemp(prefix="topictalk-bench-index-"))
    work.mkdir(parents=True, exist_ok=True)
    sample = work / "sample.jsonl"
    sample.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = {"n": n, "seed": args.seed, "pool": pool, "min_cluster_size": mcs, "reindex_min_cluster_size": mcs2,
              "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
              "plain_max_tokens": args.plain_max_tokens, "plain_cold_jit": args.plain_cold_jit, "targets": TARGETS, "runs": {}}
    runs = result["runs"]
    try:
        if not args.skip_plain:
            runs["A"] = run_plain(work, sample, mcs, gguf, args.plain_max_tokens, labels, args.plain_cold_jit)
        index_dir = work / "index"
        if index_dir.exists():
            shutil.rmtree(index_dir)
        cache_root = work / "tt-cache"
        if cache_root.exists():
            shutil.rmtree(cache_root)
        cache = seeded_cache(cache_root, gguf)
        runs["B"] = run_topictalk("B-topictalk-cold", work, sample, index_dir, cache, mcs, labels)
        if runs["B"]["documents_indexed"] != n:
            print(f"warning: topictalk indexed {runs['B']['documents_indexed']} of {n} documents", file=sys.stderr)
        runs["C"] = run_topictalk("C-topictalk-reindex", work, sample, index_dir, cache, mcs2, labels,
                                  required=False)
        if not args.skip_no_llm:
            runs["D"] = run_topictalk("D-topictalk-reindex-no-llm", work, sample, index_dir, cache, mcs2, labels,
                                      no_llm=True, required=False)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    result["summary"] = summarize(runs)
    report(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"\nsaved {args.out}")


if __name__ == "__main__":
    main()
