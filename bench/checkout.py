"""Run another checkout's code: ``import topictalk`` must find that checkout, not this one.

The repository root is the package (pyproject maps ``topictalk`` to "."), so a checkout's folder on
PYTHONPATH is not enough: it is not named ``topictalk``, and the editable install of this checkout then
answers ``import topictalk`` (every --before run compared this checkout with itself). Here a folder holds
one link, ``topictalk``, to the checkout, and that folder goes on PYTHONPATH.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def env_for(code: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process whose ``import topictalk`` is ``code``'s."""
    code = Path(code).resolve()
    root = Path(tempfile.mkdtemp(prefix="topictalk-checkout-"))
    (root / "topictalk").symlink_to(code, target_is_directory=True)
    return {**os.environ, **extra, "PYTHONPATH": str(root)}


def which() -> str:
    """Where this process's ``topictalk`` comes from (a child prints it, so a run says what code it ran)."""
    import topictalk

    return str(Path(topictalk.__file__).resolve().parent)


def kernels() -> str:
    """The host line and llama.cpp's build flags: which kernels a run used (under ``bench/isa.py run
    --llama`` the AVX2 build's, and the cap is in the host line)."""
    from topictalk.agent.llamacpp import build_flags
    from topictalk.indexing import host

    return f"{host.probe().line()}\nllama.cpp built for: {' '.join(build_flags())}"
