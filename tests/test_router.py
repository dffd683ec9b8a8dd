"""The router alone (fast tier): the rules, misspellings, follow-ups, the example questions with a
fake embedding, and the intent table; one slow test routes paraphrases with the real MiniLM."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fake_index import fake_embed
from topictalk.agent import context, corpus_rules, examples, intents, router
from topictalk.agent.plans import Plan, State

KNOWN = {0, 1, 2, 3, 4, 5}


def route(question: str, state: State | None = None, known=KNOWN) -> Plan:
    return router.route(question, state or State(), known)


@pytest.mark.parametrize("question, intent", [
    ("What is this corpus about?", "brief"),
    ("what's in here?", "brief"),
    ("¿De qué trata este corpus?", "brief"),
    ("De quoi parle ce corpus ?", "brief"),
    ("Summarize this collection", "brief"),
    ("what kind of stories does this corpus have?", "brief"),
    ("what are the biggest topcis?", "overview"),
    ("What are the biggest topics?", "overview"),
    ("How many topics are there?", "overview"),
    ("What are the main research directions in these papers?", "global"),
    ("What methods come up across topics?", "global"),
    ("What are the open problems these papers point to?", "global"),
    ("What do these papers disagree on?", "global"),
    ("Which emerging trends do these papers show?", "global"),
    ("What are the main themes across these news articles?", "global"),
    ("How many papers are about reinforcement learning?", "count"),
    ("Give me 8 papers on graph neural networks", "list"),
    ("list 30 papers about language models", "list"),
    ("Which are the most cited papers?", "not_in_documents"),
    ("Who are the authors of the reinforcement learning papers?", "not_in_documents"),
    ("When were these articles published?", "not_in_documents"),
    ("How does federated learning work differ from differential privacy work?", "compare"),
    ("Which other topics does topic 1 relate to?", "related_topics"),
    ("Tell me about topic 2", "topic"),
    ("Tell me about topic 99", "missing_topic"),
    ("Are there topics about speech or audio?", "find_topics"),
    ("Tell me more about the federated learning topic", "topic"),
    ("Summarize the reinforcement learning topic", "topic"),
    ("What kind of papers study speech?", "search"),
    ("Summarize this dataset for me", "brief"),
    ("Which papers study privacy attacks on federated learning?", "search"),
    # importance is not held by any document; an open invitation gets the brief
    ("what is the most important paper?", "not_in_documents"),
    ("which are the most influential works?", "not_in_documents"),
    ("tell me something interesting", "brief"),
    ("where should I start?", "brief"),
    ("which topic should I read first?", "brief"),
    ("what should I read first?", "brief"), ("what's worth reading?", "brief"),
    ("which papers should I read on federated learning?", "search"),
])
def test_rules_route_the_kinds_of_question(question, intent):
    assert route(question).intent == intent


def test_counts_lists_and_limits_carry_their_subject_and_number():
    plan = route("How many papers are about reinforcement learning?")
    assert (plan.subject, plan.query) == ("reinforcement learning", "reinforcement learning")
    plan = route("Give me 8 papers on graph neural networks")
    assert (plan.count, plan.subject) == (8, "graph neural networks")
    assert route("show me five articles on the stock market").count == 5
    assert route("Which are the most cited papers?").missing == "citation counts"
    assert route("What is the h-index of these authors?").missing == "citation counts"
    assert route("When were these articles published?").missing == "publication dates"


def test_a_comparison_names_its_two_subjects():
    assert route("How does federated learning work differ from differential privacy work?").subjects == \
        ["federated learning", "differential privacy"]
    assert route("what is the difference between gans and diffusion models").subjects == ["gans", "diffusion models"]
    assert route("compare topic 1 and topic 2").topics == [1, 2]


def test_global_questions_say_what_they_ask():
    assert route("What are the open problems these papers point to?").aspect == "problems"
    assert route("What do these papers disagree on?").aspect == "disagreements"
    assert route("Which emerging trends do these papers show?").aspect == "trends"
    scoped = route("What are the open problems in federated learning?")
    assert scoped.intent == "global" and scoped.subject == "federated learning"


def test_misspelled_routing_words_are_mended_and_subject_words_are_not():
    assert corpus_rules.mend("biggest topcis") == "biggest topics"
    assert corpus_rules.mend("bigest themse") == "biggest themes"
    # one slip from "related" but a word of its own; and a singular is not a misspelled plural
    assert corpus_rules.mend("federated learning topic paper") == "federated learning topic paper"


def test_bare_follow_ups_resolve_against_the_last_subject():
    state = State(last=Plan("search", "adversarial attacks on image classifiers",
                            subject="adversarial attacks on image classifiers"))
    plan = route("and what about defenses?", state)
    # the attacks give way to the defenses; the rest of the subject stays
    assert plan.intent == "search" and plan.subject == "defenses"
    assert plan.blend == "adversarial on image classifiers" and "attacks" not in plan.query
    other = route("and the other side?", state)
    assert other.query == "adversarial defenses on image classifiers"
    counted = State(last=Plan("count", "federated learning", subject="federated learning"))
    instead = route("what about differential privacy instead?", counted)
    assert (instead.intent, instead.query, instead.blend) == ("count", "differential privacy", "")
    assert route("and what about defenses?").intent == "search"  # nothing before: a plain search
    after_brief = route("and what about defenses?", State(last=Plan("brief", "What is this corpus about?")))
    assert (after_brief.intent, after_brief.query, after_brief.blend) == ("search", "defenses", "")


def test_the_time_rules_hook_runs_before_the_no_dates_answer(monkeypatch):
    def dated(asked):
        return Plan("search", asked.question, note="dated") if "published" in asked.q else None

    monkeypatch.setattr(router, "TIME_RULES", [dated])
    assert route("When were these articles published?").note == "dated"


def test_the_default_is_a_search_the_examples_may_refine():
    plan = route("sparse attention for long sequences")
    assert plan.intent == "search" and plan.default and plan.asked == "sparse attention for long sequences"


ADVERSARIAL = ["any topic ", "what topics ", "are there topics about ", "the a ", "list all ", "topic 1 and ",
               "#1", "9", "tell me more ", "a", "how many papers ", "give me 8 papers ", "what about ",
               "compare a and ", " differ from ", "what are the main themes ", "and ", "de qué trata ", "topcis "]


def test_routing_is_linear_in_the_question_length():
    """Each shape at 100,000 characters, routed in a child process so a backtracking pattern
    (24 s at 10,000 characters on ca3de4b, hours at 100,000) fails this test instead of hanging it."""
    code = (
        "import sys, time\n"
        "from topictalk.agent import router\n"
        "from topictalk.agent.plans import Plan\n"
        "state = router.State(listed_topics=[0, 1], sources=['a', 'b'], focus_topic=0, last=Plan('search', 'x y'))\n"
        "worst = 0.0\n"
        f"for shape in {ADVERSARIAL!r}:\n"
        "    q = (shape * (100000 // len(shape) + 1))[:100000]\n"
        "    t = time.perf_counter()\n"
        "    router.route(q, state, {0, 1, 2})\n"
        "    worst = max(worst, time.perf_counter() - t)\n"
        "print(worst)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("routing a 100,000-character question took over 60 s: a pattern backtracks")
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout) < 2.0  # a generous bound: well under 0.1 s each on a 2-core machine


def test_absurd_topic_numbers_are_missing_topics_not_errors():
    plan = route("tell me about topic " + "9" * 5000, known={0, 1, 2})
    assert plan.intent == "missing_topic" and plan.number == "999999999…"
    assert route("explain number " + "9" * 5000, State(sources=["a"]), {0, 1, 2}).intent == "search"


def test_a_topic_question_looks_topics_up_by_its_subject():
    plan = route("Are there topics about speech or audio?")
    assert plan.intent == "find_topics" and plan.query == "speech or audio"
    assert route("Which topics cover reinforcement learning?", known=set()).query == "reinforcement learning"


def test_a_search_embeds_the_question_without_its_frame():
    assert route("Which papers study privacy attacks on federated learning?").query == \
        "privacy attacks on federated learning"
    assert route("How do people use graph neural networks?").query == "graph neural networks"
    assert route("Which papers?").query == "Which papers?"


# -- the example questions ------------------------------------------------------------------------------------
def test_the_examples_file_is_a_few_hundred_labelled_questions():
    pairs = examples.read()
    assert len(pairs) >= 250
    assert {i for i, _ in pairs} == {"brief", "overview", "global", "not_in_documents", "search", "trends", "groups"}
    with pytest.raises(ValueError, match="unknown intent"):
        examples.read("nonsense\twhat is this")


def test_a_default_search_goes_where_its_nearest_example_goes():
    pairs = [("brief", "what does this collection hold"), ("search", "which papers study speech"),
             ("global", "what do the sources disagree about")]
    table = examples.Examples.embedded(fake_embed, pairs)
    refined = table.refine(route("what does this collection hold?"), fake_embed(["what does this collection hold?"])[0])
    assert refined.intent == "brief" and refined.routed_by == "what does this collection hold"
    asked = route("which papers study speech recognition")
    assert table.refine(asked, fake_embed([asked.asked])[0]).intent == "search"  # nearest is a search
    far = route("zebra migration")
    assert table.refine(far, fake_embed(["zebra migration"])[0]) is far  # no example near enough


def test_the_examples_are_embedded_once_and_cached(tmp_path):
    calls = []

    def counting(texts):
        calls.append(len(texts))
        return fake_embed(texts)

    pairs = [("brief", "what is in here"), ("search", "papers on speech")]
    examples.Examples.embedded(counting, pairs, cache=tmp_path, model="m")
    again = examples.Examples.embedded(counting, pairs, cache=tmp_path, model="m")
    assert calls == [2] and again.questions == ["what is in here", "papers on speech"]
    examples.Examples.embedded(counting, pairs, cache=tmp_path, model="other")  # another model: embedded anew
    assert calls == [2, 2]


# -- the intent table ----------------------------------------------------------------------------------------
def test_every_intent_has_one_builder_and_its_prompt_exists():
    import importlib

    from topictalk import prompts

    assert set(intents.TABLE) == set(intents.INTENTS) == set(router.INTENTS)
    for intent, route_ in intents.TABLE.items():
        if "." in route_.builder:
            module, function = route_.builder.rsplit(".", 1)
            assert callable(getattr(importlib.import_module(f"topictalk.agent.{module}"), function)), intent
        else:
            assert callable(getattr(context.Builder, route_.builder)), intent
        if route_.prompt is not None:
            assert prompts.load(route_.prompt), intent


@pytest.mark.slow
def test_paraphrases_route_by_the_real_embedding_model():
    """The nearest example by the bundled MiniLM: paraphrases no rule knows land where they belong."""
    from topictalk.indexing import embedding

    model = embedding.load("bundled")

    def embed(texts):
        return model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)

    table = examples.Examples.embedded(embed)
    cases = {"Summarize this dataset for me": "brief", "what's going on in this dataset": "brief",
             "¿qué hay aquí?": "brief", "what are the hot topics": "global",
             "What is the h-index of these authors?": "not_in_documents",
             "Which papers study recommendation systems?": "search",
             "What approaches exist for autonomous driving?": "search",
             "What is known about adversarial examples for image classifiers?": "search"}
    for question, intent in cases.items():
        plan = Plan("search", corpus_rules.search_query(question), default=True, asked=question)
        assert table.refine(plan, embed([question])[0]).intent == intent, question


@pytest.mark.parametrize("question, intent, order", [
    ("Summarize the biggest topic", "topic", "largest"),
    ("which is the smallest topic?", "topic", "smallest"),
    ("Which topic is the largest?", "topic", "largest"),
    ("tell me about the largest theme", "theme", "largest"),
    ("which theme has the fewest documents?", "theme", "smallest"),
    ("compare the two biggest topics", "compare", "largest"),
])
def test_a_topic_named_by_its_size_is_left_to_planning_to_find(question, intent, order):
    plan = route(question)
    assert (plan.intent, plan.by_size, plan.order, plan.topics) == (intent, True, order, [])


def test_the_biggest_topics_are_still_the_overview_and_the_first_two_are_the_ones_just_listed():
    assert route("What are the biggest topics?").intent == "overview" and not route("What are the biggest topics?").by_size
    listed = State(listed_topics=[4, 2, 0])
    plan = route("what's the difference between the first two topics?", listed)
    assert (plan.intent, plan.topics, plan.by_size) == ("compare", [4, 2], False)


@pytest.mark.parametrize("question, embedded", [
    ("show me papers on diffusion models", "diffusion models"),
    ("Can you find work about federated learning?", "federated learning"),
    ("I'm looking for papers on speech recognition", "speech recognition"),
    ("Which papers study reasoning in large language models?", "reasoning in large language models"),
    ("any news about terrorism?", "terrorism"), ("show me stories on tsunami relief", "tsunami relief"),
    ("I want to know everything about the music industry", "music industry"), ("papers on fake news", "fake news"),
])
def test_a_search_embeds_the_subject_without_the_request_around_it(question, embedded):
    assert corpus_rules.search_query(question) == embedded


@pytest.mark.parametrize("question, intent", [
    ("what are the subtopics of the biggest topic?", "subtopics"),
    ("break down the largest topic", "subtopics"),
    ("what is the smallest topic part of?", "up"),
])
def test_a_topic_named_by_its_size_is_found_by_size_in_the_depth_questions_too(question, intent):
    plan = route(question)
    assert (plan.intent, plan.by_size, plan.by_meaning) == (intent, True, False)


@pytest.mark.parametrize("question", ["how many documents does it have?", "summarize it", "Which topic is that?",
                                      "what topic are they from?", "how many papers are in it?"])
def test_a_pronoun_alone_is_the_topic_or_theme_in_focus_not_a_subject_or_the_corpus(question):
    assert (route(question, State(focus_topic=2)).intent, route(question, State(focus_topic=2)).topics) == ("topic", [2])
    on_theme = route(question, State(focus_theme=1))
    assert (on_theme.intent, on_theme.theme) == ("theme", 1)


def test_with_nothing_in_focus_summarize_it_is_the_corpus_and_a_real_subject_is_still_counted():
    assert route("summarize it").intent == "brief"
    plan = route("how many papers are about reinforcement learning?", State(focus_topic=2))
    assert (plan.intent, plan.subject) == ("count", "reinforcement learning")


def test_how_many_are_about_it_after_a_search_counts_that_search_s_subject():
    state = State(focus_topic=2, last=Plan("off_corpus", "golf", subject="golf"))
    plan = route("how many articles are about it?", state)
    assert (plan.intent, plan.subject) == ("count", "golf")


def test_compare_it_with_a_numbered_topic_compares_the_topic_in_focus():
    assert route("compare it with topic 0", State(focus_topic=2)).topics == [2, 0]
    assert route("compare topic 3 with topic 0", State(focus_topic=2)).topics == [3, 0]


@pytest.mark.parametrize("question, aspect", [
    ("hi", ""), ("Hello there!", ""), ("what can you do?", ""), ("help", ""), ("How do I use this?", ""),
    ("thanks!", "thanks"), ("ok, thank you so much", "thanks"), ("Bonjour", ""),
])
def test_greetings_help_and_thanks_are_small_talk(question, aspect):
    plan = route(question)
    assert (plan.intent, plan.aspect) == ("help", aspect)


@pytest.mark.parametrize("question", ["hi, what are the topics?", "help me find papers on speech",
                                      "thanks, and what about topic 3?", "what is this corpus about?"])
def test_a_greeting_with_a_question_is_the_question(question):
    assert route(question).intent != "help"


def test_and_the_biggest_is_the_biggest_of_what_the_conversation_is_on():
    plan = route("and the biggest?", State(focus_topic=2))
    assert (plan.intent, plan.by_size, plan.order) == ("topic", True, "largest")
    plan = route("what about the smallest one?", State(focus_theme=1))
    assert (plan.intent, plan.by_size, plan.order) == ("theme", True, "smallest")
    assert route("the biggest challenge in speech recognition?").intent != "topic"


@pytest.mark.parametrize("question, intent, topics", [
    ("what's topic three about?", "topic", [3]),
    ("compare topics one and four", "compare", [1, 4]),
    ("what are the subtopics of topic two?", "subtopics", [2]),
    ("tell me about topic twelve", "missing_topic", [12]),  # an index of topics 0-5
])
def test_a_topic_number_written_as_a_word_is_the_number(question, intent, topics):
    plan = route(question)
    assert (plan.intent, plan.topics) == (intent, topics)


def test_number_words_elsewhere_are_left_alone():
    assert route("which topic is the one about speech?").topics != [1]
    assert route("give me three papers on speech").count == 3


def test_how_two_numbered_topics_relate_compares_them_and_one_lists_its_neighbours():
    assert (route("how are topic 0 and topic 3 related?").intent, route("how are topic 0 and topic 3 related?").topics) \
        == ("compare", [0, 3])
    assert route("which topics are related to topic 2?").intent == "related_topics"
    for question in ("what does topic 3 have to do with topic 0?", "what do topic 3 and topic 0 have in common?"):
        assert (route(question).intent, route(question).topics) == ("compare", [3, 0]), question
    assert route("what are the most important findings about speech?").intent != "not_in_documents"


@pytest.mark.parametrize("question, intent, name", [
    # "the topic about X" is one topic, found by meaning: its summary, not a list of the topics near X
    ("Summarize the topic about reinforcement learning", "topic", "reinforcement learning"),
    ("Tell me about the topic about reinforcement learning", "topic", "reinforcement learning"),
    ("summarize the topic on graph neural networks", "topic", "graph neural networks"),
    ("tell me about the topic of speech recognition", "topic", "speech recognition"),
    ("Summarize the reinforcement learning topic", "topic", "reinforcement learning"),
    # a topic or topics asked for: which exist
    ("Is there a topic about reinforcement learning?", "find_topics", "reinforcement learning"),
    ("Are there topics on speech?", "find_topics", "speech"),
    ("Which topic is about speech?", "find_topics", "speech"),
])
def test_the_topic_about_a_subject_is_that_topic_and_a_topic_asked_for_is_looked_up(question, intent, name):
    plan = route(question)
    assert (plan.intent, plan.query) == (intent, name)
