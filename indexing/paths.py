"""Where topictalk keeps files it can rebuild: the joined GGUF, numba's compiled code, caches."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np


def cache_dir() -> Path:
    """``$TOPICTALK_CACHE``, else ``$XDG_CACHE_HOME/topictalk``, else ``~/.cache/topictalk``."""
    if env := os.environ.get("TOPICTALK_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "topictalk"


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` whole or not at all, even across a crash or a full disk.

    The bytes go to a temporary file in the same folder, are fsynced, then
    renamed over ``path`` and the folder is fsynced, so after a power cut the
    name holds either the old file or the complete new one. Any error (ENOSPC
    included) removes the temporary file instead of leaking it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_folder(path.parent)


def atomic_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """:func:`atomic_write` for a folder of files: ``write`` fills a temporary folder beside
    ``folder``, which is then renamed to it. A folder another process finished first is kept."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        write(tmp)
        os.replace(tmp, folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; a loser's copy otherwise
    fsync_folder(folder.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_matrix(path: Path, rows: int, columns: int | None) -> tuple[np.ndarray | None, str | None]:
    """A cached float32 matrix of ``rows`` x ``columns`` (None: any width), or why it cannot be used.

    A crash, a full disk or an edit can leave a cache file empty, truncated,
    of another shape or type, or holding NaN: the caller recomputes it.
    """
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:  # empty, truncated or not a .npy at all
        return None, f"unreadable ({type(err).__name__}: {err})"
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        return None, f"shape {getattr(matrix, 'shape', None)} is not a matrix"
    if matrix.dtype != np.float32:
        return None, f"dtype {matrix.dtype} is not float32"
    if matrix.shape[0] != rows:
        return None, f"{matrix.shape[0]} rows for {rows} documents"
    if matrix.shape[1] == 0 or (columns is not None and matrix.shape[1] != columns):
        return None, f"dimension {matrix.shape[1]}, expected {columns}"
    if not np.isfinite(matrix).all():
        return None, "it holds NaN or infinite values"
    return matrix, None
