"""Name a model with one string; build the runtime it names.

    bundled                                  the offline default GGUF (Qwen2.5-Coder 1.5B)
    bundled-small                            the smaller offline GGUF (Qwen2.5-Coder 0.5B), for tests
    llama-cpp:PATH.gguf[?n_ctx=8192&n_gpu_layers=-1&format=llama-2]
    hf:meta-llama/Llama-2-13b-chat-hf[?quantize=none]   (or hf:/local/folder)
    openai:http://HOST:PORT/v1#MODEL[?n_ctx=8192]   (default: the server's max_model_len, else 4096)
    PATH.gguf                                same as llama-cpp:PATH.gguf

Each runtime class says which scheme it serves and how a spec of it is read,
named, located and loaded; this module only looks the scheme up.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from topictalk.agent.bundled import BundledLlamaCpp
from topictalk.agent.llamacpp import LlamaCppModel
from topictalk.agent.llm import Model, ModelSpec
from topictalk.agent.openai_model import OpenAIModel
from topictalk.agent.transformers_model import TransformersModel
from topictalk.indexing.errors import TopictalkError

__all__ = ["DEFAULT", "ModelSpec", "load", "location", "parse", "public_name", "runtime"]

DEFAULT = "bundled"
# the runtimes, by the scheme each serves (their modules import their libraries only when loading)
RUNTIMES: dict[str, type[Model]] = {r.scheme: r for r in (BundledLlamaCpp, LlamaCppModel, TransformersModel,
                                                          OpenAIModel)}
_BARE = {name: r for r in RUNTIMES.values() for name in r.bare_names}


def parse(spec: str | None) -> ModelSpec:
    """Split a spec string; one-line errors for anything unusable."""
    text = (spec or DEFAULT).strip()
    name, _, query = text.partition("?")
    if name in _BARE:
        runtime = _BARE[name]
        return ModelSpec(runtime.scheme, name, "", _options(runtime, query, text), text)
    if text.lower().endswith(".gguf") and not text.startswith(tuple(f"{s}:" for s in RUNTIMES)):
        return ModelSpec(LlamaCppModel.scheme, text, "", {}, text)
    scheme, sep, rest = text.partition(":")
    if not sep or scheme not in RUNTIMES:
        usages = [r.spec_example for r in RUNTIMES.values()]
        raise TopictalkError(f"unknown model spec {text!r}: use {', '.join(usages[:-1])} or {usages[-1]}")
    runtime = RUNTIMES[scheme]
    target, model, query = runtime.split(rest, text)
    if not target:
        raise TopictalkError(f"model spec {text!r} names no {runtime.target_word}")
    return ModelSpec(scheme, target, model, _options(runtime, query, text), text)


def _options(runtime: type[Model], query: str, text: str) -> dict[str, object]:
    allowed = runtime.spec_options
    options: dict[str, object] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise TopictalkError(
                f"model spec {text!r}: unknown option {key!r} for {runtime.scheme}; known: {', '.join(allowed)}"
            )
        try:
            options[key] = allowed[key](value)
        except ValueError:
            raise TopictalkError(f"model spec {text!r}: option {key}={value!r} is not a number") from None
    return options


def runtime(spec: ModelSpec) -> type[Model]:
    """The runtime class that serves ``spec``."""
    return RUNTIMES[spec.scheme]


def load(spec: str | None = None) -> Model:
    """Build the runtime a spec names (the bundled GGUF when ``spec`` is None)."""
    parsed = parse(spec)
    return runtime(parsed).from_spec(parsed)


def location(spec: str | None) -> str:
    """Where the weights of ``spec`` are, found without loading them."""
    parsed = parse(spec)
    return runtime(parsed).location(parsed)


def public_name(spec: str) -> str:
    """The model as every visitor may see it: a name, never a local path or an internal server address."""
    try:
        parsed = parse(spec)
    except TopictalkError:
        return "a language model"
    return runtime(parsed).public_name(parsed)


class Deferred:
    """The model ``spec`` names, loaded at its first use: a cached answer keyed by its identity (known from the
    spec, as the loaded model's is) then costs no load. For a runtime whose identity needs the loaded model (a
    server's served model), it is loaded at once. What indexing's callers take (``labels.Completer``)."""

    def __init__(self, spec: str | None) -> None:
        parsed = parse(spec)
        cls = runtime(parsed)
        self.spec = parsed.text
        self._parsed, self._cls = parsed, cls
        self._model: Model | None = None
        if cls.identity is Model.identity:
            self.identity = cls.identity_of(parsed)
        else:
            self.identity = self.model.identity

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = self._cls.from_spec(self._parsed)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def complete(self, messages, options):  # noqa: ANN001, ANN201 - as Model.complete
        return self.model.complete(messages, options)

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None
