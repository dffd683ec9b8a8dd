"""Answers about the whole corpus, fast tier: a real Conversation over a small in-memory index
(tests/fake_index.py: fake embedding, scripted LLM): the brief, global map-reduce, counts, lists
and their cap, what the documents do not say, related topics, comparisons, follow-ups, and that
the plan the router made is the plan answered."""

from __future__ import annotations

import pytest

from tests.fake_index import FakeIndex, snapshot
from tests.fakes import FakeLLM
from topictalk.agent import planning
from topictalk.agent.conversation import Conversation, Settings
from topictalk.agent.intents import TABLE
from topictalk.indexing.schema import Brief, BriefLine

# the fake embedding shares no meaning between words, only words: lower bars than MiniLM's
SETTINGS = Settings(min_document_similarity=0.2, min_topic_similarity=0.2, topic_match_similarity=0.3,
                    count_similarity=0.3, max_tokens=60)


def conversation(llm=None, **kw) -> Conversation:
    return Conversation(FakeIndex(snapshot(**kw)), llm or FakeLLM("unused"), SETTINGS)


def test_what_the_corpus_is_about_names_every_theme_from_the_index_without_the_model():
    llm = FakeLLM("never asked")
    conv = conversation(llm)
    response = conv.respond("What is this corpus about?")
    first = next(iter(response))
    reply = response.reply()
    assert llm.calls == [] and reply.answer_source == "index" and reply.intent == "brief"
    assert "10 documents in 4 topics, grouped into 3 themes" in first  # the whole brief is the first chunk
    for label in ("Private Distributed Learning", "Speech", "Robustness"):
        assert f"**{label}**" in reply.answer
    # each theme line cites one of its documents, and the citations are the reply's sources
    assert [s.n for s in reply.sources] == [1, 2, 3] and all(f"[{n}]" in reply.answer for n in (1, 2, 3))
    assert reply.themes == [0, 2, 1]
    assert conv.ask("tell me more about the second one").intent == "theme"  # the themes it named are numbered


def test_a_brief_written_at_index_time_is_streamed_as_written_with_its_citations():
    brief = Brief("The corpus studies private learning, speech and robustness.",
                  [BriefLine(0, "Federated clients and differential privacy.", ["t0d0", "t1d0"]),
                   BriefLine(1, "Speech recognition from audio.", ["t2d0"])])
    reply = conversation(brief=brief.as_dict()).ask("what's in here?")
    assert reply.answer.startswith("The corpus studies private learning, speech and robustness.")
    assert "- **Private Distributed Learning** (5 documents): Federated clients and differential privacy. [1] [2]" \
        in reply.answer
    assert [s.id for s in reply.sources] == ["t0d0", "t1d0", "t2d0"]


def test_descriptions_are_used_and_cited_sentence_by_sentence():
    descriptions = {3: ("Attacks fool image classifiers. Defenses make them robust.", ["t3d0", "t3d1"])}
    reply = conversation(themes=False, descriptions=descriptions).ask("What is this corpus about?")
    assert "Attacks fool image classifiers. [" in reply.answer and "Defenses make them robust. [" in reply.answer
    cited = {s.n: s.id for s in reply.sources}
    line = next(x for x in reply.answer.splitlines() if "Adversarial Attacks" in x)
    assert [cited[int(n)] for n in __import__("re").findall(r"\[(\d+)\]", line)] == ["t3d0", "t3d1"]


