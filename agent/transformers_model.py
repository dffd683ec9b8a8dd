"""transformers runtime: a Hugging Face id or local folder, 4-bit NF4 by default.

The quantization is the reference recipe's: bitsandbytes NF4 with double
quantization and bf16 compute, ``device_map='auto'``. bitsandbytes 0.50
also runs 4-bit on the CPU, so the same code path is the default there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import prompts
from agent.llm import LLAMA2_CHAT_NAME, Message, Model, Options, cut_at_stop
from indexing.errors import TopictalkError


def quantization_config():
    """The reference recipe's ``BitsAndBytesConfig``."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


class TransformersModel(Model):
    def __init__(self, name_or_path: str, *, quantize: bool = True, spec: str | None = None) -> None:
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec or f"hf:{name_or_path}"
        local = Path(name_or_path).expanduser()
        if name_or_path.startswith((".", "/", "~")) and not local.is_dir():
            raise TopictalkError(f"model folder not found: {local}; give an existing folder or a hub id")
        source = str(local) if local.is_dir() else name_or_path
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source)
            kwargs = {"device_map": "auto" if torch.cuda.is_available() else "cpu"}
            if quantize:
                kwargs["quantization_config"] = quantization_config()
            self._model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except OSError as err:
            raise TopictalkError(
                f"cannot load {name_or_path!r} from the Hugging Face hub (offline, unreachable, or a gated "
                "model whose license you have not accepted): download it with `hf download` or pass a local "
                "folder, e.g. hf:/path/to/model"
            ) from err
        self._model.eval()
        self.context_length = int(getattr(self._model.config, "max_position_embeddings", 4096) or 4096)
        template = self._tokenizer.chat_template
        self.llama2 = (
            template is None or "<<SYS>>" in template or bool(LLAMA2_CHAT_NAME.search(name_or_path))
        )
        self._lock = threading.Lock()

    def render(self, messages: Sequence[Message]) -> str:
        if self.llama2:
            return prompts.format_chat(messages)
        safe = prompts.neutralize_messages(messages)
        return self._tokenizer.apply_chat_template(safe, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, messages: Sequence[Message], options: Options = Options()) -> Iterator[str]:
        yield from cut_at_stop(self._stream(messages, options), options.stop)

    def _stream(self, messages: Sequence[Message], options: Options) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        text = self.render(messages)
        # the renderer wrote <s> itself: add_special_tokens=False avoids a second BOS
        ids = self._tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        ids = ids.to(self._model.device)
        cancelled = threading.Event()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # noqa: ANN001
                return cancelled.is_set()

        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        sample = options.temperature > 0
        kwargs = dict(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=options.max_tokens,
            do_sample=sample,
            repetition_penalty=options.repetition_penalty,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_Cancel()]),
            pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
        )
        if sample:
            kwargs["temperature"] = options.temperature
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(**kwargs)
            except BaseException as err:  # surfaced in the caller's thread below
                errors.append(err)
                streamer.end()

        with self._lock:
            torch.manual_seed(options.seed)
            self.usage.prompt_tokens = int(ids.shape[1])
            self.usage.completion_tokens = 0
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            try:
                for chunk in streamer:
                    if chunk:
                        self.usage.completion_tokens += 1
                        yield chunk
            finally:
                cancelled.set()  # the consumer stopped early (a stop string, a closed page)
                worker.join()
            if errors:
                raise errors[0]

    def close(self) -> None:
        self._model = None
