"""Labels with llama.cpp: answers decoded together (complete_many) against one at a time, in one process.

    .venv/bin/python bench/label_batch.py [--limit 300] [--rounds 2] [--llm bundled] [--input FILE]

One seeded sample (../shared/data/arxiv_ml.jsonl.gz, else the bundled sample) is indexed with the LLM
(`pipeline.build`, each run in a fresh folder, so every label is asked), the model loaded once; the two
ways alternate within each round, so the host's drift falls on both. The same model object answers both:
"alone" hides its ``batches`` from the labeler, which then asks one topic at a time, as before.
Reported: the labeling stage's seconds (labels and descriptions of topics and themes), seconds per
label, and the share of labels the model gave that passed the rule (label_source "llm"), then the two
runs' labels side by side. Run it on an idle machine (`uptime`: load under 1.5).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from topictalk.agent import models  # noqa: E402
from topictalk.indexing import corpus as corpus_mod  # noqa: E402
from topictalk.indexing import host, pipeline  # noqa: E402
from topictalk.indexing.sample import PATH as SAMPLE  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "arxiv_ml.jsonl.gz"


class Alone:
    """The model as a labeler sees one that does not batch: everything but ``batches`` is the model's."""

    batches = False

    def __init__(self, model) -> None:
        self._model = model

    def __getattr__(self, name: str):
        return getattr(self._model, name)


def run(corpus, llm, work: Path) -> tuple[float, int, list]:
    """Index into ``work``; the labeling stage's seconds, the labels asked and (label, source) per topic."""
    spent = {}
    inner = pipeline._label

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent["labels"] = time.perf_counter() - started

    pipeline._label = timed
    try:
        result = pipeline.build(corpus, work, pipeline.IndexSettings(), llm)
    finally:
        pipeline._label = inner
    asked = sum(not t.is_outlier for t in result.topics) + sum(len(th.topic_ids) > 1 for th in result.themes)
    return spent["labels"], asked, [(t.label, t.label_source) for t in result.topics if not t.is_outlier]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", default=str(SHARED if SHARED.is_file() else SAMPLE))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--llm", default="bundled")
    args = parser.parse_args()
    print(host.probe().line(), flush=True)
    corpus = corpus_mod.from_files([args.input], limit=args.limit, seed=42)
    model = models.load(args.llm)
    print(f"{len(corpus)} documents of {args.input}, {args.llm}, {args.rounds} rounds", flush=True)
    seen: dict[str, list] = {}
    totals: dict[str, list[float]] = {"alone": [], "together": []}
    with tempfile.TemporaryDirectory() as scratch:
        for r in range(args.rounds):
            for way, llm in (("alone", Alone(model)), ("together", model)):
                seconds, asked, labels = run(corpus, llm, Path(scratch) / f"{way}-{r}")
                totals[way].append(seconds)
                seen[way] = labels
                passed = sum(source == "llm" for _, source in labels) / max(1, len(labels))
                print(f"round {r + 1} {way:9s} labeling {seconds:6.1f} s  {seconds / max(1, asked):5.1f} s/label "
                      f"({asked} asked)  passed the rule first time: {passed:.0%}", flush=True)
    alone, together = sum(totals["alone"]), sum(totals["together"])
    print(f"labeling, all rounds: alone {alone:.1f} s, together {together:.1f} s: x{alone / together:.2f}")
    for (a, sa), (b, sb) in zip(seen["alone"], seen["together"]):
        print(f"  {a:40s} [{sa.split(' ')[0]}]  |  {b:40s} [{sb.split(' ')[0]}]")
    model.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
