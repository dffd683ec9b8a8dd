"""Label prompts, cleaning, fallbacks and the label cache (scripted LLM)."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.labels import LabelCache, Labeler, LabelSettings, build_messages, clean, problem, truncate
from indexing.schema import Topic
from tests.fakes import FakeLLM

KEYWORDS = ["federated", "clients", "privacy", "server", "aggregation", "heterogeneity", "communication",
            "local", "global", "fl", "extra1", "extra2"]


def _topic(tid: int, keywords=KEYWORDS, ids=("d1", "d2")) -> Topic:
    return Topic(id=tid, size=10, label="", label_source="", keywords=list(keywords),
                 representative_ids=list(ids), embedding=np.ones(3, np.float32))


DOCS = {"d1": ("FedAvg revisited", "Clients train locally and a server averages. " * 40),
        "d2": ("", "Differential privacy for federated learning."), "d3": ("T3", "x")}


@pytest.mark.parametrize("raw, expected", [
    ("Federated Learning and Privacy", "Federated Learning and Privacy"),
    ('"Federated Learning and Privacy".', "Federated Learning and Privacy"),
    ("Label: Federated Learning\nThis topic is about...", "Federated Learning"),
    ("**Topic label:** Federated learning", "Federated learning"),
    ("\n\n  Topic: 'Graph Neural Networks'  \n", "Graph Neural Networks"),
    ("", ""),
])
def test_clean_takes_first_line_without_prefixes_or_quotes(raw, expected):
    assert clean(raw) == expected


def test_clean_bounds_length_at_a_word():
    label = clean("A very long label " * 10, max_chars=30)
    assert len(label) <= 30 and not label.endswith(" ") and label.startswith("A very long label")


def test_problem_detects_empty_keyword_lists_and_duplicates():
    assert problem("", KEYWORDS, set()) == "it is empty"
    assert "list of keywords" in problem("Federated, Clients, Privacy", KEYWORDS, set())
    assert "list of keywords" in problem("Segmentation, Net, Medical, Clinical, Analysis", KEYWORDS, set())
    assert "already" in problem("Federated Learning", KEYWORDS, {"federated learning"})
    assert problem("Federated Learning and Privacy", KEYWORDS, set()) is None
    assert problem("Privacy, Security and Trust", KEYWORDS, set()) is None  # a title with commas


def test_prompt_follows_reference_recipe_with_budget_and_ten_keywords():
    settings = LabelSettings(doc_tokens=20)
    messages = build_messages([DOCS["d1"], DOCS["d2"]], KEYWORDS, settings, lambda t: len(t.split()))
    assert messages[0] == {"role": "system",
                           "content": "You are a helpful, respectful and honest assistant for labeling topics."}
    user = messages[-1]["content"]
    assert len(messages) == 2  # one-shot example is off by default
    assert "The topic is described by the following keywords: 'federated, clients, privacy, server, aggregation, " \
           "heterogeneity, communication, local, global, fl'." in user
    assert "extra1" not in user  # 10 keywords, as promised, not 30
    first_doc = user.split("\n")[1]
    assert first_doc.startswith("- FedAvg revisited: Clients train") and first_doc.endswith("...")
    assert len(first_doc.split()) <= 22
    assert "- Differential privacy for federated learning." in user


def test_one_shot_example_is_available_when_asked():
    messages = build_messages([DOCS["d2"]], KEYWORDS, LabelSettings(one_shot=True), lambda t: len(t.split()))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Environmental impacts of eating meat"


def test_truncate_respects_the_token_budget():
    count = lambda t: len(t.split())  # noqa: E731
    assert truncate("a b c", 5, count) == "a b c"
    assert truncate("a b c d e f", 3, count) == "a b c ..."


def test_outlier_topic_is_never_sent_to_the_llm(tmp_path):
    llm = FakeLLM("Federated Learning")
    topics = [_topic(-1), _topic(0)]
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label(topics, DOCS)
    assert len(llm.calls) == 1
    assert (topics[0].label, topics[0].label_source) == ("Outliers", "outliers")
    assert (topics[1].label, topics[1].label_source) == ("Federated Learning", "llm")


def test_keyword_echo_is_retried_without_keywords_then_falls_back(tmp_path):
    answers = {"first": "Federated, Clients, Privacy, Server", "retry": "Private Federated Training"}

    def reply(messages):
        return answers["first"] if "keywords" in messages[-1]["content"] else answers["retry"]

    llm = FakeLLM(reply)
    topic = _topic(0)
    labeler = Labeler(llm, LabelCache(tmp_path / "l.jsonl"))
    labeler.label([topic], DOCS)
    assert (topic.label, topic.label_source) == ("Private Federated Training", "llm-retry")
    assert "keywords" not in llm.calls[1][-1]["content"]  # the retry shows documents only

    answers["retry"] = ""
    topic = _topic(1, keywords=["a", "b", "c", "d"])
    Labeler(FakeLLM(reply), LabelCache(tmp_path / "m.jsonl")).label([topic], DOCS)
    assert topic.label_source == "keywords" and topic.label == "a, b, c"


def test_duplicate_labels_are_retried_and_stay_unique(tmp_path):
    llm = FakeLLM(lambda m: "Same Label" if "keywords" in m[-1]["content"] else "Same Label")
    topics = [_topic(0), _topic(1), _topic(2)]
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label(topics, DOCS)
    labels = [t.label.lower() for t in topics]
    assert len(set(labels)) == 3
    assert [t.label_source for t in topics] == ["llm", "keywords", "keywords"]


def test_label_cache_skips_the_llm_on_rerun_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    first = FakeLLM("Federated Learning")
    Labeler(first, LabelCache(path)).label([_topic(0)], DOCS)
    with path.open("a") as f:
        f.write('{"key": "torn')  # what kill -9 mid-write leaves
    again = FakeLLM("Something else")
    labeler = Labeler(again, LabelCache(path))
    topic = _topic(0)
    labeler.label([topic], DOCS)
    assert again.calls == [] and topic.label == "Federated Learning"
    assert labeler.stats["cached"] == 1 and labeler.stats["asked"] == 0
    # another model or other topic content is a different key
    other = FakeLLM("Other")
    other.spec = "other-model"
    Labeler(other, LabelCache(path)).label([_topic(0)], DOCS)
    assert len(other.calls) == 1
