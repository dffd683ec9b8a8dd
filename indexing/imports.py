"""Importing a heavy library on a thread of its own while the caller does other work.

On a 2-core host some imports take seconds of one core: BERTopic (with PyTorch, sentence-transformers
and umap under it, ~6-8 s), Gradio (~4-6 s: it writes its components' type stubs at every import).
A command that needs one later starts it here first; its own import then waits for this one (Python
locks each module while it is imported) instead of doing the work again.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable


def in_background(*modules: str, prepare: Callable[[], object] | None = None) -> threading.Thread:
    """Import ``modules`` (after ``prepare()``) on a daemon thread; returns it, started. An error is left to
    the caller's own import, which raises it where it is understood; join the thread before the process
    exits, so that no import is cut off midway."""
    def run() -> None:
        try:
            if prepare is not None:
                prepare()
            for name in modules:
                importlib.import_module(name)
        except Exception:  # noqa: BLE001, S110 - the caller's own import says what went wrong
            pass

    thread = threading.Thread(target=run, name=f"import-{modules[0] if modules else 'nothing'}", daemon=True)
    thread.start()
    return thread
