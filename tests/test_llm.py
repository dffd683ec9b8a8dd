"""The runtime-independent parts of agent.llm, on a scripted model (fast: no weights load)."""

from __future__ import annotations

import pytest

from tests.fakes import FakeLLM
from topictalk.agent.llm import cut_at_stop
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions

QUESTION = [{"role": "user", "content": "Name three colours, separated by commas."}]


def test_cut_at_stop_cuts_across_chunk_boundaries():
    chunks = ["Hello wor", "ld\n", "Ques", "tion: more"]
    assert "".join(cut_at_stop(chunks, ["Question:"])) == "Hello world\n"
    assert "".join(cut_at_stop(["abc"], [])) == "abc"
    assert "".join(cut_at_stop(["a<", "/s", "> tail"], ["</s>"])) == "a"
    # a partial match that turns out not to be the stop is released
    assert "".join(cut_at_stop(["x Que", "en"], ["Question"])) == "x Queen"


def test_cut_at_stop_closes_its_source_on_a_stop():
    closed = []

    def source():
        try:
            yield from ["a", "STOP", "never"]
        finally:
            closed.append(True)

    assert "".join(cut_at_stop(source(), ["STOP"])) == "a" and closed == [True]


@pytest.mark.parametrize("max_tokens", [0, -1])
def test_max_tokens_below_one_is_refused_not_read_as_unlimited(max_tokens):
    """llama.cpp reads max_tokens <= 0 as "until the context is full": every runtime refuses it instead."""
    llm = FakeLLM("red, green, blue")
    options = GenerationOptions(max_tokens=max_tokens)
    for call in (lambda: llm.stream(QUESTION, options), lambda: llm.complete(QUESTION, options),
                 lambda: llm.complete_many([QUESTION], options)):
        with pytest.raises(TopictalkError, match="max_tokens must be at least 1"):
            call()
    assert llm.calls == []  # refused before any generation starts
    assert llm.complete(QUESTION, GenerationOptions(max_tokens=1)) == "red, green, blue"


def test_a_response_counts_its_own_usage_and_replays_its_answer():
    llm = FakeLLM("red, green, blue")
    response = llm.stream(QUESTION)
    chunks = list(response)
    assert chunks == ["red,", " green,", " blue"] and response.text() == "red, green, blue"
    assert list(response) == chunks and response.usage.completion_tokens == 3 and response.usage.prompt_tokens > 0


def test_stop_from_another_thread_ends_the_stream_between_tokens_and_closes_the_runtime():
    # the app's Stop runs in its own thread while the answer's generator runs in another: close() cannot
    # reach a running generator, stop() can (issue 33)
    import threading

    closed = threading.Event()
    llm = FakeLLM("one two three four five")
    words = llm._stream

    def tracked(*args):
        try:
            yield from words(*args)
        finally:
            closed.set()

    llm._stream = tracked
    response = llm.stream(QUESTION)
    chunks = iter(response)
    assert next(chunks) == "one"
    threading.Thread(target=response.stop).start()
    response.stopping.wait(5)
    assert list(chunks) == [] and response.text() == "one" and closed.is_set()
    assert response.usage.completion_tokens == 2  # the runtime made one more token, nobody saw it
