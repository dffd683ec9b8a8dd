"""The pure parts of refining (issue 30), fast: the log's matching of topics by their documents, its
settings fingerprint and file, the checks on a change's input, themes and the brief after a change."""

from __future__ import annotations

import json

import numpy as np
import pytest

from topictalk.indexing import clustering, refine, refine_log, refine_topics, store
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import DocumentRecord, Theme, Topic


def test_a_topic_is_matched_by_its_documents_not_its_id():
    docs = [f"d{i}" for i in range(50)]
    name = refine_log.named(docs[:30])
    assert name["size"] == 30 and len(name["sample"]) == refine_log.SAMPLE
    assert refine_log.match(name, {7: set(docs[30:]), 4: set(docs[:30])}) == refine_log.Match(4, exact=True)
    # a few documents more (a corpus that grew a little): most of the sample, a size within 20%
    assert refine_log.match(name, {2: set(docs[:33]), 3: set(docs[33:])}) == refine_log.Match(2, exact=False)
    # split in halves, or grown past the slack: gone
    assert refine_log.match(name, {0: set(docs[:15]), 1: set(docs[15:])}).topic is None
    assert refine_log.match(name, {0: set(docs)}).topic is None


def test_the_fingerprint_follows_what_decides_the_topics():
    manifest = {"corpus": {"source": "files: a.csv", "documents": 500}, "models": {"embedding": "bundled@1"},
                "parameters": {"nr_topics": None, "resolution": 1.0, "labels": {"one_shot": False}}}
    same = refine_log.fingerprint(manifest)
    relabelled = {**manifest, "parameters": {**manifest["parameters"], "labels": {"one_shot": True}}}
    assert refine_log.fingerprint(relabelled) == same  # labels are redone by a replay anyway
    grown = {**manifest, "corpus": {"source": "files: a.csv", "documents": 600}}
    assert refine_log.fingerprint(grown) == same  # the documents decide whether a topic is still there
    assert refine_log.fingerprint({**manifest, "parameters": {"nr_topics": 6, "resolution": 1.0}}) != same
    assert refine_log.fingerprint({**manifest, "models": {"embedding": "other"}}) != same


def test_the_log_file_beside_the_index_wins_over_the_manifest(tmp_path):
    location = store.Location(path=tmp_path)
    kept = {"refinements": [{"op": "rename", "label": "From the manifest"}]}
    assert refine_log.read(location, kept) == kept["refinements"]
    refine_log.write(location, [{"op": "rename", "label": "From the file"}])
    assert refine_log.read(location, kept)[0]["label"] == "From the file"
    assert refine_log.log_file(store.Location(path=tmp_path, index="papers")).name == "refinements-papers.json"
    (tmp_path / "refinements.json").write_text("{torn")
    assert refine_log.read(location, kept) == kept["refinements"]
    assert refine_log.log_file(store.Location(host="chroma.example")) is None


def _state() -> refine._State:
    topics = [Topic(0, 3, "Graphs", "keywords", ["graph"], embedding=np.ones(2, np.float32), theme=0),
              Topic(1, 2, "Privacy", "keywords", ["privacy"], embedding=np.ones(2, np.float32), theme=1),
              Topic(2, 1, "Tiny", "keywords", ["tiny"], embedding=np.ones(2, np.float32), theme=1)]
    themes = [Theme(0, 3, "Graphs", "topic", [0]), Theme(1, 3, "Security", "keywords", [1, 2])]
    records = [DocumentRecord(f"d{i}", "text", "title", t, 1.0, 0.0, 0.0, theme=0 if t == 0 else 1)
               for i, t in enumerate([0, 0, 0, 1, 1, 2])]
    return refine._State({"counts": {"topics": 3}}, records, np.ones((6, 2), np.float32), topics, themes)


@pytest.mark.parametrize("topic, label, problem", [
    (9, "Anything", "no topic 9 in this index (its topics: 0-2)"),
    (-1, "Anything", "topic -1 holds the documents that fit no topic"),
    (0, "  \n ", "the new label of topic 0 is empty"),
    (0, "x" * 81, "at most 80"),
    (0, "privacy", "topic 1 is already labelled 'Privacy'"),
])
def test_a_bad_rename_is_one_line_naming_the_fix(topic, label, problem):
    with pytest.raises(TopictalkError) as err:
        refine._rename(_state(), topic, label)
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_a_rename_is_the_users_and_a_theme_of_one_topic_follows_it():
    state = _state()
    done, entry = refine._rename(state, 0, "  Graph   learning ")
    assert (done.old_label, done.label) == ("Graphs", "Graph learning")
    assert (state.topics[0].label, state.topics[0].label_source) == ("Graph learning", "user")
    assert state.themes[0].label == "Graph learning" and state.themes[0].label_source == "topic"
    assert state.themes[1].label == "Security"  # a theme of several topics keeps its own
    assert entry["op"] == "rename" and entry["topic"]["size"] == 3


def test_bad_merges_and_splits_name_the_fix():
    with pytest.raises(TopictalkError, match="two different topics, got 1 and 1"):
        refine._merge(_state(), [1, 1])
    with pytest.raises(TopictalkError, match="topic -1 holds"):
        refine._merge(_state(), [1, -1])
    with pytest.raises(TopictalkError, match=r"topic 4 has 15 documents: a split needs at least 20"):
        refine_topics.sub_communities(np.ones((15, 4), np.float32), refine_topics.params_of({}), None, 4)
    with pytest.raises(TopictalkError, match="at least 2 parts"):
        refine_topics.sub_communities(np.ones((40, 4), np.float32), refine_topics.params_of({}), 1, 4)


