"""What labels and descriptions cost at index time, in tokens the LLM read and wrote, and what they say.

    .venv/bin/python bench/describe.py --input ../shared/data/arxiv_ml.jsonl.gz --limit 500 \
        --index-dir /tmp/desc-500 [--llm bundled] [--json out.json]

Builds the index as ``topictalk index`` does, with the LLM wrapped so that every call's usage
(prompt tokens, those whose KV cache was reused, generated tokens) and wall time is recorded. The
label cache (``cache/labels.jsonl``) is removed first, so every answer is asked again; the embedding
cache is kept, so a second run costs the LLM and the topics, not the embedding. Run it on two
checkouts (before and after) with the same arguments to compare: tokens are counts and do not depend
on the machine's load; seconds do, so say how loaded the machine was.

Prints one JSON object: per kind of call (the prompt's first words tell label, retry, theme, brief)
the number of calls and their token sums; the manifest's stage timings; how labels were made; and
every topic's and theme's label and description (for reading by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this checkout's code, whichever checkout the virtualenv's editable install points at
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]


class Counting:
    """An LLM that records each call's usage; the labeler and the describer see a plain Completer."""

    def __init__(self, model) -> None:
        self.model = model
        self.spec = model.spec
        self.identity = getattr(model, "identity", model.spec)
        self.calls: list[dict] = []

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def runtime(self) -> dict:
        return self.model.runtime()

    def complete(self, messages, options) -> str:
        started = time.perf_counter()
        response = self.model.stream(messages, options)
        text = response.text()
        u = response.usage
        self.calls.append({"kind": _kind(messages), "prompt": u.prompt_tokens, "cached": u.cached_tokens,
                           "generated": u.completion_tokens, "seconds": round(time.perf_counter() - started, 2)})
        return text


def _kind(messages) -> str:
    """The prompt's first words name the kind of call."""
    user = messages[-1]["content"]
    return " ".join(user.split()[:6])


def naming(topics, themes) -> dict:
    """Issue 27's naming targets, by the label rule's own tests: sibling topics (one theme) or themes with
    the same or near-same name, and themes named after one of their topics (a theme of one topic aside)."""
    from topictalk.indexing.labels import near_same, same_name

    def pairs(items):
        return [(a.label, b.label) for i, a in enumerate(items) for b in items[i + 1:] if near_same(a.label, b.label)]

    by_id = {t.id: t for t in topics}
    siblings = [p for th in themes for p in pairs([by_id[i] for i in th.topic_ids if i in by_id])]
    parent = [(th.label, by_id[i].label) for th in themes if len(th.topic_ids) > 1 for i in th.topic_ids
              if i in by_id and same_name(th.label, by_id[i].label)]
    return {"near_same_sibling_topics": siblings, "near_same_themes": pairs(list(themes)),
            "theme_named_after_a_topic": parent}


def main() -> int:
    from topictalk.agent.models import load
    from topictalk.indexing import corpus as corpus_mod
    from topictalk.indexing import pipeline

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", required=True)
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--index-dir", type=Path, required=True)
    p.add_argument("--llm", default="bundled")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args()

    labels = args.index_dir / "cache" / "labels.jsonl"
    if labels.exists():
        labels.unlink()
    for extra in (args.index_dir / "cache").glob("descriptions*.jsonl"):
        extra.unlink()
    corpus = corpus_mod.from_files([args.input], limit=args.limit, seed=42)  # the command line's default sample
    llm = Counting(load(args.llm))
    started = time.perf_counter()
    result = pipeline.build(corpus, args.index_dir, pipeline.IndexSettings(), llm)
    seconds = time.perf_counter() - started
    kinds: dict[str, dict] = defaultdict(lambda: {"calls": 0, "prompt": 0, "cached": 0, "generated": 0,
                                                   "seconds": 0.0})
    for call in llm.calls:
        row = kinds[call["kind"]]
        row["calls"] += 1
        for key in ("prompt", "cached", "generated", "seconds"):
            row[key] += call[key]
    total = {key: sum(c[key] for c in llm.calls) for key in ("prompt", "cached", "generated")}
    total["read"] = total["prompt"] - total["cached"]  # prompt tokens the model had to read
    m = result.manifest
    out = {
        "documents": len(corpus), "llm": args.llm, "load": os.getloadavg(), "seconds": round(seconds, 1),
        "timings": m["timings"], "calls": len(llm.calls), "tokens": total,
        "by_kind": {k: {**v, "seconds": round(v["seconds"], 1)} for k, v in kinds.items()},
        "labels": m["cache"]["labels"],
        "topics": [{"id": t.id, "label": t.label, "source": t.label_source, "description": t.description,
                    "description_ids": t.description_ids, "description_source": getattr(t, "description_source", "")}
                   for t in result.topics],
        "themes": [{"id": t.id, "label": t.label, "description": t.description, "description_ids": t.description_ids,
                    "description_source": getattr(t, "description_source", "")} for t in result.themes],
        "brief": m.get("brief"),
        "naming": naming(result.topics, result.themes),
    }
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
