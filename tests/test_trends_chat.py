"""Questions about time and groups, fast tier: a real Conversation over the fake index with stored counts
(tests/fake_index.py: Trends per month and per category, dated and categorised documents). Every number
an answer prints is parsed back out and compared with the stored counts (computed here independently,
from fake_index.COUNTS and CATEGORY_COUNTS), so a number the answer invented fails; the cited documents
must come from the period or the group asked about; an index without dates or groups says so in a line."""

from __future__ import annotations

import re

import pytest

from tests.fake_index import CATEGORIES, CATEGORY_COUNTS, COUNTS, DATED, PERIODS, FakeIndex, snapshot, trends
from tests.fakes import FakeLLM
from topictalk.agent.conversation import Conversation, Settings
from topictalk.agent.trends_answers import NO_DATES, NO_GROUPS
from topictalk.indexing import trends as tr

SETTINGS = Settings(min_document_similarity=0.2, min_topic_similarity=0.2, topic_match_similarity=0.3,
                    count_similarity=0.3, max_tokens=60)
CITATION = re.compile(r"\[\d+\]")
LABEL = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")  # period labels and dates: not counts
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")


def ask(question: str, counts=None):
    llm = FakeLLM("never asked")
    conv = Conversation(FakeIndex(snapshot(counts=trends() if counts is None else counts)), llm, SETTINGS)
    reply = conv.ask(question)
    assert llm.calls == [], "a question about counts must not reach the model"
    return reply, conv


def numbers(text: str) -> list[str]:
    """Every number the answer states, citations, period labels, dates and topic labels' words left out."""
    return NUMBER.findall(LABEL.sub(" ", CITATION.sub(" ", text)))


def pct(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}"


def totals(first: int, last: int) -> int:
    return sum(sum(row[first:last]) for row in COUNTS.values())


def test_what_is_growing_prints_the_stored_counts_and_their_shares_and_nothing_else():
    reply, _ = ask("What topics are growing?")
    assert reply.intent == "trends" and reply.answer_source == "index"
    # the index's default spans: the final third of the periods against every period before
    early, late = totals(0, 4), totals(4, 6)
    expected_p = {c.topic: c for c in tr.changes(trends())}
    rows = re.findall(r"^(\d+)\. \*\*(.+?)\*\* \(topic (-?\d+)\): ([\d.]+)% -> ([\d.]+)% of the dated documents "
                      r"\(([\d,]+) -> ([\d,]+)\), (more than|within) noise \(adjusted p = ([\d.e+-]+)\)$",
                      reply.answer, re.M)
    assert len(rows) == 4, reply.answer  # every topic is either growing or shrinking here
    allowed = {str(early), str(late), "0.05", "4"}  # the spans' totals, the test's level, the topics compared
    for rank, _, topic, s1, s2, n1, n2, noise, p in rows:
        t = int(topic)
        a, b = sum(COUNTS[t][0:4]), sum(COUNTS[t][4:6])
        assert (int(n1.replace(",", "")), int(n2.replace(",", ""))) == (a, b), topic
        assert (s1, s2) == (pct(a, early), pct(b, late)), topic
        assert float(p) == pytest.approx(expected_p[t].p_adjusted, rel=0.05)
        assert (noise == "more than") == expected_p[t].significant
        allowed |= {rank, topic, s1, s2, n1, n2, p}
    assert [r[2] for r in rows[:1]] == ["0"]  # topic 0 grew most; topic 1 shrank most
    assert "Shrinking" in reply.answer and rows[1][2] == "1"
    significant = [c.topic for c in tr.changes(trends()) if c.significant]
    said = re.search(r"^(\d+) of the (\d+) topics changed by more than noise: (.*)$", reply.answer, re.M)
    assert (int(said[1]), int(said[2])) == (len(significant), 4)
    assert [int(t) for t in re.findall(r"topic (\d+)", said[3])] == significant
    allowed |= {said[1]}
    assert set(numbers(reply.answer)) <= allowed, set(numbers(reply.answer)) - allowed
    # its documents come from the newest period asked about
    assert reply.sources and all(DATED[s.id][0].startswith("2025-06") for s in reply.sources)


def test_whats_new_since_a_month_compares_from_that_month_on_with_everything_before():
    reply, _ = ask("What's new since April?")
    assert reply.intent == "trends" and "(2025-04 to 2025-06 vs 2025-01 to 2025-03)" in reply.answer
    a, b = sum(COUNTS[0][0:3]), sum(COUNTS[0][3:6])
    assert f"{pct(a, totals(0, 3))}% -> {pct(b, totals(3, 6))}% of the dated documents ({a} -> {b})" in reply.answer
    assert reply.sources and all(DATED[s.id][0] >= "2025-06" for s in reply.sources)