def test_themes_follow_the_topics_a_change_leaves():
    state = _state()
    state.topics = [t for t in state.topics if t.id != 2]  # as after merging 2 into 1
    themes = refine_topics.rethemes(state.themes, state.topics, {1}, {}, {}, 5)
    assert [(th.id, th.topic_ids, th.size) for th in themes] == [(0, [0], 3), (1, [1], 2)]
    assert themes[1].label == "Privacy" and themes[1].label_source == "topic"  # now a theme of one topic
    state.topics = [t for t in state.topics if t.id != 1]
    assert [th.id for th in refine_topics.rethemes(themes, state.topics, set(), {}, {}, 5)] == [0]


def test_the_brief_keeps_the_models_paragraph_and_counts_again():
    themes = [Theme(0, 5, "Graphs", "topic", [0]), Theme(1, 3, "Security", "keywords", [1, 2])]
    topics = [Topic(0, 5, "Graphs", "k", ["g"]), Topic(1, 3, "Privacy", "k", ["p"])]
    old = {"text": "8 documents in 3 topics, grouped in 2 themes. It is about graphs and privacy. The biggest "
                   "themes: Graphs (5), Security (3).", "document_ids": ["d1"]}
    made = refine_topics.rebrief(old, themes, topics, 8)
    assert made["text"].startswith("8 documents in 2 topics, grouped in 2 themes. It is about graphs and privacy.")
    assert made["document_ids"] == ["d1"]
    plain = refine_topics.rebrief({"text": "8 documents in 3 topics, grouped in 2 themes. The biggest themes: "
                                           "Graphs (5)."}, themes, topics, 8)
    assert plain["text"] == "8 documents in 2 topics, grouped in 2 themes. The biggest themes: Graphs (5), Security (3)."
    assert plain["document_ids"] == []


def test_counts_are_derived_from_the_documents_in_one_place():
    state = _state()
    state.records[0].core = False
    assert refine.derived_counts(state)["counts"] == {"topics": 3, "themes": 2, "outliers": 0, "outlier_share": 0.0,
                                                      "placed": 1}


def test_absorb_can_stop_at_a_number_of_parts():
    import igraph

    # four cliques of 5, each linked to the next: the smallest joins the one it links to most until 2 are left
    edges = [(c * 5 + i, c * 5 + j) for c in range(4) for i in range(5) for j in range(i + 1, 5)]
    edges += [(4, 5), (9, 10), (14, 15)]
    graph = igraph.Graph(n=20, edges=edges)
    graph.es["weight"] = [1.0] * len(edges)
    labels = np.repeat(np.arange(4), 5)
    assert len(set(clustering.absorb(labels, graph, 2).tolist())) == 4
    two = clustering.absorb(labels, graph, 2, most=2)
    assert len(set(two.tolist())) == 2 and json.dumps(clustering.renumber(two).tolist())


def test_trends_are_counted_again_over_the_new_topics():
    from datetime import date

    from topictalk.indexing import trends

    days = ["2024-01-05", "2024-01-20", "2024-02-03", None, "2024-03-09", "2024-03-10"]
    state = _state()
    for r, day, tag in zip(state.records, days, ["a", "b", "a", "a", "b", None]):
        r.date, r.fields = day, ({"venue": tag} if tag else {})
    when = [date.fromisoformat(d) if d else None for d in days]
    assigned = [r.topic for r in state.records]
    counted = trends.count(assigned, when, "published", "month", {"venue": ([[r.fields["venue"]] if r.fields else []
                                                                              for r in state.records], False)})
    counted.words = {0: [["graph"], [], []], 1: [["privacy"], [], []], 2: [[], [], ["tiny"]]}
    state.manifest["trends"] = counted.as_dict()
    for r in state.records:  # topic 2 merged into 1
        r.topic = 1 if r.topic == 2 else r.topic
    again = trends.Trends.from_dict(refine.derived_counts(state)["trends"])
    assert again.periods == ["2024-01", "2024-02", "2024-03"] and again.undated == 1
    assert again.counts == {0: [2, 1, 0], 1: [0, 0, 2]}
    assert again.facets["venue"].counts == {0: [2, 1], 1: [1, 1]} and again.facets["venue"].values == ["a", "b"]
    assert again.words == {0: [["graph"], [], []], 1: [["privacy"], [], []]}  # topic 2 is gone; the rest kept (none was marked touched here)


def test_a_touched_topic_gets_its_words_per_period_fitted_again():
    from topictalk.indexing import trends

    texts = {0: "graph neural networks message passing on molecules", 1: "differential privacy noise for private training"}
    records = [DocumentRecord(f"d{i}", f"{texts[i % 2]} variant {i}", "t", i % 2, 1.0, 0.0, 0.0, theme=0,
                              date=f"2024-0{1 + (i // 2) % 2}-01") for i in range(24)]
    stale = {0: [["stale"], ["stale"]], 1: [["stale"], ["stale"]]}
    manifest = {"trends": trends.Trends("published", "month", ["2024-01", "2024-02"], {0: [6, 6], 1: [6, 6]},
                                        words=stale).as_dict()}
    again = trends.Trends.from_dict(refine_topics.recount_trends(manifest, records, {1}))
    assert again.counts == {0: [6, 6], 1: [6, 6]}
    assert again.words[0] == [["stale"], ["stale"]]  # untouched: kept as stored
    assert "differential" in again.words[1][0] and "stale" not in again.words[1][1]  # touched: fitted again
