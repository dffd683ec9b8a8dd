"""Refining a real index (issue 30): rename, merge and split from the command line and from Python, each a
new generation that survives a restart and a re-index with the same settings, and that the app's table,
its map and the chat read. One index of 500 bundled arXiv abstracts (--no-llm) per module; every test
changes a copy of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import run_cli as topictalk
from tests.helpers import run_cli_here
from topictalk.indexing import refine, store
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.sample import PATH as SAMPLE

pytestmark = pytest.mark.slow  # builds an index and loads the embedding model

N = 500  # 10 topics in 6 themes with the bundled model: merges within and across themes, splits


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("refine") / "index"
    run_cli_here("index", "--input", str(SAMPLE), "--limit", str(N), "--index-dir", str(index), "--quiet", "--no-llm")
    return index


@pytest.fixture(scope="module")
def embedder():
    from topictalk.indexing import embedding

    return embedding.load(None)


@pytest.fixture()
def index(base, tmp_path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(base, copy)
    return copy


def topics_json(index: Path) -> dict:
    return json.loads(run_cli_here("topics", "--index-dir", str(index), "--json").stdout)


def members(location: store.Location) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for d in store.open_reader(location).all_documents():
        out.setdefault(d.topic, set()).add(d.id)
    return out


def test_rename_shows_in_the_table_json_and_after_a_restart(index):
    out = run_cli_here("topics", "--index-dir", str(index), "--rename", "3", "Speech recognition")
    assert "renamed" in out.stdout and "'Speech recognition'" in out.stdout and "(generation 2)" in out.stdout
    shown = json.loads(topictalk("topics", "--index-dir", str(index), "--json").stdout)  # a new process: a restart
    row = next(t for t in shown["topics"] if t["topic"] == 3)
    assert (row["label"], row["label_source"]) == ("Speech recognition", "user")
    assert "Speech recognition" in run_cli_here("topics", "--index-dir", str(index)).stdout
    reader = store.open_reader(store.Location(path=index))
    assert reader.generation == 2 and reader.manifest["refinements"][0]["op"] == "rename"
    assert {t.id: t.label for t in reader.topics()}[3] == "Speech recognition"
    theme = next(th for th in reader.themes() if 3 in th.topic_ids)
    if theme.topic_ids == [3]:  # a theme of one topic is that topic
        assert theme.label == "Speech recognition"
    assert json.loads((index / "refinements.json").read_text())["refinements"][0]["label"] == "Speech recognition"


def test_merge_adds_up_keeps_the_rest_and_the_old_generation_answers_until_commit(index, embedder, monkeypatch):
    location = store.Location(path=index)
    before = store.open_reader(location)
    old_topics = {t.id: t for t in before.topics()}
    old_members = members(location)
    old_points = {d.id: (d.x, d.y) for d in before.all_documents()}
    old_prob = {d.id: d.probability for d in before.all_documents()}  # (the reader follows the next generation)
    themes_of = {t.theme for t in old_topics.values()}
    # two topics of different themes when there are: documents move between themes too
    a, b = sorted(old_topics, key=lambda t: old_topics[t].size)[:2]
    for t in sorted(old_topics, key=lambda t: old_topics[t].size):
        if old_topics[t].theme != old_topics[a].theme and len(themes_of) > 1:
            b = t
            break
    bigger = max((old_topics[a], old_topics[b]), key=lambda t: (t.size, -t.id))

    seen = {}
    real_commit = store.Writer.commit

    def commit(self, manifest):  # readers still get the old generation, whole, until the switch
        reader = store.open_reader(location)
        seen["generation"] = reader.generation
        seen["ids"] = {t.id for t in reader.topics()}
        seen["documents"] = len(reader.all_documents())
        return real_commit(self, manifest)

    monkeypatch.setattr(store.Writer, "commit", commit)
    done = refine.merge(location, [b, a], embedder=embedder)
    assert seen == {"generation": before.generation, "ids": set(old_topics), "documents": N}
    assert done.generation == before.generation + 1 and done.merged == [b, a]

    after = store.open_reader(location)
    assert after.generation == done.generation
    topics = {t.id: t for t in after.topics()}
    merged_id, gone = min(a, b), max(a, b)
    assert gone not in topics and done.topic.id == merged_id
    merged = topics[merged_id]
    assert merged.size == old_topics[a].size + old_topics[b].size
    now = members(location)
    assert now[merged_id] == old_members[a] | old_members[b] and len(now[merged_id]) == merged.size
    assert merged.theme == bigger.theme and merged.keywords and merged.label and merged.label_source == "keywords"
    assert merged.keybert and merged.mmr and merged.description and merged.representative_ids
    assert set(merged.representative_ids) <= now[merged_id]
    for t, old in old_topics.items():  # the others: same ids, documents, labels, representations
        if t in (a, b):
            continue
        assert now[t] == old_members[t]
        assert (topics[t].label, topics[t].keywords, topics[t].description) == (old.label, old.keywords,
                                                                                old.description)
    assert {d.id: (d.x, d.y) for d in after.all_documents()} == old_points  # the map does not move
    # the merged documents' confidence is recomputed: their neighbours in the other part now count as their
    # own, so none falls; the other documents keep theirs
    new_prob = {d.id: d.probability for d in after.all_documents()}
    moved = old_members[a] | old_members[b]
    assert all(new_prob[i] >= old_prob[i] - 1e-3 for i in moved)
    assert all(new_prob[i] == old_prob[i] for i in new_prob if i not in moved)
    themes = after.themes()
    assert sorted(i for th in themes for i in th.topic_ids) == sorted(topics)
    assert all(th.size == sum(topics[i].size for i in th.topic_ids) for th in themes)
    m = after.manifest
    assert m["counts"]["topics"] == len(old_topics) - 1 and m["counts"]["themes"] == len(themes)
    assert m["brief"]["text"].startswith(f"{N:,} documents in {len(old_topics) - 1} topics")
    assert json.loads((index / "manifest.json").read_text())["generation"] == done.generation
    # the trends (issue 29) follow: the merged topic's facet counts are the two parts' added up
    from topictalk.indexing import trends

    was, now_trends = trends.Trends.from_dict(before.manifest["trends"]), trends.Trends.from_dict(m["trends"])
    assert "categories" in now_trends.facets
    for name, facet in now_trends.facets.items():
        old_facet = was.facets[name]
        assert facet.values == old_facet.values and set(facet.counts) == set(topics)
        assert facet.counts[merged_id] == [x + y for x, y in zip(old_facet.counts[a], old_facet.counts[b])]
        assert all(facet.counts[t] == old_facet.counts[t] for t in topics if t != merged_id)


def test_split_partitions_the_parent_into_labelled_parts(index, embedder):
    location = store.Location(path=index)
    reader = store.open_reader(location)
    old = {t.id: t for t in reader.topics()}
    parent = max(old.values(), key=lambda t: t.size)
    old_members = members(location)
    done = refine.split(location, parent.id, embedder=embedder)
    now = members(location)
    assert parent.id not in now and len(done.parts) >= 2
    assert min(p.id for p in done.parts) == max(old) + 1  # new ids after the highest
    assert set().union(*(now[p.id] for p in done.parts)) == old_members[parent.id]
    assert sum(p.size for p in done.parts) == parent.size and all(p.size >= 10 for p in done.parts)
    topics = {t.id: t for t in store.open_reader(location).topics()}
    labels = [t.label.lower() for t in topics.values()]
    assert len(set(labels)) == len(labels)
    for p in done.parts:
        assert topics[p.id].keywords and topics[p.id].label and topics[p.id].theme == parent.theme
        assert topics[p.id].size == len(now[p.id])
    # the command line, with a number of parts, on the biggest part
    biggest = max(done.parts, key=lambda t: t.size)
    if biggest.size >= 20:
        out = run_cli_here("topics", "--index-dir", str(index), "--split", str(biggest.id), "--parts", "2", check=False)
        if out.returncode == 0:
            assert out.stdout.startswith(f"topic {biggest.id} split into 2 topics")
        else:  # a part that is one subject is refused in one line
            assert "no sub-communities" in out.stderr and "Traceback" not in out.stderr


def test_a_reindex_with_the_same_settings_replays_the_log(index, embedder):
    location = store.Location(path=index)
    topics = sorted((t for t in store.open_reader(location).topics()), key=lambda t: -t.size)
    refine.rename(location, topics[-1].id, "Hand-named topic")
    refine.merge(location, [topics[-2].id, topics[-3].id], embedder=embedder)
    split = refine.split(location, topics[0].id, embedder=embedder)
    expected = members(location)
    labels = {t.id: t.label for t in store.open_reader(location).topics()}

    out = run_cli_here("index", "--input", str(SAMPLE), "--limit", str(N), "--index-dir", str(index), "--no-llm",
                    "--quiet")
    assert "Traceback" not in out.stderr
    shown = topics_json(index)
    assert {t["topic"]: t["label"] for t in shown["topics"]}[topics[-1].id] == "Hand-named topic"
    assert members(location) == expected  # the merge and the split, with the same ids
    assert {t["topic"] for t in shown["topics"]} == set(labels)
    assert all(p.label == labels[p.id] for p in split.parts)
    m = store.open_reader(location).manifest
    assert len(m["refinements"]) == 3 and m["generation"] == 6  # 1 index, 3 changes, the re-index, its replay

    # other settings: nothing is replayed, and one line says why
    out = run_cli_here("index", "--input", str(SAMPLE), "--limit", str(N), "--index-dir", str(index), "--no-llm",
                    "--quiet", "--nr-topics", "6")
    skipped = [line for line in out.stderr.splitlines() if "skipped 3 logged refinements" in line]
    assert len(skipped) == 1 and "other index settings" in skipped[0], out.stderr
    assert "Hand-named topic" not in {t["label"] for t in topics_json(index)["topics"]}


def _error(index: Path, *args: str, run=run_cli_here) -> str:
    """The one error line of `topictalk topics ARGS`: in this process, whose BERTopic the module's index
    imported whole before any merge or split here could import it without its spare packages."""
    out = run("topics", "--index-dir", str(index), *args, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("topictalk: error: "), out.stderr
    return lines[0]


def test_bad_input_is_one_line_and_keeps_the_live_generation(index):
    location = store.Location(path=index)
    before = store.open_reader(location)
    first = [(t.id, t.label, t.size) for t in before.topics()]
    real = [t.id for t in before.topics() if not t.is_outlier]
    assert "no topic 999" in _error(index, "--rename", "999", "Anything")
    assert "topic -1" in _error(index, "--merge", "-1", str(real[0]))
    assert "two different topics" in _error(index, "--merge", str(real[0]), str(real[0]))
    assert "empty" in _error(index, "--rename", str(real[0]), "   ")
    assert "already labelled" in _error(index, "--rename", str(real[0]), before.topics()[1].label.upper())
    assert "topic id" in _error(index, "--split", "five")
    assert "--parts goes with --split" in _error(index, "--merge", str(real[0]), str(real[1]), "--parts", "2")
    # a writer holding the lock: the same busy line `topictalk index` gives
    from topictalk.indexing.writer_lock import writer_lock

    with writer_lock(location, store.connect(location)):
        assert "is writing" in _error(index, "--rename", str(real[0]), "Busy", run=topictalk)  # another process
    after = store.open_reader(location)
    assert after.generation == before.generation and [(t.id, t.label, t.size) for t in after.topics()] == first
    assert not (index / "refinements.json").exists()


def test_the_app_table_map_and_chat_read_each_change(index, embedder):
    """The issue's target at the reader level: an open app (its TopicIndex) moves to each new generation,
    and a restarted one opens it; the table rows, map labels and points, and the chat's search agree."""
    from topictalk.agent.retrieval import TopicIndex
    from topictalk.ui import map as map_mod
    from topictalk.ui import render

    location = store.Location(path=index)
    chat = TopicIndex(store.Reader(store.connect(location), location, follow_s=0), embedder)
    ordered = sorted(chat.real_topics, key=lambda t: t.size)
    renamed, (a, b), parent = ordered[0].id, (ordered[1].id, ordered[2].id), ordered[-1].id
    refine.rename(location, renamed, "Speech recognition")
    refine.merge(location, [a, b], embedder=embedder)
    split = refine.split(location, parent, embedder=embedder)
    for app in (chat, TopicIndex.open(location, embedder)):  # the open one follows; a restart reads it
        assert app.snapshot().generation == 4
        rows = render.topic_rows(app.topics, app.themes)
        by_row = {r[0]: r for r in rows}
        assert by_row[renamed][2] == "Speech recognition" and max(a, b) not in by_row and parent not in by_row
        assert by_row[min(a, b)][1] == sum(t.size for t in ordered[1:3])
        assert all(p.id in by_row for p in split.parts)
        assert map_mod.labels_of(app.topics)[renamed] == "Speech recognition"
        points = app.reader.coordinates()
        assert set(points["topic"].tolist()) == {r[0] for r in rows}
        part = split.parts[0]
        hits = app.search(app.embed(", ".join(part.keywords[:5])), 3, topic=part.id)
        assert hits and all(h.document.topic == part.id for h in hits)
        assert app.by_id[renamed].label == "Speech recognition"