def test_how_a_topic_changed_prints_its_count_per_period_its_words_early_and_late_and_cites_both_ends():
    reply, _ = ask("How has the federated learning topic changed over time?")
    assert reply.intent == "trends" and reply.topics == [0]
    row = re.search(r"^2025-01: .*$", reply.answer, re.M).group()
    assert [int(n) for n in re.findall(r": (\d+)", row)] == COUNTS[0]
    assert f"{sum(COUNTS[0])} dated documents" in reply.answer
    assert "in 2025-01: federated, clients; in 2025-06: federated, aggregation, secure" in reply.answer
    cited = sorted(DATED[s.id][0][:7] for s in reply.sources)
    assert cited == ["2025-01", "2025-06"] and {s.topic for s in reply.sources} == {0}
    change = next(c for c in tr.changes(trends()) if c.topic == 0)
    allowed = {"0", str(sum(COUNTS[0])), *map(str, COUNTS[0]), str(change.first_count), str(change.last_count),
               pct(change.first_count, change.first_total), pct(change.last_count, change.last_total),
               f"{change.p_adjusted:.2g}"}
    assert set(numbers(reply.answer)) <= allowed, set(numbers(reply.answer)) - allowed


def test_a_periods_topics_are_ranked_by_their_count_in_it():
    reply, _ = ask("What were the main topics in March 2025?")
    i = PERIODS.index("2025-03")
    total = sum(row[i] for row in COUNTS.values())
    rows = re.findall(r"\(topic (\d+)\): (\d+) documents \(([\d.]+)%\)", reply.answer)
    expected = sorted(((COUNTS[t][i], t) for t in COUNTS if t != -1), key=lambda x: (-x[0], x[1]))
    assert [(int(t), int(n)) for t, n, _ in rows] == [(t, n) for n, t in expected]
    assert all(p == pct(int(n), total) for _, n, p in rows) and f"({total} dated documents)" in reply.answer


def test_when_the_documents_were_written_is_the_span_and_the_count_per_period():
    reply, _ = ask("When were these papers published?")
    per = [sum(row[i] for row in COUNTS.values()) for i in range(len(PERIODS))]
    assert reply.intent == "trends" and f"The {sum(per)} dated documents" in reply.answer
    assert "7 documents have no date" in reply.answer
    assert [int(n) for n in re.findall(r"2025-\d\d: (\d+)", reply.answer)] == per


def test_a_groups_most_common_topics_are_its_counts_with_their_share_of_the_group():
    reply, _ = ask("Which topics are most common in cs.CR?")
    j = CATEGORIES.index("cs.CR")
    total = sum(row[j] for row in CATEGORY_COUNTS.values())
    rows = re.findall(r"\(topic (\d+)\): (\d+) of the (\d+) documents \(([\d.]+)%\)", reply.answer)
    expected = sorted(((r[j], t) for t, r in CATEGORY_COUNTS.items() if t != -1 and r[j]), key=lambda x: (-x[0], x[1]))
    assert [(int(t), int(n)) for t, n, _, _ in rows] == [(t, n) for n, t in expected]
    assert all(int(m) == total and p == pct(int(n), total) for _, n, m, p in rows)
    allowed = {str(total), *(x for r in rows for x in (r[0], r[1], r[3])), *map(str, range(1, len(rows) + 1))}
    assert set(numbers(reply.answer)) <= allowed, set(numbers(reply.answer)) - allowed
    assert reply.sources and all("cs.CR" in DATED[s.id][1] for s in reply.sources)


def test_two_groups_differ_by_the_topics_over_represented_in_each():
    reply, _ = ask("How does cs.CR differ from eess.AS?")
    assert reply.intent == "groups"
    a, b = CATEGORIES.index("cs.CR"), CATEGORIES.index("eess.AS")
    ta, tb = (sum(r[j] for r in CATEGORY_COUNTS.values()) for j in (a, b))
    assert f"cs.CR has {ta} documents and eess.AS {tb}" in reply.answer
    for topic, sa, na, sb, nb in re.findall(r"\(topic (\d+)\): ([\d.]+)% of cs.CR \((\d+)\) vs ([\d.]+)% of eess.AS "
                                            r"\((\d+)\)", reply.answer):
        row = CATEGORY_COUNTS[int(topic)]
        assert (int(na), int(nb), sa, sb) == (row[a], row[b], pct(row[a], ta), pct(row[b], tb))
    allowed = {str(ta), str(tb)}
    for t, row in CATEGORY_COUNTS.items():
        allowed |= {str(t), str(row[a]), str(row[b]), pct(row[a], ta), pct(row[b], tb)}
    assert set(numbers(reply.answer.replace("cs.CR", " ").replace("eess.AS", " "))) <= allowed
    more_b = reply.answer.split("More in eess.AS:")[1]
    assert "(topic 2)" in more_b and "(topic 1)" not in more_b
    assert {tuple(DATED[s.id][1]) for s in reply.sources} >= {("eess.AS",)}


