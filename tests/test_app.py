"""The app's pure parts, without a server or a browser: table search, map figure and
sampling, sources HTML, login parsing, and `--share` refused without a login."""

from __future__ import annotations

import numpy as np
import pytest

from agent.conversation import Reply, Source
from indexing.errors import TopictalkError
from indexing.schema import Topic
from tests.conftest import run_cli
from ui import app
from ui import map as map_mod


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
    rows = app.topic_rows(TOPICS)
    assert [r[0] for r in rows] == [1, 0, 2]
    assert rows[0] == [1, 90, "Reinforcement learning for robots", "policy, reward, robot"]


@pytest.mark.parametrize("query, ids", [
    ("", [1, 0, 2]),
    ("GRAPH", [0]),  # any case
    ("robot reward", [1]),  # every word must match, in any column
    ("speech graph", []),
    ("90", [1]),  # sizes are searchable too
])
def test_filter_rows(query, ids):
    assert [r[0] for r in app.filter_rows(app.topic_rows(TOPICS), query)] == ids


def test_example_questions_name_a_real_topic():
    examples = app.example_questions(TOPICS)
    assert examples == ["What is this corpus about?", "What are the biggest topics?",
                        "Are there topics about Reinforcement learning for robots?", "Tell me about topic 0"]
    assert app.example_questions([TOPICS[0]]) == examples[:2]  # only outliers: nothing to name


# -- sources -----------------------------------------------------------------------------------------
def source(n: int, text: str = "Full <b>abstract</b>\n\nwith two paragraphs.") -> Source:
    return Source(n, f"id{n}", f"Title {n} & more", 3, "Graph <nets>", "A snippet ...", text)


def test_sources_show_title_topic_snippet_and_fold_out_the_full_text():
    out = app.format_sources([source(1)])
    assert "[1] Title 1 &amp; more" in out and "topic 3: Graph &lt;nets&gt;" in out and "A snippet ..." in out
    assert "<details><summary>Full text</summary>Full &lt;b&gt;abstract&lt;/b&gt; with two paragraphs.</details>" in out
    assert "\n" not in out  # one HTML block: a blank line would hand the rest to markdown


def test_answer_lists_cited_sources_or_says_none_were_cited():
    labels = {3: "Graph nets"}
    cited = app.answer_markdown(Reply("q", "Answer [1].", "topic", [source(1)], [source(1), source(2)], [3]), labels)
    assert "<b>Sources</b>" in cited and "Title 2" not in cited and "<b>Topics</b> 3: Graph nets" in cited
    uncited = app.answer_markdown(Reply("q", "Answer.", "topic", [], [source(1), source(2)], [3]), labels)
    assert "none cited" in uncited and "Title 2" in uncited
    bare = app.answer_markdown(Reply("q", "", "off_corpus", [], [], []), labels)
    assert bare == '(no answer)\n\n<div class="tt-footer"></div>'  # the footer marks a finished answer


class FakeResponse:
    def __init__(self, chunks: list[str]) -> None:
        self.chunks, self.closed, self.sent = chunks, False, []
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
    assert texts[:3] == ["Graph ", "Graph nets ", "Graph nets [1]."]  # streamed
    assert texts[-1].startswith("Graph nets [1].") and "tt-footer" in texts[-1] and "[1] Title 1" in texts[-1]
    assert session.last_question == "Graphs?" and len(session.messages) == 2


def test_stopping_closes_the_agent_stream_and_keeps_the_partial_answer():
    conversation = FakeConversation()
    session = app.ChatSession(conversation)
    gen = app.stream_answer(fake_parts(), session, "Graphs?")
    next(gen), next(gen)  # the question, then the first chunk
    gen.close()  # what gradio does on Stop
    assert conversation.responses[0].closed  # the model is released at once, not at garbage collection
    assert session.messages[-1]["content"] == "Graph " and not session.lock.locked()


def test_errors_become_chat_messages():
    session = app.ChatSession(FakeConversation())
    *_, (messages, _) = app.stream_answer(fake_parts(), session, "too long")
    assert messages[-1] == {"role": "assistant", "content": "⚠️ the model's context cannot hold this question"}
    *_, (messages, _) = app.stream_answer(fake_parts(), session, "   ")  # nothing asked, nothing shown
    assert len(messages) == 2


def test_sessions_are_separate_and_clear_resets():
    a, b = app.ChatSession(FakeConversation()), app.ChatSession(FakeConversation())
    list(app.stream_answer(fake_parts(), a, "first"))
    assert b.messages == [] and len(a.messages) == 2
    import copy

    assert copy.deepcopy(a) is a  # gradio may deep-copy state; the conversation must stay one object
    shown, kept = app.clear_session(a)
    assert shown == [] and kept is a and a.messages == [] and a.conversation.resets == 1
    assert app.clear_session(None) == ([], None)  # Clear before any question


def test_concurrency_follows_the_runtime():
    class LlamaCppModel: ...

    class OpenAIModel: ...

    assert app.concurrency_for(LlamaCppModel()) == 1
    assert app.concurrency_for(OpenAIModel()) == app.SERVER_CONCURRENCY > 1


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
    fig = map_mod.figure(pts, map_mod.labels_of(TOPICS))
    names = [t.name for t in fig.data]
    assert names[0] == "outliers" and names[1:] == ["0: Graph neural networks", "1: Reinforcement learning for robots"]
    outliers = fig.data[0]
    assert outliers.marker.color == map_mod.OUTLIER_COLOR and outliers.marker.opacity < fig.data[1].marker.opacity
    assert list(fig.data[1].hovertext[:2]) == ["paper 20", "paper 21"]  # titles on hover
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


# -- login --------------------------------------------------------------------------------------------
def test_auth_parsing(tmp_path):
    assert app.parse_credential("ann:pa:ss") == ("ann", "pa:ss")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(TopictalkError, match="USER:PASSWORD"):
            app.parse_credential(bad)
    f = tmp_path / "users.txt"
    f.write_text("# team\nann:one\n\n bob:two:2 \n")
    assert app.read_auth_file(f) == [("ann", "one"), ("bob", "two:2")]
    f.write_text("ann:one\nbob\n")
    with pytest.raises(TopictalkError, match="line 2"):
        app.read_auth_file(f)
    with pytest.raises(TopictalkError, match="cannot read --auth-file"):
        app.read_auth_file(tmp_path / "missing.txt")


def test_share_needs_a_login_unless_waived():
    with pytest.raises(TopictalkError, match="--auth"):
        app.resolve_auth(share=True, auth=None, auth_file=None, no_auth=False)
    assert app.resolve_auth(share=True, auth=None, auth_file=None, no_auth=True) is None
    assert app.resolve_auth(share=True, auth="a:b", auth_file=None, no_auth=False) == [("a", "b")]
    assert app.resolve_auth(share=False, auth=None, auth_file=None, no_auth=False) is None
    with pytest.raises(TopictalkError, match="not both"):
        app.resolve_auth(share=False, auth="a:b", auth_file="f", no_auth=False)
    with pytest.raises(TopictalkError, match="contradicts"):
        app.resolve_auth(share=True, auth="a:b", auth_file=None, no_auth=True)


def test_cli_refuses_share_without_login_in_one_line(tmp_path):
    out = run_cli("chat", "--share", "--index-dir", str(tmp_path / "none"), check=False, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("topictalk: error: --share") and "--auth" in lines[0]
    assert not (tmp_path / "none").exists()  # refused before touching the index


def test_demo_reuses_an_index_only_for_the_same_corpus():
    from ui.cli import _reusable

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
