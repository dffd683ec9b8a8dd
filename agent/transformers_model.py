"""transformers runtime: a Hugging Face id or local folder, 4-bit NF4 by default.

The quantization is the reference recipe's: bitsandbytes NF4 with double
quantization and bf16 compute, ``device_map='auto'``. bitsandbytes 0.50
also runs 4-bit on the CPU, so the same code path is the default there.

Streaming decodes on the caller's thread, one forward pass per pulled
token. The usual design (``generate`` in a thread feeding a
``TextIteratorStreamer``) hands the GIL between two threads at every
token, and a GPU decode loop is bound by kernel launches from Python: it
streamed 2.7x slower than plain ``generate`` on an H200. Here nothing runs
between two tokens but the consumer's own code, and Stop is simply not
asking for the next token. Batched ``generate`` with left padding serves
:meth:`TransformersModel.complete_many` (topic labels).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from topictalk import prompts
from topictalk.agent.llm import Message, Model, ModelSpec, Usage, cut_at_stop, wants_llama2
from topictalk.indexing import fingerprint
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions


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


def _dtype_arg() -> str:
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"  # renamed in 4.56


class TransformersModel(Model):
    batches = True  # complete_many: one left-padded generate for all prompts
    scheme = "hf"
    spec_example = "hf:ORG/NAME"
    spec_options = {"quantize": str}
    answer_options = ("quantize",)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> TransformersModel:
        quantize = str(spec.options.get("quantize", "4bit")).lower()
        if quantize not in ("4bit", "none"):
            raise TopictalkError(f"model spec {spec.text!r}: quantize must be 4bit or none")
        return cls(spec.target, quantize=quantize == "4bit", spec=spec)

    @classmethod
    def location(cls, spec: ModelSpec) -> str:
        return f"Hugging Face hub or folder: {spec.target}"

    @classmethod
    def weights(cls, spec: ModelSpec) -> str:
        return fingerprint.hub_or_files(spec.target)

    def __init__(self, name_or_path: str, *, quantize: bool = True, spec: ModelSpec | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.parsed = spec or ModelSpec(self.scheme, name_or_path, text=f"{self.scheme}:{name_or_path}")
        self.spec = self.parsed.text
        local = Path(name_or_path).expanduser()
        if name_or_path.startswith((".", "/", "~")) and not local.is_dir():
            raise TopictalkError(f"model folder not found: {local}; give an existing folder or a hub id")
        source = str(local) if local.is_dir() else name_or_path
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source)
            cuda = torch.cuda.is_available()
            kwargs = {"device_map": "auto" if cuda else "cpu"}
            if quantize:
                kwargs["quantization_config"] = quantization_config()
            else:  # the checkpoint's own 16-bit type on a GPU (transformers 4 loads fp32 unless told); fp32 on a CPU
                kwargs[_dtype_arg()] = "auto" if cuda else torch.float32
            self._model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except OSError as err:
            raise TopictalkError(
                f"cannot load {name_or_path!r} from the Hugging Face hub (offline, unreachable, or a gated "
                "model whose license you have not accepted): download it with `hf download` or pass a local "
                "folder, e.g. hf:/path/to/model"
            ) from err
        self._model.eval()
        self.context_length = int(getattr(self._model.config, "max_position_embeddings", 4096) or 4096)
        self.llama2 = wants_llama2(self._tokenizer.chat_template, name_or_path)
        tok = self._tokenizer
        self.special_tokens = prompts.model_tokens(
            [*tok.all_special_tokens, *(t.content for t in tok.added_tokens_decoder.values())]
        )
        config = self._model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else tok.eos_token_id
        self._eos = {eos} if isinstance(eos, int) else set(eos or ())
        # Llama has no pad token; <unk> is its convention (never an answer token)
        self._pad = next(t for t in (tok.pad_token_id, tok.unk_token_id, tok.eos_token_id, 0) if t is not None)
        params = inspect.signature(type(self._model).forward).parameters
        # only the last position's logits are needed (transformers renamed the argument in 4.50)
        self._keep_last = next(({k: 1} for k in ("logits_to_keep", "num_logits_to_keep") if k in params), {})
        # and past_key_values became cache in 5.x (argument and output field alike)
        self._cache_name = "cache" if "cache" in params else "past_key_values"
        self._lock = threading.Lock()

    def _apply_template(self, messages: list[Message]) -> str:
        return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _encode(self, text: str) -> list[int]:
        # the renderer wrote <s> itself: add_special_tokens=False avoids a second BOS
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def _stream(self, messages: Sequence[Message], options: GenerationOptions, usage: Usage,
                stopping: threading.Event) -> Iterator[str]:
        return cut_at_stop(self._decode(messages, options, usage), options.stop)

    def _decode(self, messages: Sequence[Message], options: GenerationOptions, usage: Usage) -> Iterator[str]:
        import torch

        model = self._model
        ids = torch.tensor([self._encode(self.render(messages))], device=model.device)
        usage.prompt_tokens = int(ids.shape[1])
        room = self.room(usage.prompt_tokens)
        sample = options.temperature > 0
        processors = self._processors(options, pads=None)
        rng = torch.Generator(device=model.device).manual_seed(options.seed) if sample else None
        text = _Detokenizer(self._tokenizer)
        step, cache, seen = ids, None, ids
        with self._lock:
            for _ in range(min(options.max_tokens, room)):
                # inference mode per step, never around a yield: it is thread state and
                # would otherwise hold for the consumer's code between two tokens
                with torch.inference_mode():
                    out = model(input_ids=step, use_cache=True, **{self._cache_name: cache}, **self._keep_last)
                    scores = processors(seen, out.logits[:, -1, :].float())
                    if sample:
                        token = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=rng)
                    else:
                        token = scores.argmax(dim=-1, keepdim=True)
                cache = getattr(out, self._cache_name)
                usage.completion_tokens += 1
                tid = int(token)
                if tid in self._eos:
                    break
                seen = torch.cat([seen, token], dim=1)
                step = token
                if chunk := text.push(tid):
                    yield chunk
            if chunk := text.flush():
                yield chunk

    def _processors(self, options: GenerationOptions, pads: list[int] | None, *, warpers: bool = True):
        """generate's logits processing for these options, in generate's order
        (``warpers=False``: the penalty only, for ``generate`` to add its own)."""
        from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

        out = LogitsProcessorList()
        if options.repetition_penalty != 1.0:
            out.append(_RepetitionPenalty(options.repetition_penalty, pads))
        if warpers and options.temperature > 0:
            config = self._model.generation_config
            out.append(TemperatureLogitsWarper(options.temperature))
            if config.top_k:
                out.append(TopKLogitsWarper(config.top_k))
            if config.top_p is not None and config.top_p < 1.0:
                out.append(TopPLogitsWarper(config.top_p))
        return out

    def complete_many(self, conversations: Sequence[Sequence[Message]],
                      options: GenerationOptions = GenerationOptions(),
                      stopping: threading.Event | None = None) -> list[str | None]:
        """Batched ``generate`` with left padding, as many prompts at a time as memory allows; with
        ``stopping``, one at a time as the base class does (work behind people's questions).

        Under greedy decoding (``temperature=0``) each answer equals the one
        :meth:`complete` gives alone: padding is masked from attention and
        from the repetition penalty. Sampled answers differ from sequential
        ones (one random stream is shared by the batch).
        """
        if stopping is not None:
            return super().complete_many(conversations, options, stopping)
        self.check(options)
        rows = [self._encode(self.render(m)) for m in conversations]
        for row in rows:
            self.room(len(row))
        answers: list[str] = []
        start = 0
        while start < len(rows):
            size = self.batch_rows(max(map(len, rows[start:])) + options.max_tokens)
            answers += self._generate_batch(rows[start: start + size], options)
            start += size
        return answers

    def batch_rows(self, tokens: int) -> int:
        """Prompts per batch: on CUDA what half the free memory holds as KV cache, else 8."""
        import torch

        if not torch.cuda.is_available():
            return 8
        config = self._model.config
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        per_token = 2 * config.num_hidden_layers * heads * head_dim * 2  # K and V, 16-bit
        free, _ = torch.cuda.mem_get_info()
        return max(1, min(64, int(free * 0.5 // (per_token * tokens))))

    def _generate_batch(self, rows: list[list[int]], options: GenerationOptions) -> list[str]:
        import torch

        width = max(map(len, rows))
        pads = [width - len(r) for r in rows]
        device = self._model.device
        ids = torch.tensor([[self._pad] * p + r for p, r in zip(pads, rows)], device=device)
        mask = torch.tensor([[0] * p + [1] * len(r) for p, r in zip(pads, rows)], device=device)
        sample = options.temperature > 0
        kwargs = {"temperature": options.temperature} if sample else {}
        # one length for the batch: what the longest prompt leaves (equal to max_tokens for labels)
        new_tokens = min(options.max_tokens, self.room(width))
        with self._lock, torch.inference_mode():
            torch.manual_seed(options.seed)  # generate samples from the global generator
            out = self._model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=sample,
                repetition_penalty=1.0, logits_processor=self._processors(options, pads, warpers=False),
                pad_token_id=self._pad,
                eos_token_id=sorted(self._eos), **kwargs,
            )
        answers = []
        for row in out[:, width:].tolist():
            end = next((i for i, t in enumerate(row) if t in self._eos), len(row))
            answers.append(self._tokenizer.decode(row[:end], skip_special_tokens=True))
        return answers

    def close(self) -> None:
        self._model = None


class _RepetitionPenalty:
    """transformers' repetition penalty (CTRL's: divide a seen token's positive
    score, multiply its negative one), blind to a batch's left padding, so
    that a padded row is scored exactly as it would be alone."""

    def __init__(self, penalty: float, pads: list[int] | None) -> None:
        self.penalty = penalty
        self.pads = pads if pads and any(pads) else None

    def __call__(self, input_ids, scores):  # noqa: ANN001 - torch tensors
        import torch

        if self.pads is not None:
            input_ids = input_ids.clone()
            for row, pad in enumerate(self.pads):
                if pad:  # the row's first real token, already counted: penalizing it twice is a no-op
                    input_ids[row, :pad] = input_ids[row, pad]
        seen = torch.gather(scores, 1, input_ids)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, input_ids, seen)


class _Detokenizer:
    """The text of a growing answer, chunk by chunk.

    Decodes a window of the last few tokens rather than the whole answer
    each time (text-generation-inference's method), and holds back a chunk
    that ends in an incomplete UTF-8 character.
    """

    def __init__(self, tokenizer) -> None:  # noqa: ANN001
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = self._read = 0

    def _text(self, start: int, end: int | None = None) -> str:
        return self._tokenizer.decode(self._ids[start:end], skip_special_tokens=True)

    def push(self, token: int) -> str:
        self._ids.append(token)
        before, after = self._text(self._prefix, self._read), self._text(self._prefix)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return after[len(before):]
        return ""

    def flush(self) -> str:
        before, after = self._text(self._prefix, self._read), self._text(self._prefix)
        return after[len(before):]
