"""The words a search shares with an abstract: a re-ranking of the nearest abstracts by meaning.

Embedding similarity alone ranks abstracts that share a question's field above those that share
its subject: for "transformers made more efficient at inference" the nearest abstracts were about
what transformers can compute, and the abstracts on efficient inference came fifth and sixth.
The nearest ``pool`` abstracts are re-ranked by similarity plus ``weight`` times the share of the
search's words that each contains, each word weighted by how few of the pool contain it, so a
word every candidate holds ("image" in a search about diffusion images) moves nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# words a search holds that name no subject (the question's frame is gone already: router.search_query)
_STOP = frozenset("a an the of in on for to and or with by from at as is are be into via using use used more "
                  "made model models learning machine deep neural network networks data method methods".split())
_SUFFIXES = ("ations", "ation", "ings", "ing", "ities", "ity", "ions", "ion", "ies", "es", "s", "ed", "ly", "al")

H = TypeVar("H")


def stem(word: str) -> str:
    """A crude stem, the same on both sides: "hallucinations" and "hallucinating" meet at "hallucinat"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """Every word's stem, and each part of a hyphenated word's ("self-supervised": also "supervis")."""
    out: set[str] = set()
    for word in WORD.findall(text.lower()):
        out.add(stem(word))
        if "-" in word:
            out.update(stem(part) for part in word.split("-") if part)
    return out


def search_words(query: str) -> list[str]:
    return list(dict.fromkeys(stem(w) for w in WORD.findall(query.lower()) if w not in _STOP and len(w) > 2))


def rerank(query: str, hits: Sequence[H], similarity: Callable[[H], float], text: Callable[[H], str],
           weight: float) -> list[H]:
    """``hits`` (nearest first) by similarity plus ``weight`` x the weighted share of the query's words
    each holds; the order is unchanged for a query with no such word."""
    words = search_words(query)
    if not words or weight <= 0 or len(hits) < 2:
        return list(hits)
    held = [stems(text(h)) for h in hits]
    idf = {w: math.log((len(hits) + 1) / (1 + sum(w in s for s in held))) + 1 for w in words}
    total = sum(idf.values())
    score = [similarity(h) + weight * sum(idf[w] for w in words if w in s) / total for h, s in zip(hits, held)]
    return [hits[i] for i in sorted(range(len(hits)), key=lambda i: -score[i])]
