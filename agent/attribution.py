"""Which source each sentence of an answer comes from, by sentence embeddings.

Beside ``citations.py`` (which checks the numbers the model wrote), this
module compares meaning: it trims each source to the sentences closest to
the question (what the model reads), cites after the fact the source an
uncited sentence matches, and finds the answer sentences no source
supports. All of it works on one :class:`SourceSentences` table, embedded
once per answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agent import substance
from agent.citations import CITATION

_SPLIT = re.compile(r"((?<=[.!?])\s+|\n+)")  # sentence ends or line breaks, kept as separators
MIN_CLAIM_WORDS = 6  # shorter answer sentences ("Here is what I found.") are connectives, not claims

Embed = Callable[[list[str]], np.ndarray]

# The sentence of an abstract nearest a question is often its background ("Federated learning enables
# collaborative training ..."), which tells the reader nothing about the work; the sentences that say
# what the work does or finds carry these cues. MiniLM cosines of one abstract's sentences to a question
# mostly lie within 0.1 of each other, so the bonus picks a claim among the near ones, not a far one.
_CLAIM = re.compile(r"\b(we|our|this (paper|work|study|article)|here|propos|introduc|present|show|demonstrat|"
                    r"find|found|achiev|outperform|improv|reduc|results?)\w*", re.IGNORECASE)
CLAIM_BONUS = 0.1
# a claim that is no near copy of its sources must find this share of its specific words in them (review)
MIN_SUPPORT = 0.5


def split(text: str) -> list[str]:
    """``text`` as sentences (even positions) and the separators between them (odd positions)."""
    return _SPLIT.split(text)


def sentences(text: str) -> list[str]:
    """The non-empty sentences of a text, whitespace collapsed."""
    return [s for s in (" ".join(p.split()) for p in split(text)[::2]) if s]


def words(sentence: str) -> int:
    return len(CITATION.sub(" ", sentence).split())


@dataclass
class SourceSentences:
    """Every sentence of the sources (a title counts as one), embedded, with its source number."""

    texts: list[str]
    owners: np.ndarray  # source number of each sentence
    titles: np.ndarray  # whether each sentence is its source's title
    vectors: np.ndarray  # unit-length rows

    @classmethod
    def of(cls, sources: Sequence[tuple[int, str, str]], embed: Embed, extra: Sequence[str] = ()) -> SourceSentences:
        """From (number, title, text) triples; ``extra`` texts (topic descriptions) belong to source 0."""
        texts, owners, titles = [], [], []
        for n, title, text in sources:
            body = sentences(text)
            texts += ([title] if title else []) + body
            owners += [n] * ((1 if title else 0) + len(body))
            titles += ([True] if title else []) + [False] * len(body)
        texts += list(extra)
        owners += [0] * len(extra)
        titles += [False] * len(extra)
        vectors = embed(texts) if texts else np.zeros((0, 1), np.float32)
        return cls(texts, np.array(owners, dtype=np.int64), np.array(titles, dtype=bool), vectors)

    def best(self, n: int, query: np.ndarray, k: int) -> list[str]:
        """Source ``n``'s ``k`` sentences most similar to ``query``, a sentence that says what the work
        does or finds counting :data:`CLAIM_BONUS` more; in their original order (not its title)."""
        rows = np.flatnonzero((self.owners == n) & ~self.titles)
        if not len(rows):
            rows = np.flatnonzero(self.owners == n)
        bonus = np.array([CLAIM_BONUS * bool(_CLAIM.search(self.texts[i])) for i in rows])
        top = rows[np.argsort(-(self.vectors[rows] @ query + bonus), kind="stable")[:k]]
        return [self.texts[i] for i in sorted(top)]


@dataclass
class Review:
    """An answer after attribution and grounding."""

    answer: str
    cited: list[int]  # source numbers, in order of first citation (model's and similarity's)
    by_similarity: list[int]  # of those, the ones only similarity cited
    dropped: list[str]  # sentences no source supports, removed from the answer
    claims: int  # sentences long enough to be claims, before dropping


def review(answer: str, cited: Sequence[int], table: SourceSentences, embed: Embed, *, question: str,
           cite_at: float, ground_at: float, copied_at: float = 0.75, min_support: float = MIN_SUPPORT) -> Review:
    """Cite uncited sentences by similarity, and drop the sentences no source supports.

    A claim (a sentence of ``MIN_CLAIM_WORDS`` or more) is grounded when some
    source sentence is at least ``ground_at`` similar to it and, unless it is
    a near copy (``copied_at``), at least ``min_support`` of its specific
    words (``substance.specific_words``: not the question's) occur in those
    sources. Similarity alone does not tell a made-up sentence on the topic
    from a supported one: "People use federated learning for banking and
    gaming" is 0.65 similar to a federated-learning abstract with neither word.
    A claim citing [n] is checked against the sources it cites, else its
    citation would vouch for text the source does not hold. An uncited
    claim at least ``cite_at`` similar to a source gets that source's number.
    """
    parts = split(answer)
    claims = [i for i in range(0, len(parts), 2) if words(parts[i]) >= MIN_CLAIM_WORDS]
    cited = list(cited)
    similarity: list[int] = []
    dropped: list[str] = []
    if claims and len(table.texts):
        vectors = embed([CITATION.sub(" ", parts[i]) for i in claims])
        sims = vectors @ table.vectors.T
        for row, i in zip(sims, claims):
            numbers = substance.cited_numbers(parts[i])
            mine = np.isin(table.owners, numbers + [0]) if numbers else np.ones(len(table.owners), bool)
            best = row[mine].max() if mine.any() else -1.0
            if best < ground_at or (best < copied_at and _support(parts[i], question, table, mine) < min_support):
                dropped.append(parts[i].strip())
                parts[i] = ""
                continue
            if not numbers:
                best = int(np.argmax(np.where(table.owners > 0, row, -1.0)))
                n = int(table.owners[best])
                if n > 0 and row[best] >= cite_at:
                    body = parts[i].rstrip()
                    end = len(body.rstrip(".!?:;"))
                    parts[i] = f"{body[:end]} [{n}]{body[end:]}"
                    if n not in cited:
                        cited.append(n)
                        similarity.append(n)
    kept = "".join(p for k, p in enumerate(parts) if k % 2 == 0 and p or k % 2 == 1 and _between(parts, k))
    return Review(kept.strip(), [n for n in cited if f"[{n}]" in kept], similarity, dropped, len(claims))


def _support(sentence: str, question: str, table: SourceSentences, mine: np.ndarray) -> float:
    """The share of the sentence's specific words that occur in the sentences ``mine`` selects."""
    specific = substance.specific_words(sentence, question)
    if not specific:
        return 1.0
    held = set().union(*(substance.stems(table.texts[i]) for i in np.flatnonzero(mine)))
    return sum(w[: substance.STEM] in held for w in specific) / len(specific)


def _between(parts: list[str], k: int) -> bool:
    """Keep a separator only when the sentences on both sides of it stayed."""
    return bool(parts[k - 1]) and any(parts[j] for j in range(k + 1, len(parts), 2))
