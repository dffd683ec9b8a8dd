"""A small in-memory topic index for the fast tier: a real ``retrieval.Snapshot`` over a fake reader
and a fake embedding (hashed word stems), so routing, planning and the builders run without a model."""

from __future__ import annotations

import re
import zlib
from dataclasses import replace

import numpy as np

from topictalk.agent.examples import Examples
from topictalk.agent.retrieval import Snapshot, _ranking
from topictalk.indexing.schema import DocumentRecord, Theme, Topic
from topictalk.indexing.trends import FacetCounts, Trends

DIMS = 512


def fake_embed(texts: list[str]) -> np.ndarray:
    """Bag of word stems (first 5 letters), hashed: texts sharing words are near, others far."""
    out = np.zeros((len(texts), DIMS), np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-záéíóúñ]+", text.lower()):
            if len(word) > 2:
                out[row, zlib.crc32(word[:5].encode()) % DIMS] += 1.0
        norm = np.linalg.norm(out[row])
        out[row] = out[row] / norm if norm else out[row]
    return out


class FakeReader:
    generation = 1

    def __init__(self, documents: list[DocumentRecord], trends: Trends | None = None) -> None:
        self.docs = documents
        self.vectors = fake_embed([f"{d.title}. {d.text}" for d in documents])
        self._trends = trends
        self.filters: list[tuple] = []  # (topic, period, facet) of each filtered query, for tests

    def trends(self) -> Trends | None:
        return self._trends

    def query_documents(self, vector, n, topic=None, scan=0, *, period=None, facet=None):
        if period is not None or facet is not None:
            self.filters.append((topic, period, facet))

        def kept(d: DocumentRecord) -> bool:
            values = d.fields.get(facet[0], []) if facet else []
            values = values if isinstance(values, list) else [values]
            return ((topic is None or d.topic == topic) and (period is None or d.period == period)
                    and (facet is None or facet[1] in values))

        scores = self.vectors @ np.asarray(vector, np.float32)
        order = [i for i in np.argsort(-scores, kind="stable") if kept(self.docs[i])]
        return [(self.docs[i], 1.0 - float(scores[i])) for i in order[:n]]

    def get_documents(self, ids):
        by_id = {d.id: d for d in self.docs}
        return [by_id[i] for i in ids if i in by_id]


# topic id -> (label, keywords, theme, [(title, text)])
CORPUS = {
    0: ("Federated Learning", ["federated", "clients", "server", "aggregation"], 0, [
        ("Secure aggregation for federated learning", "Clients train locally and a server aggregates federated "
         "updates. We propose secure aggregation for federated clients."),
        ("Federated optimization with heterogeneous clients", "Federated clients hold heterogeneous data. "
         "This remains an open problem for federated optimization."),
        ("Communication in federated learning", "Compressing federated client updates reduces communication. "
         "We show federated compression works."),
    ]),
    1: ("Differential Privacy", ["privacy", "differential", "noise", "private"], 0, [
        ("Differentially private training", "Adding calibrated noise gives differential privacy guarantees. "
         "We propose private training with noise."),
        ("Privacy accounting", "Privacy accounting tracks the differential privacy budget of noise mechanisms. "
         "However, in contrast to prior work, we find accounting is loose."),
    ]),
    2: ("Speech Recognition", ["speech", "audio", "acoustic", "recognition"], 1, [
        ("End-to-end speech recognition", "An end-to-end speech recognition model maps audio to text. "
         "We propose acoustic speech transformers."),
        ("Speech in noisy rooms", "Speech recognition in noisy audio remains an open problem. "
         "We show acoustic speech models degrade."),
    ]),
    3: ("Adversarial Attacks", ["adversarial", "attacks", "perturbations", "classifiers"], 2, [
        ("Adversarial attacks on image classifiers", "Small adversarial perturbations fool image classifiers. "
         "We propose adversarial attacks on image classifiers."),
        ("Adversarial defenses for image classifiers", "Adversarial training defenses make image classifiers robust. "
         "We propose defenses against adversarial attacks on classifiers."),
        ("Football defenses", "Defensive roles in football matches are analysed from player tracking. "
         "We show football defenses adapt."),
    ]),
}
THEMES = {0: "Private Distributed Learning", 1: "Speech", 2: "Robustness"}


def documents() -> list[DocumentRecord]:
    return [DocumentRecord(f"t{tid}d{j}", text, title, tid, 1.0, 0.0, 0.0, theme=theme)
            for tid, (_, _, theme, docs) in CORPUS.items() for j, (title, text) in enumerate(docs)]


# Stored counts of a dated, faceted CORPUS (a real index would hold many more documents than it shows):
# per month, topic 0 grows, topic 1 shrinks, topic 2 holds, topic 3 is small and noisy, -1 the outliers
PERIODS = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
COUNTS = {0: [4, 6, 9, 15, 24, 40], 1: [30, 28, 25, 22, 18, 15], 2: [20, 21, 19, 20, 22, 21], 3: [3, 1, 2, 4, 2, 3],
          -1: [5, 4, 6, 5, 5, 6]}
