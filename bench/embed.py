"""Embedding speed against quality: every encode path next to the fp32 baseline, in one run.

    .venv/bin/python bench/embed.py [--n 2000] [--seed 42] [--skip LEVER ...]
    .venv/bin/python bench/embed.py --index [--n 5000]    # end to end: `topictalk index` now vs ca3de4b

Under `bench/isa.py run -- .venv/bin/python bench/embed.py` every runtime keeps to AVX2 kernels (the
host line says so): the rows an AVX2 host would give, on this host's clock.

One reproducible sample of ../shared/data/arxiv_ml.jsonl.gz (ML abstracts, each with its
first arXiv category). Rows, each encoding the whole sample with the bundled MiniLM unless said:

  fp32 (ca3de4b)          SentenceTransformer.encode, batch 32, per 1,024-document chunk: the baseline
  fp32 PyTorch encode()   topictalk's encode loop in PyTorch, full precision
  bf16 PyTorch            the same under bf16 autocast (the default before OpenVINO)
  fp32 OpenVINO           OpenVINO's compiled transformer in full precision
  default                 topictalk's encode loop as it runs here (OpenVINO, in bf16 where the
                          CPU has native bf16; fp16 autocast on CUDA)
  seq 128          fp32 with max_seq_length 128 instead of 256 (a lever, not used)
  int8 static      OpenVINO's graph quantized by NNCF (weights and activations int8; activation ranges
                   from 300 abstracts of the bundled sample, not the measured ones), fp32 elsewhere
  int8 weights     NNCF's weight-only int8 (asymmetric, per channel), computing in fp32
                   (both int8 rows only where NNCF is installed: .venv/bin/pip install -c constraints.txt nncf)
  bundled-static   the opt-in fast mode: a static model distilled locally from MiniLM

Columns: docs/s, speed as a ratio to the baseline in wall seconds and in CPU seconds (the
second is steadier on a shared machine), cosine to the baseline's vectors (mean, min; not
comparable for the static model's other space), the share of each document's 10 nearest
neighbours (cosine) that the baseline also finds, and NMI against the arXiv categories of a
quick UMAP(15, 5, 0, cosine, 42) + HDBSCAN(sqrt(n)/2) on each (outliers as one cluster). The
row "fp32, UMAP seed 43" is the baseline clustered with another seed: the NMI noise.

--index runs `topictalk index --no-llm` on the same sample twice in fresh processes, from a
copy of commit ca3de4b (`git archive`) and from this tree, each with an empty index folder and
an empty TOPICTALK_CACHE (numba compiles in both), and prints the stage times.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from checkout import env_for  # noqa: E402 - bench/ is sys.path[0] here

from bench.index import DATA  # noqa: E402 - the shared arXiv sample and its seeded draw
from bench.index import load_sample as _draw  # noqa: E402

BASELINE_COMMIT = "ca3de4b"


def load_sample(n: int, seed: int) -> list[dict]:
    """bench/index.py's seeded draw (empty and duplicate texts dropped first): the same documents."""
    return _draw(n, seed)[0]


def timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def baseline_encode(model, texts: list[str]) -> np.ndarray:
    """ca3de4b's embed_cached, without the cache: ST encode per 1,024-document chunk."""
    parts = [model.encode(texts[i:i + 1024], batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False).astype(np.float32) for i in range(0, len(texts), 1024)]
    return np.concatenate(parts)


def neighbours(vectors: np.ndarray, k: int = 10) -> np.ndarray:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argpartition(-sims, k, axis=1)[:, :k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)]))


def cluster_nmi(vectors: np.ndarray, labels: list[str], seed: int = 42) -> tuple[float, int]:
    from hdbscan import HDBSCAN
    from sklearn.metrics import normalized_mutual_info_score

    from topictalk.indexing import jit_cache

    jit_cache.enable()
    from umap import UMAP

    reduced = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed).fit_transform(vectors)
    mcs = max(10, round(0.5 * math.sqrt(len(vectors))))
    assignments = HDBSCAN(min_cluster_size=mcs).fit_predict(reduced)
    return float(normalized_mutual_info_score(labels, assignments)), len(set(assignments) - {-1})


