"""Descriptions the LLM writes at index time: parsed from the label's answer, each sentence grounded in its
documents and cited, the extractive one kept otherwise; the corpus brief's paragraph (indexing/descriptions.py)."""

from __future__ import annotations

import re
import zlib

import numpy as np

from topictalk.indexing import descriptions, grounding
from topictalk.indexing.labels import LabelCache, Labeler, LabelSettings
from topictalk.indexing.pipeline import label
from topictalk.indexing.schema import Brief, Theme, Topic

DOCS = {
    "g1": ("Message passing for molecules", "We propose a graph neural network that predicts molecular properties "
                                            "from atoms and bonds. It beats fingerprints on solubility."),
    "g2": ("Protein graphs", "Our model learns protein structure with graph attention over residues. Results show "
                             "better fold classification."),
    "p1": ("Private federated learning", "We present a federated learning protocol that keeps client updates "
                                         "private with differential privacy noise."),
    "p2": ("Secure aggregation", "We study secure aggregation of client gradients in federated learning with "
                                 "encryption."),
}
_WORD = re.compile(r"[a-z]+")


def _embed(texts: list[str]) -> np.ndarray:
    """A stand-in sentence embedding: counts of word stems, so shared words make sentences similar."""
    out = np.zeros((len(texts), 2048), np.float32)
    for i, text in enumerate(texts):
        for w in _WORD.findall(text.lower()):
            if len(w) > 3:
                out[i, zlib.crc32(w[:6].encode()) % 2048] += 1.0
        out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
    return out


def _docs(*ids: str) -> list[tuple[str, str, str]]:
    return [(i, *DOCS[i]) for i in ids]


def test_the_description_is_what_follows_the_label_line():
    raw = "Label: Molecular Graphs\nDescription: These papers predict molecular properties with graphs. They learn."
    assert descriptions.parse(raw) == "These papers predict molecular properties with graphs. They learn."
    assert descriptions.parse("Molecular Graphs\n\nGraph networks predict molecules.") == "Graph networks predict molecules."
    assert descriptions.parse("**Label:** X\n**Description:** Graph nets for molecules.") == "Graph nets for molecules."
    assert descriptions.parse("Molecular Graphs") == ""


def test_a_grounded_sentence_is_kept_and_cited_by_the_document_it_rests_on():
    checked = descriptions.check("A graph neural network predicts molecular properties from atoms and bonds. "
                                 "Graph attention over residues learns protein structure.", _docs("g1", "g2"), _embed)
    assert checked.ids == ["g1", "g2"] and not checked.dropped
    assert grounding.sentences(checked.text) == [  # the reader pairs sentences and ids by this split
        "A graph neural network predicts molecular properties from atoms and bonds.",
        "Graph attention over residues learns protein structure."]


def test_an_invented_sentence_is_dropped_and_none_grounded_leaves_the_extractive_description():
    invented = "People use quantum annealing for stock trading and weather control in banks."
    checked = descriptions.check(f"A graph neural network predicts molecular properties from atoms and bonds. "
                                 f"{invented}", _docs("g1", "g2"), _embed)
    assert checked.ids == ["g1"] and checked.dropped == [invented] and invented not in checked.text

    topic = Topic(0, 10, "x", "llm", ["graph"], representative_ids=["g1", "g2"], description="extractive one.",
                  description_ids=["g1"], description_source="extractive")
    stats = descriptions.apply([topic], {0: f"Label: Graphs\nDescription: {invented}"}, {0: ["g1", "g2"]}, DOCS, _embed)
    assert topic.description == "extractive one." and topic.description_ids == ["g1"]
    assert topic.description_source.startswith("extractive (no sentence grounded") and invented in topic.description_source
    assert stats == {"llm": 0, "extractive": 1, "kept": 0, "dropped": 1}


def test_short_fragments_are_not_claims_and_a_description_keeps_at_most_three_sentences():
    text = ("Graph nets. " + "A graph neural network predicts molecular properties from atoms and bonds. " * 4).strip()
    checked = descriptions.check(text, _docs("g1"), _embed)
    assert checked.dropped[0] == "Graph nets." and len(checked.ids) == descriptions.MAX_SENTENCES


def test_a_sentence_leaning_on_a_dropped_one_does_not_open_a_description():
    # "It also discusses ..." opened a description once the sentence before it was dropped (2,000 abstracts)
    invented = "People use quantum annealing for stock trading and weather control in banks."
    leaning = "It also uses graph attention over residues to learn protein structure."
    checked = descriptions.check(f"{invented} {leaning}", _docs("g1", "g2"), _embed)
    assert checked.text == "" and leaning in checked.dropped
    kept = descriptions.check(f"A graph neural network predicts molecular properties from atoms and bonds. {leaning}",
                              _docs("g1", "g2"), _embed)
    assert kept.text.endswith(leaning) and kept.ids == ["g1", "g2"]  # after a kept sentence it reads right


