"""Subject words mended to the index's own words: "tell me about reinforcment lerning" is a question about
reinforcement learning, not one the corpus "has nothing on".

A sentence encoder reads a misspelled word as other word pieces ("lerning" is "le", "##rn", "##ing"), so a
question with one slip in its subject embeds far from the documents and was answered as off the corpus.
The router already mends its own routing words (``corpus_rules.mend``); this mends the subject, against
the words the index describes its topics and themes with (labels, keywords, KeyBERT and MMR words,
descriptions), which hold the corpus's subjects.

A word is mended only when it is none of those words, none of the encoder's whole words (a real word the
index does not use, "cooking", stays: the answer then says the corpus has nothing on it), and exactly one
index word is nearest to it: one slip for words of 5-7 letters, two for longer ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+")  # letters only: "gpt4" and "3d" are never touched
MIN_LETTERS = 5  # a slip in a shorter word is as likely another word ("mode", "node", "model")
TWO_SLIPS_FROM = 8  # letters from which two slips are mended ("reinforcment" is one, "reinforcemnet" two)


def distance(a: str, b: str, limit: int) -> int:
    """Edits (a letter added, dropped or changed, two neighbours swapped) from ``a`` to ``b``, or
    ``limit + 1`` as soon as it is known to be more than ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, row = None, list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (x != y))
            if before is not None and i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


@dataclass(frozen=True)
class Mended:
    text: str  # the question with its mended words
    changes: tuple[tuple[str, str], ...]  # (as typed, as read), in the question's order


class Speller:
    """Mends a question's subject words to the words of one index (see the module's docstring)."""

    def __init__(self, texts: Iterable[str], known: Iterable[str] = ()) -> None:
        """``texts``: what the index says of its topics and themes; ``known``: real words of the language
        (the encoder's whole-word vocabulary), never mended."""
        self.words = Counter(w for text in texts for w in _WORD.findall(text.lower()) if len(w) >= 3)
        self.known = frozenset(known)
        self._by_length: dict[int, list[str]] = {}
        for word in self.words:
            self._by_length.setdefault(len(word), []).append(word)

    def correction(self, word: str) -> str | None:
        """The one index word ``word`` is a slip of, or None."""
        w = word.lower()
        if len(w) < MIN_LETTERS or w in self.words or w in self.known:
            return None
        limit = 2 if len(w) >= TWO_SLIPS_FROM else 1
        best, found = limit + 1, []
        for length in range(len(w) - limit, len(w) + limit + 1):
            for candidate in self._by_length.get(length, ()):
                if candidate.rstrip("s") == w.rstrip("s"):  # a plural is not a slip of its singular
                    continue
                d = distance(w, candidate, min(limit, best))
                if d < best:
                    best, found = d, [candidate]
                elif d == best:
                    found.append(candidate)
        if best > limit:
            return None
        if len(found) > 1:  # two index words as near: the most used one, unless they are used alike
            found.sort(key=lambda c: -self.words[c])
            if self.words[found[0]] == self.words[found[1]]:
                return None
        return found[0]

    def mend(self, question: str) -> Mended:
        changes: list[tuple[str, str]] = []

        def fix(m: re.Match) -> str:
            word = m.group()
            if any(c.isupper() for c in word[1:]) or (word[0].isupper() and m.start() > 0):
                return word  # an acronym or a name ("BERTopic", "Vaswani"): not ours to mend
            found = self.correction(word)
            if found is None:
                return word
            found = found.capitalize() if word[0].isupper() else found
            changes.append((word, found))
            return found

        text = _WORD.sub(fix, question)
        return Mended(text, tuple(changes))
