"""Extractive descriptions of topics and themes, and the corpus brief (indexing/describe.py)."""

from __future__ import annotations

import numpy as np

from topictalk.indexing import describe
from topictalk.indexing.schema import Brief, Theme, Topic

DOCS = {
    "a1": ("Graph nets", "In recent years, graphs have become popular in many areas of science. We propose a graph "
                         "neural network that predicts molecular properties from atoms and bonds. It is fast."),
    "a2": ("Molecules", "Molecular property prediction matters for drug discovery and materials design today. "
                        "Our results show that message passing on molecular graphs beats fingerprints."),
    "b1": ("Privacy", "We present a federated learning protocol that keeps client updates private with noise."),
}


def _embed(texts: list[str]) -> np.ndarray:
    """A stand-in embedding: a sentence about graphs or molecules points one way, the rest another."""
    rows = [[1.0, 0.2] if ("graph" in t.lower() or "molecul" in t.lower()) else [0.1, 1.0] for t in texts]
    rows = np.array(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _topics() -> list[Topic]:
    graphs = Topic(0, 20, "Molecular graphs", "llm", ["graph"], representative_ids=["a1", "a2"],
                   embedding=np.array([1.0, 0.0], np.float32), theme=0)
    privacy = Topic(1, 10, "Federated privacy", "llm", ["privacy"], representative_ids=["b1"],
                    embedding=np.array([0.0, 1.0], np.float32), theme=1)
    return [graphs, privacy]


def test_a_topic_is_described_by_claims_of_its_own_central_documents_each_cited():
    topics = _topics()
    describe.describe_topics(topics, DOCS, _embed)
    graphs = topics[0]
    assert graphs.description_ids == ["a1", "a2"]
    said = describe.sentences(graphs.description)
    assert len(said) == 2
    for sentence, doc_id in zip(said, graphs.description_ids):
        assert sentence in " ".join(DOCS[doc_id][1].split())  # the document's own words, so grounded
    assert "In recent years" not in graphs.description  # background loses to the claim beside it
    assert "We propose a graph neural network" in graphs.description
    assert topics[1].description.startswith("We present a federated")


def test_fragments_and_run_ons_are_not_sentences_to_quote():
    assert describe.sentences("It is fast. Too short. " + "word " * 80 + ".") == []


def test_a_theme_takes_the_first_sentence_of_its_biggest_topics_and_the_brief_names_every_theme():
    topics = _topics()
    describe.describe_topics(topics, DOCS, _embed)
    themes = [Theme(0, 20, "Chemistry", "llm", [0]), Theme(1, 10, "Privacy", "llm", [1])]
    describe.describe_themes(themes, topics)
    assert themes[0].description == describe.sentences(topics[0].description)[0]
    assert themes[0].description_ids == ["a1"]
    brief = describe.brief(themes, topics, documents=30)
    assert brief.text.startswith("30 documents in 2 topics, grouped in 2 themes")
    assert [line.theme for line in brief.themes] == [0, 1]
    assert brief.themes[0].text == themes[0].description and brief.themes[0].document_ids == ["a1"]
    assert Brief.from_dict(brief.as_dict()) == brief  # kept in the manifest and read back whole


def test_a_topic_without_documents_to_quote_has_an_empty_description():
    topic = Topic(0, 3, "x", "llm", [], representative_ids=["missing"], embedding=np.array([1.0, 0.0], np.float32))
    describe.describe_topics([topic], DOCS, _embed)
    assert topic.description == "" and topic.description_ids == []


def test_a_quoted_sentence_never_leans_on_the_one_before_it_where_another_is_left():
    """"To this end, we introduce ..." was an object-detection topic's quoted line and its theme's first
    sentence (1,500 arXiv abstracts): alone it starts mid-thought. The closer sentence loses to one that
    stands alone; where every sentence leans back, the closest is still quoted."""
    leaning = "To this end, we introduce a graph benchmark of molecular property prediction tasks."
    standing = "Benchmarks of chemistry datasets are compared with molecules as inputs for every model."
    docs = {"a1": ("Graph benchmark", f"{standing} {leaning}")}
    topic = Topic(0, 20, "Molecular graphs", "llm", ["graph"], representative_ids=["a1"],
                  embedding=np.array([1.0, 0.0], np.float32))

    def embed(texts: list[str]) -> np.ndarray:  # the leaning sentence is the one nearest the topic
        rows = np.array([[1.0, 0.1] if t.startswith("To this end") else [0.6, 0.8] for t in texts], np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    assert describe.central_sentences([topic], docs, embed, 1) == {"a1": standing}
    describe.describe_topics([topic], docs, embed)
    assert topic.description == standing
    docs = {"a1": ("Graph benchmark", f"Therefore, benchmarks of chemistry datasets are compared with molecules. {leaning}")}
    assert describe.central_sentences([topic], docs, embed, 1) == {"a1": leaning}  # all lean back: the closest


def test_leaning_back_is_told_by_the_sentences_opening_words():
    for leaning in ("To this end, we propose X.", "To address these issues, we design Y.", "Moreover, results hold.",
                    "This approach scales to large graphs.", "It also covers privacy.", "Thus the bound is tight."):
        assert describe.LEANS_BACK.match(leaning), leaning
    for standing in ("This paper proposes X.", "This work studies Y.", "We propose X to this end.",
                     "These documents explore federated learning.", "Thompson sampling is analysed."):
        assert not describe.LEANS_BACK.match(standing), standing
