"""Questions about the whole corpus, and multi-turn ones, answered by two code paths and scored side by side.

    .venv/bin/python bench/global.py --arxiv /tmp/route-arxiv --news /tmp/route-bbc --before /tmp/route-before
        [--llm bundled-small] [--max-tokens 100] [--questions HELD_OUT.json] [--corpus arxiv]

Build the indexes first (small, labels by keywords), e.g. `python -m ui.cli index --input
../shared/data/arxiv_ml.jsonl.gz --limit 600 --no-llm --index-dir /tmp/route-arxiv` and the same of
bbc_news.jsonl.gz (400) into /tmp/route-bbc. ``--before DIR`` is another checkout (`git worktree add
--detach /tmp/route-before f8df3b5`): its code answers first, in a child process, then this checkout's;
one scorer (this file) judges both, so the table compares code paths.

The questions below were written before the new path was built (issue 26). Each conversation is a list
of turns: the question, the intents that route it right, and for a lookup the terms a relevant document
holds. Scored per path:
- routing right: the reply's intent is one of the turn's;
- themes covered (turns marked global): of the index's themes, those the answer names (label) or cites
  a document of;
- sentences grounded: answer sentences of 6+ words that carry a citation, or that the model wrote
  (after a lead the index wrote), whose nearest sentence among the provided sources is >= 0.55 (MiniLM
  cosine, attribution.review's check with its word-support rule);
- citation precision: a citation [n] is precise when the sentence carrying it is grounded in source n
  (the same check against that source alone); where a turn names terms, also the share of cited
  sources holding one;
- time to first text and to the model's first token (under the shared machine's load: read as
  an order of magnitude).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from checkout import env_for  # noqa: E402 - bench/ is sys.path[0] here

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

BRIEF, OVERVIEW, GLOBAL = ["brief"], ["overview"], ["global"]
CONVERSATIONS: list[dict] = [
    # arXiv: what the corpus is, asked many ways
    {"corpus": "arxiv", "turns": [{"q": "What is this corpus about?", "route": BRIEF, "global": True}]},
    {"corpus": "arxiv", "turns": [{"q": "what's in here?", "route": BRIEF, "global": True}]},
    {"corpus": "arxiv", "turns": [{"q": "¿De qué trata este corpus?", "route": BRIEF, "global": True}]},
    {"corpus": "arxiv", "turns": [{"q": "what are the biggest topcis?", "route": OVERVIEW}]},
    # global questions
    {"corpus": "arxiv", "turns": [{"q": "What are the main research directions in these papers?", "route": GLOBAL,
                                   "global": True}]},
    {"corpus": "arxiv", "turns": [{"q": "What methods come up across topics?", "route": GLOBAL, "global": True}]},
    {"corpus": "arxiv", "turns": [{"q": "What are the open problems these papers point to?", "route": GLOBAL,
                                   "global": True}]},
    {"corpus": "arxiv", "turns": [{"q": "What do these papers disagree on?", "route": GLOBAL, "global": True}]},
    {"corpus": "arxiv", "turns": [{"q": "Which emerging trends do these papers show?", "route": GLOBAL,
                                   "global": True}]},
    # counts and limits
    {"corpus": "arxiv", "turns": [{"q": "How many papers are about reinforcement learning?", "route": ["count"],
                                   "terms": ["reinforcement", "policy", "reward", "agent"]}]},
    {"corpus": "arxiv", "turns": [{"q": "Give me 8 papers on graph neural networks", "route": ["list"],
                                   "terms": ["graph", "gnn"]}]},
    {"corpus": "arxiv", "turns": [{"q": "Which are the most cited papers?", "route": ["not_in_documents"]}]},
    {"corpus": "arxiv", "turns": [{"q": "Who are the authors of the reinforcement learning papers?",
                                   "route": ["not_in_documents"]}]},
    # comparisons, related topics, follow-ups
    {"corpus": "arxiv", "turns": [{"q": "How does federated learning work differ from differential privacy work?",
                                   "route": ["compare"], "terms": ["federated", "privacy", "private"]}]},
    {"corpus": "arxiv", "turns": [{"q": "What are the biggest topics?", "route": OVERVIEW},
                                  {"q": "Which other topics does topic 1 relate to?", "route": ["related_topics"]}]},
    {"corpus": "arxiv", "turns": [{"q": "What is known about adversarial attacks on image classifiers?",
                                   "route": ["search"], "terms": ["adversarial"]},
                                  {"q": "and what about defenses?", "route": ["search"],
                                   "terms": ["defen", "robust"]}]},
    {"corpus": "arxiv", "turns": [{"q": "How many papers study federated learning?", "route": ["count"],
                                   "terms": ["federated"]},
                                  {"q": "what about differential privacy instead?", "route": ["count"],
                                   "terms": ["privacy", "private"]}]},
    # news
    {"corpus": "news", "turns": [{"q": "What is this collection about?", "route": BRIEF, "global": True}]},
    {"corpus": "news", "turns": [{"q": "Give me an overview of the main subjects in these articles",
                                  "route": ["brief", "overview", "global"], "global": True}]},
    {"corpus": "news", "turns": [{"q": "What are the main themes across these news articles?",
                                  "route": ["brief", "global"], "global": True}]},
    {"corpus": "news", "turns": [{"q": "How many articles are about football?", "route": ["count"],
                                  "terms": ["football", "match", "league", "cup", "goal", "club"]}]},
    {"corpus": "news", "turns": [{"q": "Give me 5 articles on the stock market", "route": ["list"],
                                  "terms": ["shares", "stock", "market", "investor"]}]},
    {"corpus": "news", "turns": [{"q": "What do these articles disagree on?", "route": GLOBAL, "global": True}]},
    {"corpus": "news", "turns": [{"q": "What do the articles say about the general election?", "route": ["search"],
                                  "terms": ["election"]},
                                 {"q": "and the other side?", "route": ["search"],
                                  "terms": ["election", "labour", "tory", "tories", "conservative", "vote"]}]},
    {"corpus": "news", "turns": [{"q": "Which articles discuss mobile phones?", "route": ["search"],
                                  "terms": ["mobile", "phone"]},
                                 {"q": "what about video games instead?", "route": ["search"], "terms": ["game"]}]},
    {"corpus": "news", "turns": [{"q": "When were these articles published?", "route": ["not_in_documents"]}]},
]


def collect(indexes: dict[str, str], llm: str, max_tokens: int, conversations: list[dict]) -> list[dict]:
    """Every turn's reply by the code on sys.path (this checkout or --before's), as plain data."""
    from topictalk.agent.conversation import Conversation, Settings
    from topictalk.agent.models import load
    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import store

    opened = {name: TopicIndex.open(store.Location(path=Path(path))) for name, path in indexes.items()}

    def source(s) -> dict:
        return {"n": s.n, "id": s.id, "title": s.title, "text": s.text, "topic": s.topic}

    def ask(conv, index, question: str) -> dict:
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
        snap = index.snapshot()
        themes = [{"id": t.id, "label": t.label, "topics": list(t.topic_ids)} for t in snap.themes]
        return {"question": question, "answer": reply.answer, "lead": lead, "intent": reply.intent,
                "topics": reply.topics, "themes": getattr(reply, "themes", []), "index_themes": themes,
                "answer_source": reply.answer_source, "sources": [source(s) for s in reply.sources],
                "provided": [source(s) for s in reply.provided], "ttft": first or 0.0, "model_ttft": model_first,
                "seconds": time.perf_counter() - start}

    out = []
    with load(llm) as model:
        settings = Settings(max_tokens=max_tokens)
        for conversation in conversations:
            index = opened[conversation["corpus"]]
            conv = Conversation(index, model, settings)
            turns = []
            for turn in conversation["turns"]:
                turns.append(ask(conv, index, turn["q"]))
                print(f"  {turns[-1]['ttft']:.2f}s {turns[-1]['intent']:<16} {turn['q'][:60]}", file=sys.stderr,
                      flush=True)
            out.append(turns)
    return out


_CITE = re.compile(r"\[(\d+)\]")


def score(replies: list[list[dict]], conversations: list[dict]) -> list[dict]:
    """One row per turn, by this checkout's rules."""
    from topictalk.agent import attribution
    from topictalk.indexing import embedding

    model = embedding.load("bundled")

    def embed(texts):
        return model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)

    rows = []
    for turns, conversation in zip(replies, conversations):
        for r, turn in zip(turns, conversation["turns"]):
            lead = r.get("lead") or ""
            answer = r["answer"]
            written = answer[len(lead.strip()):] if lead and answer.startswith(lead.strip()) else answer
            # judged: every sentence the model wrote, and every sentence of the index's lead that cites
            judged = [s for s in attribution.sentences(written)] + \
                [s for s in attribution.sentences(lead) if _CITE.search(s)]
            judged = [s for s in judged if attribution.words(s) >= attribution.MIN_CLAIM_WORDS]
            provided = {s["n"]: s for s in r["provided"]}
            grounded = precise = citations = 0
            table = attribution.SourceSentences.of([(s["n"], s["title"], s["text"]) for s in r["provided"]], embed) \
                if provided else None
            for sentence in judged:
                ok = False
                if table is not None:
                    review = attribution.review(sentence, [], table, embed, question=turn["q"], cite_at=2.0,
                                                ground_at=0.55)
                    ok = not review.dropped
                grounded += ok
                for n in {int(n) for n in _CITE.findall(sentence)}:
                    citations += 1
                    if n in provided:
                        alone = attribution.SourceSentences.of([(n, provided[n]["title"], provided[n]["text"])], embed)
                        precise += not attribution.review(sentence, [], alone, embed, question=turn["q"], cite_at=2.0,
                                                          ground_at=0.55).dropped
            row = {"question": turn["q"], "intent": r["intent"], "routed": r["intent"] in turn["route"],
                   "judged": len(judged), "grounded": grounded, "citations": citations, "precise": precise,
                   "ttft": r["ttft"], "model_ttft": r["model_ttft"], "answer": answer,
                   "answer_source": r["answer_source"]}
            if turn.get("terms"):
                terms = turn["terms"]
                row["cited"] = len(r["sources"])
                row["on_topic"] = sum(any(t in f"{s['title']} {s['text']}".lower() for t in terms) for s in r["sources"])
            if turn.get("global"):
                cited_topics = {s["topic"] for s in r["sources"]}
                low = answer.lower()
                themes = r["index_themes"]
                covered = [t for t in themes if t["label"].lower() in low or cited_topics & set(t["topics"])]
                row["themes"] = (len(covered), len(themes))
            rows.append(row)
    return rows


