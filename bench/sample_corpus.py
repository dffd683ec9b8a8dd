"""How indexing/data/arxiv_ml_sample.jsonl.gz, the corpus `topictalk demo` uses offline, was made.

    python bench/sample_corpus.py [--n 2000] [--seed 42]

A reproducible sample (``random.Random(seed)``) of the distinct abstracts of
../shared/data/arxiv_ml.jsonl.gz, kept in file order, with the columns of the
reference dataset CShorten/ML-ArXiv-Papers (``title``, ``abstract``) plus the
arXiv ``id`` and ``categories`` (arXiv category names only; the MSC/ACM codes
some records carry are dropped). arXiv metadata is CC0. Stdlib only, and the
gzip header carries no time stamp, so the same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "arxiv_ml.jsonl.gz"
OUT = ROOT / "indexing" / "data" / "arxiv_ml_sample.jsonl.gz"
CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")  # cs.LG, stat.ML, hep-th, math.OC


def rows(source: Path) -> list[dict]:
    seen, out = set(), []
    with gzip.open(source, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = (row.get("text") or "").strip()
            title = (row.get("title") or "").strip()
            if not text or not title or text in seen:
                continue
            seen.add(text)
            categories = [c for c in str(row.get("categories") or row.get("label") or "").split() if CATEGORY.match(c)]
            out.append({"id": str(row["id"]), "title": title, "abstract": text, "categories": " ".join(categories)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    every = rows(SOURCE)
    keep = sorted(random.Random(args.seed).sample(range(len(every)), args.n))
    body = "".join(json.dumps(every[i], ensure_ascii=False) + "\n" for i in keep).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write(body)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(buffer.getvalue())
    print(f"wrote {OUT} ({args.n} of {len(every)} distinct abstracts, seed {args.seed}, {OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
