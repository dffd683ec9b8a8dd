"""llama.cpp runtime (llama-cpp-python) for a GGUF file on the CPU or GPU."""

from __future__ import annotations

import ctypes
import functools
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from topictalk import prompts
from topictalk.agent.llamacpp_batch import MAX_SEQUENCES, common_prefix, complete_together, groups, kv_bytes_per_token
from topictalk.agent.llm import Message, Model, ModelSpec, Usage, wants_llama2
from topictalk.indexing import fingerprint
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions
from topictalk.prompts import llama2

_TURN_MARKS = re.compile(r"(<s>|</s>)")
# prompt tokens read between two looks at Stop: llama.cpp reads a prompt in one call that nothing can
# interrupt (a 1,346-token prompt: 18 s for the bundled 1.5B on a 2-core AVX-512 host, about 3x that with
# AVX2 only). Steps of 32 read it as fast as one call does (ratio 1.01) and free the model 0.1 s after Stop,
# against 15 s (bench/stop.py)
PROMPT_STEP = 32


def gguf_file(path: str | Path) -> Path:
    """``path`` as an existing file; the one error for a GGUF that is not there."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TopictalkError(f"GGUF file not found: {path}; give an existing .gguf path (llama-cpp:PATH.gguf)")
    return path


class LlamaCppModel(Model):
    """One GGUF model held in memory.

    llama-cpp-python keeps the KV cache of the last evaluated tokens and, on
    the next call, evaluates only what follows the longest common prefix; we
    therefore tokenize the rendered prompt ourselves and pass token ids, so
    a fixed system prompt or label instructions are read once. Calls are
    serialized: one Llama context cannot run two generations at once.
    """

    batches = True  # complete_many decodes several answers together
    batch_size = MAX_SEQUENCES  # the labeler asks this many at a time: its cache keeps each batch's answers
    scheme = "llama-cpp"
    spec_example = "llama-cpp:PATH.gguf"
    spec_options = {"n_ctx": int, "n_gpu_layers": int, "n_threads": int, "format": str}
    answer_options = ("format",)  # the chat format changes every prompt; n_ctx and threads change none

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> LlamaCppModel:
        options = dict(spec.options)
        fmt = options.pop("format", None)
        return cls(spec.target, chat_format=fmt, spec=spec, **options)

    @classmethod
    def location(cls, spec: ModelSpec) -> str:
        return str(gguf_file(spec.target).resolve())

    @classmethod
    def weights(cls, spec: ModelSpec) -> str:
        return "file:" + fingerprint.files(spec.target)

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        spec: ModelSpec | None = None,
    ) -> None:
        path = gguf_file(path)
        try:
            from llama_cpp import Llama
        except ImportError as err:  # pragma: no cover - install problem
            raise TopictalkError(f"llama-cpp-python is not importable ({err}); run ./install.sh") from err
        threads = n_threads or os.cpu_count() or 1  # llama-cpp-python's default is 1 thread
        _silence_llama_cpp()
        # llama.cpp 0.3.16's AMX kernels set a thread's tile registers up once per thread and never again,
        # while oneDNN (torch's and OpenVINO's bf16 matmuls, which embed documents and questions on these
        # hosts) releases them after each of its kernels on the thread that called it: llama.cpp's next
        # matmul on that thread was an illegal instruction (SIGILL, the whole process gone). So llama.cpp
        # computes on a thread of its own that nothing else runs on; its OpenMP helpers are that thread's
        # own team (OpenMP keeps one per calling thread), not the one torch's calls on other threads use.
        self._compute_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama.cpp")
        try:
            self._llm = self._compute(
                Llama,
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=n_gpu_layers,
                verbose=False,
            )
        except BaseException as err:
            self._compute_thread.shutdown()  # whatever stopped the load (KeyboardInterrupt too): no thread left over
            if isinstance(err, (ValueError, RuntimeError)):
                raise TopictalkError(f"llama.cpp could not load {path}: {err}; is it a valid GGUF model?") from err
            raise
        self.parsed = spec or ModelSpec(self.scheme, str(path), text=f"{self.scheme}:{path}")
        self.spec = self.parsed.text
        self.path = path
        self.threads = threads
        self.prefers_steps = n_gpu_layers == 0  # on a CPU: reading the prompt is most of the first word's wait
        self.context_length = self._llm.n_ctx()
        self._lock = threading.Lock()
        # the prompt start prefill() read and its KV cache, copied out: a call that starts alike reads it
        # from here when other prompts (labels written meanwhile) took the cache (see _read_prompt)
        self._kept: tuple[list[int], bytes] | None = None
        meta = self._llm.metadata
        self._template = meta.get("tokenizer.chat_template")
        if chat_format is None:
            llama2 = wants_llama2(self._template, path.name, meta.get("general.name", ""))
            chat_format = "llama-2" if llama2 else "gguf"
        if chat_format not in ("llama-2", "gguf"):
            raise TopictalkError(f"unknown chat format {chat_format!r}; use format=llama-2 or format=gguf")
        self.chat_format = chat_format
        self.llama2 = chat_format == "llama-2"
        self.special_tokens = prompts.model_tokens(self._vocab_control_tokens())

    def runtime(self) -> dict:
        return {**super().runtime(), "threads": self.threads, "llama_cpp": build_flags()}

    def _vocab_control_tokens(self) -> list[str]:
        """The GGUF vocabulary's control and user-defined tokens: the ones llama.cpp
        matches as single tokens in text it tokenizes with ``special=True``."""
        import llama_cpp

        model = self._llm._model  # llama-cpp-python's thin wrapper of the C model
        wanted = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
        return [model.token_get_text(t) for t in range(self._llm.n_vocab()) if model.token_get_attr(t) & wanted]

    @functools.cached_property
    def _formatter(self):  # noqa: ANN202 - llama_cpp's Jinja2ChatFormatter
        """The GGUF's chat template, compiled once: Jinja compiles it anew for every formatter made, ~30 ms
        of the first word's wait on a 2-core AVX2 host when it was made for every prompt."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        return Jinja2ChatFormatter(template=self._template, eos_token=self._token_text(self._llm.token_eos()),
                                   bos_token=self._token_text(self._llm.token_bos()))

    def _apply_template(self, messages: list[Message]) -> str:
        return self._formatter(messages=messages).prompt

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def tokenize(self, text: str) -> list[int]:
        """Token ids of a rendered prompt, control tokens included."""
        if self.llama2:
            # Meta encodes each turn separately, "<s>" and "</s>" being the BOS/EOS
            # ids around sentencepiece-encoded text; doing the same gives its
            # exact token sequence, whatever text the GGUF gives its BOS, and
            # turn text is never parsed for control tokens.
            ids: list[int] = []
            for piece in _TURN_MARKS.split(text):
                if piece == llama2.BOS:
                    ids.append(self._llm.token_bos())
                elif piece == llama2.EOS:
                    ids.append(self._llm.token_eos())
                elif piece:
                    ids += self._llm.tokenize(piece.encode("utf-8"), add_bos=False, special=False)
            return ids
        # special=True: the "<|im_start|>" marks written by the GGUF's template
        # become control tokens (message contents were neutralized before);
        # add_bos=False because the template writes BOS where it wants one.
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _stream(self, messages: Sequence[Message], options: GenerationOptions, usage: Usage,
                stopping: threading.Event) -> Iterator[str]:
        tokens = self.tokenize(self.render(messages))
        room = self.room(len(tokens))
        with self._lock:
            usage.prompt_tokens = len(tokens)
            cached = self._read_prompt(tokens, stopping)
            if cached is None:
                return  # stopped while reading: the model is free for the next call at once
            usage.cached_tokens = cached
            parts = self._llm.create_completion(
                tokens,
                max_tokens=min(options.max_tokens, room),
                temperature=options.temperature,
                repeat_penalty=options.repetition_penalty,
                stop=list(options.stop) or None,
                seed=options.seed,
                stream=True,
            )
            try:
                while (part := self._compute(next, parts, None)) is not None:
                    choice = part["choices"][0]
                    if choice["finish_reason"] is None:  # the closing part carries no new token
                        usage.completion_tokens += 1
                    if choice["text"]:
                        yield choice["text"]
            finally:
                self._compute(parts.close)  # a stopped answer stops decoding here, not at garbage collection

    def complete_many(self, conversations: Sequence[Sequence[Message]],
                      options: GenerationOptions = GenerationOptions(),
                      stopping: threading.Event | None = None) -> list[str | None]:
        """The answers decoded together, a few at a time (agent/llamacpp_batch.py): on a CPU a step of
        several sequences costs little more than a step of one. The KV cache of the last single answer is
        left as it was. ``stopping`` as in the base class: the answers not finished when it is set are None."""
        self.check(options)
        prompts = [self.tokenize(self.render(m)) for m in conversations]
        rooms = [min(options.max_tokens, self.room(len(p))) for p in prompts]
        answers: list[str | None] = []
        for part in groups([len(p) + r for p, r in zip(prompts, rooms)], kv_bytes_per_token(self._llm)):
            if stopping is not None and stopping.is_set():
                answers += [None] * len(part)
            elif len(part) == 1:  # alone, it reads the shared start from the single answers' cache
                answers.append(self._complete_unless_stopped(conversations[part.start], options, stopping))
            else:
                with self._lock:
                    answers += self._compute(complete_together, self._llm, prompts[part.start:part.stop],
                                             rooms[part.start:part.stop], options, stopping)
        return answers

    def prefill(self, messages: Sequence[Message]) -> None:
        """Read ``messages`` into the KV cache, and keep a copy of it: the prompt start of every chat answer,
        which a label (or any other prompt) read meanwhile would otherwise make the next answer read again
        (~8 s for the chat's ~320 tokens with AVX2 only). The copy holds ~28 KB a token (the bundled 1.5B)."""
        tokens = self.tokenize(self.render(messages))
        self.room(len(tokens))
        with self._lock:
            if self._read_prompt(tokens, threading.Event()) is not None:
                self._kept = self._compute(self._copy_cache, tokens[:-1])

    def _copy_cache(self, tokens: list[int]) -> tuple[list[int], bytes]:
        """``tokens``, just read, and their KV cache as llama.cpp writes one sequence's state."""
        import llama_cpp

        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, len(tokens), -1)  # nothing of an earlier, longer prompt with them
        size = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
        data = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, data, size, 0)
        return list(tokens), bytes(data[:written])

    def _restore_cache(self, tokens: list[int], state: bytes) -> bool:
        """The KV cache as :meth:`_copy_cache` copied it, for ``tokens``; False (and an empty cache) when
        llama.cpp does not take it back."""
        import llama_cpp

        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        data = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, data, len(state), 0) != len(state):
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            llm.n_tokens = 0
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return True

    def _read_prompt(self, tokens: list[int], stopping: threading.Event) -> int | None:
        """Evaluate the prompt but its last token in steps of PROMPT_STEP, looking at ``stopping`` between
        them: how many tokens were in the KV cache already (the last call's or the kept start's), or None
        once stopped. ``create_completion`` then finds them in the KV cache (its prefix match leaves the
        last prompt token to evaluate) and reads just that one."""
        llm = self._llm
        start = common_prefix(llm.input_ids[: llm.n_tokens], tokens[:-1])
        kept = common_prefix(self._kept[0], tokens[:-1]) if self._kept is not None else 0
        if kept > start:  # the kept start is more of this prompt than what the cache holds now
            if self._compute(self._restore_cache, *self._kept):
                start = kept
            else:
                self._kept, start = None, 0
        llm.n_tokens = start  # what follows the shared prefix is evaluated again (eval drops its cache)
        for at in range(start, len(tokens) - 1, PROMPT_STEP):
            if stopping.is_set():
                return None
            self._compute(llm.eval, tokens[at: min(at + PROMPT_STEP, len(tokens) - 1)])
        return None if stopping.is_set() else start

    def _compute(self, work: Callable, *args, **kwargs):  # noqa: ANN202 - what ``work`` returns
        """``work(*args, **kwargs)`` run on the model's own thread (see __init__), its result or error here."""
        return self._compute_thread.submit(work, *args, **kwargs).result()

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            with self._lock:  # not while a prefill thread is reading a prompt into it
                llm.close()  # Llama.__del__ raises at interpreter exit unless closed
                self._llm = None
            self._compute_thread.shutdown()


def build_flags() -> list[str]:
    """The CPU features this llama.cpp build was compiled for and uses ("AVX2", "AVX512_BF16", ...)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    # "CPU : SSE3 = 1 | SSSE3 = 1 | ..." (the backend's name leads the first entry)
    return [part.split("=")[0].split(":")[-1].strip() for part in info.split("|") if part.strip().endswith("= 1")]


@functools.cache  # once per process: the C side keeps a pointer to the callback, which must stay alive
def _silence_llama_cpp():
    """Drop llama.cpp's own log lines. llama-cpp-python 0.3.16 prints some to stderr even with
    verbose=False ("llama_context: n_ctx_per_seq (4096) < n_ctx_train ..."), a stray line above
    the one-line errors of the CLI. Load failures still raise; the cache keeps the callback alive
    as long as llama.cpp may call it."""
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def drop(level, text, user_data) -> None:
        pass

    llama_cpp.llama_log_set(drop, ctypes.c_void_p(0))
    return drop

