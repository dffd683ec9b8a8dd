"""LLM seconds per label at index time: this checkout against others, in one run, as a user runs it.

    .venv/bin/python bench/label_cost.py --before /tmp/tt-base [--corpus arxiv_ml:1000 bbc_news:1000] \
        [--rounds 1] [--llm bundled] [--json out.json]

``--before DIR`` is another checkout (`git worktree add /tmp/tt-base 92ea497`), of this layout or the
older one whose layers were top-level packages (``ui.cli``). Every checkout indexes every corpus with
``topictalk index --llm ...`` in a child process of its own, into a fresh folder, so every label is
asked and each pays its own model load; within a round the checkouts alternate, so the host's drift
falls on all of them. A corpus is ``NAME:LIMIT``, NAME a file of ../shared/data (``arxiv_ml`` is
``arxiv_ml.jsonl.gz``), else the bundled CC0 sample.

Reported per run, from the index's manifest and ``topictalk topics --json``:
- the index command's wall seconds, end to end (its ratio is issue 28's "index --limit N ... 2x faster");
- the labeling stage's seconds (``timings.label``: labels, descriptions, retries and the brief);
- labels: the topics and the themes of more than one topic (a theme of one topic takes its topic's);
- seconds per label, which is issue 28's "LLM seconds per topic";
- labels the model gave that passed the rule first time, keyword fallbacks, descriptions the LLM wrote;
- where a checkout records it (``cache.labels.usage`` in the manifest), each kind of question's answers,
  their prompt and answer tokens and seconds;
then each checkout's labels and descriptions, for reading side by side. Run it on an idle machine
(`uptime`: load under 1.5), and name the host (its first line).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import checkout  # noqa: E402
from topictalk.indexing.sample import PATH as SAMPLE  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


Child = tuple[list[str], dict[str, str]]  # the command line that runs topictalk, and its environment


def child(code: Path) -> Child:
    """How to run ``topictalk`` from ``code``'s checkout in a child process (one link folder per checkout)."""
    offline = {"HF_HUB_OFFLINE": "1"}
    if (code / "__init__.py").is_file():  # this layout: the root is the package topictalk
        run = "import sys; from topictalk.ui.cli import main; sys.exit(main(sys.argv[1:]))"
        return [sys.executable, "-c", run], checkout.env_for(code, **offline)
    # the older layout: ui, agent, indexing and prompts at the top, found first on sys.path
    run = f"import sys; sys.path.insert(0, {str(code)!r}); from ui.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", run], {**os.environ, **offline}


def cli(runner: Child, *args: str) -> subprocess.CompletedProcess:
    """``topictalk ARGS`` run as ``runner`` says."""
    command, env = runner
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True, check=True)


def corpus_file(spec: str) -> tuple[Path, int]:
    name, _, limit = spec.partition(":")
    path = DATA / f"{name}.jsonl.gz"
    return (path if path.is_file() else SAMPLE), int(limit or 1000)


def measure(runner: Child, source: Path, limit: int, llm: str, folder: Path) -> dict:
    started = time.perf_counter()
    cli(runner, "index", "--input", str(source), "--limit", str(limit), "--index-dir", str(folder), "--llm", llm,
        "--quiet")
    wall = time.perf_counter() - started  # the whole command, as the user waits for it: issue 28's "end to end"
    manifest = json.loads((folder / "manifest.json").read_text())
    listing = json.loads(cli(runner, "topics", "--index-dir", str(folder), "--json").stdout)
    topics = [t for t in listing["topics"] if t.get("label_source") != "outliers"]
    themes = [t for t in listing["themes"] if len(t.get("topic_ids", ())) > 1]
    items = topics + themes
    seconds = manifest["timings"]["label"]
    return {
        "wall": wall, "stages": manifest["timings"], "seconds": seconds, "labels": len(items), "per_label": seconds / max(1, len(items)),
        "first_time": sum(t.get("label_source") == "llm" for t in items) / max(1, len(items)),
        "fallbacks": sum(str(t.get("label_source", "")).startswith("keywords") for t in items),
        "described": sum(t.get("description_source") == "llm" for t in items),
        # where the stage's seconds went, by kind of question (checkouts from this change on record it)
        "usage": (manifest["cache"].get("labels") or {}).get("usage"),
        "items": [(t["label"], str(t.get("label_source", "")).split(" ")[0], t.get("description", "")) for t in items],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", action="append", default=[], help="another checkout (repeatable)")
    parser.add_argument("--corpus", nargs="+", default=["arxiv_ml:1000", "bbc_news:1000"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--llm", default="bundled")
    parser.add_argument("--json", help="write every run's figures and labels here")
    args = parser.parse_args()
    print(checkout.kernels(), flush=True)
    codes = [Path(p).resolve() for p in args.before] + [ROOT]
    runners = {code: child(code) for code in codes}
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for spec in args.corpus:
            source, limit = corpus_file(spec)
            # said, since a checkout outside the project's folder has no ../shared: it reads the sample instead
            print(f"{spec}: {source} (at most {limit:,} documents)", flush=True)
            for r in range(args.rounds):
                for k, code in enumerate(codes):
                    got = measure(runners[code], source, limit, args.llm, Path(scratch) / f"{spec}-{r}-{k}")
                    runs.setdefault(f"{spec} {code}", []).append(got)
                    print(f"{spec:16s} {str(code):28s} round {r + 1}: labels {got['seconds']:6.1f} s, "
                          f"{got['labels']} labels, {got['per_label']:5.2f} s/label, first time "
                          f"{got['first_time']:.0%}, fallbacks {got['fallbacks']}, described {got['described']}; "
                          f"the command {got['wall']:.1f} s end to end", flush=True)
                    print("    stages: " + ", ".join(f"{stage} {took:.1f} s" for stage, took in got["stages"].items()), flush=True)
                    for kind, u in (got["usage"] or {}).items():
                        print(f"    {kind:22s} {u['asked']:3d} asked, {u['prompt_tokens']:6,} prompt and "
                              f"{u['answer_tokens']:5,} answer tokens, {u['seconds']:6.1f} s", flush=True)
            base = runs[f"{spec} {codes[0]}"]
            for code in codes[1:]:
                mine = runs[f"{spec} {code}"]
                ratio = (sum(b["seconds"] for b in base) / sum(b["labels"] for b in base)) / \
                        (sum(m["seconds"] for m in mine) / sum(m["labels"] for m in mine))
                whole = sum(b["wall"] for b in base) / sum(m["wall"] for m in mine)
                print(f"{spec}: seconds per label, {codes[0]} / {code}: x{ratio:.2f}; the index command end to end: "
                      f"x{whole:.2f}", flush=True)
            for code in codes:
                print(f"\n{spec}, {code} (last round):")
                for label, source, description in runs[f"{spec} {code}"][-1]["items"]:
                    print(f"  {label} [{source}]: {description}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
