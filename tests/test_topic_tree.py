"""The Topics tab browses the depth (issue 27): theme headings over their topics, and a topic's subtopics opened
in a second table (ui/topic_tree.py). The row functions and the shared cache run without a server (a real Chroma
store of synthetic embeddings, no model); one slow test drives the app in Chromium over 400 BBC articles."""

from __future__ import annotations

import math
import shutil

import pytest

from tests.fake_index import fake_embed
from tests.fakes import FakeLLM
from tests.test_subtopics import index  # noqa: F401 - the fixture: topic 0 of two blobs, topic 1 of one
from topictalk.agent.retrieval import Snapshot, _ranking
from topictalk.indexing import store
from topictalk.indexing.schema import Theme, Topic
from topictalk.indexing.subtopics import Subtopic, Subtopics
from topictalk.ui import render, topic_tree


def _topic(i: int, size: int, label: str, theme: int) -> Topic:
    return Topic(id=i, size=size, label=label, label_source="llm", keywords=[label.lower(), "w"], theme=theme)


TOPICS = [_topic(0, 40, "Graph networks", 0), _topic(1, 90, "Robots", 1), _topic(2, 30, "Speech", 0),
          Topic(id=-1, size=5, label="Outliers", label_source="outliers", keywords=["noise"])]
THEMES = [Theme(1, 90, "Machines", "llm", [1], keywords=["robot"]),  # biggest first, as the index reads them
          Theme(0, 70, "Graphs and Speech", "llm", [0, 2], keywords=["graph", "speech"])]
SPLIT = Subtopics(3, "Space <b>", 120, 1, [Subtopic(1, 70, "Galaxy Surveys", ["galaxy", "survey"], ["d1", "d2"], "llm"),
                                           Subtopic(2, 50, "Protein and Folding", ["protein"], ["d9"])], 0.41)


# -- the topic table: theme headings over their topics ----------------------------------------------------------
def test_themes_are_headings_over_their_topics_and_a_heading_is_no_topic():
    rows = render.table_rows(TOPICS, THEMES)
    assert [(render.topic_of(r), r[2]) for r in rows] == [
        (None, "Theme: Machines"), (1, "Robots"), (None, "Theme: Graphs and Speech"), (0, "Graph networks"),
        (2, "Speech")]
    assert rows[2][1] == 70 and rows[2][5] == "2 topics" and rows[2][6] == ""  # no Subtopics cell to click
    assert all(r[6] == render.SHOW_SUBTOPICS for r in rows if render.topic_of(r) is not None)
    assert len(rows[0]) == len(render.TOPIC_COLUMNS)
    # one topic a theme: a heading would only repeat its topic
    alone = [Theme(0, 40, "Graphs", "llm", [0]), Theme(1, 90, "Machines", "llm", [1]), Theme(2, 30, "Talk", "llm", [2])]
    assert render.table_rows(TOPICS, alone) == render.topic_rows(TOPICS, alone)
    assert [render.topic_of(r) for r in ([3], ["3"], [3.0], [""], [None], [])] == [3, 3, 3, None, None, None]
    styles = topic_tree.topic_frame(rows)._compute().ctx  # (row, column) -> css: only the headings are styled
    assert {r for r, _ in styles if any(styles[(r, c)] for c in range(len(rows[0])))} == {0, 2}


@pytest.mark.parametrize("query, shown", [
    ("", [None, 1, None, 0, 2]),
    ("speech", [None, 0, 2]),  # the theme's name is in its topics' rows: the heading and both stay
    ("robots", [None, 1]),  # a heading stays only above a topic that matches
    ("graph network", [None, 0]),
    ("show", []),  # the Subtopics cell is a button, not text to search
    ("zebra", []),
])
def test_the_search_keeps_a_heading_above_the_topics_it_finds(query, shown):
    rows = render.table_rows(TOPICS, THEMES)
    assert [render.topic_of(r) for r in render.filter_rows(rows, query)] == shown


def test_only_the_subtopics_cell_opens_subtopics():
    column = render.TOPIC_COLUMNS.index("Subtopics")
    assert topic_tree.clicked_subtopics([4, column]) and not topic_tree.clicked_subtopics([4, 2])
    assert not topic_tree.clicked_subtopics(None) and not topic_tree.clicked_subtopics([])


# -- the subtopic table -----------------------------------------------------------------------------------------
def test_subtopic_rows_hold_label_size_words_and_the_central_title():
    rows = topic_tree.subtopic_rows(SPLIT, {"d1": "Mapping a million galaxies"})
    assert rows == [["3.1", 70, "Galaxy Surveys", "galaxy, survey", "Mapping a million galaxies"],
                    ["3.2", 50, "Protein and Folding", "protein", ""]]
    assert len(rows[0]) == len(topic_tree.SUBTOPIC_COLUMNS)
    said = topic_tree.heading(SPLIT)
    assert "Subtopics of topic 3: Space &lt;b&gt;" in said and "<b>" not in said  # index text is escaped
    assert "2 parts" in said and "labelled by the chat's model" in said


def test_a_topic_without_subtopics_says_why_and_keyword_labels_say_how_to_get_better_ones():
    none = Subtopics(5, "Politics", 81, 1, [], 0.19, why_none="its 81 documents are one subject")
    assert topic_tree.subtopic_rows(none, {}) == []
    assert topic_tree.heading(none) == "**Topic 5: Politics** (81 documents) has no subtopics: its 81 documents " \
                                       "are one subject."
    keywords = Subtopics(3, "Space", 120, 1, [Subtopic(1, 120, "Galaxy and Survey", ["galaxy"], ["d1"])], 0.4)
    assert 'what are the subtopics of topic 3?' in topic_tree.heading(keywords)


