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
import statistics
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
    from indexing import corpus

    return corpus.from_files([DATA], limit=limit, seed=SEED)


def full_embeddings(work: Path):
    """The static embeddings of the whole cleaned corpus, in corpus order (made once, then loaded)."""
    import numpy as np

    path, ids_path = work / "embeddings.npy", work / "embeddings-ids.json"
    if path.is_file() and ids_path.is_file():
        return np.load(path, mmap_mode="r"), json.loads(ids_path.read_text())
    from indexing import embedding

    documents = load_corpus()
    print(f"embedding {len(documents):,} documents once with {MODEL} ...", flush=True)
    t = time.perf_counter()
    vectors = embedding.encode(embedding.load(MODEL), documents.texts)
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