def test_a_sentence_cut_by_the_token_limit_is_dropped():
    checked = descriptions.check("A graph neural network predicts molecular properties from atoms and bonds. "
                                 "A graph neural network predicts molecular properties from atoms", _docs("g1"), _embed)
    assert checked.ids == ["g1"] and checked.dropped == ["A graph neural network predicts molecular properties from atoms"]


def test_each_embedded_text_is_embedded_once():
    calls = []

    def counting(texts):
        calls.append(list(texts))
        return _embed(texts)

    embed = descriptions.memo(counting)
    first = embed(["a sentence here", "another one"])
    again = embed(["another one", "a third sentence"])
    assert calls == [["a sentence here", "another one"], ["a third sentence"]]
    assert np.allclose(first[1], again[0])


class _Writer:
    """A fake LLM that writes a label and a description from the documents it is shown."""

    spec = identity = "fake-writer"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, messages, options) -> str:
        user = messages[-1]["content"]
        self.prompts.append(user)
        if "groups the following topics" in user:
            return ("Label: Learning on Graphs and Privacy\nDescription: A graph neural network predicts molecular "
                    "properties from atoms and bonds. Our model learns protein structure with graph attention.")
        if "falls into these themes" in user:
            return "The collection covers a graph neural network that predicts molecular properties from atoms."
        if "keywords: 'graph" in user:
            return ("Label: Molecular Graphs\nDescription: A graph neural network predicts molecular properties "
                    "from atoms and bonds. Graph attention over residues learns protein structure.")
        if "keywords: 'secure'" in user:
            return "Label: Encrypted Gradient Sharing\nDescription: Secure aggregation of client gradients uses encryption."
        return "Label: Federated Privacy\nDescription: Bananas grow on volcanic islands in the tropical sun."


def _index() -> tuple[list[Topic], list[Theme]]:
    topics = [Topic(0, 20, "", "", ["graph", "molecular"], representative_ids=["g1", "g2"], theme=0),
              Topic(1, 10, "", "", ["federated", "privacy"], representative_ids=["p1", "p2"], theme=0),
              Topic(2, 5, "", "", ["secure"], representative_ids=["p2"], theme=1)]
    themes = [Theme(0, 30, "", "", [0, 1], ["graph", "federated"], representative_ids=["g1", "p1"]),
              Theme(1, 5, "", "", [2], ["secure"], representative_ids=["p2"])]
    return topics, themes


def test_labels_and_descriptions_come_from_one_call_per_topic_and_theme(tmp_path):
    topics, themes = _index()
    # the extractive descriptions come first (pipeline.build): the fallback where the model's is not grounded
    for t in topics:
        t.description, t.description_ids, t.description_source = (DOCS[t.representative_ids[0]][1].split(". ")[0] + ".",
                                                                  t.representative_ids[:1], "extractive")
    llm = _Writer()
    labeler = Labeler(llm, LabelCache(tmp_path / "labels.jsonl"), LabelSettings())
    central = {"g1": "We propose a graph neural network that predicts molecular properties from atoms and bonds."}
    stats = label(topics, themes, DOCS, labeler, central=central, embed=_embed)
    assert len(llm.prompts) == 3 + 1  # three topics, one theme of two topics (the other is its one topic)
    assert "Message passing for molecules: We propose a graph" in llm.prompts[0]  # title and central sentence
    assert "Molecular Graphs: A graph neural network" in llm.prompts[3]  # a theme reads its topics' descriptions
    graphs, privacy, _ = topics
    assert graphs.label == "Molecular Graphs" and graphs.description_source == "llm"
    assert graphs.description_ids == ["g1", "g2"]
    assert privacy.description_source.startswith("extractive") and privacy.description_ids == ["p1"]  # bananas dropped
    assert themes[0].label == "Learning on Graphs and Privacy" and themes[0].description_source == "llm"
    # its first sentence restates its first topic's description: true of that topic, not of the theme
    assert themes[0].description == "Our model learns protein structure with graph attention."
    assert themes[0].description_ids == ["g2"]
    assert themes[1].description == topics[2].description and themes[1].label == topics[2].label  # a theme of one topic
    assert stats["topics"]["llm"] == 2 and stats["topics"]["extractive"] == 1 and stats["themes"]["llm"] == 1
    assert all(t.description and t.description_ids for t in [*topics, *themes])  # 100% described


def test_without_a_model_every_topic_and_theme_gets_an_extractive_description():
    topics, themes = _index()
    for t in topics:
        t.description, t.description_ids, t.description_source = "A sentence of it.", t.representative_ids[:1], "extractive"
    stats = label(topics, themes, DOCS, None)
    assert stats == {"source": "extractive"}
    assert themes[0].description and themes[0].description_source == "extractive" and themes[0].description_ids
    assert all(t.label for t in [*topics, *themes])