def test_a_global_question_streams_one_point_per_theme_then_the_models_synthesis():
    llm = FakeLLM("Most parts state an open problem for federated clients and noisy speech [2]. "
                  "Cooking robots win football matches on the moon [1].")
    conv = conversation(llm)
    response = conv.respond("What are the open problems these papers point to?")
    chunks = list(response)
    reply = response.reply()
    assert reply.intent == "global" and len(llm.calls) == 1
    points = [c for c in chunks if c.startswith("- **")]
    assert len(points) == 3, chunks  # one per theme, each its own chunk, before the model's first word
    assert chunks.index(points[-1]) < len(chunks) - 1
    # the map picked each theme's sentence nearest "open problem", from its own documents
    assert "This remains an open problem for federated optimization. [" in reply.answer
    assert "remains an open problem" in next(p for p in points if "Speech" in p)
    # the reduce read the points, not the abstracts; its sentence no point supports was dropped
    prompt = llm.calls[0][-1]["content"]
    assert "Points from each part of the corpus" in prompt and "Privacy accounting tracks" not in prompt
    assert "Cooking robots" not in reply.answer and "Cooking robots win football matches on the moon [1]." in reply.dropped
    assert reply.answer_source == "model" and {s.topic for s in reply.sources} >= {0, 2, 3}


def test_trends_on_a_corpus_without_dates_say_so_and_still_answer():
    reply = conversation(FakeLLM("ok")).ask("Which emerging trends do these papers show?")
    assert reply.intent == "global" and reply.answer.startswith("The documents carry no dates")
    assert reply.answer.count("\n- **") == 3
    latest = conversation(FakeLLM("Speech recognition maps audio to text [1].")).ask("What are the latest papers on speech?")
    assert latest.intent == "search" and latest.answer.startswith("The documents carry no dates")
    assert latest.provided[0].topic == 2


def test_how_many_gives_a_number_and_how_it_was_counted():
    reply = conversation().ask("How many papers are about federated learning?")
    assert reply.intent == "count" and reply.answer_source == "index"
    assert reply.answer.startswith("**3** of the 10 documents are about federated learning (30.0%)")
    share = conversation().ask("What percentage of the papers are about federated learning?")
    assert share.intent == "count" and share.answer.startswith("**3** of the 10 documents are about federated "
                                                               "learning (30.0%)")
    assert "at least 0.30" in reply.answer and "topic 0 **Federated Learning** (3 documents)" in reply.answer
    assert all(s.topic == 0 for s in reply.sources)
    # "what about X instead?" counts X
    conv = conversation()
    conv.ask("How many papers study federated learning?")
    again = conv.ask("what about speech recognition instead?")
    assert again.intent == "count" and "are about speech recognition" in again.answer


def test_give_me_n_gives_n_up_to_the_cap_or_says_why_fewer():
    conv = Conversation(FakeIndex(snapshot()), FakeLLM("x"), Settings(**{**vars(SETTINGS), "list_cap": 2}))
    capped = conv.ask("Give me 3 papers on adversarial image classifiers")
    assert capped.intent == "list" and capped.answer.startswith("You asked for 3; a list holds at most 2")
    assert len(capped.sources) == 2 and capped.answer.count("\n") == 2
    fewer = conversation().ask("Give me 8 papers on speech recognition")
    assert fewer.answer.startswith("Only 2 documents are at least 0.20 similar to \"speech recognition\" (asked for 8)")
    assert [s.topic for s in fewer.sources] == [2, 2]


def test_what_no_document_holds_is_said_plainly_without_a_list_of_papers():
    for question, missing in [("Which are the most cited papers?", "citation counts"),
                              ("Who are the authors of the speech papers?", "authors or affiliations"),
                              ("When were these articles published?", "publication dates")]:
        reply = conversation().ask(question)
        assert reply.intent == "not_in_documents" and reply.sources == []
        assert reply.answer.startswith("The documents do not say") and missing in reply.answer


