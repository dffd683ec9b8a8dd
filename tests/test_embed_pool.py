"""--embed-workers: the embedding stage on a sentence-transformers pool of 2 local processes."""

from __future__ import annotations

import numpy as np
import pytest

from topictalk.indexing import embed_pool, embedding, embedding_cache, encoder


@pytest.mark.slow
def test_two_worker_processes_embed_as_one_process_does(tmp_path):
    model = embedding.load(embedding.DEFAULT)
    texts = [f"paper {i} about {topic}" for i, topic in enumerate(["graph neural networks", "protein folding",
                                                                    "speech recognition", "federated privacy"] * 9)]
    pool = embed_pool.PoolEncoder(model, 2)
    seen: list[int] = []
    try:
        vectors, stats = embedding_cache.embed_cached([str(i) for i in range(len(texts))], texts, embedding.DEFAULT,
                                                tmp_path, seen.append, model=model, encoder=pool)
        workers = pool.processes
        assert len(workers) == 2 and len({w.pid for w in workers}) == 2 and all(w.is_alive() for w in workers)
    finally:
        pool.close()
    assert stats == {"chunks_cached": 0, "chunks_embedded": 1} and sum(seen) == len(texts)
    single = encoder.encode(model, texts)
    assert vectors.shape == single.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # the same model in other processes: the same directions (the single process may run OpenVINO in bf16)
    assert float(np.min(np.sum(vectors * single, axis=1))) > 0.99
    again, stats = embedding_cache.embed_cached([str(i) for i in range(len(texts))], texts, embedding.DEFAULT, tmp_path,
                                          model=model, encoder=embed_pool.PoolEncoder(model, 2))
    assert stats["chunks_cached"] == 1 and np.array_equal(again, vectors)  # a cached run starts no pool


def test_worker_devices():
    assert embed_pool.devices(2) in (["cpu", "cpu"], ["cuda:0", "cuda:0"], ["cuda:0", "cuda:1"])
    from topictalk.indexing.errors import TopictalkError

    with pytest.raises(TopictalkError, match="at least 1"):
        embed_pool.devices(0)
