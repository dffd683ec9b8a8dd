"""The words a search shares with an abstract: a re-ranking of the nearest abstracts by meaning.

Embedding similarity alone ranks abstracts that share a question's field above those that share
its subject: for "transformers made more efficient at inference" the nearest abstracts were about
what transformers can compute, and the abstracts on efficient inference came fifth and sixth.
The nearest ``pool`` abstracts are re-ranked by similarity plus ``weight`` times the share of the
search's words that each contains, each word weighted by how few of the pool contain it, so a
word every candidate holds ("image" in a search about diffusion images) moves nothing.
Stems are crude; two stems meet when one begins the other or they differ only in their last
letters (``meets``), so "generalize" finds "generalization" and "recognize" "recognition".
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# words a search holds that name no subject (the question's frame is gone already: router.search_query)
_STOP = frozenset("a an the of in on for to and or with by from at as is are be into via using use used more "
                  "made model models learning machine deep neural network networks data method methods "
                  "why how what which who when where done best work works".split())
_SUFFIXES = ("ations", "ation", "ings", "ing", "ities", "ity", "ions", "ion", "ies", "es", "s", "ed", "ly", "al")

H = TypeVar("H")


def stem(word: str) -> str:
    """A crude stem, the same on both sides: "hallucinations" and "hallucinating" meet at "hallucinat"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """Every word's stem, and a hyphenated word's parts and joined form ("self-supervised": also
    "supervis" and "selfsupervis"; "over-parameterized": "overparameteriz")."""
    out: set[str] = set()
    for word in WORD.findall(text.lower()):
        out.add(stem(word))
        if "-" in word:
            out.update(stem(part) for part in word.split("-") if part)
            out.add(stem(word.replace("-", "")))
    return out


def meets(a: str, b: str) -> bool:
    """Whether two stems name one word: equal, one begins the other (at least 5 letters: "estim",
    "estimate"), or they share all but the last letter of the shorter, and at least 6 ("recognize",
    "recognit"; not "generalize", "generate", nor "transform", "transl")."""
    if a == b:
        return True
    short = min(len(a), len(b))
    if short < 5:
        return False
    if a.startswith(b) or b.startswith(a):
        return True
    shared = len(os.path.commonprefix([a, b]))
    return shared >= max(6, short - 1)


def holds(word: str, held: set[str]) -> bool:
    return word in held or any(meets(word, h) for h in held if h[:5] == word[:5])


# A hit that names the search's every word counts from this share of the similarity bar: one word embeds weakly
# against a whole article (on 2,092 BBC articles none was 0.40 near "football"; half of the 115 that name it
# are 0.20 near), while an article that names it in passing is further still ("cooking": Robin Cook, 0.08)
NAMED_SHARE = 0.5


def names_all(words: list[str], text: str) -> bool:
    """Whether ``text`` holds every one of ``words`` (:func:`search_words`), word for word; False for none."""
    if not words:
        return False
    held = stems(text)
    return all(holds(w, held) for w in words)


def near_or_named(hits: Sequence[H], query: str, similarity: float, of: Callable[[H], float],
                  text: Callable[[H], str]) -> list[H]:
    """The ``hits`` at least ``similarity`` near, or :data:`NAMED_SHARE` of that and naming every word of
    ``query``, in their order."""
    words = search_words(query)
    return [h for h in hits if of(h) >= similarity or (of(h) >= NAMED_SHARE * similarity and names_all(words, text(h)))]


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
    has = [[holds(w, s) for w in words] for s in held]
    idf = [math.log((len(hits) + 1) / (1 + sum(row[i] for row in has))) + 1 for i in range(len(words))]
    total = sum(idf)
    score = [similarity(h) + weight * sum(f for f, hit in zip(idf, row) if hit) / total for h, row in zip(hits, has)]
    return [hits[i] for i in sorted(range(len(hits)), key=lambda i: -score[i])]
