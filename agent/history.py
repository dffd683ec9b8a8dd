"""A conversation's turns, and the window of them that fits the model's context."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from topictalk.agent.llm import Message
from topictalk.indexing.errors import TopictalkError

_TURN_OVERHEAD = 16  # template tokens around a message
# when the window is full, the turns it keeps start at a multiple of this: the kept turns stay the same
# from one question to the next (a runtime's KV cache still holds them) and are re-read once every
# WINDOW_STEP turns, not at every question
WINDOW_STEP = 4


class History:
    """(question, answer) pairs, oldest first, each with the messages the model's context keeps of it."""

    def __init__(self) -> None:
        self._turns: list[tuple[str, str]] = []
        self._kept: list[list[Message]] = []

    def add(self, question: str, answer: str, messages: Sequence[Message] = ()) -> None:
        """A turn; ``messages``: what later prompts show of it, when not the question and ``answer``. A
        turn answered source by source keeps its first call's message and sentence, which a runtime that
        keeps its KV cache still holds: a follow-up then reads only its own question."""
        answer = answer or "(no answer)"
        self._turns.append((question, answer))
        self._kept.append(list(messages) or [{"role": "user", "content": question},
                                             {"role": "assistant", "content": answer}])

    def clear(self) -> None:
        self._turns.clear()
        self._kept.clear()

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
        start = len(self._kept)
        for i in reversed(range(len(self._kept))):  # newest first, until the window is full
            cost = sum(count(m["content"]) + _TURN_OVERHEAD for m in self._kept[i])
            if cost > room:
                break
            room -= cost
            start = i
        if start > 0:  # some turns did not fit: start at a step, so the next questions keep the same start
            start = min(-(-start // WINDOW_STEP) * WINDOW_STEP, len(self._kept))
        turns = [m for kept in self._kept[start:] for m in kept]
        return [{"role": "system", "content": system}, *preamble, *turns, *this_turn]
