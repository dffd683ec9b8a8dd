"""LLM runtime speed: prompt reading and decoding tokens/s, time to first token,
and what KV-cache prefix reuse saves.

    .venv/bin/python bench/llm.py [--llm SPEC ...] [--server] [--repeat 3]

For each runtime: a ~300-token and a ~1,500-token prompt (real arXiv abstracts
from ../shared/data when present, else synthetic text), then a second prompt
sharing the first 80% of the 1,500-token one, run cold (cache cleared) and
warm (right after the first). Ratios are within one process, same model.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from topictalk.agent.models import load  # noqa: E402
from topictalk.indexing.generation import GenerationOptions  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "arxiv_ml.jsonl.gz"


def corpus_text() -> str:
    if DATA.is_file():
        with gzip.open(DATA, "rt", encoding="utf-8") as f:
            return "\n\n".join(json.loads(next(f))["text"] for _ in range(60))
    words = "topic models cluster documents by meaning and label each cluster with a language model".split()
    return " ".join(words[i % len(words)] for i in range(20000))


def prompt_of(model, text: str, tokens: int) -> str:
    """The longest prefix of ``text`` whose token count is about ``tokens``."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if model.count_tokens(text[:mid]) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def timed(model, content: str, max_tokens: int) -> dict:
    messages = [{"role": "user", "content": content + "\n\nSummarize the text above in one sentence."}]
    start = time.perf_counter()
    first = None
    n = 0
    response = model.stream(messages, GenerationOptions(max_tokens=max_tokens, temperature=0.0))
    for _ in response:
        if first is None:
            first = time.perf_counter() - start
        n += 1
    total = time.perf_counter() - start
    prompt_tokens = response.usage.prompt_tokens or model.count_tokens(content)
    decoded = max(response.usage.completion_tokens, n)
    return {
        "ttft": first or total,
        "pp": prompt_tokens / (first or total),
        "tg": (decoded - 1) / (total - first) if first and decoded > 1 and total > first else float("nan"),
        "prompt_tokens": prompt_tokens,
    }


def fresh(content: str) -> str:
    """A unique first line, so that no runtime (a server included) can reuse a cached prefix."""
    return f"Request {time.perf_counter_ns()}.\n{content}"


def bench(spec: str, text: str, repeat: int) -> list[tuple]:
    rows = []
    with load(spec) as model:
        timed(model, "warm up", 4)
        for size in (300, 1500):
            content = prompt_of(model, text, size)
            runs = []
            for _ in range(repeat):
                runs.append(timed(model, fresh(content), 32))
            rows.append((spec, f"{size}-token prompt", statistics.median(r["prompt_tokens"] for r in runs),
                         statistics.median(r["pp"] for r in runs), statistics.median(r["tg"] for r in runs),
                         statistics.median(r["ttft"] for r in runs)))
        base = prompt_of(model, text, 1500)
        shared = base[: int(len(base) * 0.8)]
        second = shared + text[len(base): len(base) + len(base) - len(shared)]
        cold, warm = [], []
        for _ in range(repeat):
            cold.append(timed(model, fresh(second), 1)["ttft"])
            nonce = fresh("")
            timed(model, nonce + base, 1)
            warm.append(timed(model, nonce + second, 1)["ttft"])
        c, w = statistics.median(cold), statistics.median(warm)
        rows.append((spec, "80%-shared 2nd prompt", "", "", "", f"cold {c:.2f}s / warm {w:.2f}s = {c / w:.1f}x"))
    return rows


def start_server(gguf: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--port", str(port),
                             "--n_ctx", "4096", "--n_threads", str(os.cpu_count()), "--interrupt_requests", "False"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/models", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", action="append", help="model spec(s); default: bundled")
    parser.add_argument("--server", action="store_true", help="also bench the bundled GGUF behind llama_cpp.server")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from bench.checkout import kernels

    print(kernels(), flush=True)  # every figure comes with its host
    text = corpus_text()
    specs = args.llm or ["bundled"]
    proc = None
    if args.server:
        from topictalk.agent.bundled import gguf_path

        proc, url = start_server(str(gguf_path()))
        specs.append(f"openai:{url}")
    rows = []
    try:
        for spec in specs:
            rows += bench(spec, text, args.repeat)
    finally:
        if proc:
            proc.terminate()
    print(f"cores: {os.cpu_count()}, median of {args.repeat} runs; pp = prompt tokens/s, tg = decode tokens/s")
    print(f"{'runtime':<28} {'case':<24} {'tokens':>6} {'pp tok/s':>9} {'tg tok/s':>9}  ttft")
    def fmt(v, w: int) -> str:
        return f"{v:>{w}.1f}" if isinstance(v, float) else f"{v!s:>{w}}"

    for spec, case, n, pp, tg, ttft in rows:
        ttft_s = f"{ttft:.2f}s" if isinstance(ttft, float) else ttft
        print(f"{spec[:28]:<28} {case:<24} {fmt(n, 6)} {fmt(pp, 9)} {fmt(tg, 9)}  {ttft_s}")


if __name__ == "__main__":
    main()
