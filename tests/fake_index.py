"""A small in-memory topic index for the fast tier: a real ``retrieval.Snapshot`` over a fake reader
and a fake embedding (hashed word stems), so routing, planning and the builders run without a model."""

from __future__ import annotations

import re
import zlib

import numpy as np

from agent.examples import Examples
from agent.retrieval import Snapshot, _ranking
from indexing.schema import DocumentRecord, Theme, Topic

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

    def __init__(self, documents: list[DocumentRecord]) -> None:
        self.docs = documents
        self.vectors = fake_embed([f"{d.title}. {d.text}" for d in documents])

    def query_documents(self, vector, n, topic=None, scan=0):
        scores = self.vectors @ np.asarray(vector, np.float32)
        order = [i for i in np.argsort(-scores, kind="stable") if topic is None or self.docs[i].topic == topic]
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


def _centroid(vectors: np.ndarray) -> np.ndarray:
    c = vectors.mean(axis=0)
    return (c / np.linalg.norm(c)).astype(np.float32)


def snapshot(themes: bool = True, brief: dict | None = None, descriptions: dict[int, tuple[str, list[str]]] = None,
             corpus: dict | None = None) -> Snapshot:
    """A snapshot of CORPUS (or ``corpus``); ``descriptions``: topic id -> (description, document ids)."""
    corpus = corpus or CORPUS
    docs = [d for d in documents() if d.topic in corpus] if corpus is CORPUS else \
        [DocumentRecord(f"t{tid}d{j}", text, title, tid, 1.0, 0.0, 0.0, theme=theme)
         for tid, (_, _, theme, items) in corpus.items() for j, (title, text) in enumerate(items)]
    reader = FakeReader(docs)
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
