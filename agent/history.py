"""A conversation's turns, and the window of them that fits the model's context."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from topictalk.agent.llm import Message
from topictalk.indexing.errors import TopictalkError

_TURN_OVERHEAD = 16  # template tokens around a message


class History:
    """(question, answer) pairs, oldest first."""

    def __init__(self) -> None:
        self._turns: list[tuple[str, str]] = []

    def add(self, question: str, answer: str) -> None:
        self._turns.append((question, answer or "(no answer)"))

    def clear(self) -> None:
        self._turns.clear()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._turns)

    def __len__(self) -> int:
        return len(self._turns)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self._turns[i]

    def messages(self, system: str, this_turn: list[Message], count: Callable[[str], int], context_length: int,
                 answer_tokens: int, preamble: Sequence[Message] = ()) -> list[Message]:
        """System prompt, the fixed ``preamble`` (a worked example), as many recent turns as fit, then
        this turn's messages. System prompt and preamble come first and never change, so a runtime that
        keeps its KV cache reads them once for every question."""
        used = count(system) + sum(count(m["content"]) + _TURN_OVERHEAD for m in [*preamble, *this_turn])
        room = context_length - answer_tokens - used
        if room < 0:
            raise TopictalkError(f"the model's context ({context_length} tokens) cannot hold this question "
                                 "and its sources; shorten the question or use a model with a longer context")
        turns: list[Message] = []
        for question, answer in reversed(self._turns):  # newest first, until the window is full
            cost = count(question) + count(answer) + _TURN_OVERHEAD
            if cost > room:
                break
            room -= cost
            turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}] + turns
        return [{"role": "system", "content": system}, *preamble, *turns, *this_turn]
