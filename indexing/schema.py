"""The records topictalk keeps per index: typed at the boundary between stages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

TopicOrTheme = TypeVar("TopicOrTheme", "Topic", "Theme")

OUTLIER = -1


@dataclass
class Topic:
    id: int
    size: int
    label: str
    label_source: str  # "llm", "llm-retry", "llm-shortened" (its head), "keywords" (fallback) or "outliers"
    keywords: list[str]  # c-TF-IDF, best first
    keybert: list[str] = field(default_factory=list)
    mmr: list[str] = field(default_factory=list)
    representative_ids: list[str] = field(default_factory=list)
    embedding: np.ndarray | None = None  # unit-length centroid of its documents' embeddings
    theme: int | None = None  # the Theme this topic belongs to; None for outliers and old indexes
    # 2-3 sentences on what the topic's documents do, each grounded in one of them; "" for old indexes
    description: str = ""
    description_ids: list[str] = field(default_factory=list)  # the document each sentence cites, in order
    description_source: str = ""  # "llm", or "extractive (why)"; "" for old indexes

    @property
    def is_outlier(self) -> bool:
        return self.id == OUTLIER


@dataclass
class Theme:
    """A group of related fine topics: the level a reader browses first."""

    id: int
    size: int  # documents in its topics
    label: str
    label_source: str  # as Topic.label_source
    topic_ids: list[int]  # biggest first
    keywords: list[str] = field(default_factory=list)  # c-TF-IDF over its topics' documents
    embedding: np.ndarray | None = None  # unit-length centroid of its documents' embeddings
    representative_ids: list[str] = field(default_factory=list)  # the first of each of its biggest topics
    description: str = ""  # as Topic.description, written from its topics' descriptions
    description_ids: list[str] = field(default_factory=list)
    description_source: str = ""

    @property
    def is_outlier(self) -> bool:  # a theme is never the outlier bin (the labeler asks this of topics too)
        return False


def biggest_first(items: Iterable[TopicOrTheme]) -> list[TopicOrTheme]:
    """The one order of topics and themes everywhere: biggest first, ties by id, the outlier bin (-1) last."""
    return sorted(items, key=lambda t: (t.is_outlier, -t.size, t.id))


@dataclass
class BriefLine:
    theme: int
    text: str  # one sentence on what the theme covers
    document_ids: list[str] = field(default_factory=list)  # the documents it rests on


@dataclass
class Brief:
    """What the whole corpus covers: a paragraph and a line per theme, written once at index time.

    Kept in the generation's manifest under ``"brief"`` (``as_dict``/``from_dict``), so
    "what is this corpus about?" is answered from the index without asking the model.
    """

    text: str
    themes: list[BriefLine] = field(default_factory=list)
    document_ids: list[str] = field(default_factory=list)  # the documents the paragraph's written sentences rest on

    def as_dict(self) -> dict:
        return {"text": self.text, "themes": [vars(line) for line in self.themes], "document_ids": self.document_ids}

    @classmethod
    def from_dict(cls, data: dict | None) -> Brief | None:
        if not data or not data.get("text"):
            return None
        return cls(text=data["text"], themes=[BriefLine(**line) for line in data.get("themes", [])],
                   document_ids=list(data.get("document_ids", [])))


@dataclass
class DocumentRecord:
    id: str
    text: str
    title: str
    topic: int
    probability: float  # confidence in its topic: HDBSCAN's membership for core documents, similarity for placed
    x: float
    y: float
    core: bool = True  # False: HDBSCAN left it out and it was placed at its nearest topic
    theme: int | None = None
    date: str | None = None  # ISO YYYY-MM-DD from the corpus's date column; None without one
    period: str | None = None  # the period label it is counted in (indexing.trends)
    fields: dict[str, str | list[str]] = field(default_factory=dict)  # its facet values (a list when multi-valued)
