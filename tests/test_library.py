"""The Python API (ui/library.py, exported as ``topictalk.index`` / ``topictalk.open``): what a notebook does."""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from collections import Counter
from datetime import date, timedelta

import pytest

from tests.fakes import FakeLLM
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.sample import PATH as SAMPLE
from topictalk.ui import library

N = 200


def _rows(n: int = N) -> list[dict]:
    """Sample abstracts with a publication month from each new-style arXiv id (2312.10925: 2023-12)."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(n), f)]
    for row in rows:
        if (found := re.fullmatch(r"(\d\d)(\d\d)\.\d+", row["id"])) and 1 <= int(found[2]) <= 12:
            row["published"] = f"20{found[1]}-{found[2]}-01"
    return rows


# -- what index() accepts (no model: the corpus step only) ------------------------------------------------------------
def test_a_list_of_texts_a_dataframe_and_a_dataset_become_the_same_documents():
    import datasets
    import pandas as pd

    rows = _rows(20)
    texts = library._corpus([r["abstract"] for r in rows], None, "train")
    frame = library._corpus(pd.DataFrame(rows), None, "train")
    dataset = library._corpus(datasets.Dataset.from_list(rows), None, "train")
    assert texts.texts == frame.texts == dataset.texts == [r["abstract"] for r in rows]
    # the table's own ids and titles are kept; a bare list gets ids from its texts' hashes, stable across runs
    assert frame.ids == dataset.ids == [r["id"] for r in rows]
    assert frame.titles == [r["title"] for r in rows]
    assert texts.ids == library._corpus([r["abstract"] for r in rows], None, "train").ids
    assert len(set(texts.ids)) == 20


@pytest.mark.parametrize("docs, message", [
    (42, "cannot read a int"),
    ([], "no documents"),
    ([1, 2], "cannot read a list"),
    (None, "one of them"),
])
def test_what_index_cannot_read_is_named_in_one_line(docs, message):
    with pytest.raises(TopictalkError, match=message) as err:
        library._corpus(docs, None, "train")
    assert "\n" not in str(err.value)


def test_a_frame_without_a_text_column_is_told_which_to_name():
    import pandas as pd

    with pytest.raises(TopictalkError, match="no text column .*text_column|--text-column"):
        library._corpus(pd.DataFrame({"a": ["x"], "b": ["y"]}), None, "train")


def test_a_missing_index_is_one_line(tmp_path):
    with pytest.raises(TopictalkError, match="no topic index at"):
        library.open(tmp_path / "nothing-here")


def test_topictalk_exports_the_api_lazily():
    import topictalk

    assert set(topictalk.__all__) == {"Answer", "Chat", "Index", "index", "open"}
    assert topictalk.index is library.index and topictalk.Index is library.Index
    with pytest.raises(AttributeError):
        topictalk.nothing  # noqa: B018


# -- a real index, built from Python ----------------------------------------------------------------------------------
def _answers(messages) -> str:
    """Cites its first source: what a well-behaved model does, so the checks keep the answer."""
    return "The papers study this question [1]."


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import pandas as pd

    path = tmp_path_factory.mktemp("lib") / "index"
    rows = _rows()
    index = library.index(pd.DataFrame(rows), path, llm=FakeLLM(_answers), verbose=False)
    return index, rows


@pytest.mark.slow
def test_the_tables_are_in_bertopics_shape_and_hold_every_document(built):
    index, rows = built
    topics, themes, documents = index.topics(), index.themes(), index.documents()
    assert list(topics.columns[:5]) == ["Topic", "Count", "Name", "Representation", "Representative_Docs"]
    assert topics["Count"].sum() == len(rows) == len(documents)
    assert sorted(documents["id"]) == sorted(r["id"] for r in rows)
    assert set(documents["topic"]) <= set(topics["Topic"])
    assert set(documents["theme"]) - {-1} <= set(themes["Theme"])
    counts = documents["topic"].value_counts()
    assert all(counts[t] == c for t, c in zip(topics["Topic"], topics["Count"]))
    assert repr(index).startswith("topictalk.Index(") and f"{len(rows)} documents" in repr(index)


@pytest.mark.slow
def test_a_reopened_index_reads_the_same_tables(built):
    index, _ = built
    again = library.open(index.location.path)
    assert again.topics()["Label"].tolist() == index.topics()["Label"].tolist()
    assert again.documents()["topic"].tolist() == index.documents()["topic"].tolist()


@pytest.mark.slow
def test_the_map_is_a_figure_of_every_document(built):
    index, rows = built
    fig = index.map()
    shown = sum(len(trace.x) for trace in fig.data if trace.mode == "markers")
    assert shown == len(rows)


@pytest.mark.slow
def test_ask_streams_the_answer_and_cites_indexed_documents(built):
    index, rows = built
    answer = index.ask("How do neural networks learn representations of graphs?")
    chunks = list(answer)
    assert chunks and answer.answer
    assert answer.sources and {s.id for s in answer.sources} <= {r["id"] for r in rows}
    assert set(answer.topics) <= set(index.topics()["Topic"])
    assert "Sources:" in answer._repr_markdown_()


@pytest.mark.slow
def test_a_chat_answers_a_follow_up_from_what_it_showed(built):
    index, _ = built
    chat = index.chat()
    first = chat.ask("What are the biggest topics?")  # an index with themes lists its themes
    assert first.themes
    follow = chat.ask("Tell me more about the first one")
    assert follow.intent == "theme" and follow.themes[:1] == first.themes[:1]


@pytest.mark.slow
def test_serve_returns_a_running_app_when_asked_not_to_block(built):
    index, _ = built
    demo = index.serve(port=7897, block=False)
    try:
        with urllib.request.urlopen(demo.local_url, timeout=30) as page:
            assert page.status == 200 and b"topictalk" in page.read().lower()
    finally:
        demo.close()


@pytest.mark.slow
def test_topics_over_time_and_per_class_are_bertopics_tables_of_the_stored_counts(built):
    index, rows = built
    topic_of = dict(zip(index.documents()["id"], index.documents()["topic"]))
    over_time = index.topics_over_time()
    assert list(over_time.columns[:4]) == ["Topic", "Words", "Frequency", "Timestamp"]
    day = {r["id"]: date.fromisoformat(r["published"]) for r in rows if "published" in r}
    assert len(day) > N // 2, "the fixture needs dated rows"
    # four months of dates: the index counts by week, and a week's Timestamp is its Monday
    expected = Counter((topic_of[i], d - timedelta(days=d.weekday())) for i, d in day.items())
    got = Counter({(t, ts.date()): f for t, ts, f in
                   zip(over_time["Topic"], over_time["Timestamp"], over_time["Frequency"])})
    assert got == expected  # counted from the input file, joined on ids
    yearly = index.topics_over_time("year")
    assert yearly.groupby("Topic")["Frequency"].sum().to_dict() == dict(Counter(topic_of[i] for i in day))

    per_class = index.topics_per_class("categories")
    assert list(per_class.columns[:4]) == ["Topic", "Words", "Frequency", "Class"]
    cs_lg = {t: f for t, c, f in zip(per_class["Topic"], per_class["Class"], per_class["Frequency"]) if c == "cs.LG"}
    assert cs_lg == dict(Counter(topic_of[r["id"]] for r in rows if "cs.LG" in r["categories"].split()))
    with pytest.raises(TopictalkError, match="no field 'authors'.*--facet-field authors"):
        index.topics_per_class("authors")


@pytest.mark.slow
def test_the_readmes_notebook_example_runs_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In a notebook", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    monkeypatch.chdir(tmp_path)  # the example writes papers-index/ where it runs
    monkeypatch.setenv("TOPICTALK_LLM", "bundled-small")  # the 0.5B: the example's calls, in less time
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    idx, reply = scope["idx"], scope["reply"]
    assert (tmp_path / "papers-index").is_dir() and len(idx.documents()) == 300
    assert reply.answer and reply.sources
    # the LLM was asked for every label: the 0.5B's answers mostly fail the label rule and fall back to
    # keywords, which then name the first answer they replaced
    assert idx.manifest["models"]["llm"] == "bundled-small"
    sources = idx.topics()["Label_Source"]
    assert (sources.str.startswith("llm") | sources.str.contains("first answer")).all(), sources.tolist()
    idx.close()


@pytest.mark.slow
def test_time_and_group_questions_are_answered_from_the_counts_of_a_real_index(built):
    """The chat's time and group answers (agent/trends_answers.py) over a real dated index: every count
    the answer gives for a group is one the index counted from the input rows."""
    index, rows = built
    growing = index.ask("What topics are growing?")
    assert growing.intent == "trends" and growing.answer
    common = index.ask("Which topics are most common in cs.LG?")
    assert common.intent == "groups"
    topic_of = dict(zip(index.documents()["id"], index.documents()["topic"]))
    in_group = Counter(topic_of[r["id"]] for r in rows if "cs.LG" in r["categories"].split())
    shown = {int(t): int(n.replace(",", "")) for t, n in re.findall(r"\(topic (-?\d+)\): ([\d,]+) of", common.answer)}
    assert shown, common.answer
    assert shown == {t: in_group[t] for t in shown}  # each count is the input's, joined on ids
    assert list(shown) == sorted(shown, key=lambda t: -in_group[t])  # most common first
    assert all(s.id in topic_of for s in common.sources)


@pytest.mark.slow
def test_rename_merge_split_and_add_from_python_survive_a_reopen(built, tmp_path):
    import shutil

    source, rows = built
    shutil.copytree(source.location.path, tmp_path / "index")
    index = library.Index(tmp_path / "index", llm=FakeLLM(_answers))
    before = index.topics().set_index("Topic")["Count"].to_dict()
    real = [t for t in before if t != -1]
    index.rename(real[0], "Renamed by hand")
    assert "Renamed by hand" in index.topics()["Label"].tolist()  # this Index reads the change at once
    merged = index.merge(real[1], real[2])
    assert merged.topic.size == before[real[1]] + before[real[2]]
    more = [{"id": f"new-{i}", "abstract": r["abstract"] + " (a second printing)", "title": r["title"]}
            for i, r in enumerate(_rows(N + 20)[N:])]
    added = index.add(more)
    assert added.added == 20 and sum(added.per_topic.values()) == 20

    again = library.open(tmp_path / "index")  # a restart: what was changed is what the store holds
    topics = again.topics().set_index("Topic")
    assert topics.loc[real[0], "Label"] == "Renamed by hand"
    assert real[2] not in topics.index and topics.loc[min(real[1], real[2]), "Count"] >= merged.topic.size
    assert topics["Count"].sum() == len(rows) + 20 == len(again.documents())
