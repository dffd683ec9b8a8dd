"""The LLM interface every runtime implements.

Modelled on simonw/llm: a ``Model`` turns a list of chat messages into a
stream of text chunks. One small class per runtime (llama.cpp, transformers,
OpenAI-compatible server) lives in its own module; ``agent.models.load``
builds one from a spec string.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

# file or model names of Llama 2 chat models, which get Meta's format (prompts.llama2)
LLAMA2_CHAT_NAME = re.compile(r"llama[-_ ]?(v)?2.*chat", re.IGNORECASE)


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Options:
    """Sampling settings; the defaults are the reference recipe's."""

    max_tokens: int = 500
    temperature: float = 0.1
    repetition_penalty: float = 1.1
    stop: tuple[str, ...] = ()
    seed: int = 42


@dataclass
class Usage:
    """What one generation cost, filled in by the runtime as it streams."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV cache was reused


class Model(ABC):
    """A chat model. Use as a context manager, or call :meth:`close`."""

    spec: str
    context_length: int = 4096
    usage: Usage

    def __init__(self) -> None:
        self.usage = Usage()

    @abstractmethod
    def stream(self, messages: Sequence[Message], options: Options = Options()) -> Iterator[str]:
        """Yield the answer as text chunks, as they are generated."""

    def generate(self, messages: Sequence[Message], options: Options = Options()) -> str:
        return "".join(self.stream(messages, options))

    def complete(self, messages: Sequence[Message], *, max_tokens: int = 500, temperature: float = 0.1,
                 seed: int = 42) -> str:
        """Whole answer at once; what indexing's labeler calls (it cannot import Options)."""
        return self.generate(messages, Options(max_tokens=max_tokens, temperature=temperature, seed=seed))

    @functools.cached_property
    def identity(self) -> str:
        """The model behind the spec, for caches of its answers (indexing's label cache).

        The bundled GGUF by its checksum, a GGUF file or hf folder by path,
        sizes and mtimes, an hf hub name by its cached snapshot's commit, a
        server by its URL and the served model's name; options that change
        answers (format, quantize) stay in. Computed once per loaded model.
        """
        from agent import bundled, models
        from indexing import fingerprint

        spec = models.parse(self.spec)
        options = "".join(f"?{k}={v}" for k, v in sorted(spec.options.items()) if k in ("format", "quantize"))
        if spec.scheme == "bundled":
            model = bundled.named(spec.target)
            return f"bundled:{model.file}@sha256:{model.sha256}{options}"
        if spec.scheme == "llama-cpp":
            return f"llama-cpp:file:{fingerprint.files(spec.target)}{options}"
        if spec.scheme == "hf":
            return f"hf:{fingerprint.hub_or_files(spec.target)}{options}"
        # the served name is resolved when the spec names none ("first served")
        return f"openai:{getattr(self, 'base_url', spec.target)}#{getattr(self, 'model', '') or spec.model}"

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model; runtimes with a tokenizer override this."""
        return max(1, len(text) // 4)

    def close(self) -> None:  # noqa: B027 - optional for runtimes that hold nothing
        pass

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


def cut_at_stop(chunks: Iterable[str], stop: Sequence[str]) -> Iterator[str]:
    """Pass chunks through until any stop string appears; never yield any of it.

    Text that could be the start of a stop string is held back until the
    next chunk shows whether it is, so a stop split across chunks still cuts.
    """
    stop = [s for s in stop if s]
    if not stop:
        yield from chunks
        return
    longest = max(map(len, stop))
    pending = ""
    for chunk in chunks:
        pending += chunk
        hits = [i for i in (pending.find(s) for s in stop) if i >= 0]
        if hits:
            if min(hits):
                yield pending[: min(hits)]
            return
        # keep the tail that may still grow into a stop string
        safe = len(pending)
        for k in range(1, min(longest, len(pending)) + 1):
            if any(s.startswith(pending[-k:]) for s in stop):
                safe = len(pending) - k
        if safe:
            yield pending[:safe]
            pending = pending[safe:]
    if pending:
        yield pending

