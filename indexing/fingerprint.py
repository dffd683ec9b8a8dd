"""What a cached result was computed with: the model behind a name, not the name.

Caches (embedding chunks, LLM labels) are keyed by these strings, so swapping
the weights behind the same name, path or URL never serves old results:

- a local file or folder: its resolved path plus the size and mtime of every
  file in it (cheap, and any copy, download or edit changes them);
- a Hugging Face hub name: the commit of the snapshot in the local hub cache;
- an installed package: its version.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

UNRESOLVED = "unresolved"  # a hub name with no local snapshot yet


def files(path: Path) -> str:
    """``resolved-path#digest`` over (relative name, size, mtime) of a file or every file under a folder."""
    path = Path(path).expanduser().resolve()
    digest = hashlib.sha256()
    if path.is_file():
        members = [path]
    else:
        members = sorted(p for p in path.rglob("*") if p.is_file() and ".cache" not in p.relative_to(path).parts)
    for member in members:
        stat = member.stat()  # follows the hub cache's symlinks to the blobs
        name = member.name if member == path else str(member.relative_to(path))
        digest.update(f"{name}\x00{stat.st_size}\x00{stat.st_mtime_ns}\x01".encode())
    return f"{path}#{digest.hexdigest()[:16]}"


def hub_revision(repo_id: str) -> str | None:
    """The commit of the locally cached snapshot of ``repo_id`` (``refs/main``), or None."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    candidates = [repo_id] if "/" in repo_id else [repo_id, f"sentence-transformers/{repo_id}"]
    for repo in candidates:
        ref = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "refs" / "main"
        try:
            return ref.read_text(encoding="utf-8").strip() or None
        except OSError:
            continue
    return None


def hub_or_files(name: str) -> str:
    """A local path by its files, else a hub name by its cached revision."""
    local = Path(name).expanduser()
    if local.exists():
        return "file:" + files(local)
    return f"hub:{name}@{hub_revision(name) or UNRESOLVED}"


def version(distribution: str) -> str:
    """The installed version of ``distribution`` ("unknown" when it is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(distribution)
    except PackageNotFoundError:
        return "unknown"


def package(distribution: str) -> str:
    return f"{distribution}=={version(distribution)}"

