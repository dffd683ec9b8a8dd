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
chat page".
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkout import env_for  # noqa: E402 - bench/ is sys.path[0] here

from topictalk.indexing import host  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_up(code: Path, index: str | None, limit: float = 900.0) -> float:
    """Seconds until `topictalk chat` over ``index`` (None: `topictalk demo` into a fresh folder) from ``code``
    answers a GET of its page."""
    port = free_port()
    fresh = None if index else tempfile.mkdtemp(prefix="chat-start-demo-")
    command = ["chat", "--index-dir", index] if index else ["demo", "--index-dir", fresh, "--quiet"]
    said = tempfile.TemporaryFile("w+")  # a file, not a pipe: a long run's progress lines must not block it
    started = time.perf_counter()
    chat = subprocess.Popen([sys.executable, "-m", "topictalk.ui.cli", *command, "--port", str(port)],
                            env=env_for(code, HF_HUB_OFFLINE="1"), cwd="/tmp", stdout=subprocess.DEVNULL,
                            stderr=said, text=True)
    try:
        while time.perf_counter() - started < limit:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                return time.perf_counter() - started
            except OSError:
                if chat.poll() is not None:
                    said.seek(0)
                    sys.exit(f"topictalk {command[0]} from {code} failed: {said.read()[-2000:]}")
                time.sleep(0.1)
        sys.exit(f"topictalk {command[0]} from {code} did not answer within {limit:.0f} s")
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
    args = parser.parse_args()
    print(host.probe().line(), flush=True)
    codes = ([Path(args.before)] if args.before else []) + [ROOT]
    times: dict[Path, list[float]] = {code: [] for code in codes}
    for r in range(args.rounds):
        for code in codes:
            times[code].append(page_up(code, args.index_dir))
            print(f"round {r + 1}, {code}: page answers after {times[code][-1]:.1f} s", flush=True)
    for code in codes:
        print(f"{code}: median {statistics.median(times[code]):.1f} s over {args.rounds} rounds "
              f"({min(times[code]):.1f}-{max(times[code]):.1f})")
    if args.before:
        print(f"ratio this / before: {statistics.median(times[ROOT]) / statistics.median(times[codes[0]]):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
