"""Routing of questions about time and groups on the held-out set tests/data/trend_routes.tsv (written
before the rules; the rules and agent/data/route_examples.tsv are not tuned on it), by the rules alone
(the example questions need the real embedding model; the fast tier has none)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from topictalk.agent import router
from topictalk.agent.plans import IndexFacts, State

DATA = Path(__file__).parent / "data"
HELD_OUT = [DATA / "trend_routes.tsv", DATA / "trend_routes_v2.tsv", DATA / "trend_routes_v3.tsv"]
CORPORA = {
    # arXiv's categories, the few of its 109 the sets name and some more
    "arxiv": IndexFacts(True, {"categories": ("cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "cs.CR",
                                              "math.OC", "eess.IV", "q-bio.NC", "quant-ph", "cond-mat.mtrl-sci",
                                              "hep-th", "math.CO", "eess.SP", "physics.optics")}),
    "news": IndexFacts(True, {"section": ("politics", "business", "sport", "technology", "world")}),
    "plain": IndexFacts(),
}
# measured on each set when it was first routed by the rules, before any change made after seeing it: 49 of
# 53 (the first set), 35 of 40 (the second, after the fixes the first set's failures led to), 16 of 22 (the
# third; its fixture then lacked quant-ph, which arXiv has); the bar sits below the first two, so a
# regression fails, not a rephrasing of the rules
MIN_ACCURACY = 0.85


def cases(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            intent, corpus, question = line.split("\t")
            rows.append((intent, corpus, question))
    return rows


@pytest.mark.parametrize("path", HELD_OUT[:2], ids=lambda p: p.name)  # the third is a short extra check
def test_the_held_out_set_is_at_least_30_phrasings_with_10_negatives(path):
    rows = cases(path)
    assert len(rows) >= 30
    assert sum(intent not in ("trends", "groups") and corpus != "plain" for intent, corpus, _ in rows) >= 10


@pytest.mark.parametrize("path", HELD_OUT, ids=lambda p: p.name)
def test_time_and_group_questions_route_right_on_the_held_out_set(path):
    failures = []
    rows = cases(path)
    for intent, corpus, question in rows:
        got = router.route(question, State(), {0, 1, 2, 3, 4, 5}, facts=CORPORA[corpus]).intent
        if got != intent:
            failures.append(f"{corpus}: {question!r} -> {got} (expected {intent})")
    accuracy = 1 - len(failures) / len(rows)
    print(f"held-out accuracy {accuracy:.3f} ({len(rows) - len(failures)}/{len(rows)}); failures:", *failures, sep="\n")
    assert accuracy >= MIN_ACCURACY, failures


def test_without_facts_the_router_routes_as_before():
    # a caller that does not say what the index holds: dates are what no document holds, as before
    assert router.route("When were these articles published?", State(), set()).intent == "not_in_documents"
    assert router.route("What are the emerging trends?", State(), set()).intent == "global"


def test_a_time_question_carries_its_date_phrase_and_a_group_question_its_values():
    facts = CORPORA["arxiv"]
    plan = router.route("What's new since January?", State(), set(), facts=facts)
    assert (plan.intent, plan.aspect, plan.when) == ("trends", "new", "since january")
    plan = router.route("How does cs.CL differ from cs.LG?", State(), set(), facts=facts)
    assert (plan.intent, plan.aspect, plan.facet, plan.values) == ("groups", "differ", "categories", ["cs.CL", "cs.LG"])
    plan = router.route("How has the topic on diffusion models changed?", State(), set(), facts=facts)
    assert (plan.aspect, plan.subject, plan.by_meaning) == ("topic", "diffusion models", True)
    plan = router.route("Show me the trend for topic 3", State(), {3}, facts=facts)
    assert (plan.intent, plan.topics) == ("trends", [3])


SHAPES = ["may ", "in may ", "what is growing ", "growing ", "how has ", "over time ", "since march ", "write about ",
          "cs.cv ", "the sport section ", "compare cs.cv and ", "which topics are most common in ", "what about ",
          "when were ", "trend of ", "month by ", "a.b ", "?"]


def test_time_and_group_rules_are_linear_in_the_question_length():
    """Each shape at 100,000 characters on a dated index with 3,000 facet values, in a child process, so a
    pattern that backtracks (the month "may" searched its whole prefix: 120 s) fails this test instead of
    hanging it."""
    code = (
        "from topictalk.agent import router\n"
        "from topictalk.agent.plans import IndexFacts, Plan, State\n"
        "facts = IndexFacts(True, {'categories': tuple(f'cs.x{i}' for i in range(3000)) + ('cs.CV', 'sport')})\n"
        "after = State(last=Plan('groups', 'x', aspect='common', values=['cs.CV']))\n"
        f"for shape in {SHAPES!r}:\n"
        "    q = (shape * (100000 // len(shape) + 1))[:100000]\n"
        "    router.route(q, after, {0, 1}, facts=facts)\n"
        "    router.route(q + ' what topics are growing?', State(), {0, 1}, facts=facts)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("routing 100,000-character time or group questions took over 120 s: a pattern backtracks")
    assert out.returncode == 0, out.stderr[-2000:]


def test_values_are_read_from_the_field_that_holds_the_most_of_them():
    facts = IndexFacts(True, {"label": ("cs.LG", "cs.CV"), "categories": ("cs.LG", "cs.CV", "stat.ML")})
    plan = router.route("How does stat.ML differ from cs.LG?", State(), set(), facts=facts)
    assert (plan.facet, plan.values) == ("categories", ["stat.ML", "cs.LG"])
    plan = router.route("Which topics are most common in cs.CV?", State(), set(), facts=facts)
    assert (plan.facet, plan.values) == ("label", ["cs.CV"])  # equal: the first field the index lists
    plan = router.route("Has work on quantum machine learning increased?", State(), set(), facts=facts)
    assert (plan.aspect, plan.subject) == ("topic", "quantum machine learning")


def test_what_is_new_in_a_topic_is_that_topic_over_time_not_the_corpus_s_new_topics():
    dated = CORPORA["arxiv"]
    plan = router.route("what's new in topic 2?", State(), {0, 1, 2}, facts=dated)
    assert (plan.intent, plan.aspect, plan.topics) == ("trends", "topic", [2])
    plan = router.route("what's new in it?", State(focus_topic=1), {0, 1, 2}, facts=dated)
    assert (plan.intent, plan.aspect, plan.topics) == ("trends", "topic", [1])
    assert router.route("what's new?", State(focus_topic=1), {0, 1, 2}, facts=dated).aspect == "new"
