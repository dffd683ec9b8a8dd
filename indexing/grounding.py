"""Whether a sentence is supported by the documents it is said to come from: the one check for both
the answers (``agent/attribution.py``) and the descriptions written at index time (``indexing/written.py``).

A sentence is grounded in some documents when one of their sentences (or titles) is at least
``ground_at`` similar to it by sentence embeddings and, unless it is a near copy (``copied_at``), at
least ``min_support`` of its specific words (:func:`specific_words`) occur in those documents.
Similarity alone does not tell a made-up sentence on the subject from a supported one: "People use
federated learning for banking and gaming" is 0.65 similar to a federated-learning abstract with
neither word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

Embed = Callable[[list[str]], np.ndarray]

_SPLIT = re.compile(r"((?<=[.!?])\s+|\n+)")  # sentence ends or line breaks, kept as separators
MIN_CLAIM_WORDS = 6  # shorter sentences ("Here is what I found.") are connectives, not claims
GROUND_AT = 0.55  # a claim less similar than this to every sentence of its documents is not grounded
COPIED_AT = 0.75  # a claim this similar to one of their sentences is a near copy: no word check
# a claim that is no near copy must find this share of its specific words in its documents (review)
MIN_SUPPORT = 0.5

# The sentence of an abstract nearest a question is often its background ("Federated learning enables
# collaborative training ..."), which tells the reader nothing about the work; the sentences that say
# what the work does or finds carry these cues. MiniLM cosines of one abstract's sentences to a question
# mostly lie within 0.1 of each other, so the bonus picks a claim among the near ones, not a far one.
_CLAIM = re.compile(r"\b(we|our|this (paper|work|study|article)|here|propos|introduc|present|show|demonstrat|"
                    r"find|found|achiev|outperform|improv|reduc|results?)\w*", re.IGNORECASE)
CLAIM_BONUS = 0.1

WORD = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")
STOP = frozenset("""
a about above after again against all also an and any are as at be because been before being below between both but
by can could did do does doing down during each few for from further had has have having he her here hers him his how
i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out over own
same she should so some such than that the their theirs them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours one two three
first second third many much well way ways within without via use uses used using based new several various different
like including include includes included however thus therefore whereas while yet may might must shall also
""".split())
# words that speak of the sources rather than of their content
META = frozenset("""
paper papers source sources abstract abstracts corpus collection document documents article articles study studies
studied work works research researcher researchers author authors topic topics field area areas discuss discusses
discussed discussing deal deals dealing dealt contain contains containing contained focus focuses focused focusing
present presents presented propose proposes proposed explore explores explored exploring describe describes described
mention mentions mentioned relate relates related relating apply applies applied applying approach approaches method
methods technique techniques address addresses addressed investigate investigates investigated examine examines
examined cover covers covered covering provide provides provided show shows shown showed talk talks aspect aspects
context contexts relevant information example examples given above following both all respectively cited citation
""".split())
STEM = 6


def stems(text: str) -> set[str]:
    return {w[:STEM] for w in WORD.findall(text.lower()) if len(w) >= 3}


def specific_words(clause: str, question: str) -> list[str]:
    """The clause's words that say something: not stop words, not about the sources, not the question's."""
    asked = stems(question)
    found = []
    # a citation ("[2]", "[1, 3]") holds no WORD (a word starts with a letter), so it needs no removing first
    for w in WORD.findall(clause.lower()):
        if len(w) >= 3 and w not in STOP and w not in META and w[:STEM] not in asked and w not in found:
            found.append(w)
    return found


def split(text: str) -> list[str]:
    """``text`` as sentences (even positions) and the separators between them (odd positions)."""
    return _SPLIT.split(text)


def sentences(text: str) -> list[str]:
    """The non-empty sentences of a text, whitespace collapsed."""
    return [s for s in (" ".join(p.split()) for p in split(text)[::2]) if s]


class SourceSentences:
    """Every sentence of the sources (a title counts as one), with its source number, embedded as needed.

    A source's sentences are embedded when first asked for (:meth:`best`), all of them when
    :attr:`vectors` is read: an answer read source by source (``agent.conversation``) needs the first
    source's digest before the model's first word, not the others' (about 0.09 s a source on 2 cores).
    """

    def __init__(self, texts: list[str], owners: np.ndarray, titles: np.ndarray, vectors: np.ndarray | None = None,
                 embed: Embed | None = None) -> None:
        self.texts, self.owners, self.titles = texts, owners, titles
        self._embed = embed
        self._vectors = vectors
        self._done = np.full(len(texts), vectors is not None, dtype=bool)

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
        empty = None if texts else np.zeros((0, 1), np.float32)
        return cls(texts, np.array(owners, dtype=np.int64), np.array(titles, dtype=bool), empty, embed)

    def _ready(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows``, embedding those not embedded yet (in one call)."""
        missing = rows[~self._done[rows]]
        if len(missing):
            made = np.asarray(self._embed([self.texts[i] for i in missing]), dtype=np.float32)
            if self._vectors is None:
                self._vectors = np.zeros((len(self.texts), made.shape[1]), np.float32)
            self._vectors[missing] = made
            self._done[missing] = True
        return self._vectors[rows]

    @property
    def vectors(self) -> np.ndarray:
        """Unit-length rows, one per sentence (every source embedded now)."""
        self._ready(np.arange(len(self.texts)))
        return self._vectors if self._vectors is not None else np.zeros((0, 1), np.float32)

    def best(self, n: int, query: np.ndarray, k: int) -> list[str]:
        """Source ``n``'s ``k`` sentences most similar to ``query``, a sentence that says what the work
        does or finds counting :data:`CLAIM_BONUS` more; in their original order (not its title)."""
        rows = np.flatnonzero((self.owners == n) & ~self.titles)
        if not len(rows):
            rows = np.flatnonzero(self.owners == n)
        if not len(rows):
            return []
        bonus = np.array([CLAIM_BONUS * bool(_CLAIM.search(self.texts[i])) for i in rows])
        top = rows[np.argsort(-(self._ready(rows) @ query + bonus), kind="stable")[:k]]
        return [self.texts[i] for i in sorted(top)]


def grounded(sentence: str, similarities: np.ndarray, table: SourceSentences, mine: np.ndarray, *,
             question: str = "", ground_at: float = GROUND_AT, copied_at: float = COPIED_AT,
             min_support: float = MIN_SUPPORT) -> bool:
    """Whether ``sentence`` rests on the sentences of ``table`` that ``mine`` selects.

    ``similarities`` are the sentence's cosines to every row of ``table``; ``question`` words are not
    evidence (an answer may repeat the question without the sources saying it).
    """
    best = similarities[mine].max() if mine.any() else -1.0
    return best >= ground_at and (best >= copied_at or support(sentence, question, table, mine) >= min_support)


def support(sentence: str, question: str, table: SourceSentences, mine: np.ndarray) -> float:
    """The share of the sentence's specific words that occur in the sentences ``mine`` selects."""
    specific = specific_words(sentence, question)
    if not specific:
        return 1.0
    held = set().union(*(stems(table.texts[i]) for i in np.flatnonzero(mine)))
    return sum(w[:STEM] in held for w in specific) / len(specific)
