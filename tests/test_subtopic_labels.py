"""LLM labels for a topic's subtopics, one call per topic (indexing/subtopic_labels.py; issues 27 and 28): the
numbered answer parsed and put through the label rule, refused lines on keyword headings with their reason, and
the cache (the raw answer in the label cache, the labelled subtopics apart from keyword-only ones). The fast tests
use a scripted model over the synthetic store of tests/test_subtopics.py; the slow one the bundled 0.5B over a
real index."""

from __future__ import annotations

import pytest

from tests.fakes import FakeLLM
from tests.test_subtopics import index  # noqa: F401 - the fixture: topic 0 of two blobs, topic 1 of one
from topictalk.indexing import labels, store, subtopic_labels, subtopics
from topictalk.indexing.subtopic_labels import Evidence

PROTEIN = Evidence(["protein", "folding", "residues"], ["Folding of small proteins", "Residue contacts"])
GALAXY = Evidence(["galaxy", "telescope", "redshift"], ["A redshift survey", "Telescope arrays"])


def test_a_numbered_answer_is_read_by_number_through_prefixes_quotes_and_markdown():
    raw = 'Here are the labels:\n\n**1.** "Protein Folding"\n2) Label: Galaxy Surveys.\n3. An extra line\n'
    assert subtopic_labels.parse(raw, 2) == ["Protein Folding", "Galaxy Surveys"]
    assert subtopic_labels.parse("2. Galaxy Surveys\n2. Again", 3) == [None, "Galaxy Surveys", None]
    assert subtopic_labels.parse("Protein Folding\n'Galaxy Surveys'", 3) == ["Protein Folding", "Galaxy Surveys", None]
    assert subtopic_labels.parse("Sub-area 1: Protein Folding\n#2 - Galaxy Surveys", 2) == ["Protein Folding",
                                                                                          "Galaxy Surveys"]
    assert subtopic_labels.parse("3D Vision", 1) == ["3D Vision"]  # a label that starts with a digit


def test_the_prompt_names_the_topic_once_and_numbers_each_subtopic_with_its_words_and_titles():
    messages = subtopic_labels.build_messages("Life and Space Science", [PROTEIN, GALAXY])
    assert messages[0]["content"] == labels.prompts.load("label_system")
    user = messages[1]["content"]
    assert user.count("Life and Space Science") == 2  # the context, and the name a label must not be
    assert "1. Keywords: protein, folding, residues." in user and "   - A redshift survey" in user
    assert user.index("Folding of small proteins") < user.index("2. Keywords: galaxy")


def test_a_near_same_sibling_or_the_topics_own_name_falls_back_to_keywords_with_the_reason():
    named = subtopic_labels.checked(["Protein Folding", "Protein Folding Dynamics"], "Science", [PROTEIN, GALAXY])
    assert named[0] == ("Protein Folding", "llm")
    assert named[1][1].startswith("keywords (answer 'Protein Folding Dynamics': it is nearly the same as its "
                                  "neighbour 'Protein Folding'")
    assert named[1][0] == labels.keyword_label(GALAXY.keywords, {"science", "protein folding"}, ["Protein Folding"])
    parent = subtopic_labels.checked(["Space Surveys", "Galaxy Surveys"], "Space Survey", [PROTEIN, GALAXY])
    assert "it is the name of its topic ('Space Survey')" in parent[0][1] and parent[1] == ("Galaxy Surveys", "llm")
    for name, _ in named + parent:
        assert labels.problem(name, [], set()) is None


def test_a_short_answer_leaves_the_rest_on_keywords(index):  # noqa: F811
    llm = FakeLLM("1. Protein Folding")
    found = subtopics.find(store.open_reader(index), 0, index.path / "cache", llm=llm)
    assert [p.label_source for p in found.parts] == ["llm", "keywords (the answer had no line 2)"]
    assert found.parts[0].label == "Protein Folding" and len(llm.calls) == 1


