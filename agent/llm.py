"""The LLM interface every runtime implements.

Modelled on simonw/llm: ``Model.stream`` turns a list of chat messages into
a :class:`Response`, which yields text chunks as they are generated and
then holds the whole text and what the call cost. A model is shared by
every user of the app, so nothing about one call is stored on it. One small
class per runtime (llama.cpp, transformers, OpenAI-compatible server) lives
in its own module and says which spec scheme it serves (:attr:`Model.scheme`),
how a spec of it is read, named and located; ``agent.models.load`` looks the
scheme up among the runtimes and never switches on it.
"""

from __future__ import annotations

import functools
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypedDict

from topictalk import prompts
from topictalk.agent.priority import Priority
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions

Options = GenerationOptions  # the name agent.conversation imports

# file or model names of Llama 2 chat models, which get Meta's format (prompts.llama2)
LLAMA2_CHAT_NAME = re.compile(r"llama[-_ ]?(v)?2.*chat", re.IGNORECASE)


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ModelSpec:
    """A model spec string read by the runtime of its scheme (``agent.models.parse``)."""

    scheme: str
    target: str  # path, hub id or base URL
    model: str = ""  # openai: the served model's name
    options: dict[str, object] = field(default_factory=dict)
    text: str = ""  # the spec as written

    def __str__(self) -> str:
        return self.text


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
    :meth:`stop` does the same from another thread (a Stop button) while the
    generator runs, which ``close()`` cannot: the runtime looks at it between
    tokens, and llama.cpp between steps of reading the prompt.
    """

    def __init__(self, chunks: Iterator[str], usage: Usage, stopping: threading.Event | None = None) -> None:
        self.usage = usage
        self.stopping = stopping if stopping is not None else threading.Event()
        self._chunks = chunks
        self._parts: list[str] = []
        self._done = False

    def stop(self) -> None:
        """End the generation soon, from any thread: the text so far is the answer."""
        self.stopping.set()

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


def _as_persons(priority: Priority, chunks: Iterator[str]) -> Iterator[str]:
    """``chunks`` as a person's call of ``priority``: from the first chunk asked to the last (or close)."""
    with priority.person():
        yield from chunks


def _until(stopping: threading.Event, chunks: Iterator[str]) -> Iterator[str]:
    """``chunks`` until ``stopping`` is set; the runtime's generator is closed either way (it frees the model)."""
    try:
        for chunk in chunks:
            if stopping.is_set():
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def wants_llama2(template: str | None, *names: str) -> bool:
    """Whether a model gets Meta's Llama 2 format rather than its own chat template:
    it has no template (Meta's Llama 2 checkpoints), a Llama 2 one, or a Llama 2 chat name."""
    return template is None or "<<SYS>>" in template or any(LLAMA2_CHAT_NAME.search(n) for n in names if n)