WORDS = {0: [["federated", "clients"], [], [], [], [], ["federated", "aggregation", "secure"]],
         1: [["privacy", "noise"], ["privacy"], [], [], [], ["accounting", "privacy"]]}
CATEGORIES = ["cs.LG", "cs.CR", "eess.AS", "cs.CV"]  # most documents first
CATEGORY_COUNTS = {0: [80, 30, 0, 2], 1: [40, 90, 0, 0], 2: [25, 0, 100, 1], 3: [12, 10, 0, 30], -1: [10, 5, 3, 4]}
# each document's month and categories (the stored counts above are not recomputed from them)
DATED = {"t0d0": ("2025-06-12", ["cs.LG", "cs.CR"]), "t0d1": ("2025-01-20", ["cs.LG"]), "t0d2": ("2025-05-02", ["cs.LG"]),
         "t1d0": ("2025-01-08", ["cs.CR", "cs.LG"]), "t1d1": ("2025-06-30", ["cs.CR"]),
         "t2d0": ("2025-02-14", ["eess.AS"]), "t2d1": ("2025-06-01", ["eess.AS", "cs.LG"]),
         "t3d0": ("2025-03-03", ["cs.CV"]), "t3d1": ("2025-06-18", ["cs.CV", "cs.LG"]), "t3d2": ("2025-04-09", ["cs.LG"])}


def trends(dates: bool = True, facets: bool = True) -> Trends:
    """The stored counts of the dated, faceted fake index (``dates=False``: facets only)."""
    return Trends("published" if dates else None, "month" if dates else None, list(PERIODS) if dates else [],
                  {t: list(row) for t, row in COUNTS.items()} if dates else {}, undated=7 if dates else 0,
                  words={t: [list(w) for w in row] for t, row in WORDS.items()} if dates else {},
                  facets={"categories": FacetCounts("categories", list(CATEGORIES),
                                                    {t: list(r) for t, r in CATEGORY_COUNTS.items()}, multi=True)}
                  if facets else {})


def dated(docs: list[DocumentRecord]) -> list[DocumentRecord]:
    return [replace(d, date=DATED[d.id][0], period=DATED[d.id][0][:7], fields={"categories": list(DATED[d.id][1])})
            if d.id in DATED else d for d in docs]


def _centroid(vectors: np.ndarray) -> np.ndarray:
    c = vectors.mean(axis=0)
    return (c / np.linalg.norm(c)).astype(np.float32)


def snapshot(themes: bool = True, brief: dict | None = None, descriptions: dict[int, tuple[str, list[str]]] = None,
             corpus: dict | None = None, counts: Trends | None = None) -> Snapshot:
    """A snapshot of CORPUS (or ``corpus``); ``descriptions``: topic id -> (description, document ids);
    ``counts``: the index's stored Trends (its documents then carry their dates and categories)."""
    corpus = corpus or CORPUS
    docs = [d for d in documents() if d.topic in corpus] if corpus is CORPUS else \
        [DocumentRecord(f"t{tid}d{j}", text, title, tid, 1.0, 0.0, 0.0, theme=theme)
         for tid, (_, _, theme, items) in corpus.items() for j, (title, text) in enumerate(items)]
    if counts is not None:
        docs = dated(docs)
    reader = FakeReader(docs, counts)
    topics = []
    for tid, (label, keywords, theme, items) in corpus.items():
        rows = [i for i, d in enumerate(docs) if d.topic == tid]
        description, ids = (descriptions or {}).get(tid, ("", []))
        topics.append(Topic(tid, len(items), label, "llm", keywords, [], [], [docs[i].id for i in rows],
                            _centroid(reader.vectors[rows]), theme=theme if themes else None,
                            description=description, description_ids=ids))
    topics.sort(key=lambda t: (-t.size, t.id))
    made = []
    if themes:
        for th, label in THEMES.items():
            members = [t for t in topics if t.theme == th]
            if not members:
                continue
            rows = [i for i, d in enumerate(docs) if d.theme == th]
            made.append(Theme(th, sum(t.size for t in members), label, "llm", [t.id for t in members],
                              [w for t in members for w in t.keywords[:2]], _centroid(reader.vectors[rows]),
                              [t.representative_ids[0] for t in members]))
        made.sort(key=lambda t: (-t.size, t.id))
    manifest = {"models": {"embedding_name": "fake"}, **({"brief": brief} if brief else {})}
    ranking = _ranking(topics, [f"{t.label}: {', '.join(t.keywords)}" for t in topics], fake_embed)
    theme_ranking = _ranking(made, [f"{t.label}: {', '.join(t.keywords)}" for t in made], fake_embed)
    return Snapshot(1, manifest, tuple(topics), tuple(made), reader, fake_embed, ranking, theme_ranking)


class FakeIndex:
    """What ``Conversation`` needs of a ``TopicIndex``: a snapshot per question and the examples."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self._examples = Examples.embedded(fake_embed)

    def snapshot(self) -> Snapshot:
        return self.snap

    def examples(self) -> Examples:
        return self._examples
