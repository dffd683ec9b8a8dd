"""Seconds from `topictalk chat` to its page answering, this checkout against another, alternately.

    .venv/bin/python bench/chat_start.py --index-dir DIR [--before CHECKOUT] [--rounds 3]

Each round starts `topictalk chat --index-dir DIR` from each checkout in turn (--before's first: the
baseline; bench/checkout.py makes its child import that checkout's code) on a free port, and times the
command until an HTTP GET of the page succeeds, then stops it. What a user waits for before the chat
page opens: imports, the index opening (and its question encoder), the model loading, Gradio building
the app. No login, no browser: bench/app.py times the page in Chromium. Run it on an idle machine; the
host line comes first, compare only within one host.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
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


def page_up(code: Path, index: str, limit: float = 300.0) -> float:
    """Seconds until `topictalk chat` from ``code`` answers a GET of its page."""
    port = free_port()
    started = time.perf_counter()
    chat = subprocess.Popen([sys.executable, "-m", "topictalk.ui.cli", "chat", "--index-dir", index, "--port", str(port)],
                            env=env_for(code), cwd="/tmp", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while time.perf_counter() - started < limit:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                return time.perf_counter() - started
            except OSError:
                if chat.poll() is not None:
                    sys.exit(f"topictalk chat from {code} failed: {chat.stderr.read()[-2000:]}")
                time.sleep(0.1)
        sys.exit(f"topictalk chat from {code} did not answer within {limit:.0f} s")
    finally:
        chat.terminate()
        chat.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", required=True)
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