class Model(ABC):
    """A chat model. Use as a context manager, or call :meth:`close`.

    A runtime serving a spec scheme sets :attr:`scheme` and overrides the
    class methods that read, name and locate a spec of it; ``agent.models``
    builds its table of schemes from these classes.
    """

    spec: str
    parsed: ModelSpec | None = None  # the spec this runtime was built from (None: a test double)
    # the spec scheme served ("llama-cpp" in "llama-cpp:PATH.gguf"); "" serves none
    scheme: ClassVar[str] = ""
    # spec names that stand alone, without "scheme:" ("bundled")
    bare_names: ClassVar[tuple[str, ...]] = ()
    spec_example: ClassVar[str] = ""  # how a spec of this scheme is written, for the unknown-spec error
    target_word: ClassVar[str] = "model"  # what the part after "scheme:" names
    # the options its spec takes (?n_ctx=8192) and how each is read
    spec_options: ClassVar[Mapping[str, type]] = {}
    # options that change the answers: part of the identity, so cached answers follow them
    answer_options: ClassVar[tuple[str, ...]] = ()
    context_length: int = 4096
    # how many calls may run at once: an in-process model generates one answer at a
    # time (more would only queue on its lock); a server batches concurrent requests
    concurrency: int = 1
    # whether complete_many serves its prompts together (a batched generate, requests in flight);
    # when not, a caller that wants each answer as it comes asks one prompt at a time
    batches: bool = False
    # answers from several sources are asked one source at a time (conversation.Settings.stepped): worth it
    # for a runtime that reads a prompt slowly and keeps what it read of the last one (llama.cpp on a CPU:
    # ~70 prompt tokens/s for the bundled 1.5B on 2 cores), not for a server or a GPU, where each call
    # costs a round trip and reading is fast
    prefers_steps: bool = False
    # Meta's Llama 2 format (prompts.format_chat) instead of the model's own template
    llama2: bool = False
    # the model's own control/added tokens written in brackets (prompts.model_tokens):
    # its tokenizer would read them as control tokens anywhere in a message
    special_tokens: frozenset[str] = frozenset()

    @classmethod
    def split(cls, rest: str, text: str) -> tuple[str, str, str]:
        """(target, served model, option query) of what follows "scheme:" in spec ``text``."""
        target, _, query = rest.partition("?")
        return target, "", query

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> Model:
        """Load the model ``spec`` names."""
        raise NotImplementedError(f"{cls.__name__} serves no spec scheme")

    @classmethod
    def public_name(cls, spec: ModelSpec) -> str:
        """The model as every visitor may see it: a name, never a local path or an internal address."""
        name = spec.target.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
        return name.removesuffix(".gguf") or "a language model"

    @classmethod
    def location(cls, spec: ModelSpec) -> str:
        """Where the weights are, found without loading them (``topictalk models``)."""
        return str(Path(spec.target).expanduser().resolve())

    @classmethod
    def weights(cls, spec: ModelSpec) -> str:
        """The weights behind ``spec`` (a checksum, files' sizes and mtimes, a hub commit)."""
        return spec.target

    @classmethod
    def identity_of(cls, spec: ModelSpec) -> str:
        """What answers of the model ``spec`` names are cached by: its weights and the options
        that change answers, never only the name it was given."""
        options = "".join(f"?{k}={v}" for k, v in sorted(spec.options.items()) if k in cls.answer_options)
        return f"{spec.scheme}:{cls.weights(spec)}{options}"

    def runtime(self) -> dict:
        """How this runtime runs here (threads, build flags), for the manifest and ``topictalk models``:
        what explains a slow answer that the model's name does not."""
        return {"runtime": type(self).__name__}

    @functools.cached_property
    def identity(self) -> str:
        """The model behind the spec, for caches of its answers (indexing's label cache);
        computed once per loaded model. A test double is known by its spec."""
        return self.spec if self.parsed is None else self.identity_of(self.parsed)

    @functools.cached_property
    def priority(self) -> Priority:
        """People's answers before background work (labels written while the chat is open)."""
        return Priority()

    def stream(self, messages: Sequence[Message], options: GenerationOptions = GenerationOptions(),
               stopping: threading.Event | None = None) -> Response:
        """The answer as a :class:`Response`; generation runs as it is iterated. Setting ``stopping``
        (or calling the response's ``stop()``) ends it between two tokens. A person's call: background
        work (:meth:`complete_in_background`) stops for it while it is iterated."""
        return self._response(messages, options, stopping if stopping is not None else threading.Event())

    def _response(self, messages: Sequence[Message], options: GenerationOptions, stopping: threading.Event,
                  person: bool = True) -> Response:
        """The one place a call's :class:`Response` is made: stopped by ``stopping``, and a person's call
        (background work stops for it) unless ``person`` is False."""
        self.check(options)
        usage = Usage()
        chunks = _until(stopping, self._stream(messages, options, usage, stopping))
        return Response(_as_persons(self.priority, chunks) if person else chunks, usage, stopping)

    def complete_in_background(self, conversations: Sequence[Sequence[Message]],
                               options: GenerationOptions = GenerationOptions()) -> list[str]:
        """:meth:`complete_many` behind every person's call (agent/priority.py): asked when nobody has asked
        for a few seconds; when a person's call stops it, the answers it finished are kept and the others
        asked again."""
        self.check(options)
        answers: list[str | None] = [None] * len(conversations)

        def missing(stopping: threading.Event) -> None:
            left = [i for i, a in enumerate(answers) if a is None]
            for i, answer in zip(left, self.complete_many([conversations[i] for i in left], options, stopping)):
                answers[i] = answer
            if any(a is None for a in answers) and not stopping.is_set():
                raise TopictalkError(f"{type(self).__name__}.complete_many left an answer out")

        self.priority.background(missing)
        return answers  # type: ignore[return-value] - each one a str once background() returns

    @abstractmethod
    def _stream(self, messages: Sequence[Message], options: GenerationOptions, usage: Usage,
                stopping: threading.Event) -> Iterator[str]:
        """Yield the answer's text chunks, filling in ``usage`` (this call's own). The base class stops
        between chunks once ``stopping`` is set; a runtime with long silent work (reading a prompt) looks
        at it there too."""

    @staticmethod
    def check(options: GenerationOptions) -> None:
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

    def prefill(self, messages: Sequence[Message]) -> None:
        """Read ``messages`` into what the runtime keeps of its last prompt (llama.cpp's KV cache) without
        answering, so the next prompt that starts the same reads only the rest. A runtime that keeps nothing
        does nothing."""

    def generate(self, messages: Sequence[Message], options: GenerationOptions = GenerationOptions()) -> str:
        return self.stream(messages, options).text()

    def complete(self, messages: Sequence[Message], options: GenerationOptions = GenerationOptions()) -> str:
        """Whole answer at once; what indexing's labeler calls (``labels.Completer``)."""
        return self.generate(messages, options)

    def complete_many(self, conversations: Sequence[Sequence[Message]],
                      options: GenerationOptions = GenerationOptions(),
                      stopping: threading.Event | None = None) -> list[str | None]:
        """:meth:`complete` for each message list, answers in the same order.

        One at a time here (llama.cpp: each prompt reuses the previous one's
        KV cache prefix); runtimes that batch override it. Under greedy
        decoding (``temperature=0``) the answers equal one-at-a-time ones.
        With ``stopping``, an answer not finished when it is set is None
        (work behind people's questions asks it again: :class:`Background`).
        """
        return [self._complete_unless_stopped(m, options, stopping) for m in conversations]

    def _complete_unless_stopped(self, messages: Sequence[Message], options: GenerationOptions,
                                 stopping: threading.Event | None) -> str | None:
        """The whole answer, or None when ``stopping`` was set before it ended; not a person's call."""
        if stopping is None:
            return self.complete(messages, options)
        if stopping.is_set():
            return None
        text = self._response(messages, options, stopping, person=False).text()
        return None if stopping.is_set() else text

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


class Background:
    """A model as the labeler sees it while people chat with it (`topictalk demo` labels the topics with
    the chat open): every answer asked behind people's (:meth:`Model.complete_in_background`), in the
    model's batches. The same identity: the same cache."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.spec = model.spec
        self.identity = model.identity
        self.batches = model.batches
        self.batch_size = getattr(model, "batch_size", None)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def complete(self, messages: Sequence[Message], options: GenerationOptions = GenerationOptions()) -> str:
        return self.model.complete_in_background([messages], options)[0]

    def complete_many(self, conversations: Sequence[Sequence[Message]],
                      options: GenerationOptions = GenerationOptions()) -> list[str]:
        return self.model.complete_in_background(conversations, options)

    def runtime(self) -> dict:
        return self.model.runtime()


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
