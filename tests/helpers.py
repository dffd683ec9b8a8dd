"""Helpers shared by test modules: free ports, the CLI in a subprocess or in this process, waiting for a server."""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

import numpy as np


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, check: bool = True, timeout: int = 900):
    """Run `topictalk ARGS` as a user would, in a subprocess."""
    out = subprocess.run([sys.executable, "-m", "topictalk.ui.cli", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def run_cli_here(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`topictalk ARGS` in this process, with what it prints and its exit code as :func:`run_cli` gives them.

    For commands whose process is not what a test checks (reading the topics, a re-index whose
    result is compared): a subprocess spends ~3 s importing before it reads a topic, this ~0.1 s.
    Not for ``add`` or ``topics --merge/--split``: they import BERTopic without its spare packages
    (topics.lean_bertopic), which would hold for the rest of the test process."""
    from topictalk.ui import cli as command

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = command.main(list(args))
        except SystemExit as exited:  # argparse's usage errors
            code = exited.code if isinstance(exited.code, int) else 2
    done = subprocess.CompletedProcess(["topictalk", *args], code, out.getvalue(), err.getvalue())
    if check:
        assert code == 0, done.stderr[-3000:]
    return done


def wait_for_url(url: str, timeout: float = 120, alive: Callable[[], bool] = lambda: True) -> None:
    """Return once ``url`` answers; fail when ``alive()`` turns false (the server exited) or at ``timeout``."""
    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if not alive():
                pytest.fail(f"the server for {url} exited at start")
            time.sleep(0.5)
    pytest.fail(f"nothing answered at {url} within {timeout:.0f} s")


class LetterVectors:
    """A stand-in embedding model for KeyBERT's and MMR's words: a unit vector per text from its letters
    (importing nothing heavy, so a test's child process can use it too)."""

    def get_sentence_embedding_dimension(self) -> int:
        return 26

    def encode(self, texts, **_):  # noqa: ANN001, ANN201 - sentence-transformers' signature
        rows = np.array([[t.count(c) + 0.01 for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)
