"""Embed a corpus on another machine (GPUs, a bigger CPU) and index it here with --embeddings.

    # there: the same topictalk install, the same corpus file and the same options
    python bench/embed_elsewhere.py --input papers.jsonl.gz [--limit N] [--seed 42] \
        [--embedding-model bundled] [--workers 4] --out papers.npy
    # here:
    topictalk index --input papers.jsonl.gz [--limit N] [--seed 42] [--embedding-model bundled] \
        --embeddings papers.npy

The rows come out in the order `topictalk index` reads the corpus (the same loader: cleaning,
duplicates dropped, the seeded --limit sample), unit length, float32, so `--embeddings`
accepts the file as it is and checks its shape against the corpus and the model. --workers N
runs a sentence-transformers pool (one process per GPU, else CPU processes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from topictalk.indexing import corpus, embed_pool, embedding, encoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", nargs="+", required=True)
    parser.add_argument("--text-column")
    parser.add_argument("--title-column")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--embedding-model", default=embedding.DEFAULT)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    documents = corpus.from_files(args.input, text_column=args.text_column, title_column=args.title_column,
                                  limit=args.limit, seed=args.seed)
    model = embedding.load(args.embedding_model)
    started = time.perf_counter()
    if args.workers > 1:
        pool = embed_pool.PoolEncoder(model, args.workers)
        try:
            vectors = pool(documents.texts)
        finally:
            pool.close()
    else:
        vectors = encoder.encode(model, documents.texts)
    took = time.perf_counter() - started
    np.save(args.out, vectors.astype(np.float32))
    print(f"wrote {args.out}: {vectors.shape[0]:,} x {vectors.shape[1]} ({len(documents) / took:.0f} docs/s on "
          f"{', '.join(embed_pool.devices(args.workers))}); index with: topictalk index --input "
          f"{' '.join(args.input)} --embedding-model {args.embedding_model} --embeddings {args.out}"
          + (f" --limit {args.limit} --seed {args.seed}" if args.limit else ""))


if __name__ == "__main__":
    main()
