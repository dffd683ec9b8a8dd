"""App speed in a real browser: page load, time to first streamed token, N users at once.

    .venv/bin/python bench/app.py [--index-dir DIR] [--users 8] [--max-tokens 128] [--repeat 3] [--llm SPEC]

Starts `topictalk chat` on 127.0.0.1 behind a login (as a shared deployment runs) over
--index-dir, or over a fresh 300-abstract index of ../shared/data/arxiv_ml.jsonl.gz built
as the test fixture builds it, and drives headless Chromium (Playwright):

  page load   a logged-in browser opens the app until the question box is usable
  ttft        Enter pressed until the first answer text shows in the page
              (each in a new browser session, so no conversation history helps)
  map tab     the Map tab clicked until the plotly figure is drawn (its WebGL canvas), and
              the mouse moved over its center until a hover label shows (--map-only: just this)
  N users     N browser contexts, each logged in as its own user, each ask one short question
              at the same moment: time until every answer is finished, and a check that none
              was lost (each page shows exactly its own question and one finished answer). One
              login may have only ui.guard.MAX_ANSWERS_PER_LOGIN answers in flight: N pages of
              one login would see the rest refused, by design

Times are seconds of wall clock on this machine, medians of --repeat where repeated.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "arxiv_ml.jsonl.gz"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
USER, PASSWORD = "bench", "bench-secret"
FIRST_TEXT = "document.querySelectorAll('#tt-chat .message.bot').length > 0"


def login(n: int) -> tuple[str, str]:
    """The n-th simulated user's login (0: the one that times page loads, the map and single answers)."""
    return (USER, PASSWORD) if n == 0 else (f"{USER}{n}", f"{PASSWORD}-{n}")


def build_index(folder: Path) -> Path:
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is missing: pass --index-dir with an existing index")
    index = folder / "index"
    print(f"building a 300-abstract index in {index} ...", flush=True)
    subprocess.run([sys.executable, "-m", "topictalk.ui.cli", "index", "--input", str(DATA), "--limit", "300",
                    "--index-dir", str(index), "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return index


def start_app(index: Path, max_tokens: int, llm: str | None, users: int, folder: Path
              ) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logins = folder / "logins.txt"
    logins.write_text("".join(f"{u}:{pw}\n" for u, pw in map(login, range(users + 1))))
    cmd = [sys.executable, "-m", "topictalk.ui.cli", "chat", "--index-dir", str(index), "--port", str(port),
           "--auth-file", str(logins), "--max-tokens", str(max_tokens)] + (["--llm", llm] if llm else [])
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    while not any("chat at http" in line for line in lines):
        if proc.poll() is not None or time.perf_counter() - started > 300:
            proc.kill()
            raise SystemExit("topictalk chat did not start:\n" + "".join(lines)[-2000:])
        time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}/", time.perf_counter() - started


def logged_in_state(browser, url: str, n: int = 0) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    user, password = login(n)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#tt-question textarea", timeout=60_000)
    state = context.storage_state()  # the login cookie: later sessions skip the form
    context.close()
    return state


def open_app(browser, url: str, state: dict):
    page = browser.new_context(storage_state=state, viewport={"width": 1280, "height": 900}).new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#tt-question textarea", timeout=60_000)
    return page, time.perf_counter() - start


def ask(page, question: str) -> float:
    page.locator("#tt-question textarea").fill(question)
    start = time.perf_counter()
    page.keyboard.press("Enter")
    return start


def state_of(page) -> tuple[bool, bool]:
    """(some answer text shown, answer finished)."""
    return page.evaluate("""() => [document.querySelectorAll('#tt-chat .message.bot').length > 0,
                                   document.querySelectorAll('#tt-chat .tt-footer').length > 0]""")


def map_tab(browser, url: str, state: dict, repeat: int) -> dict:
    drawn, hovers = [], []
    for _ in range(repeat):
        page, _ = open_app(browser, url, state)
        start = time.perf_counter()
        page.get_by_role("tab", name="Map").click()
        page.wait_for_selector("#tt-map .js-plotly-plot canvas", state="attached", timeout=120_000)
        page.wait_for_function("document.querySelectorAll('#tt-map .js-plotly-plot .legendtext').length > 0",
                               polling="raf", timeout=120_000)
        drawn.append(time.perf_counter() - start)
        box = page.locator("#tt-map .js-plotly-plot .nsewdrag").first.bounding_box()
        hover = None
        start = time.perf_counter()
        for dx, dy in ((0, 0), (7, 3), (-9, 5), (4, -8), (15, 11), (-13, -6)):  # a spot with a point under it
            page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy)
            try:
                page.wait_for_selector("#tt-map .hoverlayer .hovertext", timeout=2_000)
                hover = time.perf_counter() - start
                break
            except Exception:  # nothing under the mouse there
                continue
        if hover is not None:
            hovers.append(hover)
        page.context.close()
    return {"map_drawn": drawn, "map_hover": hovers}