def test_a_group_the_index_does_not_hold_is_answered_with_the_values_it_has():
    reply, _ = ask("Which topics are most common in cs.XX?")
    assert reply.answer.startswith('The index\'s "categories" has no value "cs.XX"')
    assert "cs.LG (167), cs.CR (135)" in reply.answer  # the values' totals over the stored counts
    assert sum(r[0] for r in CATEGORY_COUNTS.values()) == 167


def test_a_date_the_index_does_not_hold_is_said_with_its_span():
    reply, _ = ask("What were the main topics in 2019?")
    assert "its dates run from 2025-01 to 2025-06" in reply.answer and not reply.sources


def test_a_search_in_a_period_reads_only_that_periods_documents():
    conv = Conversation(FakeIndex(snapshot(counts=trends())), FakeLLM("unused"), SETTINGS)
    reply = conv.ask("papers from June 2025 about privacy")  # a search: the model writes, from June's documents
    assert reply.intent == "search" and "Searched only the documents dated 2025-06" in reply.answer
    assert reply.sources and all(DATED[s.id][0].startswith("2025-06") for s in reply.sources)


@pytest.mark.parametrize("question, line", [
    ("What topics are growing?", NO_DATES), ("What's new since January?", NO_DATES),
    ("How did things change?", NO_DATES), ("Which topics grew the most?", NO_DATES),
    ("Which topics are most common in cs.CV?", NO_GROUPS),
])
def test_an_index_without_dates_or_groups_says_so_in_one_line(question, line):
    llm = FakeLLM("never asked")
    reply = Conversation(FakeIndex(snapshot()), llm, SETTINGS).ask(question)
    assert reply.answer.strip() == line and "\n" not in line and not reply.sources and llm.calls == []
    assert "--date-field" in NO_DATES and "--facet-field" in NO_GROUPS


@pytest.mark.parametrize("question", [
    "How has the federated learning topic changed over time?", "is federated learning growing?",
    "I want to know everything about privacy and how it changed since 2019"])
def test_a_subject_asked_over_time_without_dates_gets_the_line_then_what_the_documents_say_of_it(question):
    llm = FakeLLM("Clients train together without sharing their data [1].")
    reply = Conversation(FakeIndex(snapshot()), llm, SETTINGS).ask(question)
    assert reply.intent == "search" and reply.answer.startswith("The documents carry no dates"), reply.answer
    assert reply.sources and llm.calls, "the subject's documents are searched and the model answers from them"
    subject = "privacy" if "privacy" in question else "federated"  # the search was for the subject
    assert subject in (reply.sources[0].title + reply.sources[0].text).lower(), reply.sources[0]


def test_an_index_with_groups_but_no_dates_says_it_has_no_dates_and_answers_groups():
    reply, _ = ask("What topics are growing?", counts=trends(dates=False))
    assert reply.answer.strip() == NO_DATES
    reply, _ = ask("Which topics are most common in cs.CV?", counts=trends(dates=False))
    assert reply.intent == "groups" and "(topic 3): 30 of the 37 documents" in reply.answer
    reply, _ = ask("Which topics are most common in cs.CV?", counts=trends(facets=False))
    assert reply.answer.strip() == NO_GROUPS


def test_the_latest_papers_on_a_dated_index_are_its_newest_periods_without_the_no_dates_line():
    conv = Conversation(FakeIndex(snapshot(counts=trends())), FakeLLM("unused"), SETTINGS)
    reply = conv.ask("show me the latest papers on adversarial attacks")
    assert "carry no dates" not in reply.answer and "The newest of the 20 documents nearest" in reply.answer
    # the newest of the documents on it, newest first (this small index's nearest 20 are all its documents)
    dates = [DATED[s.id][0] for s in reply.provided]
    assert dates == sorted(dates, reverse=True) and dates[0] == max(d for d, _ in DATED.values())
    undated = Conversation(FakeIndex(snapshot()), FakeLLM("unused"), SETTINGS).ask(
        "show me the latest papers on adversarial attacks")
    assert "carry no dates" in undated.answer  # as before, where there are none


def test_a_list_in_a_group_lists_only_that_groups_documents():
    reply, _ = ask("give me 3 papers on adversarial classifiers in cs.CV")
    assert reply.intent == "list" and "Searched only the documents in categories cs.CV" in reply.answer
    assert reply.sources and all("cs.CV" in DATED[s.id][1] for s in reply.sources)


def test_a_topic_named_after_a_trends_answer_is_the_one_in_focus():
    reply, conv = ask("How has the federated learning topic changed over time?")
    assert conv.state.focus_topic == 0
    assert conv.ask("tell me more about that topic").intent == "topic"


