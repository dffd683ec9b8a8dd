"""Importing a heavy library on a thread of its own while the caller does other work.

On a 2-core host some imports take seconds of one core: BERTopic (with PyTorch, sentence-transformers
and umap under it, ~6-8 s), Gradio (~4-6 s: it writes its components' type stubs at every import).
A command that needs one later starts it here first; its own import then waits for this one (Python
locks each module while it is imported) instead of doing the work again.

Some of that time is optional parts a library guards as "maybe not installed" and never uses for us:
:func:`load` can import a library without them (``without``), as if they were not installed.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class _Absent(importlib.abc.MetaPathFinder):
    """Finds, for one thread, the packages ``names`` not imported yet as missing."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)
        self.thread = threading.get_ident()

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001, ANN201 - importlib's signature
        top = fullname.partition(".")[0]
        if top in self.names and top not in sys.modules and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None  # the next finder's to find


@contextmanager
def _without(names: Sequence[str]) -> Iterator[None]:
    """In the block, this thread's imports of the packages ``names`` that no one has imported yet fail as
    if they were not installed. Other threads, already imported packages and later imports are untouched."""
    if not names:
        yield
        return
    finder = _Absent(names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)  # this one, not a copy of the list: others may have added theirs


def load(*modules: str, without: Sequence[str] = ()) -> None:
    """Import ``modules``; the packages ``without`` stay unimported if they are not already. Only for optional
    parts the modules guard themselves (``try: import x except ImportError``): they then see them missing
    for good in this process, while anyone's own ``import x`` later works as usual."""
    with _without(without):
        for name in modules:
            importlib.import_module(name)


def in_background(*modules: str, without: Sequence[str] = ()) -> threading.Thread:
    """:func:`load` ``modules`` on a daemon thread; returns it, started. An error is left to the caller's own
    import, which raises it where it is understood; join the thread before the process exits, so that no
    import is cut off midway."""
    def run() -> None:
        try:
            load(*modules, without=without)
        except Exception:  # noqa: BLE001, S110 - the caller's own import says what went wrong
            pass

    thread = threading.Thread(target=run, name=f"import-{modules[0] if modules else 'nothing'}", daemon=True)
    thread.start()
    return thread
