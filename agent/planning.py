"""Route a question once, to its final plan: rules, then example questions, then what the index says.

``router.route`` reads the question's words; ``examples.Examples.refine`` moves a question the rules
left to a plain search to the intent of its nearest labelled example; this module then settles what
only the index can: which topics a topic named by its subject is, whether any topic is about a
subject, whether anything in the corpus is near the question at all. What it returns is final: the
context builders (``agent.context``) build what the plan says and never change its intent.
"""

from __future__ import annotations

import numpy as np

from topictalk import prompts
from topictalk.agent import retrieval, router, time_rules, trends_answers
from topictalk.agent.context import Budget
from topictalk.agent.examples import Examples
from topictalk.agent.intents import (
    COMPARE,
    COUNT,
    FIND_TOPICS,
    LIST,
    OFF_CORPUS,
    SEARCH,
    SUBTOPICS,
    THEME,
    TOPIC,
    TRENDS,
    UP,
)
from topictalk.agent.plans import IndexFacts, Plan, State
from topictalk.agent.retrieval import Snapshot

# a bare follow-up ("and what about defenses?") embeds its own words this much, the last subject the rest:
# "defenses" alone finds football, the last subject alone finds the attacks again
FOLLOW_UP_WEIGHT = 0.6


def decide(question: str, state: State, index: Snapshot, budget: Budget,
           examples: Examples | None = None) -> tuple[Plan, np.ndarray]:
    """The final plan of ``question`` and the vector its documents are found by."""
    facts = IndexFacts.of(index.trends())
    # a slip in the subject ("reinforcment lerning") embeds far from every document: read the index's word
    mended = index.speller.mend(question)
    question = mended.text
    plan = router.route(question, state, {t.id for t in index.topics}, facts=facts)
    if plan.default and examples is not None:
        plan = examples.refine(plan, index.embed(plan.asked or question))
        if plan.routed_by:
            plan = time_rules.from_example(plan, router.read_question(question, state, {t.id for t in index.topics}, facts))
    _restrict(plan, facts, question)
    vector = _vector(index, plan)
    plan = settle(plan, index, budget, vector, state.shown)
    if mended.changes:  # said before the answer, so a wrong reading is seen at once
        read = prompts.fill("spelling_note", READ=", ".join(f'"{typed}" as "{read}"' for typed, read in mended.changes))
        plan.note = f"{read} {plan.note}".strip()
    return plan, vector


def _vector(index: Snapshot, plan: Plan) -> np.ndarray:
    if not plan.blend:
        return index.embed(plan.query)
    own, earlier = index.embed_many([plan.subject or plan.query, plan.blend])
    mixed = FOLLOW_UP_WEIGHT * own + (1 - FOLLOW_UP_WEIGHT) * earlier
    return (mixed / max(1e-9, float(np.linalg.norm(mixed)))).astype(np.float32)


def _restrict(plan: Plan, facts: IndexFacts, question: str) -> None:
    """A search, list or count that names a period ("papers from 2025 about transformers") or a group ("papers
    in cs.CV on transformers") on an index that holds them: kept to it, the date phrase and the group left out
    of what it embeds."""
    text = " ".join(question.split()).lower()
    if facts.dated and plan.note == prompts.load("no_dates"):  # the rules' "no dates" line is wrong here
        plan.note = ""
        if plan.intent == SEARCH:  # "the latest papers on X": newest first (trends_answers.restricted)
            plan.when = "earliest" if time_rules.EARLIEST.search(text) else "latest"
        return
    if plan.intent not in (SEARCH, LIST, COUNT):
        return
    if facts.dated:
        when = time_rules.date_phrase(text)
        if when:
            plan.when = when
            plan.query = time_rules.without_date(plan.query) or plan.query
            plan.subject = time_rules.without_date(plan.subject)
    if facts.facets:
        field, values = time_rules.named_values(text, facts)
        if values:
            plan.facet, plan.values = field, values[:1]
            plan.query = time_rules.without_values(plan.query, values) or plan.query
            plan.subject = time_rules.without_values(plan.subject, values)
    if plan.intent == COUNT and (plan.when or plan.values):  # "how many papers were published in March?"
        plan.subject = time_rules.count_subject(plan.subject)
        plan.query = plan.subject or plan.query