def test_the_python_functions_hold_the_writer_lock(index):
    """The Python functions hold the writer lock as `topictalk index` does."""
    location = store.Location(path=index)
    from topictalk.indexing.writer_lock import writer_lock

    with writer_lock(location, store.connect(location)):
        with pytest.raises(TopictalkError, match="is writing"):
            refine.rename(location, 0, "Busy")


def test_a_merge_is_labelled_and_described_by_the_llm_when_one_is_given(index, embedder):
    from tests.fakes import FakeLLM

    location = store.Location(path=index)
    ordered = sorted((t for t in store.open_reader(location).topics()), key=lambda t: t.size)
    llm = FakeLLM("Chemistry Structure Learners\nDescription: Everything here is about the weather on Mars.")
    done = refine.merge(location, [ordered[0].id, ordered[1].id], llm=llm, embedder=embedder)
    assert (done.topic.label, done.topic.label_source) == ("Chemistry Structure Learners", "llm")
    assert len(llm.calls) == 1 and done.topic.keywords[0] in llm.prompts[0]  # one call, for the merged topic
    # the model's sentence is in no document: dropped, and the extractive description stays
    assert "Mars" not in done.topic.description and done.topic.description
    assert done.topic.description_source.startswith("extractive")
    shown = {t["topic"]: t for t in topics_json(index)["topics"]}
    assert shown[done.topic.id]["label"] == "Chemistry Structure Learners"


def test_the_confidence_of_moved_documents_is_computed_as_the_index_computes_it(base):
    """refine_topics.confidence over every document of a fresh index gives back its stored probabilities
    and core flags (the graph method's, clustering.communities)."""
    import numpy as np

    from topictalk.indexing import refine_topics

    location = store.Location(path=base)
    state = refine._load(store.connect(location), location)
    labels = np.array([r.topic for r in state.records])
    share, core = refine_topics.confidence(state.vectors, np.arange(len(labels)), labels, 25)
    assert np.abs(share - np.array([r.probability for r in state.records])).max() < 1e-3  # stored to 4 decimals
    assert (core == np.array([r.core for r in state.records])).all() and not core.all()
