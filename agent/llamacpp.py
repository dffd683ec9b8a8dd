"""llama.cpp runtime (llama-cpp-python) for a GGUF file on the CPU or GPU."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import prompts
import prompts.llama2
from agent.llm import LLAMA2_CHAT_NAME, Message, Model, Options
from indexing.errors import TopictalkError

_TURN_MARKS = re.compile(r"(<s>|</s>)")


class LlamaCppModel(Model):
    """One GGUF model held in memory.

    llama-cpp-python keeps the KV cache of the last evaluated tokens and, on
    the next call, evaluates only what follows the longest common prefix; we
    therefore tokenize the rendered prompt ourselves and pass token ids, so
    a fixed system prompt or label instructions are read once. Calls are
    serialized: one Llama context cannot run two generations at once.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        spec: str | None = None,
    ) -> None:
        super().__init__()
        path = Path(path).expanduser()
        if not path.is_file():
            raise TopictalkError(f"GGUF file not found: {path}; give an existing .gguf path (llama-cpp:PATH.gguf)")
        try:
            from llama_cpp import Llama
        except ImportError as err:  # pragma: no cover - install problem
            raise TopictalkError(f"llama-cpp-python is not importable ({err}); run ./install.sh") from err
        threads = n_threads or os.cpu_count() or 1  # llama-cpp-python's default is 1 thread
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=n_gpu_layers,
                verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            raise TopictalkError(f"llama.cpp could not load {path}: {err}; is it a valid GGUF model?") from err
        self.spec = spec or f"llama-cpp:{path}"
        self.path = path
        self.context_length = self._llm.n_ctx()
        self._lock = threading.Lock()
        meta = self._llm.metadata
        self._template = meta.get("tokenizer.chat_template")
        if chat_format is None:
            llama2 = (self._template and "<<SYS>>" in self._template) or bool(
                LLAMA2_CHAT_NAME.search(path.name) or LLAMA2_CHAT_NAME.search(meta.get("general.name", ""))
            )
            chat_format = "llama-2" if llama2 or not self._template else "gguf"
        if chat_format not in ("llama-2", "gguf"):
            raise TopictalkError(f"unknown chat format {chat_format!r}; use format=llama-2 or format=gguf")
        self.chat_format = chat_format

    def render(self, messages: Sequence[Message]) -> str:
        """The exact prompt text: Meta's format for Llama 2, else the GGUF's own template."""
        if self.chat_format == "llama-2":
            return prompts.format_chat(messages)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        formatter = Jinja2ChatFormatter(
            template=self._template, eos_token=self._token_text(self._llm.token_eos()),
            bos_token=self._token_text(self._llm.token_bos()),
        )
        safe = prompts.neutralize_messages(messages)
        return formatter(messages=safe).prompt

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def tokenize(self, text: str) -> list[int]:
        """Token ids of a rendered prompt, control tokens included."""
        if self.chat_format == "llama-2":
            # Meta encodes each turn separately, "<s>" and "</s>" being the BOS/EOS
            # ids around sentencepiece-encoded text; doing the same gives its
            # exact token sequence, whatever text the GGUF gives its BOS, and
            # turn text is never parsed for control tokens.
            ids: list[int] = []
            for piece in _TURN_MARKS.split(text):
                if piece == prompts.llama2.BOS:
                    ids.append(self._llm.token_bos())
                elif piece == prompts.llama2.EOS:
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

    def stream(self, messages: Sequence[Message], options: Options = Options()) -> Iterator[str]:
        tokens = self.tokenize(self.render(messages))
        room = self.context_length - len(tokens)
        if room <= 0:
            raise TopictalkError(
                f"the prompt has {len(tokens)} tokens, more than the model's context of "
                f"{self.context_length}; shorten it or raise n_ctx"
            )
        with self._lock:
            self.usage.prompt_tokens = len(tokens)
            self.usage.cached_tokens = _common_prefix(self._llm.input_ids[: self._llm.n_tokens], tokens)
            self.usage.completion_tokens = 0
            parts = self._llm.create_completion(
                tokens,
                max_tokens=min(options.max_tokens, room),
                temperature=options.temperature,
                repeat_penalty=options.repetition_penalty,
                stop=list(options.stop) or None,
                seed=options.seed,
                stream=True,
            )
            for part in parts:
                choice = part["choices"][0]
                if choice["finish_reason"] is None:  # the closing part carries no new token
                    self.usage.completion_tokens += 1
                if choice["text"]:
                    yield choice["text"]

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()  # Llama.__del__ raises at interpreter exit unless closed
            self._llm = None


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