def test_the_brief_keeps_the_model_paragraph_where_grounded_and_names_every_theme():
    topics, themes = _index()
    for t, text in zip(topics, ["A graph neural network predicts molecular properties from atoms and bonds.",
                                "We present a federated learning protocol that keeps client updates private.",
                                "We study secure aggregation of client gradients."]):
        t.label, t.description, t.description_ids = f"Topic {t.id}", text, t.representative_ids[:1]
    for th in themes:
        th.label, th.description = f"Theme {th.id}", topics[th.topic_ids[0]].description
        th.description_ids = topics[th.topic_ids[0]].description_ids
    raw = ("The collection studies a graph neural network that predicts molecular properties from atoms and bonds. "
           "It also covers penguins dancing on the moon with jazz music.")
    made, how = descriptions.brief(themes, topics, 35, raw, DOCS, _embed)
    assert how["source"] == "llm" and how["dropped"] == ["It also covers penguins dancing on the moon with jazz music."]
    assert made.text.startswith("35 documents in 3 topics, grouped in 2 themes. The collection studies a graph")
    assert "penguins" not in made.text and made.document_ids == ["g1"]
    assert [line.theme for line in made.themes] == [0, 1] and all(line.document_ids for line in made.themes)
    assert Brief.from_dict(made.as_dict()) == made

    plain, how = descriptions.brief(themes, topics, 35, None, DOCS, _embed)
    assert how["source"].startswith("extractive") and plain.document_ids == [] and len(plain.themes) == 2
    assert Brief.from_dict({"text": "old", "themes": []}).document_ids == []  # a brief written before the field


def test_descriptions_round_trip_the_store_and_an_older_index_reads_none(tmp_path):
    from topictalk.indexing import store

    location = store.Location(path=tmp_path)
    writer = store.begin(store.connect(location))
    topic = Topic(0, 2, "Graphs", "llm", ["graph"], representative_ids=["g1"], embedding=np.ones(4, np.float32),
                  theme=0, description="Graph nets predict molecules.", description_ids=["g1"], description_source="llm")
    theme = Theme(0, 2, "Graphs", "topic", [0], ["graph"], np.ones(4, np.float32), ["g1"],
                  description="Graph nets predict molecules.", description_ids=["g1"], description_source="llm")
    writer.write_topics([topic])
    writer.write_themes([theme])
    # a topic as indexes wrote it before descriptions: no description keys in its metadata
    writer.topics.add(ids=["1"], documents=["Old"], embeddings=[[1.0, 0.0, 0.0, 0.0]],
                      metadatas=[{"label": "Old", "label_source": "llm", "size": 1, "representative_ids": "[]",
                                  "topic": 1, "keywords": "[]", "keybert": "[]", "mmr": "[]", "theme": -1}])
    writer.commit({"brief": Brief("2 documents.", document_ids=["g1"]).as_dict()})
    reader = store.open_reader(location)
    new, old = reader.topics()
    assert (new.description, new.description_ids, new.description_source) == (topic.description, ["g1"], "llm")
    assert (old.description, old.description_ids, old.description_source) == ("", [], "")
    assert reader.themes()[0].description_ids == ["g1"]
    assert Brief.from_dict(reader.manifest.get("brief")).document_ids == ["g1"]
    assert Brief.from_dict({}) is None  # a manifest written before briefs


def test_the_plain_table_prints_each_themes_first_sentence_under_it_and_json_carries_them():
    from topictalk.ui import tables

    topics, themes = _index()
    for t in topics:
        t.label = f"Topic {t.id}"
    themes[0].label, themes[1].label = "Big theme", "Small theme"
    themes[0].description = "Graph networks predict molecules for chemistry work. A second sentence is not shown."
    themes[0].description_ids = ["g1", "g2"]
    lines = tables.format_table(topics, themes).splitlines()
    at = next(k for k, line in enumerate(lines) if "== Big theme ==" in line)
    assert lines[at + 1].strip() == "Graph networks predict molecules for chemistry work."
    assert "second sentence" not in "\n".join(lines)
    assert "== Small theme ==" in lines[-2] and lines[-1].split()[0] == "2"  # no line under an undescribed theme
    shown = tables.as_json(topics, themes)
    assert shown["themes"][0]["description_ids"] == ["g1", "g2"] and "description_source" in shown["topics"][0]
    assert tables.short("word " * 40 + "end.", limit=30).endswith(" ...")


def test_a_themes_fallback_cites_the_document_of_the_sentence_it_takes_even_a_long_one():
    from topictalk.indexing import describe

    long = "Graph networks " + "learn molecules " * 40 + "well."  # over describe's 60 words: still the first
    topics = [Topic(0, 5, "A", "llm", [], description=f"{long} Proteins fold", description_ids=["g1", "g2"])]
    themes = [Theme(0, 5, "T", "llm", [0])]
    describe.describe_themes(themes, topics)
    assert themes[0].description == long and themes[0].description_ids == ["g1"]
    assert describe.ended("Proteins fold") == "Proteins fold." and describe.ended("Done!") == "Done!"
