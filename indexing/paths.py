"""Where topictalk keeps files it can rebuild: the joined GGUF, numba's compiled code, caches."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$TOPICTALK_CACHE``, else ``$XDG_CACHE_HOME/topictalk``, else ``~/.cache/topictalk``."""
    if env := os.environ.get("TOPICTALK_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "topictalk"
