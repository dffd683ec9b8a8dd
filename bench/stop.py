"""What Stop costs and how soon it frees llama.cpp: reading a prompt in steps against reading it at once.

    .venv/bin/python bench/stop.py [--llm bundled] [--prompt-tokens 1500] [--runs 3]

llama.cpp reads a prompt in one call; topictalk reads all but its last token in steps of
``agent.llamacpp.PROMPT_STEP`` and looks at Stop between them. For each step size (the whole prompt at
once is the baseline, measured in the same process) it prints the median time to read a prompt of about
``--prompt-tokens`` tokens from a cold cache (the first answer token included), over ``--runs`` runs, as a
ratio to the baseline; then how long after ``stop()`` the stream ends when Stop comes while the prompt is
being read (median over ``--runs``). Prints the host line first: compare only within one host, idle.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from topictalk.agent import llamacpp  # noqa: E402
from topictalk.agent.models import load  # noqa: E402
from topictalk.indexing import host  # noqa: E402
from topictalk.indexing.generation import GenerationOptions  # noqa: E402

ONE = GenerationOptions(max_tokens=1)
WHOLE = 1_000_000  # a step longer than any prompt: read at once, as llama.cpp does


def prompt(model, tokens: int) -> list[dict]:
    sentence = "Federated learning trains a shared model on data that stays with its owners. "
    per = max(1, model.count_tokens(sentence))
    return [{"role": "system", "content": "Answer from the sources, citing them as [n]."},
            {"role": "user", "content": sentence * max(1, tokens // per)}]


def cold(model) -> None:
    model.generate([{"role": "user", "content": "Hi"}], ONE)  # nothing of the next prompt is cached


def read_time(model, messages, step: int, runs: int) -> float:
    llamacpp.PROMPT_STEP = step
    times = []
    for _ in range(runs):
        cold(model)
        start = time.perf_counter()
        model.generate(messages, ONE)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stop_latency(model, messages, step: int, runs: int, after: float) -> float:
    llamacpp.PROMPT_STEP = step
    waits = []
    for _ in range(runs):
        cold(model)
        response = model.stream(messages, GenerationOptions(max_tokens=64))
        done = threading.Event()
        threading.Thread(target=lambda r=response: (r.text(), done.set()), daemon=True).start()
        time.sleep(after)  # Stop comes while the prompt is being read
        stopped = time.perf_counter()
        response.stop()
        done.wait()
        waits.append(time.perf_counter() - stopped)
    return statistics.median(waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", default="bundled")
    parser.add_argument("--prompt-tokens", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(host.probe().line(), flush=True)
    model = load(args.llm)
    messages = prompt(model, args.prompt_tokens)
    n = len(model.tokenize(model.render(messages)))
    base = read_time(model, messages, WHOLE, args.runs)
    after = base / 3
    print(f"{args.llm}: a prompt of {n} tokens, cold cache, median of {args.runs} runs each; Stop {after:.2f} s "
          "into the read")
    print(f"{'step':>8} {'read (s)':>9} {'ratio':>6} {'Stop -> free (s)':>17}")
    for step in (WHOLE, 256, 128, 64, 32):
        seconds = base if step == WHOLE else read_time(model, messages, step, args.runs)
        wait = stop_latency(model, messages, step, args.runs, after)
        print(f"{'whole' if step == WHOLE else step:>8} {seconds:>9.2f} {seconds / base:>6.2f} {wait:>17.2f}",
              flush=True)
    model.close()


if __name__ == "__main__":
    main()