def bench(browser, url: str, users: int, repeat: int, topics: list[int]) -> dict:
    state = logged_in_state(browser, url)
    loads, ttfts = [], []
    for i in range(repeat):
        page, load = open_app(browser, url, state)
        loads.append(load)
        start = ask(page, f"Tell me about topic {topics[i % len(topics)]}")
        page.wait_for_function(FIRST_TEXT, polling="raf", timeout=300_000)
        ttfts.append(time.perf_counter() - start)
        page.wait_for_function("document.querySelectorAll('#tt-chat .tt-footer').length > 0", timeout=300_000)
        page.context.close()

    pages = [open_app(browser, url, logged_in_state(browser, url, i + 1))[0] for i in range(users)]
    questions = [f"Tell me about topic {topics[i % len(topics)]}" for i in range(users)]
    starts = [ask(p, q) for p, q in zip(pages, questions)]
    first: list[float | None] = [None] * users
    done: list[float | None] = [None] * users
    deadline = time.perf_counter() + 60 * users
    while None in done and time.perf_counter() < deadline:
        for i, p in enumerate(pages):
            if done[i] is None:
                shown, finished = state_of(p)
                now = time.perf_counter()
                if shown and first[i] is None:
                    first[i] = now - starts[i]
                if finished:
                    done[i] = now - starts[i]
        time.sleep(0.05)
    lost = []
    for i, p in enumerate(pages):
        asked = [t.strip() for t in p.locator("#tt-chat .message.user").all_inner_texts()]
        if done[i] is None or asked != [questions[i]] or p.locator("#tt-chat .tt-footer").count() != 1:
            lost.append(i)
        p.context.close()
    finished = [d for d in done if d is not None]
    return {"loads": loads, "ttfts": ttfts, "first": [f for f in first if f is not None], "done": finished,
            "lost": lost, "wall": max(finished) if finished else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", help="an existing index (default: build a 300-abstract one)")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="page loads and single-user questions to time")
    parser.add_argument("--max-tokens", type=int, default=128, help="answer length cap passed to topictalk chat")
    parser.add_argument("--llm", help="model spec for the app (default: bundled)")
    parser.add_argument("--map-only", action="store_true", help="time only the Map tab (no questions asked)")
    args = parser.parse_args()
    from topictalk.indexing import host

    print(host.probe().line(), flush=True)  # every figure comes with its host
    from playwright.sync_api import sync_playwright

    from topictalk.indexing import store

    with tempfile.TemporaryDirectory(prefix="tt-bench-app-") as tmp:
        index = Path(args.index_dir) if args.index_dir else build_index(Path(tmp))
        topics = [t.id for t in store.open_reader(store.Location(path=index)).topics() if not t.is_outlier] or [0]
        proc, url, startup = start_app(index, args.max_tokens, args.llm, args.users, Path(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                m = map_tab(browser, url, logged_in_state(browser, url), args.repeat)
                r = None if args.map_only else bench(browser, url, args.users, args.repeat, topics)
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    med = statistics.median
    print(f"cores: {os.cpu_count()}, model {args.llm or 'bundled'}, answers capped at {args.max_tokens} tokens, "
          f"index {index}")
    documents = store.open_reader(store.Location(path=index)).manifest["corpus"]["documents"]
    print(f"app start (index + model + Gradio)   {startup:6.1f} s   ({documents:,} documents)")
    print(f"map tab drawn (median of {args.repeat})        {med(m['map_drawn']):6.2f} s   "
          f"[{min(m['map_drawn']):.2f} .. {max(m['map_drawn']):.2f}]; hover label after "
          + (f"{med(m['map_hover']):.2f} s" if m["map_hover"] else "none shown"))
    if r is None:
        return
    print(f"page load, logged in (median of {args.repeat})   {med(r['loads']):6.2f} s   "
          f"[{min(r['loads']):.2f} .. {max(r['loads']):.2f}]")
    print(f"time to first token (median of {args.repeat})    {med(r['ttfts']):6.2f} s   "
          f"[{min(r['ttfts']):.2f} .. {max(r['ttfts']):.2f}]")
    def span(values: list[float]) -> str:
        return f"{min(values):.1f} .. {max(values):.1f} s" if values else "none"

    print(f"{args.users} users at once: all answered in   {r['wall']:6.1f} s   "
          f"({len(r['done'])}/{args.users} finished, {len(r['lost'])} lost; first token {span(r['first'])}; "
          f"finished {span(r['done'])})")
    if r["lost"]:
        raise SystemExit(f"lost answers for users {r['lost']}")


if __name__ == "__main__":
    main()
