"""What labelling a topic's subtopics costs in one call, against one call per subtopic, and what each says.

    PYTHONPATH=.. .venv/bin/python bench/subtopic_labels.py --index-dir /tmp/sub-labels-2k [--llm bundled] \
        [--topics 4 | --only 1 5] [--json out.json]

For the first ``--topics`` topics of an index that have subtopics (indexing/subtopics.py, keyword-labelled,
computed or read from the cache), asks the model twice, nothing read from a label cache:
- batched: the one call of indexing/subtopic_labels.py (every subtopic's keywords and central titles, numbered);
- separate: each subtopic alone with the index's topic-label prompt (``labels.build_messages``, prompt
  ``label_user``: its central documents' title and text, its keywords, its siblings' keywords); first answers
  only (the index would retry a refused one: that would add calls).
Each call's prompt tokens (and those whose KV cache was reused), generated tokens and seconds are recorded;
every label is checked by the one rule (``labels.problem`` with the accepted siblings, the topic's label taken,
not the topic's own name). Prints both sets of labels side by side, then the totals. Seconds depend on the
machine's load: say how loaded it was; tokens do not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


class Counting:
    """A Completer that records each call's usage and seconds."""

    def __init__(self, model) -> None:  # noqa: ANN001
        self.model, self.spec, self.identity = model, model.spec, model.identity
        self.calls: list[dict] = []

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def complete(self, messages, options) -> str:  # noqa: ANN001
        started = time.perf_counter()
        response = self.model.stream(messages, options)
        text = "".join(response)
        u = response.usage
        self.calls.append({"prompt": u.prompt_tokens, "cached": u.cached_tokens, "generated": u.completion_tokens,
                           "seconds": round(time.perf_counter() - started, 2)})
        return text


def separate(model: Counting, found, docs: dict, settings) -> list[tuple[str, str]]:  # noqa: ANN001
    """One call per subtopic with the topic-label prompt; each first answer checked as the batched one is."""
    from topictalk.indexing import labels, subtopic_labels
    from topictalk.indexing.generation import GenerationOptions

    options = GenerationOptions(max_tokens=settings.max_tokens, temperature=settings.temperature, seed=settings.seed)
    answers, parts = [], []
    for part in found.parts:
        shown = [docs[i] for i in part.representative_ids if i in docs]
        siblings = [p.keywords[:5] for p in found.parts if p is not part]
        messages = labels.build_messages(shown, part.keywords, settings, model.count_tokens, siblings, "label_user")
        answers.append(labels.clean(model.complete(messages, options)))
        print(f"  per subtopic {len(answers)}: {answers[-1]!r} {model.calls[-1]}")
        parts.append(subtopic_labels.Evidence(list(part.keywords), [t for t, _ in shown]))
    return subtopic_labels.checked(answers, found.label, parts, settings.max_words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--llm", default="bundled")
    parser.add_argument("--topics", type=int, default=4)
    parser.add_argument("--only", type=int, nargs="+", metavar="TOPIC", help="these topics (one run each keeps a "
                        "run short on a loaded machine)")
    parser.add_argument("--json")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each topic as it is done, also into a file

    from topictalk.agent import models
    from topictalk.indexing import host, labels, store, subtopic_labels, subtopics

    print(host.probe(with_torch=False).line(), f"load average {os.getloadavg()[0]:.1f}", flush=True)
    reader = store.open_reader(store.Location(path=Path(args.index_dir)))
    chosen = []
    for topic in reader.topics():
        wanted = not topic.is_outlier and (args.only is None or topic.id in args.only)
        found = subtopics.of_index(reader, topic.id) if wanted else None
        if found is not None and found.parts:
            chosen.append(found)
        if len(chosen) == args.topics:
            break
    model = models.load(args.llm)
    settings = subtopics.Settings()
    report = {"llm": args.llm, "topics": []}
    try:
        for found in chosen:
            ids = [i for p in found.parts for i in p.representative_ids]
            docs = {d.id: (d.title, d.text) for d in reader.get_documents(ids)}
            one = Counting(model)
            parts = [subtopic_labels.evidence(p.keywords, [docs[i] for i in p.representative_ids if i in docs], one,
                                              settings.labels) for p in found.parts]
            print(f"\ntopic {found.topic} '{found.label}' ({found.size} documents, {len(found.parts)} subtopics)")
            batched = subtopic_labels.label(one, found.label, parts, None, settings.labels)
            print(f"  one call: {batched} {one.calls}")  # as it comes: a killed run keeps what was done
            each = Counting(model)
            apart = separate(each, found, docs, labels.LabelSettings())
            width = max(len(p.label) for p in found.parts) + 2
            print(f"  {'keywords':<{width}}  {'one call':<40}  per subtopic")
            for p, (a, sa), (b, sb) in zip(found.parts, batched, apart):
                mark_a = "" if sa == "llm" else " [kw]" if sa.startswith("keywords") else " [cut]"
                mark_b = "" if sb == "llm" else " [kw]" if sb.startswith("keywords") else " [cut]"
                print(f"  {p.label:<{width}}  {(a + mark_a):<40}  {b + mark_b}")
            for name, counted in (("one call", one), ("per subtopic", each)):
                print(f"  {name}: {len(counted.calls)} call(s), prompt {sum(c['prompt'] for c in counted.calls)} "
                      f"tokens ({sum(c['cached'] for c in counted.calls)} from the KV cache), generated "
                      f"{sum(c['generated'] for c in counted.calls)}, {sum(c['seconds'] for c in counted.calls):.1f} s")
            report["topics"].append({
                "topic": found.topic, "label": found.label, "keywords": [p.label for p in found.parts],
                "batched": batched, "separate": apart, "batched_calls": one.calls, "separate_calls": each.calls})
    finally:
        model.close()
    totals = {}
    for kind, key in (("one call", "batched"), ("per subtopic", "separate")):
        calls = [c for t in report["topics"] for c in t[f"{key}_calls"]]
        named = [s for t in report["topics"] for _, s in t[key]]
        totals[kind] = {"calls": len(calls), "prompt": sum(c["prompt"] for c in calls),
                        "cached": sum(c["cached"] for c in calls), "generated": sum(c["generated"] for c in calls),
                        "seconds": round(sum(c["seconds"] for c in calls), 1),
                        "accepted": f"{sum(s == 'llm' for s in named)}/{len(named)}",
                        "shortened": sum(s.startswith("llm-shortened") for s in named)}
    report["totals"] = totals
    print("\n" + json.dumps(totals, indent=1))
    print(f"load average after {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
