"""The LLM interface every runtime implements.

Modelled on simonw/llm: ``Model.stream`` turns a list of chat messages into
a :class:`Response`, which yields text chunks as they are generated and
then holds the whole text and what the call cost. A model is shared by
every user of the app, so nothing about one call is stored on it. One small
class per runtime (llama.cpp, transformers, OpenAI-compatible server) lives
in its own module; ``agent.models.load`` builds one from a spec string.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

import prompts
from indexing.errors import TopictalkError

# file or model names of Llama 2 chat models, which get Meta's format (prompts.llama2)
LLAMA2_CHAT_NAME = re.compile(r"llama[-_ ]?(v)?2.*chat", re.IGNORECASE)


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Options:
    """Sampling settings; the defaults are the reference recipe's."""

    max_tokens: int = 500
    temperature: float = 0.1  # 0: greedy
    repetition_penalty: float = 1.1
    stop: tuple[str, ...] = ()
    seed: int = 42


@dataclass
class Usage:
    """What one generation cost, filled in by the runtime as it streams."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV cache was reused


class Response:
    """One call's answer: iterate it for text chunks as they are generated,
    then read :meth:`text` and :attr:`usage` (complete once iterated).

    Stopping early (``close()``, or leaving the loop and dropping it) closes
    the runtime's generator, which stops the generation: the in-process
    runtimes stop decoding, the server runtime closes its HTTP stream.
    """

    def __init__(self, chunks: Iterator[str], usage: Usage) -> None:
        self.usage = usage
        self._chunks = chunks
        self._parts: list[str] = []
        self._done = False

    def __iter__(self) -> Iterator[str]:
        if self._done:  # a second loop replays the answer
            yield from self._parts
            return
        try:
            for chunk in self._chunks:
                self._parts.append(chunk)
                yield chunk
            self._done = True
        finally:
            self.close()

    def text(self) -> str:
        """The whole answer (generating the rest first, if not iterated yet)."""
        for _ in self:
            pass
        return "".join(self._parts)

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def wants_llama2(template: str | None, *names: str) -> bool:
    """Whether a model gets Meta's Llama 2 format rather than its own chat template:
    it has no template (Meta's Llama 2 checkpoints), a Llama 2 one, or a Llama 2 chat name."""
    return template is None or "<<SYS>>" in template or any(LLAMA2_CHAT_NAME.search(n) for n in names if n)


class Model(ABC):
    """A chat model. Use as a context manager, or call :meth:`close`."""

    spec: str
    context_length: int = 4096
    # how many calls may run at once: an in-process model generates one answer at a
    # time (more would only queue on its lock); a server batches concurrent requests
    concurrency: int = 1
    # whether complete_many serves its prompts together (a batched generate, requests in flight);
    # when not, a caller that wants each answer as it comes asks one prompt at a time
    batches: bool = False
    # Meta's Llama 2 format (prompts.format_chat) instead of the model's own template
    llama2: bool = False
    # the model's own control/added tokens written in brackets (prompts.model_tokens):
    # its tokenizer would read them as control tokens anywhere in a message
    special_tokens: frozenset[str] = frozenset()

    def stream(self, messages: Sequence[Message], options: Options = Options()) -> Response:
        """The answer as a :class:`Response`; generation runs as it is iterated."""
        self.check(options)
        usage = Usage()
        return Response(self._stream(messages, options, usage), usage)

    @abstractmethod
    def _stream(self, messages: Sequence[Message], options: Options, usage: Usage) -> Iterator[str]:
        """Yield the answer's text chunks, filling in ``usage`` (this call's own)."""

    @staticmethod
    def check(options: Options) -> None:
        """Refuse settings no runtime should guess about."""
        if options.max_tokens <= 0:  # llama.cpp would read it as "until the context is full"
            raise TopictalkError(f"max_tokens must be at least 1, got {options.max_tokens}; ask for 1 or more tokens")

    def room(self, prompt_tokens: int) -> int:
        """Tokens left for the answer after a prompt of ``prompt_tokens``; an error when none are."""
        if prompt_tokens >= self.context_length:
            raise TopictalkError(
                f"the prompt has {prompt_tokens} tokens, more than the model's context of "
                f"{self.context_length}; shorten it or raise n_ctx"
            )
        return self.context_length - prompt_tokens

    def generate(self, messages: Sequence[Message], options: Options = Options()) -> str:
        return self.stream(messages, options).text()

    def complete(self, messages: Sequence[Message], *, max_tokens: int = 500, temperature: float = 0.1,
                 seed: int = 42) -> str:
        """Whole answer at once; what indexing's labeler calls (it cannot import Options)."""
        return self.generate(messages, Options(max_tokens=max_tokens, temperature=temperature, seed=seed))

    def complete_many(self, conversations: Sequence[Sequence[Message]], *, max_tokens: int = 500,
                      temperature: float = 0.1, seed: int = 42) -> list[str]:
        """:meth:`complete` for each message list, answers in the same order.

        One at a time here (llama.cpp: each prompt reuses the previous one's
        KV cache prefix); runtimes that batch override it. Under greedy
        decoding (``temperature=0``) the answers equal one-at-a-time ones.
        """
        return [self.complete(m, max_tokens=max_tokens, temperature=temperature, seed=seed) for m in conversations]

    def neutralize_messages(self, messages: Sequence[Message]) -> list[Message]:
        """Message contents unable to forge a turn: the fixed list plus this model's own tokens."""
        return prompts.neutralize_messages(messages, self.special_tokens)  # type: ignore[return-value]

    def render(self, messages: Sequence[Message]) -> str:
        """The exact prompt text: Meta's format for Llama 2, else the model's own template."""
        if self.llama2:
            return prompts.format_chat(messages, self.special_tokens)
        return self._apply_template(self.neutralize_messages(messages))

    def _apply_template(self, messages: list[Message]) -> str:
        """The model's own chat template over already neutralized messages."""
        raise NotImplementedError(f"{type(self).__name__} sends messages, not a rendered prompt")

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
    The source is closed on a stop, so its generation stops there too.
    """
    stop = [s for s in stop if s]
    if not stop:
        yield from chunks
        return
    longest = max(map(len, stop))
    pending = ""
    source = iter(chunks)
    try:
        for chunk in source:
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
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
