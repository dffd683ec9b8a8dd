"""Prompt text files shipped beside this module (``prompts/text/*.txt``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """Return the prompt called ``name`` (file ``text/<name>.txt``), trailing newline removed."""
    path = resources.files("topictalk.prompts").joinpath("text", f"{name}.txt")
    if not path.is_file():
        raise KeyError(f"no prompt named {name!r}; known prompts: {', '.join(names())}")
    return path.read_text(encoding="utf-8").rstrip("\n")


def names() -> list[str]:
    folder = resources.files("topictalk.prompts").joinpath("text")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt"))
