"""What gradio's queue polling costs the chat's host: an idle app's CPU, and one model answer beside it.

    .venv/bin/python bench/queue_poll.py --index-dir DIR [--llm bundled] [--runs 8] [--idle-s 30]

The app (`ui.app.build`) serves ``DIR`` in this process, with no page open. Two settings of its queue
alternate: gradio's own (off Windows it looks for work every 1 ms and for progress every 10 ms) and
topictalk's (`ui.app.quiet_queue`: every QUEUE_POLL_S and PROGRESS_POLL_S). For each it prints
- this process's CPU seconds per minute while nothing happens (``--idle-s`` a round, two rounds);
- the median time of one greedy answer of the model (a fixed prompt of six abstracts with a different first
  line each run, so nothing is read from the KV cache; 60 tokens) over ``--runs`` runs, and the ratio.
Prints the host line first: compare only within one host, idle.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from topictalk.agent.models import load  # noqa: E402
from topictalk.agent.retrieval import TopicIndex  # noqa: E402
from topictalk.indexing import host, store  # noqa: E402
from topictalk.indexing.generation import GenerationOptions  # noqa: E402
from topictalk.ui import app  # noqa: E402

GRADIO = {"sleep_when_free": 0.001, "progress_update_sleep_when_free": 0.01}  # gradio 6's, off Windows
OURS = {"sleep_when_free": app.QUEUE_POLL_S, "progress_update_sleep_when_free": app.PROGRESS_POLL_S}
ANSWER = GenerationOptions(temperature=0.0, max_tokens=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--llm", default="bundled")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--idle-s", type=float, default=30.0)
    args = parser.parse_args()
    print(host.probe().line(), flush=True)

    index = TopicIndex.open(store.Location(path=Path(args.index_dir)))
    settings = {"gradio": GRADIO, "topictalk": OURS}
    with load(args.llm) as model:
        demo = app.build(app.AppParts(index, model))
        demo.launch(**app.launch_options(app.ServeOptions(port=_free_port())))
        try:
            def use(name: str) -> None:
                for field, seconds in settings[name].items():
                    setattr(demo._queue, field, seconds)

            index.examples()  # the router's examples are embedded in a thread at start: done before measuring
            time.sleep(5)
            idle = {name: [] for name in settings}
            for _ in range(2):
                for name in settings:
                    use(name)
                    time.sleep(1)
                    cpu, wall = time.process_time(), time.perf_counter()
                    time.sleep(args.idle_s)
                    idle[name].append(60 * (time.process_time() - cpu) / (time.perf_counter() - wall))
            hits = index.search(index.embed("graph neural networks for traffic"), 6)
            papers = "\n".join(f"- {h.document.title}: {h.document.text[:300]}" for h in hits)
            model.complete([{"role": "user", "content": f"Say what these share.\n{papers}"}], ANSWER)  # warm
            answers = {name: [] for name in settings}
            for run in range(args.runs):
                for name in settings:
                    use(name)
                    time.sleep(1)
                    asked = [{"role": "user", "content": f"Run {run}, {name}: say in two sentences what these "
                                                         f"papers share.\n{papers}"}]
                    start = time.perf_counter()
                    model.complete(asked, ANSWER)
                    answers[name].append(time.perf_counter() - start)
        finally:
            demo.close()
    for name in settings:
        print(f"{name:<10} idle app: {statistics.mean(idle[name]):.2f} CPU s a minute "
              f"({', '.join(f'{x:.2f}' for x in idle[name])}); one answer: median "
              f"{statistics.median(answers[name]):.2f} s of {args.runs} "
              f"({', '.join(f'{x:.2f}' for x in answers[name])})")
    ratio = statistics.median(answers["topictalk"]) / statistics.median(answers["gradio"])
    print(f"answer time, topictalk / gradio polling: x{ratio:.3f} (n={args.runs} each, alternated)")
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    raise SystemExit(main())