def test_follow_ups_after_a_time_or_group_answer_keep_its_kind():
    _, conv = ask("Which topics are most common in cs.CR?")
    reply = conv.ask("and cs.CV?")
    assert reply.intent == "groups" and reply.answer.startswith("The most common topics in cs.CV")
    reply = conv.ask("How does cs.CR differ from eess.AS?")
    reply = conv.ask("what about cs.CV?")
    assert reply.intent == "groups" and "cs.CR has 135 documents and cs.CV 37" in reply.answer
    conv.ask("How has the federated learning topic changed over time?")
    reply = conv.ask("what about speech recognition?")
    assert reply.intent == "trends" and reply.topics == [2]
    assert [int(n) for n in re.findall(r"2025-\d\d: (\d+)", reply.answer)] == COUNTS[2]
    conv.ask("What topics are growing?")
    reply = conv.ask("and since March?")
    assert "(2025-03 to 2025-06 vs 2025-01 to 2025-02)" in reply.answer


def test_how_many_documents_a_period_or_a_group_holds_is_the_stored_count():
    reply, _ = ask("How many papers were published in March 2025?")
    i = PERIODS.index("2025-03")
    assert reply.intent == "count" and reply.answer.startswith(
        f"**{sum(r[i] for r in COUNTS.values())}** documents are dated 2025-03 (of "
        f"{sum(map(sum, COUNTS.values()))} dated documents).")
    reply, _ = ask("How many papers are in cs.CV?")
    j = CATEGORIES.index("cs.CV")
    assert reply.answer.startswith(f"**{sum(r[j] for r in CATEGORY_COUNTS.values())}** documents are in cs.CV")
    assert reply.sources and all("cs.CV" in DATED[s.id][1] for s in reply.sources)


def test_a_count_or_a_list_on_a_subject_in_a_period_reads_only_that_period():
    reply, _ = ask("how many papers about privacy in June 2025?")
    assert "documents dated 2025-06 are about privacy:" in reply.answer
    assert reply.sources and all(DATED[s.id][0].startswith("2025-06") for s in reply.sources)
    reply, _ = ask("Give me 2 papers on privacy from 2025-06")
    assert reply.intent == "list" and "Searched only the documents dated 2025-06" in reply.answer
    assert '"privacy"' in reply.answer and all(DATED[s.id][0].startswith("2025-06") for s in reply.sources)


def test_since_the_first_period_compares_the_final_third_with_the_rest():
    reply, _ = ask("What has declined since January 2025?")
    assert "2025-01 to 2025-06 is every period the index holds from its start" in reply.answer
    assert "Shrinking (2025-05 to 2025-06 vs 2025-01 to 2025-04):" in reply.answer


def test_show_me_more_lists_the_next_topics_of_the_same_group():
    reply, conv = ask("Which topics are most common in cs.LG?")
    first = reply.topics
    more = conv.ask("show me more")
    assert len(first) == 4 and more.intent == "groups"  # all four topics have cs.LG documents: none is left
    assert more.answer == "No more topics in cs.LG: every topic with documents there was listed."
    reply, conv = ask("What topics are growing?")
    assert conv.ask("show me more").answer.startswith("No more topics")


def test_which_papers_were_published_in_a_year_is_no_longer_what_no_document_holds():
    reply, _ = ask("Which papers were published in 2025?")
    assert reply.intent == "count" and reply.answer.startswith(
        f"**{sum(map(sum, COUNTS.values()))}** documents are dated 2025-01 to 2025-06")
    undated = Conversation(FakeIndex(snapshot()), FakeLLM("unused"), SETTINGS).ask("Which papers were published in 2025?")
    assert undated.intent == "not_in_documents" and "publication dates" in undated.answer


def test_the_most_recent_ones_after_a_topic_are_that_topics_newest_documents():
    conv = Conversation(FakeIndex(snapshot(counts=trends())), FakeLLM("unused"), SETTINGS)
    conv.ask("tell me about topic 0")
    for question in ("which ones are the most recent?", "show me the latest ones", "what are the newest papers in it?"):
        reply = conv.ask(question)  # read as a time question, it listed the corpus's growing topics
        assert reply.intent == "search" and "The newest documents of topic 0" in reply.answer, question
        assert [s.id for s in reply.provided] == ["t0d0", "t0d2", "t0d1"]  # topic 0's, newest first
        conv.ask("tell me about topic 0")
    oldest = conv.ask("and the oldest ones?")
    assert [s.id for s in oldest.provided] == ["t0d1", "t0d2", "t0d0"]
    undated = Conversation(FakeIndex(snapshot()), FakeLLM("unused"), SETTINGS)
    undated.ask("tell me about topic 0")
    reply = undated.ask("which ones are the most recent?")
    assert "carry no dates" in reply.answer and reply.topics == [0]
