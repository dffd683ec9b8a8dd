"""Progress bars of `topictalk index` and `demo`: one tqdm bar a stage on stderr, each with an ETA."""

from __future__ import annotations

import sys


def bars(quiet: bool, file=None, clock=None, tick_s: float | None = 0.5):
    """tqdm bars on stderr, one per stage, with an ETA: counted stages by their rate, and stages with
    no countable steps (``seconds`` given) by a bar that runs over their estimated duration, on
    ``clock`` (default ``time.monotonic``), redrawn every ``tick_s`` seconds (None: by ``redraw()``)."""
    import time

    from tqdm import tqdm

    out = file or sys.stderr

    def stage(name: str, total: int, seconds: float | None = None):
        if seconds is not None:
            return EstimatedBar(name, seconds, quiet, out, clock or time.monotonic, tick_s)
        bar = tqdm(total=total, desc=f"{name:<9}", unit="topic" if name == "labeling" else "doc",
                   disable=quiet, file=out, dynamic_ncols=True)

        def advance(n: int) -> None:
            bar.update(n)
            if bar.n >= bar.total:
                bar.close()

        if total == 0:
            bar.close()
        return advance

    return stage


class EstimatedBar:
    """A bar over an estimated duration, redrawn until the stage says it is done (by calling it)."""

    def __init__(self, name: str, seconds: float, quiet: bool, out, clock, tick_s: float | None) -> None:
        import threading

        from tqdm import tqdm

        self.total = max(1, round(seconds))
        self.clock, self.started = clock, clock()
        self.bar = tqdm(total=self.total, desc=f"{name:<9}", disable=quiet, file=out, dynamic_ncols=True)
        self.redraw()
        self._stop = threading.Event()
        self._ticker = None
        if tick_s is not None:
            self._ticker = threading.Thread(target=self._tick, args=(tick_s,), daemon=True)
            self._ticker.start()

    def _tick(self, tick_s: float) -> None:
        while not self._stop.wait(tick_s):
            self.redraw()

    def redraw(self) -> None:
        from tqdm import tqdm

        elapsed = self.clock() - self.started
        self.bar.n = min(elapsed, self.total * 0.99)  # full only when really done
        when = f"{tqdm.format_interval(elapsed)} elapsed"
        # a busy machine: say so rather than "~00:00 left" for minutes
        told = (f"{when}, longer than estimated" if elapsed > self.total
                else f"{when}, ~{tqdm.format_interval(self.total - elapsed)} left (estimate)")
        self.bar.bar_format = "{desc}: {percentage:3.0f}%|{bar}| " + told
        self.bar.refresh()

    def __call__(self, n: int) -> None:
        from tqdm import tqdm

        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.bar.n = self.total
        took = tqdm.format_interval(self.clock() - self.started)
        self.bar.bar_format = "{desc}: {percentage:3.0f}%|{bar}| " + f"{took} elapsed"
        self.bar.close()


def where_the_time_went(manifest: dict) -> str:
    """The index run's stages with their rates, from its manifest: "embedding 93 s (54 docs/s), ...".

    A rate is given where the stage's work was all done this run: documents embedded when no
    embedding came from the cache, and labels the LLM was asked for (not answered from the cache).
    """
    timings, cache = manifest.get("timings", {}), manifest.get("cache", {})
    parts = []
    documents, embed_s = manifest.get("corpus", {}).get("documents", 0), timings.get("embed", 0.0)
    cached, embedded = cache.get("chunks_cached", 0), cache.get("chunks_embedded", 0)
    if embedded and not cached and embed_s:
        parts.append(f"embedding {embed_s:.0f} s ({documents / embed_s:.1f} docs/s)")
    elif "embed" in timings:
        parts.append(f"embedding {embed_s:.0f} s ({cached} of {cached + embedded} chunks cached)")
    clustering = sum(timings.get(k, 0.0) for k in ("umap", "cluster", "topics"))
    if clustering:
        parts.append(f"topics {clustering:.0f} s")
    asked, label_s = (cache.get("labels") or {}).get("asked", 0), timings.get("label", 0.0)
    if asked and label_s:
        parts.append(f"labels {label_s:.0f} s ({label_s / asked:.1f} s/label, {asked} asked)")
    elif "label" in timings:
        parts.append(f"labels {label_s:.0f} s")
    if "write" in timings:
        parts.append(f"writing {timings['write']:.0f} s")
    where = manifest.get("host")
    return ", ".join(parts) + (f"; on {where['kind']}, {where['cores']} cores" if where else "")
