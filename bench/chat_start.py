"""Seconds from `topictalk chat` (or `topictalk demo`) to its page answering, this checkout against another.

    .venv/bin/python bench/chat_start.py --index-dir DIR [--before CHECKOUT] [--rounds 3]
    .venv/bin/python bench/chat_start.py --demo [--before CHECKOUT] [--rounds 1]

Each round starts `topictalk chat --index-dir DIR` from each checkout in turn (--before's first: the
baseline; bench/checkout.py makes its child import that checkout's code) on a free port, and times the
command until an HTTP GET of the page succeeds, then stops it. What a user waits for before the chat
page opens: imports, the index opening (and its question encoder), the model loading, Gradio building
the app. No login, no browser: bench/app.py times the page in Chromium. Run it on an idle machine; the
host line comes first, compare only within one host.

--demo times `topictalk demo` instead, offline (HF_HUB_OFFLINE=1: the bundled 2,000 abstracts, 1,500 of
them indexed with LLM labels on a CPU) into a fresh folder each run: issue 28's "command to an answering
chat page". It then waits for the model's labels (which a CPU demo writes after the page opened), and with
--ask N asks N questions through the app's /ask endpoint 15 s after the page, while they are written: the
seconds to each answer's first text and to its end.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkout import env_for  # noqa: E402 - bench/ is sys.path[0] here

from topictalk.indexing import host  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


QUESTIONS = ["What are graph neural networks used for?",
             "Which papers study federated learning under privacy constraints?",
             "How do papers detect hallucinations in language models?"]
LABELS_WRITTEN = "labels and descriptions are written"  # the demo's line once the model's labels are in
LABELS_LATER = "the chat opens with keyword labels"  # ... and its line when the page opens before them


@dataclass
class Run:
    page: float  # seconds from the command to its page answering a GET
    labels: float | None = None  # to the model's labels committed (the demo); the page's time when they came first
    asked: list[tuple[float, float]] = field(default_factory=list)  # per question: seconds to first text, to its end


def ask(url: str, question: str) -> tuple[float, float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    started, first = time.perf_counter(), None
    for item in client.submit(question, api_name="/ask"):
        if first is None and str(item.get("answer", "")).strip():
            first = time.perf_counter() - started
    return (first if first is not None else float("nan")), time.perf_counter() - started


def page_up(code: Path, index: str | None, limit: float = 900.0, questions: int = 0) -> Run:
    """Seconds until `topictalk chat` over ``index`` (None: `topictalk demo` into a fresh folder) from ``code``
    answers a GET of its page; a demo's run then goes on until its labels are written, asking ``questions``
    of the page meanwhile."""
    port = free_port()
    fresh = None if index else tempfile.mkdtemp(prefix="chat-start-demo-")
    command = ["chat", "--index-dir", index] if index else ["demo", "--index-dir", fresh, "--quiet"]
    said = tempfile.TemporaryFile("w+")  # a file, not a pipe: a long run's progress lines must not block it
    started = time.perf_counter()
    chat = subprocess.Popen([sys.executable, "-m", "topictalk.ui.cli", *command, "--port", str(port)],
                            env=env_for(code, HF_HUB_OFFLINE="1"), cwd="/tmp", stdout=subprocess.DEVNULL,
                            stderr=said, text=True)

    def log() -> str:
        said.seek(0)
        return said.read()

    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if time.perf_counter() - started > limit:
                sys.exit(f"topictalk {command[0]} from {code} did not answer within {limit:.0f} s")
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if chat.poll() is not None:
                    sys.exit(f"topictalk {command[0]} from {code} failed: {log()[-2000:]}")
                time.sleep(0.1)
        run = Run(time.perf_counter() - started)
        if index:
            return run
        if LABELS_LATER not in log():
            run.labels = run.page
        if questions:
            time.sleep(15)  # a visitor reads the page first; the chat's prompt start is read meanwhile
            run.asked = [ask(url, q) for q in (QUESTIONS * questions)[:questions]]
        while run.labels is None and time.perf_counter() - started < limit:
            if LABELS_WRITTEN in log():
                run.labels = time.perf_counter() - started
            time.sleep(0.5)
        return run
    finally:
        chat.terminate()
        chat.wait()
        said.close()
        if fresh:
            shutil.rmtree(fresh, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--index-dir")
    source.add_argument("--demo", action="store_true", help="time `topictalk demo` (offline) instead")
    parser.add_argument("--before", help="another checkout (the baseline)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ask", type=int, default=0, help="--demo: questions asked while the labels are written")
    args = parser.parse_args()
    print(host.probe().line(), flush=True)
    codes = ([Path(args.before)] if args.before else []) + [ROOT]
    times: dict[Path, list[float]] = {code: [] for code in codes}
    for r in range(args.rounds):
        for code in codes:
            run = page_up(code, args.index_dir, questions=args.ask)
            times[code].append(run.page)
            labels = f"; labels written after {run.labels:.1f} s" if run.labels is not None else ""
            print(f"round {r + 1}, {code}: page answers after {run.page:.1f} s{labels}", flush=True)
            for question, (first, whole) in zip(QUESTIONS * max(1, args.ask), run.asked):
                print(f"  {question!r}: first text {first:.2f} s, whole answer {whole:.1f} s", flush=True)
    for code in codes:
        print(f"{code}: median {statistics.median(times[code]):.1f} s over {args.rounds} rounds "
              f"({min(times[code]):.1f}-{max(times[code]):.1f})")
    if args.before:
        print(f"ratio this / before: {statistics.median(times[ROOT]) / statistics.median(times[codes[0]]):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
