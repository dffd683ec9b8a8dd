"""Citations like [1] or [2, 3] in a streamed answer: keep the valid, drop the invented.

The filter works on the stream itself, holding back only a short ``[...``
run until it knows whether it is a citation, so the reader sees tokens as
they come and never sees a number that names no source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# a citation with the spaces before it, which go too when the citation is dropped. A match may start only
# where a run of spaces starts (the lookbehind): else each of n spaces would rescan the rest of the run and a
# long run would cost n**2 steps (40,000 spaces: 10 s holding the GIL); the leftmost match is the same
CITATION = re.compile(r"(?<![ \t])([ \t]*)\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")
_OPEN = re.compile(r"(?<![ \t])(?:[ \t]*\[[\d,;\s]*$|[ \t]+$)")  # maybe the start of a citation
_MAX_HOLD = 24  # a '[' run longer than this is not a citation


def _rewrite(match: re.Match[str], valid: set[int], cited: list[int]) -> str:
    numbers = [int(n) for n in re.split(r"[,;]", match.group(2))]
    kept = [n for n in numbers if n in valid]
    for n in kept:
        if n not in cited:
            cited.append(n)
    return match.group(1) + "".join(f"[{n}]" for n in kept) if kept else ""


def clean(text: str, valid: set[int], cited: list[int] | None = None) -> str:
    """``text`` with invalid citations removed; valid numbers are appended to ``cited``."""
    cited = cited if cited is not None else []
    return CITATION.sub(lambda m: _rewrite(m, valid, cited), text)


class CitationFilter:
    """Wraps a chunk stream; ``cited`` lists the valid source numbers in order of first use."""

    def __init__(self, valid: Iterable[int]) -> None:
        self.valid = set(valid)
        self.cited: list[int] = []

    def __call__(self, chunks: Iterable[str]) -> Iterator[str]:
        pending = ""
        for chunk in chunks:
            pending += chunk
            hold = _OPEN.search(pending)
            if hold and len(pending) - hold.start() <= _MAX_HOLD:
                ready, pending = pending[: hold.start()], pending[hold.start():]
            else:
                ready, pending = pending, ""
            if ready:
                yield CITATION.sub(lambda m: _rewrite(m, self.valid, self.cited), ready)
        if pending:
            yield CITATION.sub(lambda m: _rewrite(m, self.valid, self.cited), pending)
