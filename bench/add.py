"""Adding documents against re-indexing (issue 30): time, and agreement of the placements.

    .venv/bin/python bench/add.py [--base 5000] [--new 250] [--llm] [--work /tmp/add-bench] [--reuse]
                                  [--cold] [--rounds 3]

From the shared arXiv ML abstracts (../shared/data/arxiv_ml.jsonl.gz, else the bundled sample), a
reproducible sample of --base documents is indexed once (A). Then, each in a copy of A's folder (its
embedding cache included, as a user re-indexing in place has it):
- ADD: `topictalk add` of --new other documents (--rounds times, each in a fresh copy, half of them after
  the cold re-index with --cold; the median counts);
- RE-INDEX: `topictalk index` of all base + new documents (the cache is by chunks of 1,024 documents in
  input order: the new ones and the base ones in the last, partial chunk are embedded);
- RE-INDEX, SEED 7: the same with another --random-state, to show how much two full runs agree;
- with --cold, RE-INDEX COLD: the same in a fresh folder, embedding everything again.
It prints each command's wall and CPU time, the ratio ADD / RE-INDEX of both (and, when A was indexed in
this run, against a re-index that embeds everything again, estimated from A's time), and, over the new
documents, the NMI of ADD's placements against RE-INDEX's topics beside the NMI of the two re-indexes (seeds 42 and 7).
Without --llm both label by keywords (--no-llm); with it both label with the configured LLM, as the
index did. Run it on an idle machine: the host line comes first, compare only within one host.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkout import env_for  # noqa: E402 - bench/ is sys.path[0] here

from topictalk.indexing import host  # noqa: E402
from topictalk.indexing.sample import PATH as SAMPLE  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "arxiv_ml.jsonl.gz"


CPU: dict[tuple[str, ...], float] = {}  # each command's CPU seconds (user + system, all its threads)
ENV = env_for(ROOT)  # the commands run this checkout's code, wherever the editable install points


def cli(*args: str) -> tuple[float, str]:
    """Runs ``topictalk ARGS``; its wall seconds and stdout. Its CPU seconds go to :data:`CPU`: on a
    shared machine the wall time grows with the other load, the CPU time much less."""
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-m", "topictalk.ui.cli", *args], capture_output=True, text=True, cwd=ROOT,
                         env=ENV)
    if out.returncode:
        sys.exit(f"topictalk {' '.join(args)} failed: {out.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[args] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - started, out.stdout


def topics_of(index: Path) -> dict[str, int]:
    cli("export", "--index-dir", str(index), "--format", "jsonl", "--out", str(index / "export"))
    return {d["id"]: d["topic"] for d in map(json.loads, open(index / "export" / "documents.jsonl"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=5000)
    parser.add_argument("--new", type=int, default=250)
    parser.add_argument("--llm", action="store_true", help="label with the configured LLM (default: keywords)")
    parser.add_argument("--work", default="/tmp/add-bench")
    parser.add_argument("--reuse", action="store_true", help="keep index A of an earlier run of the same sample")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the add this many times, each into a fresh copy of A; the median is compared "
                             "(an add's wall time varies by a few seconds on 2 cores)")
    parser.add_argument("--cold", action="store_true",
                        help="also re-index all base + new documents in a fresh folder (no cache): measured, "
                             "not estimated from A's time")
    args = parser.parse_args()
    print(host.probe().line(), flush=True)
    data = SHARED if SHARED.exists() else SAMPLE
    rows = [json.loads(line) for line in gzip.open(data, "rt", encoding="utf-8")]
    picked = random.Random(42).sample(rows, args.base + args.new)
    base, new = picked[:args.base], picked[args.base:]
    work = Path(args.work)
    texts = {name: "".join(json.dumps(r) + "\n" for r in part) for name, part in
             (("base", base), ("new", new), ("all", base + new))}
    files = {name: work / f"{name}.jsonl" for name in texts}
    # --reuse: index A of an earlier run of the same sample (its files byte-identical) is kept, and its
    # time read from its manifest (the pipeline's total, without the process start: a little less)
    reuse = args.reuse and (work / "A" / "manifest.json").exists() and all(
        f.exists() and f.read_text() == texts[n] for n, f in files.items())
    for name in ("add", "reindex", "reindex7", "cold", *(() if reuse else ("A",))):
        shutil.rmtree(work / name, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        files[name].write_text(text)
    labels = [] if args.llm else ["--no-llm"]
    print(f"{data.name}: {args.base:,} indexed, {args.new:,} new; labels: {'LLM' if args.llm else 'keywords'}",
          flush=True)

    if reuse:
        seconds = json.loads((work / "A" / "manifest.json").read_text())["timings"]["total"]
        print(f"index A ({args.base:,}): {seconds:.1f} s (reused: its manifest's total)", flush=True)
    else:
        seconds, _ = cli("index", "--input", str(files["base"]), "--index-dir", str(work / "A"), "--quiet", *labels)
        print(f"index A ({args.base:,}): {seconds:.1f} s", flush=True)
    for name in ("reindex", "reindex7"):
        shutil.copytree(work / "A", work / name)
    add_args = ("add", "--input", str(files["new"]), "--index-dir", str(work / "add"), "--quiet", "--json")
    rounds = []  # (wall, CPU) of each add

    def add_rounds(count: int) -> str:
        out = ""
        for _ in range(count):
            shutil.rmtree(work / "add", ignore_errors=True)
            shutil.copytree(work / "A", work / "add")
            seconds, out = cli(*add_args)
            rounds.append((seconds, CPU[add_args]))
        return out

    # with --cold, half the adds run before the re-indexes and half after the cold one: a 2-core host's speed
    # drifts by 10-20% over the minutes between them, and the ratio should not ride on that drift
    total = max(1, args.rounds)
    out = add_rounds((total + 1) // 2 if args.cold else total)
    re_args = ("index", "--input", str(files["all"]), "--index-dir", str(work / "reindex"), "--quiet", *labels)
    re_s, _ = cli(*re_args)
    re7_s, _ = cli("index", "--input", str(files["all"]), "--index-dir", str(work / "reindex7"), "--quiet",
                   "--random-state", "7", *labels)
    if args.cold:  # a fresh folder: everything embedded again, as a user re-indexing elsewhere has it
        cold_args = ("index", "--input", str(files["all"]), "--index-dir", str(work / "cold"), "--quiet", *labels)
        cold_s, _ = cli(*cold_args)
        out = add_rounds(total - len(rounds)) or out
    order = [w for w, _ in rounds]  # in the order run
    rounds.sort()
    add_s, CPU[add_args] = rounds[len(rounds) // 2]  # the median round (the upper one of an even count)
    added = json.loads(out)
    from sklearn.metrics import normalized_mutual_info_score as nmi

    ids = [r["id"] for r in new]
    got = {name: topics_of(work / name) for name in ("add", "reindex", "reindex7")}
    place = [got["add"][i] for i in ids]
    full, full7 = [got["reindex"][i] for i in ids], [got["reindex7"][i] for i in ids]
    print(f"add {args.new:,}: {add_s:.1f} s ({added['unfit']} fit no topic well; advice: {added['advice']})"
          + (f"; the median of {len(rounds)} rounds, in the order run: " + ", ".join(f"{w:.1f} s" for w in order)
             + ("" if not args.cold else f" ({(len(rounds) + 1) // 2} before the re-indexes, the others after)")
             if len(rounds) > 1 else ""))
    print(f"re-index {args.base + args.new:,}: {re_s:.1f} s (seed 7: {re7_s:.1f} s)")
    print(f"ratio add / re-index: {add_s / re_s:.3f} (the re-index reads A's cached embeddings and embeds "
          "the new documents and the base ones sharing a 1,024-document cache chunk with them)")
    print(f"CPU seconds: add {CPU[add_args]:.1f}, re-index {CPU[re_args]:.1f}; ratio {CPU[add_args] / CPU[re_args]:.3f}")
    if args.cold:
        print(f"re-index {args.base + args.new:,} in a fresh folder (no cache): {cold_s:.1f} s, CPU "
              f"{CPU[cold_args]:.1f} s; ratio add / it: wall {add_s / cold_s:.3f}, CPU "
              f"{CPU[add_args] / CPU[cold_args]:.3f}")
    elif not reuse:  # a re-index in a fresh folder embeds everything again, as index A did: its time scaled
        fresh = seconds * (args.base + args.new) / args.base
        print(f"ratio add / re-index without the cache (estimated as index A's time x {args.base + args.new:,}/"
              f"{args.base:,} = {fresh:.0f} s): {add_s / fresh:.3f}")
    print(f"NMI over the {len(ids)} new documents: add vs re-index {nmi(full, place):.3f}; "
          f"re-index seed 42 vs seed 7 {nmi(full, full7):.3f}")
    before = topics_of(work / "A")  # A exported once (it was once per document)
    # the base documents both indexes hold: the corpus reader drops a document whose text repeats another's
    old = [r["id"] for r in base if r["id"] in before and r["id"] in got["reindex"]]
    print(f"NMI over the {len(old):,} base documents: A vs re-index "
          f"{nmi([before[i] for i in old], [got['reindex'][i] for i in old]):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
