"""Embedding cache by chunk, and precomputed embeddings (--embeddings FILE.npy)."""

from __future__ import annotations

import numpy as np
import pytest

from indexing import embedding
from indexing.errors import TopictalkError


def test_chunks_are_cached_and_only_changed_chunks_are_embedded(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding, "CHUNK", 10)
    ids = [f"d{i}" for i in range(25)]
    texts = [f"document {i} about topic {i % 3}" for i in range(25)]
    model = embedding.load("bundled")
    first, stats = embedding.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    assert first.shape == (25, 384) and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)
    assert stats == {"chunks_cached": 0, "chunks_embedded": 3}
    again, stats = embedding.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    assert stats == {"chunks_cached": 3, "chunks_embedded": 0} and np.array_equal(first, again)
    texts[12] = "an edited document"
    edited, stats = embedding.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    assert stats == {"chunks_cached": 2, "chunks_embedded": 1}
    assert np.array_equal(edited[:10], first[:10]) and not np.allclose(edited[12], first[12])
    # another model name never reads these files
    _, stats = embedding.embed_cached(ids, texts, "sentence-transformers/other", tmp_path, model=model)
    assert stats["chunks_cached"] == 0


def test_precomputed_embeddings_are_checked_and_normalized(tmp_path):
    path = tmp_path / "e.npy"
    np.save(path, np.full((4, 3), 2.0))
    vectors = embedding.load_precomputed(path, 4)
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1)
    with pytest.raises(TopictalkError, match="expected \\(5, dim\\)"):
        embedding.load_precomputed(path, 5)
    (tmp_path / "bad.npy").write_text("nope")
    with pytest.raises(TopictalkError, match="cannot read embeddings"):
        embedding.load_precomputed(tmp_path / "bad.npy", 4)


def test_unknown_local_model_folder_is_a_clear_error():
    with pytest.raises(TopictalkError, match="not found"):
        embedding.resolve("./no/such/model")
    with pytest.raises(TopictalkError, match="Hugging Face hub"):
        embedding.load("BAAI/bge-small-en")  # offline in tests
