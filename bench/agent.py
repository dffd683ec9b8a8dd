"""Agent quality and speed on a real arXiv index.

    .venv/bin/python bench/agent.py --index-dir /tmp/idx25k [--llm bundled] [--max-tokens 120]

Build the index first, e.g. `topictalk index --input ../shared/data/arxiv_ml.jsonl.gz
--index-dir /tmp/idx25k` (all 24,914 documents) or with `--limit N`; the sample size
is read from the index's manifest and printed.

Each question names terms that a relevant abstract contains (checked by hand on
this corpus); a cited source is on topic when its title or abstract contains one.
Off-corpus questions must be admitted (intent off_corpus). Reported: the share of
answers whose cited sources are all on topic, the share citing at least one
source, the share of valid citations (every [n] names a provided source: must be
100%), retrieval latency p50/p95 (question embedding + Chroma queries) and time
to first token of the whole turn with the chosen model.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.conversation import Conversation, Settings  # noqa: E402
from agent.models import load  # noqa: E402
from agent.retrieval import TopicIndex  # noqa: E402
from indexing import store  # noqa: E402

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
    ("What work studies explainability of neural networks?", ["explain", "interpretab", "attribution"]),
    ("Are there topics about video understanding?", ["video"]),
    ("Which papers use LLMs for code generation?", ["code"]),
    ("What is the best pizza dough recipe in Naples?", None),
    ("Who won the football world cup in 1998?", None),
    ("How do I renew my passport in France?", None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--llm", default="bundled")
    parser.add_argument("--max-tokens", type=int, default=120, help="answer length cap (time is the constraint)")
    args = parser.parse_args()

    index = TopicIndex.open(store.Location(path=Path(args.index_dir)))
    corpus = index.manifest["corpus"]
    print(f"index: {corpus['documents']} documents ({corpus['source']}), {len(index.real_topics)} topics")

    # retrieval latency: embedding + document search + topic ranking, 5 passes over the questions
    latencies = []
    for _ in range(5):
        for question, _terms in QUESTIONS:
            t = time.perf_counter()
            vector = index.embed(question)
            index.search(vector, 4)
            index.rank_topics(vector, 5)
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    p50, p95 = statistics.median(latencies), latencies[int(0.95 * (len(latencies) - 1))]

    rows, ttfts = [], []
    with load(args.llm) as model:
        settings = Settings(max_tokens=args.max_tokens)
        Conversation(index, model, settings).ask("What is this corpus about?")  # warm the system prompt cache
        for question, terms in QUESTIONS:
            conv = Conversation(index, model, settings)  # one question per conversation: no history effects
            start = time.perf_counter()
            response = conv.respond(question)
            first = None
            for _ in response:
                if first is None:
                    first = time.perf_counter() - start
            reply = response.reply()
            ttfts.append(first or 0.0)
            numbers = {int(n) for group in re.findall(r"\[([\d,\s]+)\]", reply.answer) for n in re.findall(r"\d+", group)}
            valid = numbers <= {s.n for s in reply.provided}
            if terms is None:
                ok = reply.intent == "off_corpus"
            else:
                def on_topic(s) -> bool:
                    blob = f"{s.title} {s.text}".lower()
                    return any(term in blob for term in terms)

                ok = bool(reply.sources) and all(on_topic(s) for s in reply.sources)
            provided_ok = terms is None or any(
                any(t in f"{s.title} {s.text}".lower() for t in terms) for s in reply.provided)
            rows.append((question, reply.intent, len(reply.sources), ok, valid, provided_ok, first))
            print(f"{'ok ' if ok else 'NO '} {reply.intent:<12} cited={len(reply.sources)} ttft={first or 0:.2f}s "
                  f"{question[:60]}", flush=True)

    answered = [r for r, (_, terms) in zip(rows, QUESTIONS) if terms is not None]
    off = [r for r, (_, terms) in zip(rows, QUESTIONS) if terms is None]
    ttft_sorted = sorted(ttfts)
    print(f"\nquestions: {len(rows)} ({len(answered)} in corpus, {len(off)} off corpus); answer cap "
          f"{args.max_tokens} tokens; model {args.llm}")
    print(f"answers whose cited sources are all on topic: {sum(r[3] for r in answered)}/{len(answered)}")
    print(f"answers citing at least one source:            {sum(r[2] > 0 for r in answered)}/{len(answered)}")
    print(f"retrieval put an on-topic abstract in context:  {sum(r[5] for r in answered)}/{len(answered)}")
    print(f"off-corpus questions admitted:                 {sum(r[3] for r in off)}/{len(off)}")
    print(f"valid citations:                                {sum(r[4] for r in rows)}/{len(rows)} answers")
    print(f"retrieval latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(latencies)} queries")
    print(f"time to first token: p50 {statistics.median(ttfts):.2f} s, "
          f"p95 {ttft_sorted[int(0.95 * (len(ttfts) - 1))]:.2f} s")


if __name__ == "__main__":
    main()
