"""OpenAI-compatible server runtime: vLLM, TGI, llama.cpp server, Ollama.

The server applies the model's own chat template; we send plain messages
whose contents went through ``prompts.neutralize`` (the fixed list, and every
span shaped like a special token: the server's vocabulary is not ours to read)
so that document text cannot forge turns there either.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from topictalk import prompts
from topictalk.agent.llm import Message, Model, ModelSpec, Usage
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions


class OpenAIModel(Model):
    # a server batches concurrent requests (vLLM, TGI) or queues them itself
    concurrency = 8
    batches = True
    # the server's vocabulary is not ours to read: defuse every span shaped like a special token
    special_tokens = prompts.UNKNOWN_VOCABULARY
    scheme = "openai"
    spec_example = "openai:http://HOST:PORT/v1#MODEL"
    target_word = "URL"
    spec_options = {"n_ctx": int}

    @classmethod
    def split(cls, rest: str, text: str) -> tuple[str, str, str]:
        # options may follow the URL or the model name: URL?n_ctx=8192#MODEL or URL#MODEL?n_ctx=8192
        rest, _, model = rest.partition("#")
        model, _, after = model.partition("?")
        target, _, before = rest.partition("?")
        if target and not target.startswith(("http://", "https://")):
            raise TopictalkError(f"model spec {text!r}: the server URL must start with http:// or https://")
        return target, model, "&".join(q for q in (before, after) if q)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> OpenAIModel:
        return cls(spec.target, spec.model, context_length=spec.options.get("n_ctx"), spec=spec)

    @classmethod
    def public_name(cls, spec: ModelSpec) -> str:
        return spec.model.rsplit("/", 1)[-1] or "a served model"

    @classmethod
    def location(cls, spec: ModelSpec) -> str:
        return f"server {spec.target} (model {spec.model or 'first served'})"

    @classmethod
    def weights(cls, spec: ModelSpec) -> str:
        return f"{spec.target}#{spec.model}"

    @functools.cached_property
    def identity(self) -> str:
        # the served name, resolved when the spec names none ("first served")
        return self.identity_of(dataclasses.replace(self.parsed, target=self.base_url, model=self.model))

    def __init__(
        self, base_url: str, model: str = "", *, api_key: str | None = None, timeout: float = 600.0,
        context_length: int | None = None, spec: ModelSpec | None = None,
    ) -> None:
        from openai import OpenAI

        self.base_url = base_url.rstrip("/")
        self.parsed = spec or ModelSpec(self.scheme, self.base_url, model, text=f"{self.scheme}:{self.base_url}#{model}")
        self.spec = self.parsed.text
        key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self._client = OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=1)
        try:
            served = list(self._client.with_options(timeout=10).models.list())
        except Exception as err:  # openai raises several classes for the same user fact
            raise TopictalkError(
                f"cannot reach an OpenAI-compatible server at {self.base_url} ({type(err).__name__}); "
                "start the server or fix the URL in --llm openai:URL#MODEL"
            ) from err
        if not model:
            if not served:
                raise TopictalkError(f"the server at {self.base_url} serves no model; name one: openai:URL#MODEL")
            model = served[0].id
        self.model = model
        # vLLM reports the served context as max_model_len; n_ctx in the spec overrides it
        entry = next((m for m in served if m.id == model), None)
        reported = (getattr(entry, "model_extra", None) or {}).get("max_model_len")
        self.context_length = int(context_length or reported or 4096)
        # Servers spell the repetition penalty differently (vLLM repetition_penalty,
        # llama.cpp repeat_penalty); we send both. A server that refuses them is
        # remembered only once the same request succeeded without them, so a
        # request refused for another reason (too long, say) costs no one the penalty.
        self._penalty_refused: set[float] = set()

    def _open(self, request: dict, penalty: float):
        from openai import BadRequestError, UnprocessableEntityError

        create = self._client.chat.completions.create
        if penalty == 1.0 or penalty in self._penalty_refused:
            return create(**request)
        try:
            return create(**request, extra_body={"repetition_penalty": penalty, "repeat_penalty": penalty})
        except (BadRequestError, UnprocessableEntityError):
            response = create(**request)  # raises the real problem if the penalty was not it
            self._penalty_refused.add(penalty)
            return response

    def _stream(self, messages: Sequence[Message], options: GenerationOptions, usage: Usage,
                stopping: threading.Event) -> Iterator[str]:
        from openai import APIConnectionError, APIStatusError

        request = dict(
            model=self.model, messages=self.neutralize_messages(messages), stream=True,
            max_tokens=options.max_tokens, temperature=options.temperature, seed=options.seed,
            stream_options={"include_usage": True},
        )
        if options.stop:
            request["stop"] = list(options.stop)
        try:
            response = self._open(request, options.repetition_penalty)
            try:
                for event in response:
                    if event.choices and (text := event.choices[0].delta.content):
                        usage.completion_tokens += 1
                        yield text
                    if event.usage:  # servers that honour include_usage send real counts last
                        usage.prompt_tokens = event.usage.prompt_tokens
                        usage.completion_tokens = event.usage.completion_tokens
            finally:
                # also on Stop: the server sees the connection close and stops generating
                response.close()
        except APIConnectionError as err:
            raise TopictalkError(f"lost the OpenAI-compatible server at {self.base_url}; is it still running?") from err
        except APIStatusError as err:
            raise TopictalkError(f"the server at {self.base_url} refused the request: {err.message}") from err

    def complete_many(self, conversations: Sequence[Sequence[Message]],
                      options: GenerationOptions = GenerationOptions(),
                      stopping: threading.Event | None = None) -> list[str | None]:
        """Up to :attr:`concurrency` requests in flight, so that the server batches them; answers in order.
        With ``stopping``: one at a time, as the base class does (work behind people's questions)."""
        if stopping is not None:
            return super().complete_many(conversations, options, stopping)
        self.check(options)
        if not conversations:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(lambda m: self.complete(m, options), conversations))

    def close(self) -> None:
        self._client.close()
