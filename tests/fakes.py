"""A scripted LLM for unit tests of logic around the model (never for end-to-end claims)."""

from __future__ import annotations

from collections.abc import Callable, Iterator


class FakeLLM:
    """Answers with ``reply(messages)``; records every call. Streams word by word."""

    spec = "fake"
    context_length = 4096

    def __init__(self, reply: Callable[[list[dict]], str] | list[str] | str = "Fake label") -> None:
        if isinstance(reply, str):
            self._reply = lambda _m, r=reply: r
        elif isinstance(reply, list):
            answers = iter(reply)
            self._reply = lambda _m: next(answers)
        else:
            self._reply = reply
        self.calls: list[list[dict]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages, options=None) -> Iterator[str]:
        self.calls.append([dict(m) for m in messages])
        answer = self._reply(messages)
        for i, word in enumerate(answer.split(" ")):
            yield word if i == 0 else " " + word

    def generate(self, messages, options=None) -> str:
        return "".join(self.stream(messages, options))

    def complete(self, messages, *, max_tokens=500, temperature=0.1, seed=42) -> str:
        return self.generate(messages)

    def close(self) -> None:
        pass