def _snapshot(location: store.Location, memo: dict) -> Snapshot:
    reader = store.Reader(store.connect(location), location, follow_s=math.inf)
    topics, themes = reader.topics(), reader.themes()
    return Snapshot(reader.generation, reader.manifest, tuple(topics), tuple(themes), reader, fake_embed,
                    _ranking(topics, [t.label for t in topics], fake_embed),
                    _ranking(themes, [t.label for t in themes], fake_embed), memo)


@pytest.mark.parametrize("folder", [True, False], ids=["cache-folder", "server-memo"])
def test_the_table_shows_keywords_at_once_and_the_chats_labels_once_it_asked(index, folder, monkeypatch):  # noqa: F811
    from topictalk.indexing import subtopics

    llm = FakeLLM("1. Protein Folding\n2. Galaxy Surveys")
    memo: dict = {}
    snap = _snapshot(index, memo)
    if not folder:  # an index on a Chroma server has no cache folder: the TopicIndex's memo is what is shared
        monkeypatch.setattr(subtopics, "cache_of", lambda reader: None)
    said, rows = topic_tree.opened(snap, 0, llm)
    assert llm.calls == [] and len(rows) == 2 and sum(r[1] for r in rows) == 120  # no model call
    assert all(r[4] for r in rows) and "labelled by their keywords" in said
    assert {r[2] for r in rows}.isdisjoint({"Protein Folding", "Galaxy Surveys"})
    found = snap.subtopics(0, llm)  # the chat opens it: its keyword result is the table's, then one call labels it
    assert found.cached is False and len(llm.calls) == 1
    said, rows = topic_tree.opened(snap, 0, llm)
    assert {r[2] for r in rows} == {"Protein Folding", "Galaxy Surveys"} and "the chat's model" in said
    assert len(llm.calls) == 1 and (folder or len(memo) == 2)  # kept: keyword-only and labelled
    assert not folder or len(list((index.path / "cache" / "subtopics").glob("*.json"))) == 2
    said, rows = topic_tree.opened(snap, 1, llm)  # one featureless blob
    assert rows == [] and "has no subtopics" in said and "one subject" in said and len(llm.calls) == 1


# -- in the browser ---------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.browser
def test_the_topics_tab_opens_a_topics_subtopics_and_says_why_one_has_none(news, tmp_path):
    from tests.test_app_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, logged_in, serve_app
    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import subtopics

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (./install.sh)")
    from playwright.sync_api import sync_playwright

    folder = tmp_path / "index"
    # a copy without the subtopics others kept: the shared index stays as it was, and the table computes them
    shutil.copytree(news.path, folder, ignore=shutil.ignore_patterns("subtopics", "labels.jsonl"))
    opened = TopicIndex.open(store.Location(path=folder))
    reader = opened.reader
    found: dict[int, Subtopics] = {}
    for t in reader.topics():  # biggest first, until one with subtopics and one without (found here, not kept)
        if not t.is_outlier and (len(set(bool(f.parts) for f in found.values())) < 2):
            found[t.id] = subtopics.find(reader, t.id)
    split = next(t for t in reader.topics() if t.id in found and found[t.id].parts)
    whole = next(t for t in reader.topics() if t.id in found and not found[t.id].parts)
    names = ["Corporate Fraud Cases", "Oil Industry Disputes", "Currency Markets", "Steel Profits", "Club Football",
             "Tennis Finals", "Six Nations Rugby", "Airline Mergers"]
    llm = FakeLLM(lambda m: "\n".join(f"{i}. {name}" for i, name in enumerate(names, start=1)))
    demo = serve_app(opened, llm)
    try:
        with sync_playwright() as p:
            page = logged_in(p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS), demo.local_url)
            page.get_by_role("tab", name="Topics").click()

            def open_subtopics(topic: Topic) -> str:
                row = page.locator("#tt-topics").get_by_role("row").filter(
                    has=page.get_by_role("gridcell", name=topic.label, exact=True))
                row.get_by_role("gridcell", name=render.SHOW_SUBTOPICS).first.click()
                heading = page.locator("#tt-subtopics-heading")
                heading.get_by_text(f"topic {topic.id}: {topic.label}").wait_for(timeout=60_000)
                page.wait_for_function("!document.querySelector('#tt-subtopics-heading').innerText.includes"
                                       "('Finding')", timeout=60_000)
                return heading.inner_text()

            said = open_subtopics(split)
            assert f"{len(found[split.id].parts)} parts" in said and "labelled by their keywords" in said
            table = page.locator("#tt-subtopics")
            table.get_by_role("gridcell", name=found[split.id].parts[0].label, exact=True).wait_for(timeout=30_000)
            text = table.inner_text()
            assert all(p.label in text and f"{split.id}.{p.number}" in text for p in found[split.id].parts)
            assert page.get_by_role("tab", name="Topics", selected=True).count() == 1  # still here
            assert llm.calls == []  # the table never waits for the model
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "subtopics.png"), full_page=True)

            said = open_subtopics(whole)
            assert "has no subtopics" in said and found[whole.id].why_none in said
            assert not table.is_visible()

            named = opened.snapshot().subtopics(split.id, llm)  # the chat opens it: one call names the parts, kept
            by_llm = [p.label for p in named.parts if p.label_source == "llm"]
            assert by_llm, [p.label_source for p in named.parts]
            assert "labelled by the chat's model" in open_subtopics(split)
            table.get_by_role("gridcell", name=by_llm[0], exact=True).wait_for(timeout=30_000)
            assert len(llm.calls) == 1  # the chat's labels, read from the cache, not asked again
            page.context.close()
    finally:
        demo.close()
