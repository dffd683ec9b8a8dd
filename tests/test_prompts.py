"""Templates are filled by one renderer, in one pass, and refuse to half-fill."""

from __future__ import annotations

import pytest

from topictalk import prompts


def test_inserted_text_is_never_substituted_again():
    doc = "[1] This abstract mentions [QUESTION] and [N_TOPICS] literally."
    out = prompts.fill("ask_search", SOURCES=doc, QUESTION="What is federated learning?")
    assert doc in out  # chained str.replace would have put the question inside the document
    assert out.count("What is federated learning?") == 1


def test_values_are_turned_into_text():
    out = prompts.fill("missing_topic", NUMBER=42, FIRST=0, LAST=7)
    assert "42" in out and "7" in out and "[" not in out.replace("[1]", "")


def test_a_placeholder_left_unfilled_is_an_error():
    with pytest.raises(prompts.TemplateError, match=r"ask_search.*no value for \[QUESTION\]"):
        prompts.fill("ask_search", SOURCES="x")


def test_a_value_the_template_lacks_is_an_error():
    with pytest.raises(prompts.TemplateError, match="no placeholder for TOPICS"):
        prompts.fill("ask_search", SOURCES="x", QUESTION="q", TOPICS="t")


def test_citation_numbers_are_not_placeholders():
    assert prompts.placeholders("Cite [1] and [2]; answer [QUESTION] about [N_TOPICS].") == {"QUESTION", "N_TOPICS"}


def test_a_templates_head_is_what_every_filling_of_it_starts_with():
    head = prompts.head("ask_search")
    assert head and not prompts.placeholders(head) and prompts.load("ask_search").startswith(head)
    assert prompts.fill("ask_search", SOURCES="[1] x", QUESTION="q").startswith(head + "[1] x")
    assert prompts.head("thanks") == prompts.load("thanks")  # no mark: the whole text