def test_one_call_labels_every_subtopic_then_the_caches_answer(index, monkeypatch):  # noqa: F811
    reader, cache = store.open_reader(index), index.path / "cache"
    llm = FakeLLM(lambda m: "1. Protein Folding\n2. Galaxy Surveys" if "1. Keywords: protein" in m[-1]["content"]
                  else "1. Galaxy Surveys\n2. Protein Folding")
    found = subtopics.find(reader, 0, cache, llm=llm)
    assert len(llm.calls) == 1 and not found.cached
    assert {p.label for p in found.parts} == {"Protein Folding", "Galaxy Surveys"}
    assert [p.label_source for p in found.parts] == ["llm", "llm"]
    assert '"Topic 0"' in llm.calls[0][-1]["content"] and "title " in llm.calls[0][-1]["content"]
    again = subtopics.find(reader, 0, cache, llm=llm)
    assert again.cached and again.parts == found.parts and len(llm.calls) == 1
    # keyword-only and LLM-labelled subtopics are cached apart: asking without the model gets keyword headings
    plain = subtopics.find(reader, 0, cache)
    assert plain.cached and {p.label_source for p in plain.parts} == {"keywords"}
    assert {p.label for p in plain.parts}.isdisjoint({"Protein Folding", "Galaxy Surveys"})
    assert len(list((cache / "subtopics").glob("*.json"))) == 2
    # with the subtopics' files gone, the label cache still holds the model's answer: no second call
    for path in (cache / "subtopics").glob("*.json"):
        path.unlink()
    fresh = subtopics.find(reader, 0, cache, llm=llm)
    assert not fresh.cached and fresh.parts == found.parts and len(llm.calls) == 1
    # another model is another entry: asked anew
    other = FakeLLM("1. Folded Proteins\n2. Sky Surveys")
    other.spec = "fake-other"
    assert [p.label for p in subtopics.find(reader, 0, cache, llm=other).parts] == ["Folded Proteins", "Sky Surveys"]
    # a topic without subtopics costs no call
    assert subtopics.find(reader, 1, cache, llm=llm).parts == [] and len(llm.calls) == 1


def test_python_and_the_command_line_choose_the_labeller(index, capsys):  # noqa: F811
    import topictalk
    from topictalk.ui import cli

    llm = FakeLLM("1. Protein Folding\n2. Galaxy Surveys")
    opened = topictalk.open(index.path, llm=llm)
    table = opened.subtopics(0)  # given a model, it labels
    assert set(table["Label"]) == {"Protein Folding", "Galaxy Surveys"} and set(table["Label_Source"]) == {"llm"}
    kept = opened.subtopics(0, llm=False)
    assert set(kept["Label_Source"]) == {"keywords"} and len(llm.calls) == 1
    # this index was labelled without a model: the command line keeps keyword labels unless given --llm
    assert cli.main(["topics", "--index-dir", str(index.path), "--subtopics", "0", "--json"]) == 0
    assert "Protein Folding" not in capsys.readouterr().out
    assert cli.main(["topics", "--index-dir", str(index.path), "--subtopics", "0", "--no-llm"]) == 0
    assert "Galaxy Surveys" not in capsys.readouterr().out


def test_the_command_line_loads_no_model_for_labels_it_has_cached(index, capsys):  # noqa: F811
    from topictalk.agent import models
    from topictalk.ui import cli

    deferred = models.Deferred("bundled")  # its identity from the spec: nothing loaded (the fast tier forbids it)
    assert not deferred.loaded and deferred.identity.startswith("bundled:") and "sha256" in deferred.identity
    fake = FakeLLM("1. Protein Folding\n2. Galaxy Surveys")
    fake.identity = deferred.identity  # as if the bundled model had labelled them
    subtopics.find(store.open_reader(index), 0, index.path / "cache", llm=fake)
    assert cli.main(["topics", "--index-dir", str(index.path), "--subtopics", "0", "--llm", "bundled"]) == 0
    out = capsys.readouterr().out
    assert "(cached)" in out and "Protein Folding" in out and "Galaxy Surveys" in out


# -- a real model ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_small_model_labels_every_subtopic_of_a_real_index_or_says_why_not(news):
    from topictalk.agent import models

    reader = store.open_reader(news)
    llm = models.load("bundled-small")
    try:  # the biggest topic with subtopics: one call (every topic took minutes on a loaded host)
        split = []
        for t in reader.topics():
            if not t.is_outlier and not split and subtopics.of_index(reader, t.id).parts:
                split.append(subtopics.of_index(reader, t.id, llm=llm))
    finally:
        llm.close()
    assert split
    for found in split:
        taken = {found.label.lower()}
        siblings: list[str] = []
        for part in found.parts:
            if part.label_source == "llm":
                assert labels.problem(part.label, part.keywords, taken, siblings=siblings) is None, part
                assert not labels.same_name(part.label, found.label)
            else:
                assert part.label_source.startswith(("keywords (", "llm-shortened (")) and part.label, part
            taken.add(part.label.lower())
            siblings.append(part.label)
