"""``--embed-workers N``: the embedding stage on a sentence-transformers multi-process pool.

Past what one process embeds in reasonable time, sentence-transformers' own
pool runs N copies of the model, one per GPU (``cuda:0``, ``cuda:1``, ...) or N
CPU processes, and splits each chunk of texts between them. The pipeline hands
a :class:`PoolEncoder` to ``embedding.embed_cached``, so the on-disk chunk cache,
resuming and progress work as with one process. Corpora that outgrow one
machine embed elsewhere and come back as ``--embeddings FILE.npy``
(``bench/embed_elsewhere.py``).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

import numpy as np

from topictalk.indexing.encoder import CPU_BATCH
from topictalk.indexing.errors import TopictalkError

BATCH = CPU_BATCH  # per worker: as the single-process CPU encoder


def devices(workers: int) -> list[str]:
    """One process per GPU while there are GPUs, round robin beyond; CPU processes without one."""
    import torch

    if workers < 1:
        raise TopictalkError(f"--embed-workers must be at least 1, got {workers}")
    if torch.cuda.is_available():
        return [f"cuda:{i % torch.cuda.device_count()}" for i in range(workers)]
    return ["cpu"] * workers


class PoolEncoder:
    """Unit-length float32 embeddings from ``workers`` processes; the pool starts at the first call
    (a fully cached run starts none) and stops at :meth:`close`."""

    def __init__(self, model, workers: int) -> None:
        self.model = model
        self.devices = devices(workers)
        self.pool: dict | None = None

    def _start(self) -> dict:
        # CPU workers share the cores: each gets its part of the threads instead of all of them
        threads = max(1, (os.cpu_count() or 1) // len(self.devices))
        saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update({k: str(threads) for k in saved})
        try:  # the workers are spawned: they read the environment as they start
            return self.model.start_multi_process_pool(target_devices=self.devices)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def __call__(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if self.pool is None:
            self.pool = self._start()
        # each worker gets about the same share of this chunk (sentence-transformers' default is 5000s)
        chunk = max(1, -(-len(texts) // len(self.devices)))
        options = dict(batch_size=BATCH, chunk_size=chunk, normalize_embeddings=True)
        if "pool" in inspect.signature(self.model.encode).parameters:  # sentence-transformers >= 5
            vectors = self.model.encode(texts, pool=self.pool, convert_to_numpy=True, **options)
        else:
            vectors = self.model.encode_multi_process(texts, self.pool, **options)
        if progress is not None:
            progress(len(texts))
        return np.asarray(vectors, dtype=np.float32)

    @property
    def processes(self) -> list:
        return list(self.pool["processes"]) if self.pool else []

    def close(self) -> None:
        if self.pool is not None:
            self.model.stop_multi_process_pool(self.pool)
            self.pool = None
