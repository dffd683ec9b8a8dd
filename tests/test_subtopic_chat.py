"""Browsing the depth in the chat (issue 27): "what are the subtopics of topic N?", "and topic M?", "go up a level",
answered from the index (the model's one call labels a topic's subtopics when first opened); and the same subtopics from Python and the command line. The fast tests run the
conversation over a real Chroma store of synthetic embeddings (questions embedded by a fake embedding: no model);
the slow one over a real index of 400 BBC articles."""

from __future__ import annotations

import math
import re

import pytest

from tests.fake_index import FakeIndex, fake_embed
from tests.fakes import FakeLLM
from tests.helpers import run_cli_here
from tests.test_subtopics import index  # noqa: F401 - the fixture: topic 0 of two blobs, topic 1 of one
from topictalk.agent.conversation import Conversation
from topictalk.agent.retrieval import Snapshot, TopicIndex, _ranking
from topictalk.indexing import store, subtopics

SIZES = re.compile(r"^\d+\. \*\*.+?\*\* \(([\d,]+) documents;", re.MULTILINE)


def _conversation(location: store.Location) -> tuple[Conversation, FakeLLM]:
    reader = store.Reader(store.connect(location), location, follow_s=math.inf)
    topics, themes = reader.topics(), reader.themes()
    ranking = _ranking(topics, [t.label for t in topics], fake_embed)
    snap = Snapshot(reader.generation, reader.manifest, tuple(topics), tuple(themes), reader, fake_embed, ranking,
                    _ranking(themes, [t.label for t in themes], fake_embed))
    llm = FakeLLM(lambda m: "1. Protein Folding\n2. Galaxy Surveys" if "sub-areas" in m[-1]["content"]
                  else "the model was asked")
    return Conversation(FakeIndex(snap), llm), llm


def test_the_subtopics_answer_lists_each_with_its_size_and_a_cited_document(index):  # noqa: F811
    chat, llm = _conversation(index)
    reply = chat.ask("What are the subtopics of topic 0?")
    assert (reply.intent, reply.answer_source, len(llm.calls)) == ("subtopics", "index", 1)
    assert "sub-areas of the topic" in llm.calls[0][-1]["content"]  # the one call: the subtopics' labels
    assert "**Protein Folding**" in reply.answer and "**Galaxy Surveys**" in reply.answer
    sizes = [int(s.replace(",", "")) for s in SIZES.findall(reply.answer)]
    assert len(sizes) == 2 and sum(sizes) == 120
    assert [s.n for s in reply.sources] == [1, 2] and all(s.topic == 0 for s in reply.sources)
    assert "[1]" in reply.answer and "[2]" in reply.answer and reply.topics == [0]


def test_follow_ups_keep_the_kind_of_answer_and_go_up_from_the_last_topic(index):  # noqa: F811
    chat, llm = _conversation(index)
    chat.ask("break topic 0 down")
    other = chat.ask("and topic 1?")
    assert other.intent == "subtopics" and "has no subtopics" in other.answer and "one subject" in other.answer
    assert [s.topic for s in other.sources] == [1]  # its most central document, cited
    up = chat.ask("go up a level")
    assert up.intent == "up" and "Topic 1" in up.answer and "**All**" in up.answer and "(this one)" in up.answer
    assert up.themes == [0] and set(up.topics) == {0, 1}
    top = chat.ask("go up a level")  # from the theme: the top level, the themes
    assert top.intent == "overview" and len(llm.calls) == 1  # topic 0's labels; topic 1 has no subtopics to label
    assert chat.ask("what are the subtopics of topic 0?").intent == "subtopics" and len(llm.calls) == 1  # cached


def test_a_question_that_opens_no_topic_asks_which(index):  # noqa: F811
    chat, _ = _conversation(index)
    reply = chat.ask("what are the subtopics?")
    assert reply.intent == "subtopics" and reply.answer.startswith("Which topic should I open?")


# -- a real index -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_on_a_real_index_the_answer_partitions_the_topic_and_cites_its_documents(news):
    reader = store.open_reader(news)
    opened = TopicIndex(reader)
    snap = opened.snapshot()
    found = {t.id: subtopics.of_index(reader, t.id) for t in snap.real_topics}
    split = [t for t in snap.real_topics if found[t.id].parts]
    assert split, {t: f.why_none for t, f in found.items()}  # 400 BBC articles: the biggest topics have subtopics
    chat = Conversation(opened, FakeLLM("the model was asked"))
    for topic in split:
        reply = chat.ask(f"what are the subtopics of topic {topic.id}?")
        assert reply.intent == "subtopics" and reply.answer_source == "index"
        sizes = [int(s.replace(",", "")) for s in SIZES.findall(reply.answer)]
        assert sum(sizes) == topic.size and len(sizes) == len(found[topic.id].parts) >= 2
        members = {d.id for d in reader.topic_members(topic.id)[0]}
        assert reply.sources and all(s.id in members and s.topic == topic.id for s in reply.sources)
        assert found[topic.id].size == topic.size == len(members)
    up = chat.ask("what is that part of?")
    assert up.intent == "up" and f"Topic {split[-1].id}" in up.answer
    # the second ask reads the cache: the Python API and the command line show the same subtopics
    table = __import__("topictalk").open(news.path).subtopics(split[0].id)
    assert list(table["Count"]) == [p.size for p in found[split[0].id].parts] and table["Count"].sum() == split[0].size
    out = run_cli_here("topics", "--index-dir", str(news.path), "--subtopics", str(split[0].id)).stdout
    assert "(cached)" in out and all(p.label in out for p in found[split[0].id].parts)
