"""The HNSW folders an embedded Chroma store leaves behind, and their removal.

Embedded Chroma keeps each collection's vector index in a folder named after
its segment's UUID beside ``chroma.sqlite3``; deleting the collection removes
its rows but not that folder (Chroma issue #1309). Each re-index drops a
generation, so without this the index folder grows by a generation's graphs
every time. A folder is an orphan when no segment of the database names it:
no collection of any index in the store, live or being written, owns it.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def store_path(client) -> Path | None:
    """The folder of an embedded (persistent) Chroma client; None for a server or an in-memory one."""
    try:
        settings = client.get_settings()
    except Exception:  # noqa: BLE001 - a client without settings is not an embedded store
        return None
    path = getattr(settings, "persist_directory", None)
    return Path(path) if getattr(settings, "is_persistent", False) and path else None


def orphans(path: Path) -> list[Path]:
    """UUID folders in ``path`` that no segment of its ``chroma.sqlite3`` names."""
    database = path / "chroma.sqlite3"
    if not database.is_file():
        return []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:  # read only: Chroma owns the file
        segments = {row[0] for row in db.execute("SELECT id FROM segments")}
    return sorted(folder for folder in path.iterdir()
                  if folder.is_dir() and _UUID.fullmatch(folder.name) and folder.name not in segments)


def remove_orphans(client) -> tuple[int, int]:
    """Delete the orphan HNSW folders of an embedded store: (folders, bytes) removed; (0, 0) for a server."""
    path = store_path(client)
    if path is None:
        return 0, 0
    count = size = 0
    for folder in orphans(path):
        size += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        count += 1
    return count, size