def test_which_topics_a_topic_relates_to():
    conv = conversation()
    reply = conv.ask("Which other topics does topic 0 relate to?")
    assert reply.intent == "related_topics" and sorted(reply.topics) == [1, 2, 3] and reply.answer_source == "index"
    scores = [float(s) for s in __import__("re").findall(r"similarity (\d\.\d\d)", reply.answer)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    assert "same theme" in next(x for x in reply.answer.splitlines() if "Topic 1:" in x)
    assert "No topic is about" not in reply.answer
    assert conv.ask("tell me about the first one").topics == reply.topics[:1]


def test_a_comparison_of_subjects_no_topic_is_about_compares_their_documents():
    llm = FakeLLM("Federated clients aggregate updates [1] while differential privacy adds noise [3].")
    conv = Conversation(FakeIndex(snapshot()), llm, Settings(**{**vars(SETTINGS), "topic_match_similarity": 0.99}))
    reply = conv.ask("How does federated learning work differ from differential privacy work?")
    assert reply.intent == "compare"
    prompt = llm.calls[0][-1]["content"]
    assert "federated learning: no topic is about it; its nearest documents are sources [1]-[2]" in prompt
    assert "differential privacy: no topic is about it; its nearest documents are sources [3]-[4]" in prompt
    provided = [s.topic for s in reply.provided]
    assert provided[:2] == [0, 0] and provided[2:] == [1, 1]
    assert "Related words" not in prompt and "Keywords:" not in prompt


def test_the_two_topics_each_subject_is_about_are_compared():
    llm = FakeLLM("x")
    reply = conversation(llm).ask("How does federated learning work differ from differential privacy work?")
    assert reply.intent == "compare" and reply.topics == [0, 1]


def test_a_bare_follow_up_searches_the_last_subject_not_another_sense_of_its_word():
    conv = conversation(FakeLLM("Adversarial training defenses make image classifiers robust [1]."))
    conv.ask("What is known about adversarial attacks on image classifiers?")
    reply = conv.ask("and what about defenses?")
    assert reply.intent == "search"
    assert reply.provided[0].title == "Adversarial defenses for image classifiers"
    assert "Football" not in reply.provided[0].title


def test_raw_context_lines_never_reach_the_answer():
    llm = FakeLLM("Related words: federated, clients\nSecure aggregation lets a server aggregate federated "
                  "updates from clients [1].")
    reply = conversation(llm).ask("Tell me about topic 0")
    assert "Related words" not in reply.answer and "Secure aggregation" in reply.answer


def test_the_plan_the_router_made_is_the_plan_answered(monkeypatch):
    """No builder changes an intent: each context keeps the plan planning.decide returned."""
    decided = []
    real = planning.decide

    def spy(*args, **kw):
        plan, vector = real(*args, **kw)
        decided.append((plan, plan.intent))
        return plan, vector

    monkeypatch.setattr(planning, "decide", spy)
    conv = conversation(FakeLLM("Speech recognition maps audio to text [1]."))
    questions = ["What is this corpus about?", "What are the biggest topics?", "Are there topics about cooking?",
                 "Tell me about the federated learning topic", "Tell me about the zebra topic",
                 "Which papers study speech recognition?", "What is the best pizza dough recipe?",
                 "How many papers are about privacy?", "Give me 2 papers on speech", "What do these papers disagree on?"]
    for question in questions:
        reply = conv.ask(question)
        plan, intent = decided[-1]
        assert reply.intent == intent == plan.intent, question
        assert TABLE[intent]


@pytest.mark.parametrize("question", ["¿De qué trata este corpus?", "what are the biggest topcis?",
                                      "Which emerging trends do these papers show?"])
def test_questions_about_the_corpus_itself_are_never_off_corpus(question):
    reply = conversation(FakeLLM("ok")).ask(question)
    assert reply.intent != "off_corpus" and "nothing on that" not in reply.answer


def test_a_topic_with_a_description_is_summed_up_as_a_whole_first():
    descriptions = {2: ("Speech recognition maps audio to text. Noisy rooms remain an open problem.", ["t2d0", "t2d1"])}
    llm = FakeLLM("End-to-end speech recognition maps audio to text [1].")
    reply = conversation(llm, descriptions=descriptions).ask("Summarize the speech recognition topic")
    assert reply.intent == "topic" and reply.topics == [2]
    assert reply.answer.startswith("**Topic 2: Speech Recognition** (2 documents). Speech recognition maps audio "
                                   "to text. [1] Noisy rooms remain an open problem. [2]")
    assert [s.id for s in reply.sources][:2] == ["t2d0", "t2d1"]
    # the model reads the topic's name, not the description the lead showed: ~100 tokens less before its first
    # word, and nothing to say again
    asked = llm.calls[0][-1]["content"]
    assert 'Topic 2, "Speech Recognition"' in asked and "Noisy rooms" not in asked


def test_the_model_reads_a_written_description_but_not_one_quoted_from_the_sources_it_is_shown():
    """An extractive description is the topic's documents' own sentences: read before the first word it
    repeated the first source and cost ~130 tokens. The keywords say what the topic covers."""
    descriptions = {2: ("Speech recognition maps audio to text. Noisy rooms remain an open problem.", ["t2d0", "t2d1"])}
    for source, read in (("llm", True), ("extractive (no sentence grounded: ...)", False), ("", True)):
        snap = snapshot(descriptions=descriptions)
        next(t for t in snap.topics if t.id == 2).description_source = source
        llm = FakeLLM("End-to-end speech recognition maps audio to text [1].")
        conv = Conversation(FakeIndex(snap), llm, SETTINGS)
        conv.ask("Summarize the speech recognition topic")
        reply = conv.ask("show me more")  # its other papers: no lead, the topic's block is read with them
        assert reply.intent == "topic" and reply.topics == [2], source
        asked = llm.calls[-1][-1]["content"]
        assert ("Noisy rooms remain an open problem" in asked) == read, (source, asked)
        assert read or "its documents are about" in asked


def test_the_models_text_starts_a_paragraph_after_a_lead_from_the_index():
    """A theme's lead (its topics, a list) ran into the model's first sentence: "(88 documents)[1] discusses"."""
    reply = conversation(FakeLLM("Federated clients aggregate updates [1].")).ask("tell me about the largest theme")
    assert reply.intent == "theme"
    lead, _, said = reply.answer.partition("\n\n")
    assert lead.startswith("The theme **Private Distributed Learning**") and lead.endswith("documents)"), lead
    assert said.startswith("Federated clients aggregate updates"), reply.answer


def test_a_synthesis_with_nothing_supported_leaves_the_points_alone():
    llm = FakeLLM("Cooking robots win football matches on the moon [1].")
    reply = conversation(llm).ask("What are the main research directions in these papers?")
    assert reply.intent == "global" and reply.answer.rstrip().endswith("]") and reply.answer.count("\n- **") == 3
    assert not reply.answer.rstrip().endswith("\n\n[1]") and "Cooking" not in reply.answer
    last = reply.answer.rstrip().splitlines()[-1]
    assert last.startswith("- **"), last


def test_a_synthesis_keeps_only_its_claims():
    llm = FakeLLM("[107 documents] and [3]\nMost parts propose federated, private or acoustic models for their data [1].")
    reply = conversation(llm).ask("What are the main research directions in these papers?")
    assert "[107 documents]" not in reply.answer and " and [3]" not in reply.answer


def test_a_topic_or_theme_named_by_its_size_is_the_one_of_that_size():
    conv = conversation(FakeLLM("Federated clients aggregate updates [1]."))
    sizes = {t.id: t.size for t in snapshot().topics if not t.is_outlier}
    assert conv.ask("Summarize the biggest topic").topics == [0] and sizes[0] == max(sizes.values())
    smallest = conv.ask("which is the smallest topic?").topics
    assert len(smallest) == 1 and sizes[smallest[0]] == min(sizes.values())
    assert conv.ask("compare the two biggest topics").topics == [0, 3]  # 3 documents each; the lower id first
    reply = conv.ask("tell me about the largest theme")
    assert reply.intent == "theme" and reply.themes == [0]  # Private Distributed Learning: 5 of the 10


def test_it_and_that_after_a_search_are_the_topic_its_sources_are_in():
    conv = conversation(FakeLLM("Small adversarial perturbations fool image classifiers [1]."))
    assert conv.ask("What is known about adversarial attacks on image classifiers?").intent == "search"
    for question in ("which topic is that?", "summarize it", "how many documents does it have?"):
        reply = conv.ask(question)
        assert (reply.intent, reply.topics) == ("topic", [3]), question
    assert conv.ask("compare it with topic 0").topics == [3, 0]


def test_hi_is_answered_with_what_to_ask_from_the_index_without_the_model():
    llm = FakeLLM("never asked")
    conv = conversation(llm)
    reply = conv.ask("hi")
    assert reply.intent == "help" and llm.calls == [] and reply.sources == []
    biggest = snapshot().real_topics[0]
    assert "10 documents" in reply.answer and f"topic {biggest.id}" in reply.answer and biggest.label in reply.answer
    assert "nothing on" not in reply.answer
    assert conv.ask("thanks!").answer.startswith("You're welcome")


def test_a_subject_a_document_holds_word_for_word_is_not_off_the_corpus():
    from types import SimpleNamespace

    from topictalk.agent.retrieval import Hit, near_or_named

    def hit(title, similarity=0.3, text=""):
        return Hit(SimpleNamespace(title=title, text=text), similarity)

    hits = [hit("RIGA-Fold: A General Framework for Protein Inverse Folding"), hit("Sheaf Neural Networks")]
    assert near_or_named(hits, "proteins", 0.35)  # one word embeds weakly; the title holds it
    assert not near_or_named([hit("Protein folding", similarity=0.1)], "proteins", 0.35)  # in passing
    assert not near_or_named(hits + [hit("Pizza delivery routing")], "best pizza dough recipe Naples", 0.35)
    assert not near_or_named(hits, "", 0.35)


def test_a_count_of_one_word_counts_the_documents_that_name_it_nearly_near():
    conv = conversation()
    reply = conv.ask("How many papers are about speech?")
    assert reply.intent == "count" and "word for word" in reply.answer
    n = int(reply.answer.split("**")[1])
    assert n == 2  # the two speech papers name it; 'Football defenses' and the rest do not


def test_a_global_question_on_a_subject_no_theme_is_about_reads_its_two_nearest_themes_not_every_theme():
    from topictalk.agent.conversation import Settings as S

    strict = S(**{**vars(SETTINGS), "min_topic_similarity": 0.99})  # no theme is about the subject
    conv = Conversation(FakeIndex(snapshot()), FakeLLM("Clients aggregate updates [1]."), strict)
    reply = conv.ask("What are the open problems in secure aggregation for federated clients?")
    assert reply.intent == "global" and len(reply.themes) == 2, reply.answer
    assert reply.themes[0] == 0  # Private Distributed Learning, nearest the subject


def test_bare_follow_ups_count_show_more_and_rank_within_what_the_conversation_is_on():
    conv = conversation()
    conv.ask("Show me papers on federated learning")
    for question in ("how many?", "how many of them?"):  # the documents on its subject, not the sources shown
        reply = conv.ask(question)
        assert reply.intent == "count" and reply.answer.startswith("**3** of the 10 documents are about federated "
                                                                   "learning"), (question, reply.answer)
    assert conversation().ask("how many?").answer.startswith("The corpus holds **10** documents")
    conv = conversation()
    conv.ask("Tell me about topic 0")
    more = conv.ask("more like this")
    assert (more.intent, more.topics) == ("topic", [0])
    conv = conversation()
    conv.ask("What are the main themes?")
    assert conv.ask("the first one").themes[:1] == [0]
    assert conv.ask("what is its smallest topic?").topics == [1]  # theme 0's; the corpus's smallest is topic 2
    assert conversation().ask("what is the smallest topic?").topics == [2]


def test_compare_them_after_two_subjects_compares_the_subjects_and_after_one_the_sources():
    conv = conversation()
    conv.ask("Show me papers on federated learning")
    conv.ask("what about speech recognition?")
    reply = conv.ask("compare them")
    assert reply.intent == "compare" and set(reply.topics[:2]) == {0, 2}, (reply.intent, reply.topics)
    conv = conversation()
    conv.ask("Show me papers on federated learning")
    assert conv.ask("compare those papers").intent == "source"  # one subject: the papers shown
