"""Misspelled subject words mended to the index's own words (agent/spelling.py), fast tier: the speller alone,
then a real Conversation over the small in-memory index (tests/fake_index.py)."""

from __future__ import annotations

import pytest

from tests.fake_index import FakeIndex, snapshot
from tests.fakes import FakeLLM
from topictalk.agent.conversation import Conversation, Settings
from topictalk.agent.spelling import Speller, distance

INDEX_WORDS = ["Reinforcement Learning: policy, reward, agents", "Graph Neural Networks: graph, molecular, nodes",
               "Adversarial Attacks: adversarial, attacks, robustness", "Speech Recognition: speech, audio, acoustic"]
KNOWN = ["cooking", "recipe", "football", "model", "learning", "attack"]  # as an encoder's whole-word vocabulary


def test_distance_counts_adds_drops_changes_and_swaps_and_stops_past_its_limit():
    assert distance("lerning", "learning", 2) == 1
    assert distance("grpah", "graph", 2) == 1  # a swap of two neighbours is one slip
    assert distance("reinforcemnet", "reinforcement", 2) == 1
    assert distance("adverserial", "adversarial", 2) == 1
    assert distance("spech", "speech", 1) == 1
    assert distance("robust", "speech", 2) == 3  # more than the limit: the limit plus one


@pytest.mark.parametrize("typed, read", [
    ("reinforcment", "reinforcement"), ("lerning", "learning"), ("grpah", "graph"), ("netwroks", "networks"),
    ("adverserial", "adversarial"), ("Acoustc", "acoustic"),
])
def test_a_slip_of_an_index_word_is_read_as_that_word(typed, read):
    assert Speller(INDEX_WORDS, KNOWN).correction(typed) == read


@pytest.mark.parametrize("word", [
    "cooking",   # a real word (the encoder knows it) the index does not use: left for the off-corpus answer
    "graphs",    # a plural of an index word is not a slip of it
    "nodes",     # an index word itself
    "pizza",     # nothing near
    "mode",      # under five letters: too many real words one slip apart
    "reward",    # index word
])
def test_real_words_index_words_and_short_words_are_left_as_typed(word):
    assert Speller(INDEX_WORDS, KNOWN).correction(word) is None


def test_two_index_words_equally_near_and_equally_used_leave_the_word_alone():
    assert Speller(["sensor", "censor"]).correction("zensor") is None
    assert Speller(["sensor", "sensor data", "censor"]).correction("zensor") == "sensor"  # the more used one


def test_names_and_acronyms_are_not_mended_and_a_first_capital_is_kept():
    speller = Speller(INDEX_WORDS + ["Graphormer"], KNOWN)
    assert speller.mend("What did Graphormr show?").text == "What did Graphormr show?"  # a name mid-question
    assert speller.mend("GRPAH models").text == "GRPAH models"  # an acronym
    mended = speller.mend("Grpah models and reinforcment lerning?")
    assert mended.text == "Graph models and reinforcement learning?"
    assert mended.changes == (("Grpah", "Graph"), ("reinforcment", "reinforcement"), ("lerning", "learning"))


SETTINGS = Settings(min_document_similarity=0.2, min_topic_similarity=0.2, topic_match_similarity=0.3,
                    count_similarity=0.3, max_tokens=60)


def test_a_misspelled_subject_finds_its_documents_and_the_answer_says_how_it_was_read():
    asked = Conversation(FakeIndex(snapshot()), FakeLLM("unused"), SETTINGS).ask("papers on advresarial atacks?")
    plain = Conversation(FakeIndex(snapshot()), FakeLLM("unused"), SETTINGS).ask("papers on adversarial attacks?")
    # the fake embedding reads a word by its first five letters: "advre" and "atack" are other words to it
    assert asked.intent == plain.intent != "off_corpus"
    assert [s.id for s in asked.sources] == [s.id for s in plain.sources] and asked.sources
    assert asked.answer.startswith('_Read "advresarial" as "adversarial", "atacks" as "attacks"._')
    assert not plain.answer.startswith("_Read")
