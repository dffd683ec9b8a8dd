"""How one answer is sampled: the settings every LLM call takes, indexing's labels and agent's chat alike.

Defined here, below agent, because indexing asks a model for topic labels
without importing agent (its ``Completer`` protocol takes these options).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling settings; the defaults are the reference recipe's."""

    max_tokens: int = 500
    temperature: float = 0.1  # 0: greedy
    repetition_penalty: float = 1.1
    stop: tuple[str, ...] = ()
    seed: int = 42
