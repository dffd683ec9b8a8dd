"""A person's answer comes before background work on one model (agent/priority.py): the labels that
`topictalk demo` writes with the chat open stop for a question and are asked again after it."""

from __future__ import annotations

import threading

import pytest

from tests.fakes import FakeLLM
from topictalk.agent.llm import Background
from topictalk.agent.priority import Priority
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.generation import GenerationOptions


class Clock:
    """Time that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_in_thread(work) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread, out


def test_background_work_waits_for_a_person_and_for_quiet_after_them():
    clock = Clock()
    priority = Priority(quiet_s=5.0, clock=clock)
    started = threading.Event()
    with priority.person():
        thread, out = run_in_thread(lambda: priority.background(lambda stopping: started.set() or "label"))
        assert not started.wait(0.3)  # not while the person's call runs
    clock.now = 4.0
    assert not started.wait(0.3)  # nor within the quiet seconds after it
    clock.now = 5.5
    thread.join(5)
    assert out == ["label"] and priority.stopped == 0


def test_a_persons_call_stops_the_background_call_which_is_asked_again_after_it():
    priority = Priority(quiet_s=0.0)
    calls: list[bool] = []  # whether each background try was stopped
    running = threading.Event()

    def label(stopping: threading.Event) -> str:
        running.set()
        stopped = stopping.wait(2 if not calls else 0)  # the first try runs until a person stops it
        calls.append(stopped)
        return "half" if stopped else "whole label"

    thread, out = run_in_thread(lambda: priority.background(label))
    assert running.wait(5)
    with priority.person():
        pass
    thread.join(5)
    assert calls == [True, False]  # stopped at once, not after its 2 s
    assert out == ["whole label"] and priority.stopped == 1


def test_closing_stops_background_work_with_a_clear_error():
    priority = Priority(quiet_s=0.0)
    errors: list[Exception] = []
    running = threading.Event()

    def work() -> None:
        try:
            priority.background(lambda stopping: running.set() or stopping.wait(5))
        except TopictalkError as err:
            errors.append(err)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    assert running.wait(5)
    priority.close()
    thread.join(5)
    assert len(errors) == 1 and "closed" in str(errors[0])


def test_a_models_stream_is_a_persons_call_and_the_labelers_view_asks_in_the_background():
    model = FakeLLM("Graph Neural Networks")
    model.priority.quiet_s = 0.0
    background = Background(model)
    assert background.batches is False and background.identity == model.identity
    # while a person's answer is being read, a background answer waits
    response = model.stream([{"role": "user", "content": "hi"}], GenerationOptions(max_tokens=5))
    chunks = iter(response)
    next(chunks)
    thread, out = run_in_thread(lambda: background.complete([{"role": "user", "content": "label"}]))
    thread.join(0.3)
    assert thread.is_alive() and len(model.calls) == 1
    list(chunks)  # the answer ends: the label is asked
    thread.join(5)
    assert out == ["Graph Neural Networks"] and len(model.calls) == 2


def test_a_background_answer_stopped_midway_is_never_returned_as_the_answer():
    model = FakeLLM("one two three four five six")
    model.priority.quiet_s = 0.0
    first_word = threading.Event()
    go_on = threading.Event()
    real_stream = model._stream

    def slow_once(messages, options, usage, stopping):
        for i, chunk in enumerate(real_stream(messages, options, usage, stopping)):
            yield chunk
            if i == 0 and len(model.calls) == 1:  # the first try pauses after a word, for a person to come
                first_word.set()
                go_on.wait(5)

    model._stream = slow_once
    thread, out = run_in_thread(lambda: model.complete_in_background([[{"role": "user", "content": "label"}]]))
    assert first_word.wait(5)
    with model.priority.person():
        go_on.set()
    thread.join(5)
    assert out == [["one two three four five six"]] and model.priority.stopped == 1 and len(model.calls) == 2


def test_a_batch_stopped_for_a_person_keeps_the_answers_it_finished_and_asks_only_the_rest():
    model = FakeLLM(lambda messages: f"Label {messages[-1]['content']}")
    model.priority.quiet_s = 0.0
    second_started, go_on = threading.Event(), threading.Event()
    real_stream = model._stream

    def pausing(messages, options, usage, stopping):
        for chunk in real_stream(messages, options, usage, stopping):
            yield chunk
            if messages[-1]["content"] == "b" and not go_on.is_set():  # a person comes while b is written
                second_started.set()
                go_on.wait(5)

    model._stream = pausing
    labeler_view = Background(model)
    asked = [[{"role": "user", "content": c}] for c in "abc"]
    thread, out = run_in_thread(lambda: labeler_view.complete_many(asked))
    assert second_started.wait(5)
    with model.priority.person():
        go_on.set()
    thread.join(5)
    assert out == [["Label a", "Label b", "Label c"]]
    assert [c[-1]["content"] for c in model.calls] == ["a", "b", "b", "c"]  # a kept, b asked again


@pytest.mark.parametrize("quiet", [0.0, 0.2])
def test_background_work_goes_on_when_nobody_comes(quiet):
    priority = Priority(quiet_s=quiet)
    assert [priority.background(lambda stopping, k=k: k) for k in range(3)] == [0, 1, 2]


def test_a_question_arriving_stops_background_work_before_its_own_model_call():
    # routing and retrieval run before the answer's model call: on 2 cores beside a label they ran 3x slower
    clock = Clock()
    priority = Priority(quiet_s=5.0, clock=clock)
    running, tries = threading.Event(), []

    def label(stopping: threading.Event) -> str:
        running.set()
        tries.append(stopping.wait(2 if not tries else 0))
        return "label"

    thread, out = run_in_thread(lambda: priority.background(label))
    assert running.wait(5)
    priority.arrived()
    thread.join(0.5)
    assert tries == [True] and thread.is_alive()  # stopped at once, and waiting out the quiet seconds
    clock.now = 6.0
    thread.join(5)
    assert tries == [True, False] and out == ["label"]
