"""A scripted LLM for unit tests of logic around the model (never for end-to-end claims)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from topictalk.agent.llm import Model


class FakeLLM(Model):
    """Answers with ``reply(messages)``; records every call. Streams word by word.

    A real :class:`Model`: callers get its :class:`~agent.llm.Response` (usage,
    ``close()``), its option checks, and each call's prompt rendered as a
    runtime renders it (Meta's Llama 2 format, neutralized) in :attr:`prompts`.
    """

    spec = "fake"
    llama2 = True  # renders as the Llama 2 runtimes do: prompts.format_chat over neutralized messages

    def __init__(self, reply: Callable[[list[dict]], str] | list[str] | str = "Fake label") -> None:
        if isinstance(reply, str):
            self._reply = lambda _m, r=reply: r
        elif isinstance(reply, list):
            answers = iter(reply)
            self._reply = lambda _m: next(answers)
        else:
            self._reply = reply
        self.calls: list[list[dict]] = []
        self.prompts: list[str] = []  # what a runtime would tokenize, one per call

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _stream(self, messages, options, usage, stopping) -> Iterator[str]:
        self.calls.append([dict(m) for m in messages])
        self.prompts.append(self.render(messages))
        usage.prompt_tokens = self.count_tokens(self.prompts[-1])
        answer = self._reply(messages)
        for i, word in enumerate(answer.split(" ")):
            usage.completion_tokens += 1
            yield word if i == 0 else " " + word
