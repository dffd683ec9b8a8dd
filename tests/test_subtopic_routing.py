"""Routing of questions that browse the depth (issue 27: a topic's subtopics, up a level) on the held-out set
tests/data/subtopic_routes.tsv (written before the rules; the rules are not tuned on it), by the rules alone (the
example questions need the real embedding model; the fast tier has none)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from topictalk.agent import router
from topictalk.agent.intents import OVERVIEW, SUBTOPICS, THEME, TOPIC, UP
from topictalk.agent.plans import IndexFacts, Plan, State

DATA = Path(__file__).parent / "data"
HELD_OUT = [DATA / "subtopic_routes.tsv", DATA / "subtopic_routes_v2.tsv"]
TOPICS = set(range(13))
FACTS = IndexFacts()  # no dates, no groups
# measured on each set when it was first routed, before any change made after seeing it: 58 of 59 (the first set),
# 15 of 25 (the second, written after the first run; 24 of 25 after the fixes its failures led to); docs/subtopics.md
MIN_ACCURACY = 0.85


def state_after(before: str) -> State:
    """The conversation's state after the answer ``before`` names (the file's second column)."""
    state = State()
    if before == "none":
        return state
    kind, n = before.split()
    n = int(n)
    if kind == "topic":
        state.remember(Plan(TOPIC, "q", [n]), [n], [], "topics", ["t1", "t2"])
    elif kind == "subtopics":
        state.remember(Plan(SUBTOPICS, "q", [n]), [n], [], "sources", ["s1", "s2", "s3"])
    elif kind == "up":
        state.remember(Plan(UP, "q", [n]), [n, n + 1, n + 2], [1], "topics", [])
    elif kind == "theme":
        state.remember(Plan(THEME, "q", theme=n), [0, 1, 2], [n], "topics", ["h1"])
    else:
        raise ValueError(before)
    return state


def cases(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            intent, before, question = line.split("\t")
            rows.append((intent, before, question))
    return rows


def test_the_held_out_set_is_at_least_30_phrasings_with_10_negatives_that_name_topics():
    rows = cases(HELD_OUT[0])
    assert len(rows) >= 30
    negatives = [q for intent, _, q in rows if intent not in (SUBTOPICS, UP, OVERVIEW)]
    assert sum("topic" in q.lower() for q in negatives) >= 10


@pytest.mark.parametrize("path", HELD_OUT, ids=lambda p: p.name)
def test_browsing_questions_route_right_on_the_held_out_set(path):
    rows = cases(path)
    failures = []
    for intent, before, question in rows:
        got = router.route(question, state_after(before), TOPICS, facts=FACTS).intent
        if got != intent:
            failures.append(f"{before}: {question!r} -> {got} (expected {intent})")
    accuracy = 1 - len(failures) / len(rows)
    print(f"held-out accuracy {accuracy:.3f} ({len(rows) - len(failures)}/{len(rows)}); failures:", *failures, sep="\n")
    assert accuracy >= MIN_ACCURACY, failures


def test_the_topic_comes_from_the_question_or_the_conversation():
    plan = router.route("What are the subtopics of topic 5?", State(), TOPICS, facts=FACTS)
    assert (plan.intent, plan.topics) == (SUBTOPICS, [5])
    plan = router.route("what is inside the federated learning topic?", State(), TOPICS, facts=FACTS)
    assert (plan.intent, plan.topics, plan.by_meaning, plan.query) == (SUBTOPICS, [], True, "federated learning")
    plan = router.route("go up a level", state_after("subtopics 5"), TOPICS, facts=FACTS)
    assert (plan.intent, plan.topics) == (UP, [5])
    plan = router.route("and topic 3?", state_after("up 5"), TOPICS, facts=FACTS)
    assert (plan.intent, plan.topics) == (UP, [3])
    plan = router.route("go down a level", state_after("theme 2"), TOPICS, facts=FACTS)
    assert (plan.intent, plan.theme) == (THEME, 2)  # down from a theme: its topics
    assert router.route("subtopics of topic 99", State(), TOPICS, facts=FACTS).intent == "missing_topic"
    # a phrase that asks for the parts only when the question holds nothing else
    assert router.route("what's inside topic 3?", State(), TOPICS, facts=FACTS).intent == SUBTOPICS
    assert router.route("which methods are used inside topic 3?", State(), TOPICS, facts=FACTS).intent == TOPIC


SHAPES = ["break ", "break it ", "the ", "the topic ", "topic ", "sub-topics of ", "inside ", "part of ",
          "what about the ", "go up ", "in ", "which ", "theme of ", "topic 1 ", "?"]


def test_the_rules_are_linear_in_the_question_length():
    """Each shape at 100,000 characters, after a subtopics answer, in a child process, so a pattern that backtracks
    fails this test instead of hanging it."""
    code = (
        "from topictalk.agent import router\n"
        "from topictalk.agent.plans import IndexFacts, Plan, State\n"
        "after = State(focus_topic=1, last=Plan('subtopics', 'x', [1]))\n"
        f"for shape in {SHAPES!r}:\n"
        "    q = (shape * (100000 // len(shape) + 1))[:100000]\n"
        "    router.route(q, after, {0, 1}, facts=IndexFacts())\n"
        "    router.route('and ' + q + ' topic?', after, {0, 1}, facts=IndexFacts())\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("routing 100,000-character browsing questions took over 120 s: a pattern backtracks")
    assert out.returncode == 0, out.stderr[-2000:]
