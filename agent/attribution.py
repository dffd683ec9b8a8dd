"""Which source each sentence of an answer comes from, by sentence embeddings.

Beside ``citations.py`` (which checks the numbers the model wrote), this
module compares meaning: it trims each source to the sentences closest to
the question (what the model reads), cites after the fact the source an
uncited sentence matches, and finds the answer sentences no source
supports. All of it works on one :class:`SourceSentences` table, embedded
once per answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from topictalk.agent import substance
from topictalk.agent.citations import CITATION

# the grounding check and the sentence table live in indexing, which checks descriptions with them too
from topictalk.indexing.grounding import (  # noqa: F401 - re-exported: the answer path reads them from here
    CLAIM_BONUS,
    COPIED_AT,
    MIN_CLAIM_WORDS,
    MIN_SUPPORT,
    Embed,
    SourceSentences,
    grounded,
    sentences,
    split,
)


def words(sentence: str) -> int:
    return len(CITATION.sub(" ", sentence).split())


@dataclass
class Review:
    """An answer after attribution and grounding."""

    answer: str
    cited: list[int]  # source numbers, in order of first citation (model's and similarity's)
    by_similarity: list[int]  # of those, the ones only similarity cited
    dropped: list[str]  # sentences no source supports, removed from the answer
    claims: int  # sentences long enough to be claims, before dropping


def review(answer: str, cited: Sequence[int], table: SourceSentences, embed: Embed, *, question: str,
           cite_at: float, ground_at: float, copied_at: float = COPIED_AT, min_support: float = MIN_SUPPORT) -> Review:
    """Cite uncited sentences by similarity, and drop the sentences no source supports.

    A claim (a sentence of ``MIN_CLAIM_WORDS`` or more) is grounded when some
    source sentence is at least ``ground_at`` similar to it and, unless it is
    a near copy (``copied_at``), at least ``min_support`` of its specific
    words (``grounding.specific_words``: not the question's) occur in those
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
            if not grounded(parts[i], row, table, mine, question=question, ground_at=ground_at, copied_at=copied_at,
                            min_support=min_support):
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


def _between(parts: list[str], k: int) -> bool:
    """Keep a separator only when the sentences on both sides of it stayed."""
    return bool(parts[k - 1]) and any(parts[j] for j in range(k + 1, len(parts), 2))
