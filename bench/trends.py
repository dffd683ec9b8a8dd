"""Topics over time on a sample of the shared arXiv corpus (issue 29): found columns and exact counts.

    .venv/bin/python bench/trends.py [--n 2500] [--index-dir /tmp/trends-bench]

Indexes a reproducible --n sample of ../shared/data/arxiv_all.jsonl.gz without the LLM (keyword
labels) and nothing named: the date column (listing_date) and the facets (categories, label, ...)
must be found by themselves. Then it checks that `topictalk trends --json` and
`topics --by categories --json` equal counts computed from the input file (joined with the export on
ids), and prints the period chosen, the biggest changes and how many of them are more than noise.
Counts only: no timings (the machine is shared).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "arxiv_all.jsonl.gz"


def cli(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "topictalk.ui.cli", *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.exit(f"topictalk {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--index-dir", default="/tmp/trends-bench")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    index = Path(args.index_dir)
    cli("index", "--input", str(DATA), "--limit", str(args.n), "--no-llm", "--index-dir", str(index), "--quiet")
    manifest = json.loads((index / "manifest.json").read_text())
    print("corpus columns:", {k: manifest["corpus"].get(k) for k in ("date_field", "date_precision",
                                                                    "facet_fields", "reported")})
    cli("export", "--index-dir", str(index), "--format", "jsonl", "--out", str(index / "export"))
    documents = [json.loads(line) for line in open(index / "export" / "documents.jsonl")]
    topic_of = {d["id"]: d["topic"] for d in documents}
    rows = [r for r in map(json.loads, gzip.open(DATA, "rt", encoding="utf-8")) if r["id"] in topic_of]
    got = json.loads(cli("trends", "--index-dir", str(index), "--json"))
    labels = {d["id"]: d["period"] for d in documents}  # the period each date falls in, by the index's rule
    expected = Counter((topic_of[r["id"]], labels[r["id"]]) for r in rows if r.get("listing_date"))
    table = {(t["topic"], p): n for t in got["topics"] for p, n in zip(got["periods"], t["counts"]) if n}
    print(f"period {got['period']}: {len(got['periods'])} periods {got['periods'][0]}..{got['periods'][-1]}, "
          f"{sum(got['totals'])} dated, {got['undated']} undated; counts equal the file's: {table == dict(expected)}")
    months = Counter(r["listing_date"][:7] for r in rows if r.get("listing_date"))
    if got["period"] == "month":
        print("documents per month equal the file's:", dict(zip(got["periods"], got["totals"])) ==
              {p: months.get(p, 0) for p in got["periods"]})
    by = json.loads(cli("topics", "--by", "categories", "--json", "--index-dir", str(index)))
    cells = {(t["topic"], v["value"]): t["count"] for v in by["values"] for t in v["topics"]}
    found = {v["value"] for v in by["values"]}
    expected = Counter((topic_of[r["id"]], c) for r in rows for c in dict.fromkeys((r.get("categories") or "").split())
                       if c in found)
    print(f"categories: {len(found)} values; counts equal the file's (on those values): {cells == dict(expected)}; "
          f"values not shaped like arXiv categories: {sorted(v for v in found if '.' not in v and '-' not in v)}")
    significant = [c for c in got["changes"] if c["significant"]]
    print(f"changes {got['changes'][0]['first']} -> {got['changes'][0]['last']}: {len(significant)} of "
          f"{len(got['changes'])} topics more than noise")
    for c in got["changes"][:3] + got["changes"][-3:]:
        print(f"  topic {c['topic']}: {c['first_count']}/{c['first_total']} -> {c['last_count']}/{c['last_total']} "
              f"p={c['p_value']:.2g} adj {c['p_adjusted']:.2g} {c['direction']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
