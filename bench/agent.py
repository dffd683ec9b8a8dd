"""Agent answer quality and speed on a real arXiv index, before and after, on one index.

    .venv/bin/python bench/agent.py --index-dir /tmp/idx5k [--before /tmp/tt-main] [--llm bundled]
        [--max-tokens 120]

Build the index first, e.g. `topictalk index --input ../shared/data/arxiv_ml.jsonl.gz
--limit 5000 --index-dir /tmp/idx5k`. ``--before DIR`` is another checkout (e.g. `git
worktree add /tmp/tt-main main`): its code answers the same questions first, in a child
process, then this checkout's code does; both sets of answers are scored here, by the
same rules, so the table compares code paths and not scorers.

Each question names terms that a relevant abstract contains (checked by hand on this
corpus); a cited source is on topic when its title or abstract contains one. Scored:
- substantive: ``agent.substance.substantive`` (the written rule) on the final answer;
- grounded: no claim sentence of the answer fails ``agent.attribution.review``'s check
  against the sources it was given;
- citation precision: on-topic cited sources / cited sources, over all answers;
- off-corpus questions admitted (intent off_corpus);
- follow-ups: "that topic" after a topic search and after a search is a topic the first
  reply showed (after a search: the topics of its cited sources), and, printed beside it,
  whether every source of the follow-up also holds the subject's terms (where the corpus has
  no topic about the subject, that topic's representative papers are about something wider);
  "the second one" after an overview opens the second item shown;
- grounded and substantive judge the answer after its lead (a list of topics written from the
  index, not by the model);
- time to first token: first text the reader sees (and, where a reply starts with a lead
  written from the index, the model's first token), each question in a fresh conversation
  with the model warm.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from checkout import env_for, kernels, which  # noqa: E402 - bench/ is sys.path[0] here

# this file is bench/agent.py: with bench/ first on sys.path, "import agent" would import it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

# (question, terms a relevant abstract contains); None marks an off-corpus question
QUESTIONS: list[tuple[str, list[str] | None]] = [
    ("Which papers study privacy attacks on federated learning?", ["federated"]),
    ("How do people reduce hallucinations in LLMs?", ["hallucinat"]),
    ("Are there topics about speech?", ["speech", "audio", "speaker", "acoustic", "asr"]),
    ("What work exists on graph neural networks?", ["graph"]),
    ("How is reinforcement learning used for robot control?", ["robot", "manipulat", "locomotion"]),
    ("Which papers use diffusion models to generate images?", ["diffusion"]),
    ("How can large language models be made safe against jailbreaks?", ["jailbreak", "safety", "harmful", "attack"]),
    ("What methods detect anomalies in time series?", ["anomal", "time series", "time-series"]),
    ("Which papers apply machine learning to medical imaging?", ["medical", "clinical", "mri", "ct ", "patholog", "radiolog"]),
    ("How do vision-language models handle images and text together?", ["vision-language", "multimodal", "visual", "image"]),
    ("Are there topics about quantum computing?", ["quantum"]),
    ("What approaches exist for autonomous driving?", ["driving", "vehicle", "autonomous"]),
    ("How are transformers made more efficient at inference?", ["efficien", "inference", "latency", "quantiz", "prun"]),
    ("Which papers study recommendation systems?", ["recommend"]),
    ("How do researchers evaluate reasoning in language models?", ["reasoning"]),
    ("What is known about adversarial examples for image classifiers?", ["adversarial"]),
    ("Are there papers on weather or climate forecasting?", ["weather", "climate", "forecast", "precipitation"]),
    ("Which papers predict molecular or protein properties?", ["molecul", "protein", "drug", "chemical"]),
    ("How is knowledge distillation used to compress models?", ["distill"]),
    ("What work exists on federated learning with heterogeneous clients?", ["federated"]),
    ("Tell me more about the federated learning topic", ["federated"]),
    ("Which papers address fairness or bias in machine learning?", ["fair", "bias"]),
    ("How do agents use tools or plan with LLMs?", ["agent", "tool", "plan"]),
    ("Are there topics about 3D scenes or point clouds?", ["3d", "point cloud", "scene", "gaussian splatting"]),
    ("What methods exist for continual learning without forgetting?", ["continual", "forgetting", "incremental"]),
    ("Which papers work on retrieval-augmented generation?", ["retrieval"]),
    ("How do people detect AI-generated or deepfake content?", ["deepfake", "generated", "detect", "forensic"]),
    ("What work studies explainability of neural networks?", ["explain", "explanation", "interpretab", "attribution"]),
    ("Are there topics about video understanding?", ["video"]),
    ("Which papers use LLMs for code generation?", ["code"]),
    ("What is the best pizza dough recipe in Naples?", None),
    ("Who won the football world cup in 1998?", None),
    ("How do I renew my passport in France?", None),
]

# (first question, follow-up, terms the follow-up's sources contain or None: "the second one")
FOLLOW_UPS: list[tuple[str, str, list[str] | None]] = [
    ("Are there topics about speech?", "Which papers in that topic are most representative?",
     ["speech", "audio", "speaker", "acoustic", "asr"]),
    ("Which papers study privacy attacks on federated learning?", "Which papers in that topic are most representative?",
     ["federated"]),
    ("What are the biggest topics?", "Tell me more about the second one", None),
]


def collect(index_dir: str, llm: str, max_tokens: int, overrides: dict | None = None) -> list[dict]:
    """Every question's reply with the code on sys.path (this checkout or --before's), as plain data;
    ``overrides``: Settings fields to change (e.g. {"sources": 3}, to compare settings on one checkout)."""
    from topictalk.agent.conversation import Conversation, Settings
    from topictalk.agent.models import load
    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import store

    index = TopicIndex.open(store.Location(path=Path(index_dir)))

    def source(s) -> dict:
        return {"n": s.n, "id": s.id, "title": s.title, "text": s.text, "topic": s.topic}

    def ask(conv, question: str) -> dict:
        start = time.perf_counter()
        response = conv.respond(question)
        lead = getattr(getattr(response, "context", None), "lead", "")
        first = model_first = None
        seen = ""
        for chunk in response:
            now = time.perf_counter() - start
            first = first if first is not None else now
            if model_first is None and len(seen) >= len(lead) and chunk.strip():
                model_first = now
            seen += chunk
        reply = response.reply()
        return {"question": question, "answer": reply.answer, "lead": lead, "intent": reply.intent, "topics": reply.topics,
                "themes": getattr(reply, "themes", []), "answer_source": getattr(reply, "answer_source", "model"),
                "draft": getattr(reply, "draft", reply.answer), "sources": [source(s) for s in reply.sources],
                "provided": [source(s) for s in reply.provided], "ttft": first or 0.0,
                "model_ttft": model_first, "labels": {t.id: t.label for t in index.topics},
                # prompt tokens the model read before its first token (not from its KV cache): what the wait is
                # made of on any host (an older checkout's Reply has no calls)
                "read_first": next((c.prompt_tokens - c.cached_tokens for c in getattr(reply, "calls", [])[:1]), None),
                "seconds": time.perf_counter() - start}

    out = []
    with load(llm) as model:
        settings = Settings(**{"max_tokens": max_tokens, **(overrides or {})})
        Conversation(index, model, settings).ask("Which papers study graph neural networks?")  # warm
        for question, _ in QUESTIONS:
            out.append(ask(Conversation(index, model, settings), question))  # fresh: no history effects
            print(f"  {out[-1]['ttft']:.2f}s {out[-1]['intent']:<12} {question[:60]}", file=sys.stderr, flush=True)
        for first, second, _ in FOLLOW_UPS:
            conv = Conversation(index, model, settings)
            out.append({"follow_up": [ask(conv, first), ask(conv, second)]})
    return out


def on_topic(source: dict, terms: list[str]) -> bool:
    blob = f"{source['title']} {source['text']}".lower()
    return any(term in blob for term in terms)


def score(replies: list[dict]) -> dict:
    """The quality table of one code path's replies, by this checkout's rules."""
    from topictalk.agent import attribution, substance
    from topictalk.indexing import embedding

    encoder = embedding.load("bundled")

    def embed(texts):
        return encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False)

    def asked(r) -> str:
        return " ".join([r["question"]] + [r["labels"].get(str(t), r["labels"].get(t, "")) for t in r["topics"]])

    def body(r) -> str:
        """The answer after its lead: a lead lists the index's own topics, it is not the model's claim."""
        lead = r.get("lead", "")
        return r["answer"][len(lead):] if lead and r["answer"].startswith(lead.strip()) else r["answer"]

    def grounded(r) -> bool:
        if not r["provided"]:
            return True
        table = attribution.SourceSentences.of([(s["n"], s["title"], s["text"]) for s in r["provided"]], embed)
        cited = [s["n"] for s in r["sources"]]
        return not attribution.review(body(r), cited, table, embed, question=asked(r), cite_at=2.0,
                                      ground_at=0.55).dropped

    rows = []
    for r, (question, terms) in zip(replies, QUESTIONS):
        texts = {s["n"]: (s["title"], s["text"]) for s in r["provided"]}
        row = {"question": question, "intent": r["intent"], "answer_source": r["answer_source"], "ttft": r["ttft"],
               "model_ttft": r["model_ttft"], "answer": r["answer"], "draft": r["draft"],
               "read_first": r.get("read_first")}
        if terms is None:
            row["admitted"] = r["intent"] == "off_corpus"
        else:
            # a lead written from the index (a list of topics) is not the model's answer: judge what follows
            row["substantive"] = substance.substantive(body(r), asked(r), texts)
            row["draft_substantive"] = substance.substantive(r["draft"], asked(r), texts)
            row["grounded"] = grounded(r)
            row["cited"] = len(r["sources"])
            row["on_topic"] = sum(on_topic(s, terms) for s in r["sources"])
        rows.append(row)
    follow = []
    for item, (_, _, terms) in zip(replies[len(QUESTIONS):], FOLLOW_UPS):
        first, second = item["follow_up"]
        if terms is None:
            wanted = ("themes", first["themes"][1:2]) if first["themes"] else ("topics", first["topics"][1:2])
            ok = bool(wanted[1]) and second[wanted[0]][:1] == wanted[1]
        else:  # issue 15: "that topic" after a search is the topic of the sources it cited
            ok = second["intent"] not in ("off_corpus", "search") and bool(second["sources"]) and \
                all(s["topic"] in first["topics"] for s in second["sources"])
        subject = terms is not None and bool(second["sources"]) and all(on_topic(s, terms) for s in second["sources"])
        follow.append({"first": first["question"], "second": second["question"], "ok": ok, "on_subject": subject,
                       "intent": second["intent"], "answer": second["answer"], "ttft": second["ttft"]})
    return {"rows": rows, "follow_ups": follow}


def table(name: str, scored: dict) -> list[str]:
    rows = [r for r in scored["rows"] if "substantive" in r]
    off = [r for r in scored["rows"] if "admitted" in r]
    cited = sum(r["cited"] for r in rows)
    ttft = sorted(r["ttft"] for r in scored["rows"])
    model = sorted(r["model_ttft"] for r in scored["rows"] if r["model_ttft"] is not None)
    later = sorted(f["ttft"] for f in scored["follow_ups"] if f.get("ttft") is not None)
    read = sorted(r["read_first"] for r in scored["rows"] if r.get("read_first") is not None)
    sources = {}
    for r in scored["rows"]:
        sources[r["answer_source"]] = sources.get(r["answer_source"], 0) + 1

    def pct(k):
        return f"{sum(r[k] for r in rows)}/{len(rows)}"

    return [
        f"{name}",
        f"  substantive (final answer):       {pct('substantive')}",
        f"  substantive (model's first try):  {pct('draft_substantive')}",
        f"  grounded:                         {pct('grounded')}",
        f"  citation precision:               {sum(r['on_topic'] for r in rows) / max(1, cited):.3f} "
        f"({sum(r['on_topic'] for r in rows)}/{cited}); answers all on topic "
        f"{sum(r['cited'] > 0 and r['on_topic'] == r['cited'] for r in rows)}/{len(rows)}",
        f"  off-corpus admitted:              {sum(r['admitted'] for r in off)}/{len(off)}",
        f"  follow-ups right:                 {sum(f['ok'] for f in scored['follow_ups'])}/{len(scored['follow_ups'])}"
        f" (after a search, every source on the subject's terms too: "
        f"{sum(f.get('on_subject', False) for f in scored['follow_ups'])})",
        f"  time to first token:              median {statistics.median(ttft):.2f} s, max {ttft[-1]:.2f} s",
        f"  first token of a follow-up:       median {statistics.median(later):.2f} s, max {later[-1]:.2f} s "
        "(the conversation's history in the prompt)" if later else "  first token of a follow-up:       -",
        f"  model's first token:              median {statistics.median(model):.2f} s, max {model[-1]:.2f} s"
        if model else "  model's first token:              -",
        f"  prompt tokens read before it:     median {statistics.median(read):.0f}, max {read[-1]}"
        if read else "  prompt tokens read before it:     -",
        f"  answer sources:                   {', '.join(f'{k} {v}' for k, v in sorted(sources.items()))}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--llm", default="bundled")
    parser.add_argument("--max-tokens", type=int, default=120, help="answer length cap (time is the constraint)")
    parser.add_argument("--before", help="another checkout whose code answers first (the baseline)")
    parser.add_argument("--answers", help="write every reply and its scores to this JSON file")
    parser.add_argument("--questions", help="a JSON file of [question, terms or null] pairs in place of QUESTIONS "
                        "(a held-out set kept out of the repository)")
    parser.add_argument("--only", help="only these questions, by position (e.g. 0,2,5; a quick look on a slow machine)")
    parser.add_argument("--follow-ups", type=int, help="only the first N follow-up pairs")
    parser.add_argument("--scored", nargs="*", metavar="NAME=FILE",
                        help="score replies collected before (--collect > FILE) instead of asking")
    parser.add_argument("--collect", action="store_true", help=argparse.SUPPRESS)  # child mode: print replies
    parser.add_argument("--replies", help="keep each run's replies in FILE-NAME.json (for --scored later)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                        help="a Settings field for the after run, e.g. --set sources=3 (repeatable)")
    parser.add_argument("--before-set", action="append", default=[], metavar="FIELD=JSON",
                        help="the same for the before run; with --before . it compares settings on one checkout")
    args = parser.parse_args()
    if args.questions:
        QUESTIONS[:] = [(q, t) for q, t in json.loads(Path(args.questions).read_text())]
    if args.only:
        QUESTIONS[:] = [QUESTIONS[int(i)] for i in args.only.split(",")]
    if args.follow_ups is not None:
        FOLLOW_UPS[:] = FOLLOW_UPS[: args.follow_ups]

    if args.collect:  # the code under test comes from PYTHONPATH
        print(f"  code: {which()}", file=sys.stderr, flush=True)
        overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
        print(json.dumps(collect(args.index_dir, args.llm, args.max_tokens, overrides)))
        return
    sys.path.insert(0, str(ROOT))  # the scorer's rules are this checkout's
    runs = {}
    for item in args.scored or []:  # e.g. before and after collected at once, under the same load
        name, file = item.split("=", 1)
        runs[name] = score(json.loads(Path(file).read_text()))
    paths = [] if args.scored else ([("before", Path(args.before).resolve())] if args.before else []) + [("after", ROOT)]
    changed = {} if args.scored else {"before": args.before_set, "after": args.set}  # Settings changed, per run
    for name, code in paths:
        changes = changed[name]
        print(f"{name}: {code} {' '.join(changes)}", file=sys.stderr, flush=True)
        env = env_for(code)
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "agent.py"), "--collect", "--index-dir",
                              args.index_dir, "--llm", args.llm, "--max-tokens", str(args.max_tokens)]
                             + (["--questions", str(Path(args.questions).resolve())] if args.questions else [])
                             + (["--only", args.only] if args.only else [])
                             + (["--follow-ups", str(args.follow_ups)] if args.follow_ups is not None else [])
                             + [f"--set={c}" for c in changes],
                             cwd=code, env=env, stdout=subprocess.PIPE, text=True, check=False)
        if out.returncode:
            sys.exit(f"{name} failed (its errors are above)")
        if args.replies:
            Path(f"{args.replies}-{name}.json").write_text(out.stdout)
        runs[name] = score(json.loads(out.stdout))
    manifest = json.loads((Path(args.index_dir) / "manifest.json").read_text()) \
        if (Path(args.index_dir) / "manifest.json").is_file() else {}
    print(kernels())
    print(f"index: {args.index_dir} {manifest.get('corpus', {})}; model {args.llm}; answer cap {args.max_tokens} "
          f"tokens; load {os.getloadavg()[0]:.1f}")
    for name, scored in runs.items():
        print("\n".join(table(f"{name} {' '.join(changed.get(name, []))}".strip(), scored)))
    if args.answers:
        Path(args.answers).write_text(json.dumps(runs, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
