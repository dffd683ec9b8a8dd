"""The router's second step: the nearest of a few hundred labelled example questions.

Rules (``agent.router``) route what their patterns say; a question they leave to a plain search
("what's in here?" typed another way, "¿qué hay aquí?", "biggest topcis") goes where its nearest
example in ``agent/data/route_examples.tsv`` goes, compared by the index's own embedding model
(one vector per question, already computed for the search: no model call). The examples' vectors
are embedded once per embedding model and kept (in memory, and in the index folder's cache when
there is one).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from topictalk.agent import corpus_rules
from topictalk.agent.intents import BRIEF, GLOBAL, GROUPS, OVERVIEW, SEARCH, TRENDS, UNANSWERABLE
from topictalk.agent.plans import Plan

# The nearest example must be this similar (MiniLM cosine) ... on the bench's and the tests' paraphrases,
# a paraphrase of an example scores 0.65-0.9, a search question 0.3-0.6 to the nearest non-search example
MIN_SIMILARITY = 0.55
# ... and this much nearer than the nearest search example, else the question stays a search
MARGIN = 0.1
# counts and lists name a subject: the rules route them ("how many", "give me 8"), never an example
# a time or group question routed here is finished by time_rules.from_example (what the index holds decides it)
INTENTS = (BRIEF, OVERVIEW, GLOBAL, UNANSWERABLE, SEARCH, TRENDS, GROUPS)

Embed = Callable[[list[str]], np.ndarray]


def read(text: str | None = None) -> list[tuple[str, str]]:
    """(intent, question) pairs of the examples file (or of ``text``), comments and blank lines skipped."""
    if text is None:
        text = resources.files("topictalk.agent").joinpath("data", "route_examples.tsv").read_text(encoding="utf-8")
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            intent, question = line.split("\t", 1)
            if intent not in INTENTS:
                raise ValueError(f"route_examples.tsv: unknown intent {intent!r} (known: {', '.join(INTENTS)})")
            pairs.append((intent, question.strip()))
    return pairs


@dataclass(frozen=True)
class Match:
    intent: str
    similarity: float
    example: str
    search_similarity: float  # of the nearest plain-search example


class Examples:
    def __init__(self, pairs: list[tuple[str, str]], vectors: np.ndarray) -> None:
        self.intents = np.array([i for i, _ in pairs])
        self.questions = [q for _, q in pairs]
        self.vectors = np.asarray(vectors, dtype=np.float32)

    @classmethod
    def embedded(cls, embed: Embed, pairs: list[tuple[str, str]] | None = None, cache: Path | None = None,
                 model: str = "") -> Examples:
        """The examples embedded by ``embed``; with ``cache`` (a folder), read from or written to a file
        named by the model and the examples' text, so a changed file or model is embedded anew."""
        pairs = read() if pairs is None else pairs
        key = hashlib.sha256(("\n".join(f"{i}\t{q}" for i, q in pairs) + "\0" + model).encode()).hexdigest()[:16]
        path = cache / f"route-examples-{key}.npy" if cache is not None else None
        if path is not None and path.is_file():
            vectors = np.load(path)
            if len(vectors) == len(pairs):
                return cls(pairs, vectors)
        vectors = embed([q for _, q in pairs])
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.partial.npy")
                np.save(partial, vectors)
                partial.replace(path)  # whole or absent: a process stopped mid-write leaves no short file
            except OSError:  # a read-only index folder: the examples are embedded again next time
                pass
        return cls(pairs, vectors)

    def nearest(self, vector: np.ndarray) -> Match:
        scores = self.vectors @ np.asarray(vector, dtype=np.float32)
        best = int(np.argmax(scores))
        searches = scores[self.intents == SEARCH]
        return Match(str(self.intents[best]), float(scores[best]), self.questions[best],
                     float(searches.max()) if len(searches) else -1.0)

    def refine(self, plan: Plan, vector: np.ndarray) -> Plan:
        """``plan`` (a rules' default search) routed by the nearest example, when it is near enough."""
        match = self.nearest(vector)
        if match.intent == SEARCH or match.similarity < MIN_SIMILARITY or \
                match.similarity - match.search_similarity < MARGIN:
            return plan
        question = plan.query if not plan.default else plan.asked or plan.query
        if match.intent == UNANSWERABLE:
            return Plan(UNANSWERABLE, question, missing="", routed_by=match.example)
        if match.intent == GLOBAL:
            return Plan(GLOBAL, question, subject=corpus_rules.global_subject(question), routed_by=match.example)
        return Plan(match.intent, question, routed_by=match.example)
