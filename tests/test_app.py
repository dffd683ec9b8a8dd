"""The app's pure parts, without a server or a browser: table search, map figure and
sampling, sources HTML, session streaming. Logins and the request guard: tests/test_security.py."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.fakes import FakeLLM
from topictalk.agent.conversation import Reply, Source
from topictalk.agent.llm import Background
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import Topic
from topictalk.ui import app, render
from topictalk.ui import map as map_mod


def topic(i: int, size: int, label: str, keywords: list[str]) -> Topic:
    return Topic(id=i, size=size, label=label, label_source="llm" if i >= 0 else "outliers", keywords=keywords)


TOPICS = [
    topic(-1, 50, "Outliers", ["noise"]),
    topic(0, 40, "Graph neural networks", ["graph", "node", "gnn"]),
    topic(1, 90, "Reinforcement learning for robots", ["policy", "reward", "robot"]),
    topic(2, 10, "Speech recognition", ["speech", "asr", "audio"]),
]


def points(sizes: dict[int, int], seed: int = 0) -> map_mod.Points:
    rng = np.random.default_rng(seed)
    topics = np.concatenate([np.full(n, t, np.int32) for t, n in sizes.items()])
    x = rng.normal(size=len(topics)).astype(np.float32) + topics * 10
    y = rng.normal(size=len(topics)).astype(np.float32)
    return map_mod.Points(x, y, topics, [f"paper {i}" for i in range(len(topics))], len(topics))


# -- topics table ------------------------------------------------------------------------------
def test_topic_rows_are_real_topics_biggest_first():
    rows = render.topic_rows(TOPICS)
    assert [r[0] for r in rows] == [1, 0, 2]
    assert rows[0] == [1, 90, "Reinforcement learning for robots", "", "policy, reward, robot", "", render.SHOW_SUBTOPICS]


def test_map_labels_never_overlap_on_a_phone_and_every_point_names_its_topic():
    # on a 390-px phone the labels overlapped and were cut, and the legend squashed the points (issue 33, item 7)
    where = {0: (0.0, 0.0), 1: (0.05, 0.0), 2: (10.0, 10.0)}  # 0 and 1 would print over each other
    labels = {0: "Graph neural networks", 1: "Speech recognition", 2: "Robots"}
    assert map_mod.placed(where, labels, {0: 5, 1: 50, 2: 1}) == [1, 2]  # the bigger of the two is kept
    assert map_mod.placed({0: (0.0, 0.0), 1: (10.0, 0.0)}, labels, {0: 1, 1: 1}) == [0, 1]  # room for both
    pts = points({0: 30, 1: 20, 2: 10})
    on_zero = pts.topic == 2  # topic 2's points on top of topic 0's first ten: its label would cover 0's
    x, y = pts.x.copy(), pts.y.copy()
    x[on_zero], y[on_zero] = pts.x[:10] + 0.01, pts.y[:10] + 0.01
    near = map_mod.Points(x, y, pts.topic, pts.title, pts.total)
    fig = map_mod.figure(near, {0: "Graph neural networks", 1: "Speech", 2: "Robots on graphs"})
    shown = {a.text for a in fig.layout.annotations if a.visible is not False}
    assert shown == {"Graph neural networks", "Speech"}  # 2 sits on 0: not in the full view
    assert all(a.name.startswith("topic:") for a in fig.layout.annotations)  # a zoom in reveals more (issue 27)
    assert any("topic 2: Robots on graphs" in h for tr in fig.data for h in tr.hovertext)  # named on its points
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.yanchor == "top"  # under the plot


def test_a_topic_description_shows_in_the_table_and_on_its_map_label():
    # issue 26: descriptions shown in the table and the map's hover, not only in topics --json
    about = ("These papers train robot policies from rewards in simulation. They transfer them to real arms "
             "with domain randomization and study how much real data is needed.")
    described = [Topic(**{**t.__dict__, "description": about if t.id == 1 else ""}) for t in TOPICS]
    rows = {r[0]: r for r in render.topic_rows(described)}
    about_at = render.TOPIC_COLUMNS.index("About")
    assert rows[1][about_at] == "These papers train robot policies from rewards in simulation."
    assert rows[0][about_at] == ""
    assert [r[0] for r in render.filter_rows(list(rows.values()), "simulation")] == [1]  # the search reads it
    fig = map_mod.figure(points({0: 30, 1: 20, 2: 10}), map_mod.labels_of(described),
                         descriptions=map_mod.descriptions_of(described))
    hover = {a.text: a.hovertext for a in fig.layout.annotations}
    assert "domain randomization" in hover["Reinforcement learning for robots"].replace("<br>", " ")
    assert "<br>" in hover["Reinforcement learning for robots"]  # wrapped, not one line across the map
    assert not any("randomization" in h for label, h in hover.items() if label != "Reinforcement learning for robots")


def test_every_topic_table_column_has_its_type_and_width():
    # four types and widths for five columns once pushed the Theme column out of the table
    rows = render.topic_rows(TOPICS)
    assert len(render.TOPIC_COLUMNS) == len(render.TOPIC_TYPES) == len(render.TOPIC_WIDTHS) == len(rows[0])
    assert sum(float(w.rstrip("%")) for w in render.TOPIC_WIDTHS) == 100
    assert [type(cell) is int for cell in rows[0]] == [kind == "number" for kind in render.TOPIC_TYPES]


def test_topic_rows_are_grouped_by_theme_and_the_map_is_colored_by_theme():
    from topictalk.indexing.schema import Theme

    themed = [Topic(**{**t.__dict__, "theme": 0 if t.id in (0, 2) else 1}) for t in TOPICS]
    themes = [Theme(0, 110, "Graphs and Speech", "llm", [0, 2]), Theme(1, 90, "Robots", "llm", [1])]
    rows = render.topic_rows(themed, themes)
    assert [(r[0], r[render.TOPIC_COLUMNS.index("Theme")]) for r in rows] == [(0, "Graphs and Speech"), (2, "Graphs and Speech"), (1, "Robots")]
    pts = points({0: 30, 1: 20, 2: 10})
    pts = map_mod.Points(pts.x, pts.y, pts.topic, pts.title, pts.total, np.where(pts.topic == 1, 1, 0))
    fig = map_mod.figure(pts, map_mod.labels_of(themed), theme_labels=map_mod.labels_of(themes))
    assert [tr.name for tr in fig.data] == ["theme 0: Graphs and Speech", "theme 1: Robots"]
    # one topic a theme but theme 0: themes are a level, named zoomed out; the topics from zoom 2 on
    names = {a.name: [] for a in fig.layout.annotations}
    for a in fig.layout.annotations:
        names[a.name].append((a.text, a.visible is not False))
    assert sorted(names["theme"]) == [("<b>Graphs and Speech</b>", True), ("<b>Robots</b>", True)]
    topics = [pair for name, pairs in names.items() if name.startswith("topic:") for pair in pairs]
    assert sorted(text for text, _ in topics) == sorted(t.label for t in themed if not t.is_outlier)
    assert not any(visible for _, visible in topics)
    one_each = map_mod.Points(pts.x, pts.y, pts.topic, pts.title, pts.total, pts.topic.copy())
    fig = map_mod.figure(one_each, map_mod.labels_of(themed), theme_labels={t.id: t.label for t in themed})
    assert all(a.name == "topic:1" and a.visible for a in fig.layout.annotations)  # no theme level to name


def test_a_crowded_topic_label_gets_the_zoom_that_has_room_for_it():
    where = {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (10.0, 10.0)}
    labels = {0: "Graph neural networks", 1: "Speech recognition", 2: "Robots"}
    level = map_mod.zooms(where, labels, {0: 5, 1: 50, 2: 1}, (10.0, 10.0))
    assert level[1] == 1 and level[2] == 1 and level[0] > 1  # 0 overlaps the bigger 1 in the full view
    assert map_mod.zooms(where, labels, {0: 5, 1: 50, 2: 1}, (10.0, 10.0), first=2) == {1: 2, 2: 2, 0: level[0]}


@pytest.mark.parametrize("query, ids", [
    ("", [1, 0, 2]),
    ("GRAPH", [0]),  # any case
    ("robot reward", [1]),  # every word must match, in any column
    ("speech graph", []),
    ("90", [1]),  # sizes are searchable too
])
def test_filter_rows(query, ids):
    assert [r[0] for r in render.filter_rows(render.topic_rows(TOPICS), query)] == ids


def test_a_search_counts_only_its_first_characters():
    # the search runs outside the queue on every keystroke: a 63 kB query must cost what 200 characters cost
    rows = render.topic_rows(TOPICS)
    assert [r[0] for r in render.filter_rows(rows, "graph" + " " * render.MAX_SEARCH_CHARS + "speech")] == [0]
    assert [r[0] for r in render.filter_rows(rows, "graph speech")] == []  # within the cap, every word counts


def test_example_questions_name_a_real_topic():
    examples = render.example_questions(TOPICS)
    assert examples == ["What is this corpus about?", "What are the biggest topics?",
                        "Are there topics about Reinforcement learning for robots?", "Tell me about topic 0"]
    assert render.example_questions([TOPICS[0]]) == examples[:2]  # only outliers: nothing to name


# -- sources -----------------------------------------------------------------------------------------
def source(n: int, text: str = "Full <b>abstract</b>\n\nwith two paragraphs.") -> Source:
    return Source(n, f"id{n}", f"Title {n} & more", 3, "Graph <nets>", "A snippet ...", text)


def test_only_cited_numbers_become_links_to_their_cards():
    markup = "A [1], B [2] and [3]".replace("[", "&#91;").replace("]", "&#93;")
    linked = render.linked_citations(markup, [1, 3])
    assert linked.count('class="tt-cite ') == 2 and "tt-n-1" in linked and "tt-n-3" in linked
    assert "B &#91;2&#93; and" in linked  # not a source of this answer: left as text


def test_the_empty_chat_says_what_the_collection_holds():
    from topictalk.indexing.schema import Brief, BriefLine, Theme

    themes = [Theme(0, 110, "Graphs <and> Speech", "llm", [0, 2]), Theme(1, 90, "Robots", "llm", [1])]
    brief = Brief("200 documents in 3 topics. <b>Mostly</b> graphs.", [BriefLine(0, "topics such as graph nets and ASR.", ["a"]),
                                                  BriefLine(1, "robot policies from rewards.", ["b"])])
    text = render.welcome(brief, themes, TOPICS)
    assert "200 documents in 3 topics. &lt;b&gt;Mostly&lt;/b&gt; graphs." in text and "Ask about it" in text
    assert "graph nets and ASR" not in text  # the theme lines are the overview answer's, not the first view's
    assert "**Graphs &lt;and&gt; Speech** (110 documents)" in render.welcome(None, themes, TOPICS)  # no brief
    plain = render.welcome(None, [], TOPICS)  # an index without a brief or themes: its biggest topics
    assert "**Reinforcement learning for robots** (90 documents)" in plain


def test_sources_show_title_topic_snippet_and_fold_out_the_full_text():
    out = render.format_sources([source(1)])
    assert "[1] Title 1 &amp; more" in out and "topic 3: Graph &lt;nets&gt;" in out and "A snippet ..." in out
    assert "<details><summary>Full text</summary>Full &lt;b&gt;abstract&lt;/b&gt; with two paragraphs.</details>" in out
    assert "\n" not in out  # one HTML block: a blank line would hand the rest to markdown


def test_answer_lists_cited_sources_or_says_none_were_cited():
    labels = {3: "Graph nets"}
    cited = render.answer_markdown(Reply("q", "Answer [1].", "topic", [source(1)], [source(1), source(2)], [3]), labels)
    assert "<b>Sources</b>" in cited and "Title 2" not in cited and "<b>Topics</b> 3: Graph nets" in cited
    uncited = render.answer_markdown(Reply("q", "Answer.", "topic", [], [source(1), source(2)], [3]), labels)
    assert "none cited" in uncited and "Title 2" in uncited
    bare = render.answer_markdown(Reply("q", "", "off_corpus", [], [], []), labels)
    assert bare == '(no answer)\n\n<div class="tt-footer"></div>'  # the footer marks a finished answer


class FakeResponse:
    def __init__(self, chunks: list[str]) -> None:
        from types import SimpleNamespace

        self.chunks, self.closed, self.sent = chunks, False, []
        self.context = SimpleNamespace(sources=[source(1)])  # found before the model writes
        self._stream = self._gen()

    def _gen(self):
        try:
            for c in self.chunks:
                self.sent.append(c)
                yield c
        finally:
            self.closed = True

    def __iter__(self):
        return self._stream

    def reply(self) -> Reply:
        return Reply("q", "".join(self.sent), "topic", [source(1)], [source(1)], [3])


class FakeConversation:
    def __init__(self) -> None:
        self.responses: list[FakeResponse] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def respond(self, question: str) -> FakeResponse:
        if not question.strip():
            raise TopictalkError("the question is empty")
        if question == "too long":
            raise TopictalkError("the model's context cannot hold this question")
        self.responses.append(FakeResponse(["Graph ", "nets ", "[1]."]))
        return self.responses[-1]


def fake_parts():
    from types import SimpleNamespace

    index = SimpleNamespace(topics=TOPICS)
    return app.AppParts(index, model=None)


def test_stream_answer_grows_then_ends_with_sources():
    session = app.ChatSession(FakeConversation())
    steps = [[dict(m) for m in messages] for messages, _ in app.stream_answer(fake_parts(), session, " Graphs? ")]
    assert steps[0] == [{"role": "user", "content": "Graphs?"}]  # the question shows at once
    texts = [s[-1]["content"] for s in steps[1:]]
    # the sources show before the model's first word, then stay under the streaming answer
    assert "Reading these sources" in texts[0] and "[1] Title 1" in texts[0] and "tt-footer" not in texts[0]
    streamed = [t.split('\n\n<div class="tt-pending">') for t in texts[1:4]]
    assert [head for head, _ in streamed] == ["Graph ", "Graph nets ", "Graph nets &#91;1&#93;."]  # brackets escaped
    assert all("[1] Title 1" in pending for _, pending in streamed)
    # the finished answer's citation links to its source card (item 11 of issue 33)
    assert texts[-1].startswith('Graph nets <a class="tt-cite tt-n-1" href="#">&#91;1&#93;</a>.')
    assert "tt-footer" in texts[-1] and '<div class="tt-source tt-src-1"><b>[1] Title 1' in texts[-1]
    assert "tt-pending" not in texts[-1]
    assert session.last_question == "Graphs?" and len(session.messages) == 2


def test_stopping_closes_the_agent_stream_and_keeps_the_partial_answer():
    conversation = FakeConversation()
    session = app.ChatSession(conversation)
    gen = app.stream_answer(fake_parts(), session, "Graphs?")
    next(gen), next(gen), next(gen)  # the question, the sources found, then the first chunk
    gen.close()  # what gradio does on Stop
    assert conversation.responses[0].closed  # the model is released at once, not at garbage collection
    assert session.messages[-1]["content"] == "Graph " and not session.lock.locked()


def test_failures_show_one_generic_line_and_log_the_details(caplog):
    class Leaky(FakeConversation):
        def respond(self, question):
            raise TopictalkError("cannot reach http://svc:s3cret@10.0.0.7:8000/v1 for /srv/private/index")

    session = app.ChatSession(FakeConversation())
    *_, (messages, _) = app.stream_answer(fake_parts(), session, "too long")
    assert messages[-1] == {"role": "assistant", "content": app.FAILED}
    *_, (messages, _) = app.stream_answer(fake_parts(), session, "   ")  # nothing asked, nothing shown
    assert len(messages) == 2
    with caplog.at_level("ERROR", logger="topictalk.app"):
        *_, (messages, _) = app.stream_answer(fake_parts(), app.ChatSession(Leaky()), "hi")
    shown = " ".join(m["content"] for m in messages)
    assert "s3cret" not in shown and "10.0.0.7" not in shown and "/srv/private" not in shown
    assert messages[-1]["content"] == app.FAILED and "s3cret@10.0.0.7" in caplog.text  # the details: in the log


def test_a_long_chat_keeps_its_last_turns_only():
    session = app.ChatSession(FakeConversation())
    for i in range(30):
        list(app.stream_answer(fake_parts(), session, f"question {i}"))
    assert len(session.messages) == app.MAX_SHOWN_MESSAGES
    assert session.messages[0] == {"role": "user", "content": "question 10"}  # whole turns, oldest dropped


def test_sessions_are_separate_and_clear_resets():
    a, b = app.ChatSession(FakeConversation()), app.ChatSession(FakeConversation())
    list(app.stream_answer(fake_parts(), a, "first"))
    assert b.messages == [] and len(a.messages) == 2
    import copy

    assert copy.deepcopy(a) is a  # gradio may deep-copy state; the conversation must stay one object
    shown, kept = app.clear_session(a)
    assert shown == [] and kept is a and a.messages == [] and a.conversation.resets == 1
    assert app.clear_session(None) == ([], None)  # Clear before any question


def test_concurrency_is_what_the_runtime_declares_not_its_class_name():
    class Batching:
        concurrency = 8

    class OpenAIModel:  # the name the old check looked for, without the attribute
        pass

    assert app.concurrency_for(Batching()) == 8
    assert app.concurrency_for(OpenAIModel()) == 1
    assert app.concurrency_for(FakeLLM()) == 1  # a runtime that declares nothing runs one answer at a time


# -- map -------------------------------------------------------------------------------------------------
def test_sample_keeps_every_topic_and_their_shares_reproducibly():
    pts = points({-1: 3000, 0: 20000, 1: 6997, 2: 3})
    shown = map_mod.sample(pts, 1000)
    assert len(shown) == 1000 and shown.total == 30000 and shown.sampled
    counts = dict(zip(*np.unique(shown.topic, return_counts=True)))
    assert set(counts) == {-1, 0, 1, 2} and counts[2] >= 1
    assert abs(counts[0] - 1000 * 20000 / 30000) <= 2
    again = map_mod.sample(pts, 1000)
    assert again.title == shown.title and np.array_equal(again.x, shown.x)
    assert map_mod.sample(pts, 40000) is pts  # small enough: untouched


def test_sample_with_more_topics_than_room_still_keeps_each():
    pts = points({t: 5 for t in range(50)})
    shown = map_mod.sample(pts, 60)
    assert len(shown) == 60 and set(shown.topic) == set(range(50))


def test_figure_colors_by_topic_labels_centers_and_fades_outliers():
    pts = points({-1: 20, 0: 30, 1: 30})
    # topics far enough apart that both labels fit a phone's plot (closer, the smaller label is left off)
    pts = map_mod.Points(pts.x + 30 * (pts.topic == 1), pts.y, pts.topic, pts.title, pts.total)
    fig = map_mod.figure(pts, map_mod.labels_of(TOPICS))
    names = [t.name for t in fig.data]
    assert names[0] == "outliers" and names[1:] == ["0: Graph neural networks", "1: Reinforcement learning for robots"]
    outliers = fig.data[0]
    assert outliers.marker.color == map_mod.OUTLIER_COLOR and outliers.marker.opacity < fig.data[1].marker.opacity
    assert list(fig.data[1].hovertext[:2]) == [f"paper {i}<br><i>topic 0: Graph neural networks</i>"
                                                for i in (20, 21)]  # titles on hover, with their topic
    notes = {a.text: (a.x, a.y) for a in fig.layout.annotations}
    assert set(notes) == {"Graph neural networks", "Reinforcement learning for robots"}  # no label for outliers
    assert notes["Graph neural networks"][0] == pytest.approx(float(np.median(pts.x[pts.topic == 0])))
    assert "80 documents" in fig.layout.title.text and "sample" not in fig.layout.title.text


def test_figure_beyond_the_limit_is_sampled_and_says_so():
    pts = points({-1: 100, 0: 300, 1: 100})
    fig = map_mod.figure(pts, map_mod.labels_of(TOPICS), max_points=50)
    assert sum(len(t.x) for t in fig.data) == 50
    assert "sample of 50 of 500 documents" in fig.layout.title.text


def test_static_map_writes_a_png(tmp_path):
    out = map_mod.static_map(points({-1: 50, 0: 100, 1: 100}), map_mod.labels_of(TOPICS), tmp_path / "m" / "map.png",
                             dpi=40)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_reuses_an_index_only_for_the_same_corpus():
    from topictalk.ui.cli import _reusable

    m = {"corpus": {"source": "hf:CShorten/ML-ArXiv-Papers (train)", "documents": 8000, "sampled_from": 117000},
         "models": {"embedding_name": "bundled"}}
    assert _reusable(m, "hf:CShorten/ML-ArXiv-Papers (train)", 8000, "bundled") is None
    assert "not a sample of 500" in _reusable(m, "hf:CShorten/ML-ArXiv-Papers (train)", 500, "bundled")
    assert "not all" in _reusable(m, "hf:CShorten/ML-ArXiv-Papers (train)", None, "bundled")
    assert "built from" in _reusable(m, "files: a.csv", 8000, "bundled")
    assert "embedding model" in _reusable(m, "hf:CShorten/ML-ArXiv-Papers (train)", 8000, "BAAI/bge-small-en")
    small = {"corpus": {"source": "files: a.csv", "documents": 300, "sampled_from": None},
             "models": {"embedding_name": "bundled"}}
    assert _reusable(small, "files: a.csv", 8000, "bundled") is None  # fewer documents than the limit: all of them
    assert _reusable(small, "files: a.csv", None, "bundled") is None
    # a demo closed before the model's labels were all written is built again (its caches keep what was done)
    assert "keyword labels only" in _reusable({**small, "labels_pending": True}, "files: a.csv", None, "bundled")



@pytest.mark.parametrize("pending", [True, False])
def test_topics_of_a_demo_closed_before_its_labels_say_how_to_write_them_and_keep_stdout_clean(tmp_path, capsys,
                                                                                                  pending):
    import json

    from topictalk.indexing import store
    from topictalk.ui import cli

    writer = store.begin(store.connect(store.Location(path=tmp_path)))
    writer.write_topics([Topic(0, 2, "speech, audio", "keywords", ["speech", "audio"], embedding=np.ones(4, np.float32))])
    writer.commit({"corpus": {"documents": 2}, **({"labels_pending": True} if pending else {})})
    assert cli.main(["topics", "--index-dir", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert [t["label"] for t in json.loads(out)["topics"]] == ["speech, audio"]  # stdout: the JSON alone
    assert ("keyword labels only" in err and "`topictalk demo` command again" in err) == pending

# -- what model and document text may become in the page ----------------------------------------------
HOSTILE = ('See ![chart](https://tracker.example/p.png?q=secret) and <img src="https://tracker.example/i.png"> '
           '[docs](https://example.org/a) [x](javascript:alert(1)) www.example.net ![r][ref]\n\n'
           '[ref]: https://tracker.example/ref.png')


def test_answers_load_nothing_and_links_get_nofollow():
    out = render.answer_markdown(Reply("q", HOSTILE, "search", [], [source(1, HOSTILE)], []), {})
    body = out.split('<div class="tt-footer">')[0]
    assert "<img" not in out and "![" not in body  # no image, raw or Markdown, in the answer or the sources
    assert "[image not shown: chart]" in body.replace("&#91;", "[").replace("&#93;", "]")
    assert '<a href="https://example.org/a" rel="noopener noreferrer nofollow">docs</a>' in body
    assert 'href="javascript' not in out and "www.example" not in body  # no link the browser would make
    assert "&lt;img" in body  # raw HTML is shown as text
    assert "<img" not in out.split('<div class="tt-footer">')[1]  # document text in the sources, escaped


def test_streamed_chunks_are_escaped_before_they_reach_the_page():
    class Hostile(FakeConversation):
        def respond(self, question):
            self.responses.append(FakeResponse(["Look ", "![](https://tracker.example/", "p.png?q=1)", " done"]))
            return self.responses[-1]

    session = app.ChatSession(Hostile())
    steps = [m[-1]["content"] for m, _ in app.stream_answer(fake_parts(), session, "![](https://x.example/q.png)")]
    assert all("![" not in s and "<img" not in s for s in steps)  # the question too
    assert "![" not in session.messages[0]["content"]


def test_an_over_long_question_is_cut_in_the_chat_and_refused():
    class Strict(FakeConversation):
        def respond(self, question):
            from topictalk.agent.conversation import checked_question

            checked_question(question)
            return super().respond(question)

    session = app.ChatSession(Strict())
    *_, (messages, _) = app.stream_answer(fake_parts(), session, "any topic " * 10_000)
    assert len(messages[0]["content"]) <= 4_010 and messages[0]["content"].endswith("…")
    assert "limited to 4,000" in messages[-1]["content"] and session.conversation.responses == []


@pytest.mark.parametrize("spec, shown", [
    ("bundled", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (bundled)"),
    ("llama-cpp:/home/ann/secret/models/llama-2-13b-chat.Q4_K_M.gguf?n_ctx=4096", "llama-2-13b-chat.Q4_K_M"),
    ("openai:http://10.0.0.7:8000/v1#meta-llama/Llama-2-13b-chat-hf", "Llama-2-13b-chat-hf"),
    ("hf:/srv/private/Llama-2-13b-chat-hf", "Llama-2-13b-chat-hf"),
    ("fake", "a language model"),
])
def test_visitors_see_a_model_name_not_its_location(spec, shown):
    assert app.public_model_name(spec) == shown


def test_the_page_header_names_no_path_or_address_and_the_box_and_queue_are_bounded():
    from types import SimpleNamespace

    coords = {"ids": ["a", "b"], "x": [0.0, 1.0], "y": [0.0, 1.0], "topic": [0, 1], "title": ["A", "B"]}
    index = SimpleNamespace(topics=TOPICS, themes=[], by_id={t.id: t for t in TOPICS}, reader=SimpleNamespace(
        coordinates=lambda: coords), manifest={"corpus": {"documents": 2, "source": "files: /home/ann/x/p.csv"}})
    model = FakeLLM()
    model.spec = "openai:http://10.0.0.7:8000/v1#org/served-model"
    demo = app.build(app.AppParts(index, model))
    texts = " ".join(str(getattr(b, "value", "")) for b in demo.blocks.values())
    assert "served-model" in texts and "10.0.0.7" not in texts and "/home/ann" not in texts and "p.csv" in texts
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "tt-question")
    assert box.max_length == 4000
    assert demo._queue.max_size == app.QUEUE_SIZE
    # gradio's queue looks for work every QUEUE_POLL_S, not every millisecond: an idle app took ~6% of a core
    # (bench/queue_poll.py); a gradio without these settings fails here, not silently
    assert (demo._queue.sleep_when_free, demo._queue.progress_update_sleep_when_free) == (app.QUEUE_POLL_S,
                                                                                           app.PROGRESS_POLL_S)


# -- command line: bad numbers and settings fail at once, in one line ------------------------------------------
@pytest.mark.parametrize("args, named", [
    (["ask", "hi", "--max-tokens", "0"], "--max-tokens: must be at least 1"),
    (["ask", "hi", "--max-tokens", "-1"], "--max-tokens: must be at least 1"),
    (["index", "--input", "x.csv", "--min-cluster-size", "1"], "--min-cluster-size: must be at least 2"),
    (["index", "--input", "x.csv", "--min-samples", "0"], "--min-samples: must be at least 1"),
    (["index", "--input", "x.csv", "--n-neighbors", "1"], "--n-neighbors: must be at least 2"),
    (["index", "--input", "x.csv", "--ngram-max", "0"], "--ngram-max: must be at least 1"),
    (["index", "--input", "x.csv", "--min-dist", "2"], "--min-dist: must be between 0 and 1"),
    (["chat", "--map-points", "-5"], "--map-points: must be at least 1"),
    (["chat", "--host", "0.0.0.0"], "--host 0.0.0.0 puts the corpus and the model on every machine"),
    (["chat", "--share", "--auth", "ann:short"], "needs at least 8"),
    (["ask", "topic " + "9" * 5000], "questions are limited to 4,000"),
])
def test_cli_refuses_bad_values_in_one_line_before_any_work(tmp_path, args, named):
    out = run_cli(*args, "--index-dir", str(tmp_path / "none"), check=False, timeout=120)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and named in lines[0], out.stderr[-500:]
    assert not (tmp_path / "none").exists()


@pytest.mark.slow  # loads MiniLM in the CLI to learn its dimension
def test_wrong_dimension_embeddings_are_refused_in_one_line(tmp_path):
    (tmp_path / "d.csv").write_text("text\n" + "".join(f"document number {i} about graphs\n" for i in range(30)))
    np.save(tmp_path / "e.npy", np.ones((30, 10), np.float32))  # MiniLM gives 384
    out = run_cli("index", "--input", str(tmp_path / "d.csv"), "--embeddings", str(tmp_path / "e.npy"), "--no-llm",
                  "--index-dir", str(tmp_path / "idx"), "--quiet", check=False, timeout=300)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "have 10 dimensions but the embedding model gives 384" in lines[-1], out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow  # opens a socket (a free port) and runs the CLI against it
def test_an_unreachable_hub_fails_fast_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import free_port

    offline = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    env = {k: v for k, v in os.environ.items() if k not in offline}
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused at once, no network used
    env["HF_HOME"] = str(tmp_path / "hf")  # an empty cache
    out = subprocess.run([sys.executable, "-m", "topictalk.ui.cli", "index", "--dataset", "someone/papers", "--index-dir",
                          str(tmp_path / "idx"), "--quiet"], capture_output=True, text=True, timeout=120, env=env)
    lines = out.stderr.strip().splitlines()
    # one line, the connection check's, so datasets.load_dataset never ran: reached, it retries five times
    # over about 30 s, and its failure reads "could not reach Hugging Face dataset" (not timed: no timed tests)
    assert out.returncode == 2 and len(lines) == 1 and "cannot reach the Hugging Face hub" in lines[0], out.stderr
    assert "could not reach Hugging Face dataset" not in out.stderr


def test_demo_reuses_an_index_only_for_the_same_files(tmp_path):
    from topictalk.ui.cli import _reusable

    m = {"corpus": {"source": "files: papers.csv", "documents": 300, "sampled_from": None,
                    "inputs": [str(tmp_path / "a" / "papers.csv")]}, "models": {"embedding_name": "bundled"}}
    assert _reusable(m, "files: papers.csv", None, "bundled", [str(tmp_path / "a" / "papers.csv")]) is None
    why = _reusable(m, "files: papers.csv", None, "bundled", [str(tmp_path / "b" / "papers.csv")])
    assert why == f"it was built from {tmp_path / 'a' / 'papers.csv'}"
    old = {**m, "corpus": {k: v for k, v in m["corpus"].items() if k != "inputs"}}
    assert "does not record" in _reusable(old, "files: papers.csv", None, "bundled", [str(tmp_path / "a.csv")])


def test_demo_loads_the_model_once_for_labels_and_chat(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from topictalk.agent import models, retrieval
    from topictalk.indexing import pipeline
    from topictalk.ui import cli

    loaded, used = [], []

    def load(spec=None):
        loaded.append(FakeLLM())
        return loaded[-1]

    def build(corpus, index_dir, settings, llm, ready=None, **kw):
        used.append(llm)
        if ready is not None:  # the topics are committed: the chat may open while the model labels them
            ready(1)
        return SimpleNamespace(topics=[], themes=[], manifest={
            "counts": {"topics": 0, "themes": 0, "outliers": 0, "outlier_share": 0.0, "placed": 0},
            "corpus": {"documents": len(corpus)},
            "generation": 1, "timings": {"total": 0.0}})

    monkeypatch.setattr(models, "load", load)
    monkeypatch.setattr(pipeline, "build", build)
    monkeypatch.setattr(retrieval.TopicIndex, "open", classmethod(lambda cls, location, embedder=None: "index"))
    monkeypatch.setattr(app, "build", lambda parts, **kw: used.append(parts.model))
    monkeypatch.setattr(app, "serve", lambda demo, options, log=print: None)
    (tmp_path / "p.csv").write_text("text\none\ntwo\nthree\n")
    cli.main(["demo", "--input", str(tmp_path / "p.csv"), "--limit", "3", "--index-dir", str(tmp_path / "idx")])
    # one model labels the topics (on a CPU behind the chat's questions: agent/priority.py) and chats
    assert len(loaded) == 1 and isinstance(used[0], Background) and used[0].model is loaded[0] and used[1] is loaded[0]


def test_the_map_draws_titles_and_labels_as_text_not_markup():
    pts = points({0: 5, 1: 5})
    pts.title[0] = '<a href="https://phish.example">click</a>'
    fig = map_mod.figure(pts, {0: "<b>Bold</b> <a href='https://x.example'>label</a>", 1: "Plain"})
    texts = [a.text for a in fig.layout.annotations] + [t.name for t in fig.data] + list(fig.data[0].hovertext)
    assert not any("<a" in t or "<b>" in t for t in texts)  # <br> and <i> are the map's own
    assert fig.data[0].hovertext[0].startswith("&lt;a href=\"https://phish.example\"&gt;click&lt;/a&gt;<br>")


@pytest.mark.parametrize("offline", [True, pytest.param(False, marks=pytest.mark.slow)])  # False opens a socket
def test_demo_indexes_the_bundled_sample_when_the_hub_cannot_be_reached(tmp_path, monkeypatch, capsys, offline):
    from types import SimpleNamespace

    from tests.conftest import free_port
    from topictalk.agent import models, retrieval
    from topictalk.indexing import pipeline, sample
    from topictalk.ui import cli

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: no copy of the reference dataset
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HOME", str(tmp_path / "hf"))
    if not offline:
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens: refused at once
    built = []

    def build(corpus, index_dir, settings, llm, ready=None, **kw):
        built.append(corpus)
        if ready is not None:
            ready(1)
        return SimpleNamespace(topics=[], themes=[], manifest={
            "counts": {"topics": 0, "themes": 0, "outliers": 0, "outlier_share": 0.0, "placed": 0}, "corpus": {"documents": len(corpus)},
            "generation": 1, "timings": {"total": 0.0}})

    monkeypatch.setattr(models, "load", lambda spec=None: FakeLLM())
    monkeypatch.setattr(pipeline, "build", build)
    monkeypatch.setattr(retrieval.TopicIndex, "open", classmethod(lambda cls, location, embedder=None: "index"))
    monkeypatch.setattr(app, "build", lambda parts, **kw: None)
    monkeypatch.setattr(app, "serve", lambda demo, options, log=print: None)
    monkeypatch.setattr(cli, "_has_gpu", lambda: False)
    assert cli.main(["demo", "--index-dir", str(tmp_path / "idx")]) == 0
    assert len(built) == 1 and built[0].inputs == [str(sample.PATH)]
    assert len(built[0]) == cli.CPU_SAMPLE and built[0].sampled_from == sample.DOCUMENTS
    said = [line for line in capsys.readouterr().err.splitlines() if "bundled sample" in line]
    assert len(said) == 1 and ("HF_HUB_OFFLINE" if offline else "cannot reach the Hugging Face hub") in said[0]
