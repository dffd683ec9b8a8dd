"""The records topictalk keeps per index: typed at the boundary between stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OUTLIER = -1


@dataclass
class Topic:
    id: int
    size: int
    label: str
    label_source: str  # "llm", "llm-retry", "keywords" (fallback) or "outliers"
    keywords: list[str]  # c-TF-IDF, best first
    keybert: list[str] = field(default_factory=list)
    mmr: list[str] = field(default_factory=list)
    representative_ids: list[str] = field(default_factory=list)
    embedding: np.ndarray | None = None  # unit-length centroid of its documents' embeddings

    @property
    def is_outlier(self) -> bool:
        return self.id == OUTLIER


@dataclass
class DocumentRecord:
    id: str
    text: str
    title: str
    topic: int
    probability: float
    x: float
    y: float