def table(name: str, rows: list[dict]) -> list[str]:
    judged = sum(r["judged"] for r in rows)
    cites = sum(r["citations"] for r in rows)
    termed = [r for r in rows if "cited" in r]
    themed = [r for r in rows if "themes" in r]
    ttft = sorted(r["ttft"] for r in rows)
    model = sorted(r["model_ttft"] for r in rows if r["model_ttft"] is not None)
    covered = sum(r["themes"][0] for r in themed), sum(r["themes"][1] for r in themed)
    return [
        f"{name}",
        f"  routing right:            {sum(r['routed'] for r in rows)}/{len(rows)}",
        f"  themes covered (global):  {covered[0]}/{covered[1]} = {covered[0] / max(1, covered[1]):.2f} "
        f"over {len(themed)} turns",
        f"  sentences grounded:       {sum(r['grounded'] for r in rows)}/{judged} = "
        f"{sum(r['grounded'] for r in rows) / max(1, judged):.2f}",
        f"  citation precision:       {sum(r['precise'] for r in rows)}/{cites} = "
        f"{sum(r['precise'] for r in rows) / max(1, cites):.2f} (sentence grounded in the source it cites)",
        f"  cited sources on terms:   {sum(r['on_topic'] for r in termed)}/{sum(r['cited'] for r in termed)} "
        f"over {len(termed)} lookup turns",
        f"  first text:               median {statistics.median(ttft):.2f} s, max {ttft[-1]:.2f} s (under load)",
        f"  model's first token:      median {statistics.median(model):.2f} s over {len(model)} turns (under load)"
        if model else "  model's first token:      - (no turn asked the model)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arxiv", required=True, help="index of arXiv abstracts")
    parser.add_argument("--news", required=True, help="index of BBC news")
    parser.add_argument("--llm", default="bundled-small")
    parser.add_argument("--max-tokens", type=int, default=100)
    parser.add_argument("--before", help="another checkout whose code answers first (the baseline)")
    parser.add_argument("--questions", help="a JSON file of conversations in place of CONVERSATIONS (held out)")
    parser.add_argument("--corpus", choices=["arxiv", "news"], help="only this corpus's conversations")
    parser.add_argument("--answers", help="write every scored turn to this JSON file")
    parser.add_argument("--keep", help="keep each path's replies in KEEP-NAME.json and reuse them when there: the "
                        "baseline's answers need not be generated again (its times are then from that run)")
    parser.add_argument("--collect", action="store_true", help=argparse.SUPPRESS)  # child mode: print replies
    args = parser.parse_args()
    if args.questions:
        CONVERSATIONS[:] = json.loads(Path(args.questions).read_text())
    if args.corpus:
        CONVERSATIONS[:] = [c for c in CONVERSATIONS if c["corpus"] == args.corpus]
    indexes = {"arxiv": args.arxiv, "news": args.news}
    if args.collect:
        print(json.dumps(collect(indexes, args.llm, args.max_tokens, CONVERSATIONS)))
        return
    sys.path.insert(0, str(ROOT))
    runs = {}
    paths = ([("before", Path(args.before).resolve())] if args.before else []) + [("after", ROOT)]
    forwarded = ["--arxiv", args.arxiv, "--news", args.news, "--llm", args.llm, "--max-tokens", str(args.max_tokens)] \
        + (["--questions", str(Path(args.questions).resolve())] if args.questions else []) \
        + (["--corpus", args.corpus] if args.corpus else [])
    for name, code in paths:
        kept = Path(f"{args.keep}-{name}.json") if args.keep else None
        if kept is not None and kept.is_file():
            runs[name] = score(json.loads(kept.read_text()), CONVERSATIONS)
            continue
        print(f"{name}: {code}", file=sys.stderr, flush=True)
        env = env_for(code)
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "global.py"), "--collect", *forwarded], cwd=code,
                             env=env, stdout=subprocess.PIPE, text=True, check=False)
        if out.returncode:
            sys.exit(f"{name} failed (its errors are above)")
        if kept is not None:
            kept.write_text(out.stdout)
        runs[name] = score(json.loads(out.stdout), CONVERSATIONS)
    print(f"{sum(len(c['turns']) for c in CONVERSATIONS)} turns in {len(CONVERSATIONS)} conversations; model {args.llm};"
          f" answer cap {args.max_tokens} tokens; load {os.getloadavg()[0]:.1f}")
    for name, rows in runs.items():
        print("\n".join(table(name, rows)))
    if args.answers:
        Path(args.answers).write_text(json.dumps(runs, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
