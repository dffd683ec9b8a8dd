"""Label prompts, cleaning, fallbacks and the label cache (scripted LLM)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fakes import FakeLLM
from topictalk.indexing.labels import (
    LabelCache,
    Labeler,
    LabelSettings,
    build_messages,
    clean,
    distinct_keywords,
    keyword_label,
    label_by_keywords,
    near_same,
    problem,
    same_name,
    shortened,
    truncate,
)
from topictalk.indexing.schema import Topic

KEYWORDS = ["federated", "clients", "privacy", "server", "aggregation", "heterogeneity", "communication",
            "local", "global", "fl", "extra1", "extra2"]


def _topic(tid: int, keywords=KEYWORDS, ids=("d1", "d2")) -> Topic:
    return Topic(id=tid, size=10, label="", label_source="", keywords=list(keywords),
                 representative_ids=list(ids), embedding=np.ones(3, np.float32))


DOCS = {"d1": ("FedAvg revisited", "Clients train locally and a server averages. " * 40),
        "d2": ("", "Differential privacy for federated learning."), "d3": ("T3", "x")}


@pytest.mark.parametrize("raw, expected", [
    ("Federated Learning and Privacy", "Federated Learning and Privacy"),
    ('"Federated Learning and Privacy".', "Federated Learning and Privacy"),
    ("Label: Federated Learning\nThis topic is about...", "Federated Learning"),
    ("**Topic label:** Federated learning", "Federated learning"),
    ("\n\n  Topic: 'Graph Neural Networks'  \n", "Graph Neural Networks"),
    ("", ""),
])
def test_clean_takes_first_line_without_prefixes_or_quotes(raw, expected):
    assert clean(raw) == expected


def test_clean_never_cuts_a_label():
    # a cut label ends mid-phrase ("... of CLIP and"); too long is rejected and asked again instead
    assert clean("A very long label " * 10) == ("A very long label " * 10).strip()


def test_problem_detects_empty_keyword_lists_and_duplicates():
    assert problem("", KEYWORDS, set()) == "it is empty"
    assert "list of keywords" in problem("Federated, Clients, Privacy", KEYWORDS, set())
    assert "list of keywords" in problem("Segmentation, Net, Medical, Clinical, Analysis", KEYWORDS, set())
    assert "already" in problem("Federated Learning", KEYWORDS, {"federated learning"})
    assert problem("Federated Learning and Privacy", KEYWORDS, set()) is None
    assert problem("Privacy, Security and Trust", KEYWORDS, set()) is None  # a title with commas


# Labels the bundled 0.5B model gave on a 30-topic arXiv index (issue 8), with the titles it was shown.
BAD_LABELS = [
    ("Model-Based Learning Frameworks for Self-Supervised Fine-tuning of CLIP and", ["clip", "self-supervised"],
     ["Model-Based Learning Frameworks for Self-Supervised Fine-tuning of CLIP and DINO"], "words"),
    ("Leveraging an Atmospheric Foundational Model for Subregional Sea Surface", ["weather", "climate"],
     ["Leveraging an Atmospheric Foundational Model for Subregional Sea Surface Temperature Forecasting"], "words"),
    ("SuperFlow++ and MapAnything", ["lidar", "driving", "3d"],
     ["SuperFlow++: Enhanced Spatiotemporal Consistency", "MapAnything: Universal Feed-Forward Metric 3D"], "method"),
    ("Brain4FMs", ["brain", "eeg", "fmri"], ["Brain4FMs: A Benchmark of Foundation Models for Brain Signals"], "method"),
    ("Deep Mechan: A Machine Learning Framework for Chemical Reaction Mechanism", ["chemical", "molecular"],
     ["Deep Mechan: A Machine Learning Framework for Chemical Reaction Mechanism Prediction"], "words"),
    ("visual, multimodal, vision", ["visual", "multimodal", "vision", "image"], [], "list of keywords"),
    ("Large Language Models and AI-generated Text Detection", ["sentiment", "financial", "hate speech"], [], "words"),
    ("Multimodal Clinical Foundation Models: Building Multimodal Clinical Foundation", ["clinical", "medical"],
     [], "words"),
    # the same failures within the length limit
    ("Self-Supervised Fine-tuning of CLIP and", ["clip"], [], "cut mid-phrase"),
    ("Sea Surface Temperature Forecasting", ["weather"],
     ["Sea Surface Temperature Forecasting"], "title"),
    ("Atmospheric Foundational Model for Subregional", ["weather"],
     ["Leveraging an Atmospheric Foundational Model for Subregional Sea Surface Temperature"], "title"),
    ("Atmospheric Foundational Model Subregional Forecasts", ["weather"],
     ["Leveraging an Atmospheric Foundational Model Subregional Forecasts for Europe"], "title"),
    ("Clinical Models: Building Foundations", ["clinical"], [], "colon"),
    ("Multimodal Clinical Multimodal Models", ["clinical"], [], "repeats"),
]


@pytest.mark.parametrize("label, keywords, titles, reason", BAD_LABELS)
def test_each_bad_label_of_the_small_model_is_rejected(label, keywords, titles, reason):
    why = problem(label, keywords, set(), titles)
    assert why is not None and reason in why


@pytest.mark.parametrize("label", ["Time Series Forecasting", "Graph Neural Networks", "LLM Quantization Techniques",
                                   "Continual Learning with Catastrophic Forgetting", "Hallucination Detection",
                                   "COVID-19 Case Forecasting", "GPT-4 Evaluation Benchmarks", "3D Scene Reconstruction",
                                   "UK General Election", "Mixture-of-Experts Language Models"])
def test_good_headings_pass_the_rule(label):
    titles = ["A Survey of Time Series Forecasting with Deep Learning", "Graph Neural Networks for Molecules"]
    assert problem(label, ["forecasting", "graph"], set(), titles) is None


def test_keyword_fallback_is_a_heading_not_a_list():
    taken: set[str] = set()
    first = keyword_label(["federated learning", "clients", "privacy"], taken)
    assert first == "Federated Learning" and problem(first, ["federated learning"], taken) is None
    taken.add(first.lower())
    second = keyword_label(["federated learning", "clients", "privacy"], taken)
    assert second != first and "," not in second and problem(second, [], taken) is None
    assert keyword_label(["said", "election", "labour"], set()) == "Said and Election"
    # an acronym reads in capitals, its plural's s small: "Box Llms" was a fallback heading (1,500 abstracts)
    assert keyword_label(["box llms", "hallucinations"], set()) == "Box LLMs"
    assert keyword_label(["gnns", "rhythm", "3d"], set()) == "GNNs and Rhythm"
    assert keyword_label(["nlp", "3d"], set()) == "NLP and 3D"
    assert keyword_label(["agents", "ai"], set()) == "Agents and AI"  # a fallback heading, 5,000 arXiv abstracts


def test_prompt_follows_reference_recipe_with_budget_and_ten_keywords():
    settings = LabelSettings(doc_tokens=20)
    messages = build_messages([DOCS["d1"], DOCS["d2"]], KEYWORDS, settings, lambda t: len(t.split()))
    assert messages[0] == {"role": "system",
                           "content": "You are a helpful, respectful and honest assistant for labeling topics."}
    user = messages[-1]["content"]
    assert len(messages) == 2  # one-shot example is off by default
    assert "The topic is described by the following keywords: 'federated, clients, privacy, server, aggregation, " \
           "heterogeneity, communication, local, global, fl'." in user
    assert "extra1" not in user  # 10 keywords, as promised, not 30
    first_doc = user.split("\n")[1]
    assert first_doc.startswith("- FedAvg revisited: Clients train") and first_doc.endswith("...")
    assert len(first_doc.split()) <= 22
    assert "- Differential privacy for federated learning." in user


@pytest.mark.parametrize("keywords, shown", [
    # c-TF-IDF's n-grams of one subject: the subject once, at its rank
    (["llms", "language", "language models", "llm", "large language", "models llms", "knowledge", "languages"],
     ["llms", "language models", "large language", "knowledge"]),
    (["graph", "graphs", "node", "graph neural", "gnn", "nodes"], ["graph neural", "node", "gnn"]),
    (["time series", "series", "forecasting", "time"], ["time series", "forecasting"]),
    # distinct words stay, in order, however alike they look
    (["class", "classes", "classification", "process", "studies", "study"],
     ["class", "classification", "process", "studies"]),
    (["bus", "analysis", "gas", "virus"], ["bus", "analysis", "gas", "virus"]),
])
def test_the_prompt_reads_each_keyword_subject_once(keywords, shown):
    assert distinct_keywords(keywords) == shown
    user = build_messages([DOCS["d2"]], keywords, LabelSettings(), lambda t: len(t.split()))[-1]["content"]
    assert f"keywords: '{', '.join(shown)}'" in user


def test_a_described_topic_shows_each_document_by_its_title_and_its_retry_by_its_text(tmp_path):
    count = lambda t: len(t.split())  # noqa: E731
    long_title = "Federated averaging with clients that train locally and rarely talk"
    docs = [(long_title, DOCS["d1"][1]), DOCS["d2"], ("Ad sales boost Time Warner profit", "Quarterly profits jumped.")]
    user = build_messages(docs, KEYWORDS, LabelSettings(), count, prompt="label_describe_user")[-1]["content"]
    lines = [ln for ln in user.splitlines() if ln.startswith("- ")]
    # a title of 8 words or more alone; the text where there is no title; a headline with its text
    assert lines == [f"- {long_title}", "- Differential privacy for federated learning.",
                     "- Ad sales boost Time Warner profit: Quarterly profits jumped."]
    # the label-only question keeps BERTopic's recipe: title and text
    plain = build_messages(docs, KEYWORDS, LabelSettings(), count)[-1]["content"]
    assert f"- {long_title}: Clients train" in plain

    # the first answer copies the title, which the rule still sees; the retry shows texts, never titles
    llm = FakeLLM(["Label: Federated Averaging of the Models\nDescription: Clients train locally.", "Federated Training"])
    topic = _topic(0)
    shown = {0: [("Private federated averaging of the models that clients train", "Clients train locally and a server averages."), DOCS["d2"]]}
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label([topic], DOCS, shown=shown, prompt="label_describe_user")
    assert "- Private federated averaging of the models that clients train\n" in llm.calls[0][-1]["content"]
    assert topic.label == "Federated Training" and "copies a document's title" in topic.label_source
    retry = llm.calls[1][-1]["content"].split("Its documents include:")[1]
    assert "Private federated averaging" not in retry and "- Clients train locally and a server averages." in retry


def test_one_shot_example_is_available_when_asked():
    messages = build_messages([DOCS["d2"]], KEYWORDS, LabelSettings(one_shot=True), lambda t: len(t.split()))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Environmental impacts of eating meat"


def test_truncate_respects_the_token_budget():
    count = lambda t: len(t.split())  # noqa: E731
    assert truncate("a b c", 5, count) == "a b c"
    assert truncate("a b c d e f", 3, count) == "a b c ..."


def test_outlier_topic_is_never_sent_to_the_llm(tmp_path):
    llm = FakeLLM("Federated Learning")
    topics = [_topic(-1), _topic(0)]
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label(topics, DOCS)
    assert len(llm.calls) == 1
    assert (topics[0].label, topics[0].label_source) == ("Outliers", "outliers")
    assert (topics[1].label, topics[1].label_source) == ("Federated Learning", "llm")


def test_a_rejected_label_is_retried_with_its_reason_and_no_titles_then_falls_back(tmp_path):
    answers = {"first": "Federated, Clients, Privacy, Server", "retry": "Private Federated Training"}

    def reply(messages):
        return answers["retry"] if "was rejected" in messages[-1]["content"] else answers["first"]

    llm = FakeLLM(reply)
    topic = _topic(0)
    labeler = Labeler(llm, LabelCache(tmp_path / "l.jsonl"))
    labeler.label([topic], DOCS)
    assert topic.label == "Private Federated Training"
    assert topic.label_source == "llm-retry (first answer 'Federated, Clients, Privacy, Server': it is a list of keywords)"
    retry = llm.calls[1][-1]["content"]
    assert "it is a list of keywords" in retry and "federated, clients" in retry
    assert "FedAvg revisited" not in retry  # titles are what small models copy: the retry shows none
    assert "Clients train locally" in retry

    answers["first"], answers["retry"] = "fedavg revisited", ""
    topic = _topic(1, keywords=["secure aggregation", "clients", "privacy"])
    Labeler(FakeLLM(reply), LabelCache(tmp_path / "m.jsonl")).label([topic], DOCS)
    assert topic.label == "Secure Aggregation"
    assert topic.label_source.startswith("keywords (first answer 'fedavg revisited': it copies a document's title;")
    assert "retry '(empty)': it is empty" in topic.label_source


def test_the_labeler_says_what_each_kind_of_question_cost(tmp_path):
    def reply(messages):
        user = messages[-1]["content"]
        return "Private Federated Training" if "was rejected" in user else \
            ("Federated, Clients, Privacy, Server" if "secure" in user else "Federated Learning")

    llm = FakeLLM(reply)
    topics = [_topic(0), _topic(1, keywords=["secure aggregation", "clients", "privacy"])]
    labeler = Labeler(llm, LabelCache(tmp_path / "l.jsonl"))
    labeler.label(topics, DOCS)
    usage = labeler.stats["usage"]
    assert set(usage) == {"label_user", "label_retry"}  # the first answers, then the one retry
    assert usage["label_user"]["asked"] == 2 and usage["label_retry"]["asked"] == 1
    first, retry = llm.calls[0], llm.calls[2]
    assert usage["label_retry"]["prompt_tokens"] == sum(len(m["content"].split()) for m in retry)
    assert usage["label_user"]["prompt_tokens"] > sum(len(m["content"].split()) for m in first)  # two prompts
    assert usage["label_user"]["answer_tokens"] == 2 + 4 and usage["label_retry"]["answer_tokens"] == 3
    assert all(u["seconds"] >= 0 for u in usage.values())

    # a rerun reads every answer from the cache: nothing asked, nothing counted
    again = Labeler(FakeLLM(reply), LabelCache(tmp_path / "l.jsonl"))
    again.label([_topic(0), _topic(1, keywords=["secure aggregation", "clients", "privacy"])], DOCS)
    assert again.stats["cached"] == 3 and all(u["asked"] == 0 for u in again.stats["usage"].values())


def test_a_heading_that_is_only_too_long_is_cut_before_its_qualifier_without_asking_again(tmp_path):
    # the 1.5B answered the retry with the same 9-word heading word for word (2,000 abstracts): a wasted call
    assert shortened("Reasoning Models and Reinforcement Learning for Large Language Models") == \
        "Reasoning Models and Reinforcement Learning"
    assert shortened("Subspace Optimization Techniques for Large Language Model Training") == \
        "Subspace Optimization Techniques"
    assert shortened("Graph Neural Networks") is None  # nothing to cut
    assert shortened("Methods for a very long list of many different subjects of study") is None  # a one-word head
    llm = FakeLLM("Privacy Attacks and Defenses for Federated Learning Across Many Edge Clients")
    topic = _topic(0)
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label([topic], DOCS)
    assert topic.label == "Privacy Attacks and Defenses" and len(llm.calls) == 1
    assert topic.label_source.startswith("llm-shortened (first answer 'Privacy Attacks and Defenses for Federated")
    # what is cut off may hold the rest of the fault: "Models" twice, the 2,000-abstract case
    llm = FakeLLM("Reasoning Models and Reinforcement Learning for Large Language Models")
    topic = _topic(2)
    Labeler(llm, LabelCache(tmp_path / "r.jsonl")).label([topic], DOCS)
    assert topic.label == "Reasoning Models and Reinforcement Learning" and len(llm.calls) == 1
    # too long and something else wrong (a method's coined name): asked again as before
    llm = FakeLLM(lambda m: "Private Training" if "was rejected" in m[-1]["content"]
                  else "FedAvgPlus Attacks and Defenses for Federated Learning Across Clients")
    topic = _topic(1)
    Labeler(llm, LabelCache(tmp_path / "m.jsonl")).label([topic], DOCS)
    assert len(llm.calls) == 2 and topic.label == "Private Training"


def test_a_heading_that_copies_a_title_in_its_qualifier_is_cut_to_its_head_without_asking_again(tmp_path):
    """"Hallucination Detection in Large Language Models" was one paper's title; the 1.5B gave it again when
    asked again and the keyword fallback was "Box Llms" (1,500 arXiv abstracts): the head names the topic."""
    docs = {"h1": ("Hallucination Detection in Large Language Models", "We detect hallucinations with entropy."),
            "h2": ("Grounded answers", "Models hallucinate facts that no source supports.")}
    llm = FakeLLM("Hallucination Detection in Large Language Models")
    topic = _topic(0, keywords=["hallucinations", "hallucination", "box llms", "detection"], ids=("h1", "h2"))
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label([topic], docs)
    assert topic.label == "Hallucination Detection" and len(llm.calls) == 1
    assert topic.label_source == "llm-shortened (first answer 'Hallucination Detection in Large Language Models': " \
                                 "it copies a document's title)"
    # no qualifier to cut: asked again, as before
    llm = FakeLLM(lambda m: "Hallucinations" if "was rejected" in m[-1]["content"] else "Hallucination Detection Methods")
    docs["h1"] = ("Hallucination Detection Methods", docs["h1"][1])
    topic = _topic(0, keywords=["hallucinations", "detection"], ids=("h1", "h2"))
    Labeler(llm, LabelCache(tmp_path / "m.jsonl")).label([topic], docs)
    assert len(llm.calls) == 2 and topic.label == "Hallucinations"


def test_duplicate_labels_are_retried_and_stay_unique(tmp_path):
    llm = FakeLLM("Same Label")
    topics = [_topic(0), _topic(1), _topic(2)]
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label(topics, DOCS)
    labels = [t.label.lower() for t in topics]
    assert len(set(labels)) == 3
    assert [t.label_source.split(" ")[0] for t in topics] == ["llm", "keywords", "keywords"]


def test_labels_are_asked_in_two_batches_when_the_model_batches(tmp_path):
    class Batching(FakeLLM):
        batches = True

        def __init__(self, reply):
            super().__init__(reply)
            self.sizes: list[int] = []

        def complete_many(self, conversations, options):
            self.sizes.append(len(conversations))
            return [self.complete(m, options) for m in conversations]

    llm = Batching(lambda m: "Too Short" if "was rejected" in m[-1]["content"] else "Privacy and")
    topics = [_topic(i, keywords=[f"k{i}", "topic"]) for i in range(4)]
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label(topics, DOCS)
    assert llm.sizes == [4, 4]  # every first answer (cut mid-phrase) is retried, all in one batch
    assert [t.label for t in topics][0] == "Too Short" and all(t.label_source.startswith("llm-retry") for t in topics[:1])


def test_a_model_that_names_its_batch_size_is_asked_that_many_at_a_time_and_each_batch_is_kept(tmp_path):
    """llama.cpp decodes 8 answers together: the labeler asks 8 at a time, so a run killed in the third
    batch keeps the two it finished in the cache, and the rerun asks only what is left."""
    class EightAtATime(FakeLLM):
        batches, batch_size = True, 2

        def __init__(self, reply, fail_at=None):
            super().__init__(reply)
            self.sizes: list[int] = []
            self.fail_at = fail_at

        def complete_many(self, conversations, options):
            self.sizes.append(len(conversations))
            if len(self.sizes) == self.fail_at:
                raise KeyboardInterrupt  # the user stops the run in this batch
            return [self.complete(m, options) for m in conversations]

    names = iter(f"Subject Number {n}" for n in ("One", "Two", "Three", "Four", "Five"))
    topics = [_topic(i, keywords=[f"k{i}", "topic"]) for i in range(5)]
    path = tmp_path / "l.jsonl"
    killed = EightAtATime(lambda m: next(names), fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        Labeler(killed, LabelCache(path)).label(topics, DOCS)
    assert killed.sizes == [2, 2, 1]
    rerun = EightAtATime(lambda m: "Subject Number Five")
    labeler = Labeler(rerun, LabelCache(path))
    labeler.label(topics, DOCS)
    assert rerun.sizes == [] and labeler.stats["cached"] == 4 and labeler.stats["asked"] == 1  # one left: alone
    assert [t.label for t in topics] == [f"Subject Number {n}" for n in ("One", "Two", "Three", "Four", "Five")]


def test_a_model_that_does_not_batch_is_asked_one_topic_at_a_time_and_each_answer_is_kept(tmp_path):
    """llama.cpp generates one answer at a time: progress moves per topic as answers come, and a
    run killed midway keeps every answer it finished in the cache."""
    seen: list[int] = []
    answers = iter(["Federated Learning", "Graph Neural Networks"])

    def reply(messages):
        seen.append(len(progress))
        try:
            return next(answers)
        except StopIteration:
            raise KeyboardInterrupt from None  # the user stops the run at the third topic

    progress: list[int] = []
    topics = [_topic(i, keywords=[f"k{i}", "topic"]) for i in range(3)]
    path = tmp_path / "l.jsonl"
    with pytest.raises(KeyboardInterrupt):
        Labeler(FakeLLM(reply), LabelCache(path)).label(topics, DOCS, progress.append)
    assert seen == [0, 1, 2]  # each topic counted before the next one was asked
    again = FakeLLM("Speech Recognition")
    Labeler(again, LabelCache(path)).label(topics, DOCS)
    assert [t.label for t in topics] == ["Federated Learning", "Graph Neural Networks", "Speech Recognition"]
    assert len(again.calls) == 1  # the two finished answers came from the cache


def test_label_cache_keeps_an_answer_holding_a_line_separator(tmp_path):
    path = tmp_path / "labels.jsonl"
    for answer in ("Speech\u2028Recognition", "Graph\u2029Nets", "Plain"):
        LabelCache(path).put(f"key {answer}", answer)
    cache = LabelCache(path)
    assert cache.get("key Speech\u2028Recognition") == "Speech\u2028Recognition"
    assert cache.get("key Graph\u2029Nets") == "Graph\u2029Nets" and cache.skipped == 0


def test_label_cache_skips_the_llm_on_rerun_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    first = FakeLLM("Federated Learning")
    Labeler(first, LabelCache(path)).label([_topic(0)], DOCS)
    with path.open("a") as f:
        f.write('{"key": "torn')  # what kill -9 mid-write leaves
    again = FakeLLM("Something else")
    labeler = Labeler(again, LabelCache(path))
    topic = _topic(0)
    labeler.label([topic], DOCS)
    assert again.calls == [] and topic.label == "Federated Learning"
    assert labeler.stats["cached"] == 1 and labeler.stats["asked"] == 0
    # another model or other topic content is a different key
    other = FakeLLM("Other Label")
    other.spec = "other-model"
    Labeler(other, LabelCache(path)).label([_topic(0)], DOCS)
    assert len(other.calls) == 1


@pytest.mark.parametrize("heading", ["Christianity", "Cryptography", "Hockey", "Space Exploration"])
def test_one_word_headings_are_good_headings(heading):
    assert problem(heading, ["god", "jesus", "church", "key", "nhl", "nasa"], set()) is None


def test_themes_are_labeled_under_the_same_rule_and_never_repeat_a_topic_label(tmp_path):
    from topictalk.indexing.schema import Theme

    answers = iter(["Religion", "Religion", "Faith and Belief"])
    llm = FakeLLM(lambda m: next(answers))
    topics = [_topic(0, keywords=["god", "jesus"])]
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label(topics, DOCS)
    theme = Theme(0, 10, "", "", [0], ["god", "faith"], representative_ids=["d0"])
    Labeler(llm, LabelCache(tmp_path / "l.jsonl")).label([theme], DOCS, taken={t.label.lower() for t in topics})
    assert topics[0].label == "Religion"
    assert theme.label == "Faith and Belief" and "already labeled 'Religion'" in theme.label_source


@pytest.mark.parametrize("a, b", [
    ("Speech Recognition Models", "Speech Recognition Systems"),  # a generic word is no difference
    ("Graph Neural Networks", "Graph Neural Network Methods"),
    ("Reinforcement Learning", "Deep Reinforcement Learning"),  # one is the other plus a word
    ("England and Wales Rugby", "England Wales rugby"),
])
def test_near_same_headings_are_told_apart_from_distinct_ones(a, b):
    assert near_same(a, b) and near_same(b, a)


@pytest.mark.parametrize("a, b", [
    ("Federated Learning", "Federated Learning Privacy Attacks"),  # a narrower subject, two words more
    ("Robotics", "Robot Control"),  # a one-word name is not 'contained' in a longer one
    ("Speech Recognition", "Speaker Verification"),
    ("Medical Image Segmentation", "Medical Report Generation"),
])
def test_distinct_sibling_headings_pass(a, b):
    assert not near_same(a, b)


def test_a_theme_named_after_one_of_its_topics_is_caught_but_a_wider_name_is_not():
    assert same_name("England Wales Rugby", "England and Wales rugby")
    assert not same_name("Large Language Models", "Large Language Model Safety")
    assert "one of its topics" in problem("Rugby Union", ["rugby"], set(), children=["Rugby Unions", "Football"])
    assert problem("Team Sports", ["rugby"], set(), children=["Rugby Union", "Football"]) is None


def test_a_sibling_nearly_named_alike_is_asked_again_with_the_reason_other_themes_are_free(tmp_path):
    first = {0: "Graph Neural Networks", 1: "Graph Neural Network Models", 2: "Graph Neural Networks"}
    retry = {1: "Molecular Property Prediction"}

    def reply(messages):
        topic = int(messages[-1]["content"].split("TOPIC")[1].split()[0]) if "TOPIC" in messages[-1]["content"] else 0
        return retry.get(topic, "Graph Neural Networks") if "was rejected" in messages[-1]["content"] else first[topic]

    docs = {f"d{i}": (f"Title {i}", f"TOPIC {i} text") for i in range(3)}
    topics = [_topic(i, keywords=["graph", "molecule", f"k{i}"]) for i in range(3)]
    for i, t in enumerate(topics):
        t.representative_ids = [f"d{i}"]
    # topics 0 and 1 share a theme, topic 2 is in another: only 1 is asked again
    Labeler(FakeLLM(reply), LabelCache(tmp_path / "l.jsonl")).label(topics, docs, group={0: 0, 1: 0, 2: 1})
    assert topics[0].label == "Graph Neural Networks" and topics[0].label_source == "llm"
    assert topics[1].label == "Molecular Property Prediction"
    assert "nearly the same as its neighbour 'Graph Neural Networks'" in topics[1].label_source
    # topic 2's exact repeat is still refused everywhere (taken), then falls back to a keyword heading
    assert topics[2].label.lower() != "graph neural networks"


def test_keyword_headings_of_themes_avoid_their_childrens_names():
    from topictalk.indexing.schema import Theme

    theme = Theme(0, 10, "", "", [0, 1], ["rugby union", "football", "athletics"], representative_ids=["d0"])
    label_by_keywords([theme], taken=set(), children={0: ["Rugby Unions", "Football Clubs"]})
    assert not same_name(theme.label, "Rugby Unions") and theme.label_source == "keywords"


def test_a_phrase_of_one_title_is_a_copy_but_the_subject_several_documents_name_is_not():
    titles = ["Out-of-Distribution Detection with Energy Scores", "Calibrated detectors for open sets"]
    texts = [f"{titles[0]} We score inputs.", f"{titles[1]} Out-of-distribution detection fails under shift."]
    assert problem("Out-of-Distribution Detection", ["ood"], set(), titles, texts=texts) is None
    alone = [texts[0], f"{titles[1]} Open-set inputs break detectors."]
    assert problem("Out-of-Distribution Detection", ["ood"], set(), titles, texts=alone) == "it copies a document's title"


def test_a_topic_is_told_the_keywords_of_up_to_four_other_topics_of_its_theme_edited_or_not():
    from topictalk.indexing.labels import sibling_keywords

    every = [Topic(i, 10, f"t{i}", "llm", [f"k{i}a", f"k{i}b", f"k{i}c", f"k{i}d"], theme=0 if i < 6 else 1)
             for i in range(8)] + [Topic(9, 3, "loose", "llm", ["x"], theme=None)]
    touched = [every[0], every[6], every[8]]  # an edit relabels these; the untouched stay their siblings
    said = sibling_keywords(touched, every)
    assert set(said) == {0, 6}  # a topic outside every theme has no siblings to stay apart from
    assert said[0] == [[f"k{i}a", f"k{i}b", f"k{i}c"] for i in (1, 2, 3, 4)]  # its theme's, not itself, four at most
    assert said[6] == [["k7a", "k7b", "k7c"]]
    assert sibling_keywords(every[:2], every[:2]) == {0: [["k1a", "k1b", "k1c"]], 1: [["k0a", "k0b", "k0c"]]}
