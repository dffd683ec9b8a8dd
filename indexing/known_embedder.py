"""BERTopic's embedding backend for the topic representations: vectors the index already has.

KeyBERTInspired re-embeds each topic's representative documents and MMR each
topic's candidate words, in fp32 PyTorch: 38 of the 50 s of representing 20
topics of 2,000 abstracts (cProfile, bench note in indexing/clustering.py's
refine), and that cost grows with the number of topics. Here a document's
vector is the one the index computed, and only new texts (the candidate
words) are embedded, once each, by :class:`indexing.encoder.Encoder`.
"""

from __future__ import annotations

import numpy as np
from bertopic.backend import BaseEmbedder

from topictalk.indexing import encoder


class KnownEmbedder(BaseEmbedder):
    def __init__(self, model, known: dict[str, np.ndarray]) -> None:
        super().__init__(model)
        self._model, self._known = model, known
        self._encoder: encoder.Encoder | None = None  # made at the first text it does not know

    def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
        new = list(dict.fromkeys(d for d in documents if d not in self._known))
        if new:
            if self._encoder is None:
                self._encoder = encoder.Encoder(self._model)
            self._known.update(zip(new, self._encoder(new)))
        if not documents:
            return np.zeros((0, encoder.dimension(self._model) or 0), np.float32)
        return np.stack([self._known[d] for d in documents])
