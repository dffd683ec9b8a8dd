"""Whether an answer says what its sources do, and the honest answer when it does not.

The rule (``substantive``), written so that it can be checked by hand:

1. The answer is cut into clauses: at sentence ends, semicolons and line
   breaks (bullets).
2. A clause *describes* source [n] when it cites [n], cites at most two
   sources (a claim about three or more at once says nothing of each), and
   holds at least ``MIN_SPECIFIC`` specific words that also occur in
   source [n]'s title or abstract, and is more than its title: a clause
   that is the title and at most two words besides ("[1] Title.", "- [1]
   Title: survey") says nothing the reader does not see under the answer.
3. A specific word is a word of 3 or more letters that is not a stop word,
   not a word about sources themselves ("papers", "corpus", "deal with",
   "apply": ``META``), and not a word of the question. Words are compared
   by their first 6 letters, so "molecules" is the question's "molecular".
4. An answer is substantive when it cites a source and every source it
   cites is described by one of its clauses.

"[1] and [2] apply machine learning to proteins or molecules." fails it
for "which papers predict molecular or protein properties?": "apply" is
about the sources, "proteins" and "molecules" are the question's words,
and "machine learning" is two words, not three.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from topictalk.agent.citations import CITATION

# the word rules are shared with the grounding check, which indexing runs on descriptions too
from topictalk.indexing.grounding import META, STEM, STOP, WORD, specific_words, stems  # noqa: F401 - re-exported

MIN_SPECIFIC = 3
_CLAUSE = re.compile(r"(?<=[.!?])\s+|;\s*|\n+")


def clauses(answer: str) -> list[str]:
    return [c for c in (c.strip() for c in _CLAUSE.split(answer)) if c]


def cited_numbers(text: str) -> list[int]:
    """Every source number ``text`` cites, in order, repeats kept ("[1, 3] ... [1]" -> 1, 3, 1)."""
    return [int(n) for m in CITATION.finditer(text) for n in re.findall(r"\d+", m.group(2))]


def _only_title(clause: str, title: str) -> bool:
    """The clause is the title, or the part of it after (or before) a colon, and at most two more
    words: "ARETE: Attention-based Rasterized Encoding ..." restated as "[2] Attention-based ..." is its title."""
    said = WORD.findall(CITATION.sub(" ", clause).lower())
    halves = title.split(":") if ":" in title else []
    for named in [WORD.findall(title.lower())] + [w for h in halves if len(w := WORD.findall(h.lower())) >= 3]:
        for start in range(len(said) - len(named) + 1 if named else 0):
            if said[start:start + len(named)] == named:
                return len(said) - len(named) <= 2
    return False


def _source_stems(sources: Mapping[int, tuple[str, str]]) -> dict[int, set[str]]:
    return {n: stems(f"{title} {text}") for n, (title, text) in sources.items()}


def _describes(clause: str, words: list[str], n: int, held: Mapping[int, set[str]],
               sources: Mapping[int, tuple[str, str]]) -> bool:
    """Rule step 2 for one cited source of a clause (``words``: the clause's specific words)."""
    return n in held and sum(w[:STEM] in held[n] for w in words) >= MIN_SPECIFIC and \
        not _only_title(clause, sources[n][0])


def undescribed(answer: str, question: str, sources: Mapping[int, tuple[str, str]]) -> list[int]:
    """The cited source numbers no clause describes (rule steps 1-3); ``sources``: number -> (title, text)."""
    cited = list(dict.fromkeys(cited_numbers(answer)))
    held = _source_stems(sources)
    described: set[int] = set()
    for clause in clauses(answer):
        numbers = list(dict.fromkeys(cited_numbers(clause)))
        if not numbers or len(numbers) > 2:
            continue
        words = specific_words(clause, question)
        described.update(n for n in numbers if _describes(clause, words, n, held, sources))
    return [n for n in cited if n not in described]


def trim(answer: str, question: str, sources: Mapping[int, tuple[str, str]]) -> tuple[str, list[str]]:
    """The answer without its clauses that cite sources and describe none of them (rule steps 1-3),
    and those clauses: "[1] studies recommendation systems." beside three clauses that say what
    their sources do is one empty line in a good answer, not a reason to discard it."""
    held = _source_stems(sources)
    pieces = re.split(f"({_CLAUSE.pattern})", answer)  # clauses at even positions, separators between
    kept, removed = [], []
    for k in range(0, len(pieces), 2):
        clause = pieces[k]
        numbers = list(dict.fromkeys(cited_numbers(clause)))
        words = specific_words(clause, question)
        empty = bool(numbers) and (len(numbers) > 2 or not any(_describes(clause, words, n, held, sources)
                                                               for n in numbers))
        if empty:
            removed.append(clause.strip())
        else:
            kept.append(clause + (pieces[k + 1] if k + 1 < len(pieces) else ""))
    return "".join(kept).strip(), removed


def substantive(answer: str, question: str, sources: Mapping[int, tuple[str, str]]) -> bool:
    """Rule step 4: it cites something, and says what each cited source does."""
    return bool(cited_numbers(answer)) and not undescribed(answer, question, sources)


def extractive(lines: Sequence[tuple[int, str, str]]) -> str:
    """One line per source: "[n] Title: the sentence of its abstract nearest the question"."""
    out = []
    for n, title, sentence in lines:
        sentence = sentence.strip()
        if sentence and sentence[-1] not in ".!?":
            sentence += "."
        out.append(f"- [{n}] {title}: {sentence}" if title else f"- [{n}] {sentence}")
    return "\n".join(out)