def settle(plan: Plan, index: Snapshot, budget: Budget, vector: np.ndarray, shown: set[str] = frozenset()) -> Plan:
    """What the index decides of a plan; each step may hand the plan on to the next kind."""
    if plan.intent == TRENDS and plan.by_meaning and not plan.topics:
        ranked = index.rank_topics(vector, 1)  # "how has the topic on diffusion models changed?"
        if ranked and ranked[0][1] >= budget.topic_match_similarity:
            plan.topics = [ranked[0][0].id]
    if plan.by_size:
        plan = _by_size(plan, index)
    if plan.intent in (TOPIC, SUBTOPICS, UP) and plan.by_meaning:
        named = {t.id for t in index.named_topics(plan.query)}  # "the film topic": the label says it
        ranked = index.rank_topics(vector, len(index.real_topics) if named else 1)
        ranked = [r for r in ranked if r[0].id in named] or ranked[:1]
        if ranked and (named or ranked[0][1] >= budget.topic_match_similarity):
            plan.topics = [ranked[0][0].id]
        else:  # "the federated learning topic" where no topic is about it: said so, with the documents that are
            plan = Plan(FIND_TOPICS, plan.query, subject=plan.query)
    if plan.intent == COMPARE:
        plan = _compare(plan, index, budget, vector)
    if plan.intent == THEME and plan.theme is None:
        ranked = index.rank_themes(vector, 1)
        if ranked:
            plan.theme = ranked[0][0].id
        else:  # an index without themes: the nearest topic instead
            nearest = [t.id for t, _ in index.rank_topics(vector, 1)]
            plan = Plan(TOPIC, plan.query, nearest, by_meaning=True) if nearest else Plan(OFF_CORPUS, plan.query)
    if plan.intent == FIND_TOPICS:
        ranked = index.rank_topics(vector, 5)
        good = [t.id for t, score in ranked if score >= budget.topic_match_similarity]
        if good:
            plan.topics = good
        else:
            plan = Plan(SEARCH, plan.query, subject=plan.subject or plan.query, no_topic=plan.subject or plan.query,
                        more=plan.more)
    if plan.intent == SEARCH and (plan.when or plan.values):
        plan.hits = trends_answers.restricted(index, plan, vector, budget.sources, shown if plan.more else set())
        if plan.hits:
            plan.note = trends_answers.scope_note(index, plan, plan.hits)
            return plan
    if plan.intent == SEARCH:
        plan.hits = index.search(vector, budget.sources, exclude=shown if plan.more else set(), words=plan.query,
                                 lexical_weight=budget.lexical_weight)
        best_topic = max((s for _, s in index.rank_topics(vector, 1)), default=0.0)
        nearest = max((h.similarity for h in plan.hits), default=0.0)  # re-ranked: the first need not be nearest
        # a hit nearly near that names every subject word is something on it: a paper titled "Protein Inverse
        # Folding" for "proteins", which one word embeds too weakly (0.30) to reach
        if nearest < budget.min_document_similarity and best_topic < budget.min_topic_similarity \
                and not retrieval.near_or_named(plan.hits, plan.query, budget.min_document_similarity):
            plan = Plan(OFF_CORPUS, plan.query, no_topic=plan.no_topic)
    return plan


def _by_size(plan: Plan, index: Snapshot) -> Plan:
    """The topic (two, to compare) or theme a question named by its size: snapshots list them biggest first."""
    if plan.intent == THEME and index.themes:
        plan.theme = (index.themes[-1] if plan.order == "smallest" else index.themes[0]).id
        return plan
    theme = index.themes_by_id.get(plan.theme) if plan.intent == TOPIC and plan.theme is not None else None
    pool = index.theme_topics(theme) if theme is not None else index.real_topics  # "its biggest topic": the theme's
    plan.theme = None if theme is not None else plan.theme
    ranked = pool[::-1] if plan.order == "smallest" else pool
    wanted = 2 if plan.intent == COMPARE else 1
    if len(ranked) < wanted:
        return Plan(TOPIC, plan.query, [t.id for t in ranked]) if ranked else Plan(OFF_CORPUS, plan.query)
    if plan.intent == THEME:  # an index without themes: its topic of that size
        plan = Plan(TOPIC, plan.query, order=plan.order)
    plan.topics = [t.id for t in ranked[:wanted]]
    return plan


def _compare(plan: Plan, index: Snapshot, budget: Budget, vector: np.ndarray) -> Plan:
    """Two topics: those named by number, else the topic each subject is about; subjects no topic is
    about are compared by their documents (``plan.subjects`` kept, ``plan.topics`` emptied)."""
    if len(plan.topics) >= 2:
        return plan
    if plan.subjects:
        found = []
        for subject in plan.subjects:
            ranked = index.rank_topics(index.embed(subject), 1)
            if ranked and ranked[0][1] >= budget.topic_match_similarity:
                found.append(ranked[0][0].id)
        if len(found) == 2 and found[0] != found[1]:
            plan.topics = found
        else:
            plan.topics = []
        return plan
    ids = [t.id for t, _ in index.rank_topics(vector, 2)]
    plan.topics = (plan.topics + [t for t in ids if t not in plan.topics])[:2]
    if len(plan.topics) < 2:
        return Plan(TOPIC, plan.query, plan.topics[:1]) if plan.topics else Plan(OFF_CORPUS, plan.query)
    return plan