def padding_share(model, texts: list[str], chunk: int | None) -> float:
    """Padded tokens over real tokens for batches of 32 sorted by length within each chunk (None: the whole list)."""
    limit = model.max_seq_length
    lengths = [min(len(ids), limit) for ids in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    padded = 0
    for start in range(0, len(lengths), chunk or len(lengths)):
        part = sorted(lengths[start:start + (chunk or len(lengths))], reverse=True)
        padded += sum(max(part[i:i + 32]) * len(part[i:i + 32]) for i in range(0, len(part), 32))
    return padded / sum(lengths) - 1


INT8 = ("int8 static", "int8 weights")


def int8_forms(model, names: list[str]) -> dict:
    """The model's saved form (indexing/saved_encoder.py) over NNCF's int8 versions of its OpenVINO graph
    (``names`` of :data:`INT8`), by row name; none where NNCF is not installed or the model has no saved form."""
    if not names:
        return {}
    try:
        import nncf
    except ImportError:
        print("  int8 rows skipped: NNCF is not installed (.venv/bin/pip install -c constraints.txt nncf)",
              file=sys.stderr, flush=True)
        return {}
    import gzip

    import openvino

    from topictalk.indexing import encoder, sample, saved_encoder

    encoder.encode(model, ["makes the saved form"], precision="fp32")
    saved = saved_encoder.find(getattr(model, saved_encoder.KEY))
    if saved is None:
        return {}
    with gzip.open(sample.PATH, "rt", encoding="utf-8") as lines:
        calibration = [json.loads(line)["abstract"] for line, _ in zip(lines, range(300))]
    batches = [saved_encoder._features(saved.tokenizer, saved.recipe, calibration[i:i + 8])
               for i in range(0, len(calibration), 8)]
    data = nncf.Dataset(batches, lambda features: [features[k] for k in saved.recipe.inputs])
    forms, folder = {}, Path(tempfile.mkdtemp(prefix="topictalk-int8-"))
    makers = {"int8 static": lambda g: nncf.quantize(g, data, model_type=nncf.ModelType.TRANSFORMER,
                                                     subset_size=len(batches)),
              "int8 weights": lambda g: nncf.compress_weights(g, mode=nncf.CompressWeightsMode.INT8_ASYM)}
    for name in names:
        path = folder / name.replace(" ", "-") / "model.xml"
        openvino.save_model(makers[name](openvino.Core().read_model(saved.graph)), path, compress_to_fp16=False)
        forms[name] = saved_encoder.SavedModel(saved.key, saved.recipe, saved.tokenizer, path)
    return forms


def compare(args: argparse.Namespace) -> None:
    import torch

    from topictalk.indexing import embedding, encoder, saved_encoder

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = load_sample(args.n, args.seed)
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    model = embedding.load(embedding.DEFAULT)
    print(f"sample: {len(texts)} abstracts of {DATA.name} (seed {args.seed}); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; native bf16: {saved_encoder.cpu_has_native_bf16()}; "
          f"default plan: {encoder.plan(model)}", flush=True)
    print(f"padding of batches of 32 sorted within 1,024-document chunks: {padding_share(model, texts, 1024):.1%}, "
          f"sorted over the whole sample: {padding_share(model, texts, None):.1%}", flush=True)

    results: list[tuple[str, np.ndarray, float, float]] = []

    def run(name: str, func) -> None:
        if name in args.skip:
            return
        vectors, wall, cpu = timed(func)
        results.append((name, vectors, wall, cpu))
        print(f"  {name}: {wall:.1f} s", file=sys.stderr, flush=True)

    def pytorch(precision: str | None):
        def encode() -> np.ndarray:
            os.environ[encoder.ENGINE_ENV] = "torch"
            try:
                return encoder.encode(model, texts, precision=precision)
            finally:
                del os.environ[encoder.ENGINE_ENV]
        return encode

    run("fp32 (ca3de4b)", lambda: baseline_encode(model, texts))
    run("fp32 PyTorch encode()", pytorch("fp32"))
    run("bf16 PyTorch", pytorch(None))
    run("fp32 OpenVINO", lambda: encoder.encode(model, texts, precision="fp32"))
    run("default", lambda: encoder.encode(model, texts))  # compiling OpenVINO (~3 s) counted

    def short() -> np.ndarray:
        model.max_seq_length = 128
        try:
            return encoder.encode(model, texts, precision="fp32")
        finally:
            model.max_seq_length = 256

    run("seq 128", short)
    for name, form in int8_forms(model, [n for n in INT8 if n not in args.skip]).items():
        run(name, lambda form=form: form.encode(texts, precision="fp32"))
    if "bundled-static" not in args.skip:
        started = time.perf_counter()
        static = embedding.load(embedding.STATIC)
        print(f"  bundled-static ready in {time.perf_counter() - started:.1f} s (distilled once per machine, "
              "then cached)", file=sys.stderr, flush=True)
        run("bundled-static", lambda: encoder.encode(static, texts))

    name0, base, wall0, cpu0 = results[0]
    base_nn = neighbours(base)
    table = []
    for name, vectors, wall, cpu in results:
        same_space = vectors.shape == base.shape
        cos = (vectors * base).sum(axis=1) if same_space else None
        nmi, topics = cluster_nmi(vectors, labels)
        table.append((name, f"{len(texts) / wall:.1f}", f"{wall0 / wall:.2f}x", f"{cpu0 / cpu:.2f}x",
                      f"{cos.mean():.5f} / {cos.min():.5f}" if cos is not None else "other space",
                      f"{overlap(base_nn, neighbours(vectors)):.3f}", f"{nmi:.3f} ({topics})"))
    nmi, topics = cluster_nmi(base, labels, seed=43)
    table.append(("fp32, UMAP seed 43", "", "", "", "", "", f"{nmi:.3f} ({topics})"))
    header = ("path", "docs/s", "x fp32 wall", "x fp32 CPU", "cosine mean / min", "top-10 same", "NMI (topics)")
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    print()
    for r in [header, *table]:
        print("  ".join(f"{c:<{w}}" for c, w in zip(r, widths)))
    print(f"\n{len(texts)} documents; guard for a default: NMI within 0.01 of {name0}, top-10 same >= 0.9")


def end_to_end(args: argparse.Namespace) -> None:
    """`topictalk index --no-llm` from ca3de4b and from this tree, cold, on one sample."""
    rows = load_sample(args.n, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        work = Path(tmp)
        sample = work / "sample.jsonl"
        sample.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        old = work / "ca3de4b"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        print(f"sample: {len(rows)} abstracts of {DATA.name} (seed {args.seed}); `topictalk index --no-llm`, "
              "empty index folder and TOPICTALK_CACHE for each", flush=True)
        report = {}
        for name, tree in (("ca3de4b", old), ("this tree", ROOT)):
            env = env_for(tree, HF_HUB_OFFLINE="1", TOPICTALK_CACHE=str(work / f"cache-{tree.name}"))
            env.pop("NUMBA_CACHE_DIR", None)
            index = work / f"index-{tree.name}"
            cmd = [sys.executable, "-m", "topictalk.ui.cli", "index", "--input", str(sample), "--index-dir", str(index),
                   "--no-llm", "--quiet"]
            _, wall, _ = timed(lambda: subprocess.run(cmd, cwd=str(tree), env=env, check=True,
                                                      stdout=subprocess.DEVNULL))
            manifest = json.loads((index / "manifest.json").read_text()) if (index / "manifest.json").is_file() \
                else {}
            report[name] = (wall, manifest.get("timings", {}), manifest.get("counts", {}))
            print(f"  {name}: {wall:.1f} s", file=sys.stderr, flush=True)
        base = report["ca3de4b"][0]
        for name, (wall, timings, counts) in report.items():
            stages = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
            print(f"{name:<10} {wall:6.1f} s  ({base / wall:.2f}x)  {stages}; {counts.get('topics')} topics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="documents in the sample")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip", nargs="*", default=[], help="rows to leave out, e.g. 'seq 128'")
    parser.add_argument("--index", action="store_true", help="end to end: topictalk index now against ca3de4b")
    args = parser.parse_args()
    from topictalk.indexing import host

    print(host.probe().line(), flush=True)  # every figure comes with its host
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is missing: the benchmark needs the shared arXiv sample")
    (end_to_end if args.index else compare)(args)


if __name__ == "__main__":
    main()
