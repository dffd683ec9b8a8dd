"""OpenAI-compatible server runtime: vLLM, TGI, llama.cpp server, Ollama.

The server applies the model's own chat template; we send plain messages
whose contents went through ``prompts.neutralize`` so that document text
cannot forge turns there either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import prompts
from agent.llm import Message, Model, Options
from indexing.errors import TopictalkError


class OpenAIModel(Model):
    def __init__(
        self, base_url: str, model: str = "", *, api_key: str | None = None, timeout: float = 600.0,
        context_length: int = 4096, spec: str | None = None,
    ) -> None:
        super().__init__()
        from openai import OpenAI

        self.base_url = base_url.rstrip("/")
        self.spec = spec or f"openai:{self.base_url}#{model}"
        self.context_length = context_length
        key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self._client = OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=1)
        try:
            served = [m.id for m in self._client.with_options(timeout=10).models.list()]
        except Exception as err:  # openai raises several classes for the same user fact
            raise TopictalkError(
                f"cannot reach an OpenAI-compatible server at {self.base_url} ({type(err).__name__}); "
                "start the server or fix the URL in --llm openai:URL#MODEL"
            ) from err
        if not model:
            if not served:
                raise TopictalkError(f"the server at {self.base_url} serves no model; name one: openai:URL#MODEL")
            model = served[0]
        self.model = model
        # Servers spell the repetition penalty differently (vLLM repetition_penalty,
        # llama.cpp repeat_penalty); we send both and drop them if one refuses.
        self._send_penalty = True

    def stream(self, messages: Sequence[Message], options: Options = Options()) -> Iterator[str]:
        from openai import APIConnectionError, APIStatusError, BadRequestError, UnprocessableEntityError

        safe = prompts.neutralize_messages(messages)
        request = dict(
            model=self.model, messages=safe, stream=True, max_tokens=options.max_tokens,
            temperature=options.temperature, seed=options.seed, stream_options={"include_usage": True},
        )
        if options.stop:
            request["stop"] = list(options.stop)
        penalty = {"repetition_penalty": options.repetition_penalty, "repeat_penalty": options.repetition_penalty}
        try:
            try:
                response = self._client.chat.completions.create(
                    **request, extra_body=penalty if self._send_penalty else None
                )
            except (BadRequestError, UnprocessableEntityError):
                if not self._send_penalty:
                    raise
                self._send_penalty = False
                response = self._client.chat.completions.create(**request)
            self.usage.completion_tokens = self.usage.prompt_tokens = 0
            for event in response:
                if event.choices and (text := event.choices[0].delta.content):
                    self.usage.completion_tokens += 1
                    yield text
                if event.usage:  # servers that honour include_usage send real counts last
                    self.usage.prompt_tokens = event.usage.prompt_tokens
                    self.usage.completion_tokens = event.usage.completion_tokens
        except APIConnectionError as err:
            raise TopictalkError(f"lost the OpenAI-compatible server at {self.base_url}; is it still running?") from err
        except APIStatusError as err:
            raise TopictalkError(f"the server at {self.base_url} refused the request: {err.message}") from err

    def close(self) -> None:
        self._client.close()
