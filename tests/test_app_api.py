"""The app as an API: one documented endpoint, ``/ask``, called with gradio_client behind a login
(issue 33, item 12). The app runs in this process over a two-document index and a scripted model."""

from __future__ import annotations

import pytest

from tests.fakes import FakeLLM
from tests.test_app_browser import PASSWORD, USER, serve_app, speech_index

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_url(tmp_path_factory):
    texts = [("Speech recognition with transformers", "An ASR model maps audio to text, listening to speech."),
             ("Speaker diarization", "Who spoke when in recorded meetings, from the audio alone.")]
    demo = serve_app(speech_index(tmp_path_factory.mktemp("api-index"), texts),
                     FakeLLM("An ASR model maps audio to text [1]."))
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="module")
def client(api_url):
    from gradio_client import Client

    return Client(api_url, auth=(USER, PASSWORD), verbose=False)


def test_the_api_lists_only_ask_documented(client):
    # the page's own events (take, answer, lambda ...) were 19 auto-named endpoints, /answer taking no input
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/ask"] and not api["unnamed_endpoints"]
    ask = api["named_endpoints"]["/ask"]
    assert [p["parameter_name"] for p in ask["parameters"]] == ["question"]
    assert "sources" in ask["description"]


def test_ask_returns_the_answer_its_sources_topics_and_intent_as_json(client):
    reply = client.predict("What does an ASR model do?", api_name="/ask")
    assert reply["done"] is True and reply["answer"].startswith("An ASR model maps audio to text")
    assert [s["id"] for s in reply["sources"]] == ["d0"] and reply["sources"][0]["n"] == 1
    assert reply["topics"] == [0] and reply["intent"] and reply["answer_source"] == "model"
    assert "<" not in reply["answer"]  # plain text, not the chat's HTML


def test_ask_streams_the_answer_as_it_is_written(client):
    job = client.submit("What does an ASR model do?", api_name="/ask")
    items = list(job)
    partial = [item for item in items if not item["done"]]
    assert partial and items[-1]["done"] is True
    texts = [item["answer"] for item in partial]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))  # each one grows the one before


def test_a_bad_question_is_one_clear_line(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", api_name="/ask")
