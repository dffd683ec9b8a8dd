"""Name a model with one string; build the runtime it names.

    bundled                                  the offline default GGUF (Qwen2.5-Coder 1.5B)
    bundled-small                            the smaller offline GGUF (Qwen2.5-Coder 0.5B), for tests
    llama-cpp:PATH.gguf[?n_ctx=8192&n_gpu_layers=-1&format=llama-2]
    hf:meta-llama/Llama-2-13b-chat-hf[?quantize=none]   (or hf:/local/folder)
    openai:http://HOST:PORT/v1#MODEL[?n_ctx=8192]   (default: the server's max_model_len, else 4096)
    PATH.gguf                                same as llama-cpp:PATH.gguf
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from agent.llm import Model
from indexing.errors import TopictalkError

DEFAULT = "bundled"
SCHEMES = ("bundled", "llama-cpp", "hf", "openai")
_OPTIONS = {
    "llama-cpp": {"n_ctx": int, "n_gpu_layers": int, "n_threads": int, "format": str},
    "bundled": {"n_ctx": int, "n_threads": int},
    "hf": {"quantize": str},
    "openai": {"n_ctx": int},
}


@dataclass(frozen=True)
class ModelSpec:
    scheme: str
    target: str  # path, hub id or base URL
    model: str = ""  # openai: the served model's name
    options: dict[str, object] = field(default_factory=dict)
    text: str = ""  # the spec as written

    def __str__(self) -> str:
        return self.text


def parse(spec: str | None) -> ModelSpec:
    """Split a spec string; one-line errors for anything unusable."""
    text = (spec or DEFAULT).strip()
    name, _, query = text.partition("?")
    if name in ("bundled", "bundled-small"):
        scheme, target = "bundled", name
    elif text.lower().endswith(".gguf") and not text.startswith(SCHEMES):
        scheme, target, query = "llama-cpp", text, ""
    else:
        scheme, sep, rest = text.partition(":")
        if not sep or scheme not in SCHEMES:
            raise TopictalkError(
                f"unknown model spec {text!r}: use bundled, bundled-small, llama-cpp:PATH.gguf, hf:ORG/NAME or "
                "openai:http://HOST:PORT/v1#MODEL"
            )
        model = ""
        if scheme == "openai":
            # options may follow the URL or the model name: URL?n_ctx=8192#MODEL or URL#MODEL?n_ctx=8192
            rest, _, model = rest.partition("#")
            model, _, after = model.partition("?")
            rest, _, before = rest.partition("?")
            target, query = rest, "&".join(q for q in (before, after) if q)
        else:
            target, _, query = rest.partition("?")
        if not target:
            raise TopictalkError(f"model spec {text!r} names no {'URL' if scheme == 'openai' else 'model'}")
        if scheme == "openai" and not target.startswith(("http://", "https://")):
            raise TopictalkError(f"model spec {text!r}: the server URL must start with http:// or https://")
        return ModelSpec(scheme, target, model, _options(scheme, query, text), text)
    return ModelSpec(scheme, target, "", _options(scheme, query, text), text)


def _options(scheme: str, query: str, text: str) -> dict[str, object]:
    allowed = _OPTIONS[scheme]
    options: dict[str, object] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise TopictalkError(
                f"model spec {text!r}: unknown option {key!r} for {scheme}; known: {', '.join(allowed)}"
            )
        try:
            options[key] = allowed[key](value)
        except ValueError:
            raise TopictalkError(f"model spec {text!r}: option {key}={value!r} is not a number") from None
    return options


def load(spec: str | None = None) -> Model:
    """Build the runtime a spec names (the bundled GGUF when ``spec`` is None)."""
    parsed = parse(spec)
    opts = dict(parsed.options)
    raw = parsed.text
    if parsed.scheme in ("bundled", "llama-cpp"):
        from agent.llamacpp import LlamaCppModel

        if parsed.scheme == "bundled":
            from agent import bundled

            path = bundled.gguf_path(bundled.named(parsed.target))
        else:
            path = parsed.target
        fmt = opts.pop("format", None)
        return LlamaCppModel(path, chat_format=fmt, spec=raw, **opts)
    if parsed.scheme == "hf":
        from agent.transformers_model import TransformersModel

        quantize = str(opts.get("quantize", "4bit")).lower()
        if quantize not in ("4bit", "none"):
            raise TopictalkError(f"model spec {raw!r}: quantize must be 4bit or none")
        return TransformersModel(parsed.target, quantize=quantize == "4bit", spec=raw)
    from agent.openai_model import OpenAIModel

    return OpenAIModel(parsed.target, parsed.model, context_length=opts.get("n_ctx"), spec=raw)
