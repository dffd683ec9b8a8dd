"""The documents' token ids kept in the index's cache, so that a later run reads only texts it has not seen.

Reading a text (lowercasing, splitting by the token pattern, dropping stop words: vocabulary.Tokens) is
the same for every run with the same token settings, and it grew with the corpus: an add of 1,000
abstracts to 20,000 spent ~2.8 s of its ~40 s reading the 20,000 it already held (issue 30). The file
holds each text's token ids, keyed by a digest of the text alone (the same text reads the same way under
any id), beside the words the ids index. One file per token settings (stop words, pattern); the n-gram
range is not one of them: n-grams are made from the ids at each count.

It is a cache: a file that is missing, unreadable or inconsistent is read as empty, and a failed write
loses nothing but time.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from topictalk.indexing.paths import atomic_write

FOLDER = "words"
SIZE = 12  # bytes of a text's digest


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=SIZE).digest()


class Known:
    """Token ids read in earlier runs: ``words`` (the id -> word list), and each text's ids by its digest."""

    def __init__(self, words: list[str], keys: np.ndarray, lengths: np.ndarray, flat: np.ndarray) -> None:
        self.words = words
        ends = np.cumsum(lengths).tolist()
        blob = keys.tobytes()  # one digest a row of bytes (numpy's S type would drop a digest's trailing zeros)
        self._span = {blob[i * SIZE:(i + 1) * SIZE]: (e - n, e) for i, (n, e) in enumerate(zip(lengths.tolist(), ends))}
        self._flat = flat

    def __len__(self) -> int:
        return len(self._span)

    def ids(self, key: bytes) -> np.ndarray | None:
        span = self._span.get(key)
        return None if span is None else self._flat[span[0]:span[1]].astype(np.int64)


def path(cache: Path, shape: dict) -> Path:
    """The file for one token settings (``vocabulary._shape`` without the n-gram range)."""
    key = json.dumps({k: v for k, v in shape.items() if k != "ngram_range"}, sort_keys=True)
    return Path(cache) / FOLDER / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def read(file: Path) -> Known | None:
    """The ids kept in ``file``; None when there is none or it cannot be used (it is then rebuilt)."""
    try:
        with np.load(file, allow_pickle=False) as got:
            words = str(got["words"]).split("\n") if got["words"].size else []
            keys, lengths, flat = got["keys"], got["lengths"], got["flat"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if (keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != SIZE or lengths.shape != keys.shape[:1]
            or flat.ndim != 1
            or int(lengths.sum()) != len(flat) or (len(flat) and (flat.min() < 0 or flat.max() >= len(words)))):
        return None
    return Known(words, keys, lengths, flat)


def write(file: Path, words: Sequence[str], read: dict[bytes, np.ndarray]) -> None:
    """Keep ``read`` (text digest -> token ids into ``words``) in ``file``, whole or not at all."""
    keys = list(read)
    parts = [read[k] for k in keys]
    atomic_write(file, lambda f: np.savez(
        f, words=np.array("\n".join(words)), keys=np.frombuffer(b"".join(keys), np.uint8).reshape(-1, SIZE),
        lengths=np.array([len(p) for p in parts], dtype=np.int64),
        flat=np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)))
