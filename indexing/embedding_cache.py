"""Document embeddings cached on disk by chunk, keyed by the model behind the name."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from topictalk.indexing import embedding, fingerprint
from topictalk.indexing.encoder import Encoder, dimension
from topictalk.indexing.paths import atomic_write, read_matrix

CHUNK = 1024  # documents per cached chunk: a killed run loses at most one chunk of work


def embed_cached(
    ids: list[str], texts: list[str], name: str | None, cache: Path, progress=None, model=None,
    log: Callable[[str], None] = lambda _: None, encoder: Callable | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Unit-length embeddings of ``texts``, cached on disk by chunk.

    Each chunk's file is keyed by (model identity, its ids and texts), so
    re-indexing the same corpus with other clustering settings embeds
    nothing, and a run killed while embedding resumes at the first missing
    chunk. A chunk that is unreadable or has the wrong shape, dtype or
    non-finite values is recomputed (and ``log`` says so). Returns the
    matrix and hit/miss counts. ``model`` may be a loaded SentenceTransformer.
    """
    key = embedding.model_key(name)
    if key.endswith("@" + fingerprint.UNRESOLVED) and model is None:
        model = embedding.load(name)  # downloads the snapshot, so the key can name its revision
        key = embedding.model_key(name)
    folder = cache / "embeddings" / hashlib.sha256(key.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[np.ndarray] = []
    dim = dimension(model)  # a model not loaded yet tells nothing: the first chunk does
    stats = {"chunks_cached": 0, "chunks_embedded": 0}
    # ``encoder``: e.g. embed_pool.PoolEncoder; else one made at the first chunk to embed (compiling is
    # wasted on a cached run)
    for start in range(0, len(texts), CHUNK):
        chunk_ids, chunk_texts = ids[start:start + CHUNK], texts[start:start + CHUNK]
        digest = hashlib.sha256()
        for i, t in zip(chunk_ids, chunk_texts):
            digest.update(f"{i}\x00{t}\x01".encode())
        path = folder / f"{digest.hexdigest()[:24]}.npy"
        vectors = None
        if path.is_file():
            vectors, why = read_matrix(path, len(chunk_texts), dim)
            if why:
                log(f"warning: embedding cache chunk {path} is corrupt ({why}); recomputing it")
        if vectors is not None:
            stats["chunks_cached"] += 1
            if progress is not None:
                progress(len(chunk_texts))
        else:
            if encoder is None:
                encoder = Encoder(model or embedding.load(name), log=log)
            vectors = encoder(chunk_texts, progress)
            # never a half-written chunk under the real name, and no temp file left on a full disk
            atomic_write(path, lambda f, v=vectors: np.save(f, v, allow_pickle=False))
            stats["chunks_embedded"] += 1
        dim = vectors.shape[1]
        parts.append(vectors)
    return (np.concatenate(parts) if parts else np.zeros((0, dim or 0), np.float32)), stats
