"""Adding documents to an index (indexing/add.py, `topictalk add`): only the new ones embedded and placed."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter

import numpy as np
import pytest

from tests.helpers import run_cli, run_cli_here
from topictalk.indexing import add
from topictalk.indexing.sample import PATH as SAMPLE
from topictalk.indexing.schema import DocumentRecord


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _two_topics(seed: int = 0):
    """Two tight groups of 40 unit vectors, around e1 (topic 3) and e2 (topic 7), at map x = 0 and 10."""
    rng = np.random.default_rng(seed)
    a = _unit(np.eye(8)[0] + 0.05 * rng.standard_normal((40, 8)))
    b = _unit(np.eye(8)[1] + 0.05 * rng.standard_normal((40, 8)))
    vectors = np.vstack([a, b])
    topics = np.array([3] * 40 + [7] * 40)
    xy = np.array([[0.0, 0.0]] * 40 + [[10.0, 0.0]] * 40, dtype=np.float32)
    centroids = {3: _unit(a.mean(0, keepdims=True))[0], 7: _unit(b.mean(0, keepdims=True))[0]}
    return vectors, topics, xy, centroids


def test_a_new_document_goes_where_its_neighbours_vote_and_sits_among_them_on_the_map():
    vectors, topics, xy, centroids = _two_topics()
    new = _unit([np.eye(8)[0] + 0.01, np.eye(8)[1] + 0.01])
    placed = add.place(new, vectors, topics, xy, 10, centroids)
    assert placed.topics.tolist() == [3, 7]
    assert placed.share.tolist() == pytest.approx([1.0, 1.0])
    assert placed.xy[:, 0].tolist() == pytest.approx([0.0, 10.0])
    assert placed.fits.tolist() == [True, True]


def test_a_document_between_topics_takes_the_stronger_vote_and_one_far_from_both_fits_neither():
    vectors, topics, xy, centroids = _two_topics()
    leaning = _unit([0.8 * np.eye(8)[0] + 0.6 * np.eye(8)[1]])
    far = _unit([np.eye(8)[5] + 0.3 * np.eye(8)[0]])
    placed = add.place(np.vstack([leaning, far]), vectors, topics, xy, 20, centroids)
    assert placed.topics.tolist() == [3, 3]
    assert 0.5 < placed.share[0] <= 1.0
    assert 0.0 < placed.xy[0, 0] < 10.0 or placed.xy[0, 0] == pytest.approx(0.0)
    assert placed.fits.tolist() == [False, False]  # both farther from topic 3's centre than its own documents


def test_a_full_reindex_is_advised_when_many_fit_badly_or_many_came():
    assert add._advice(100, 5, 10_000) is None
    assert "fit no topic well" in add._advice(100, 30, 10_000)
    assert "grew by 50%" in add._advice(500, 0, 1_000)


def _rows(start: int, stop: int) -> list[dict]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][start:stop]
    for row in rows:  # a month from each new-style arXiv id, so that the trends are counted too
        if (m := re.fullmatch(r"(\d\d)(\d\d)\.\d+", row["id"])) and 1 <= int(m[2]) <= 12:
            row["published"] = f"20{m[1]}-{m[2]}-01"
    return rows


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read(index):
    """The index's topic table and documents, read in this process (a `topictalk` subprocess costs seconds)."""
    from topictalk.indexing import export, store

    reader = store.open_reader(store.Location(path=index))
    frames = export.frames(reader)
    return frames["topics"].set_index("Topic"), frames["documents"].set_index("id"), reader


@pytest.mark.slow
def test_added_documents_are_placed_counted_and_kept_and_the_old_ones_untouched(tmp_path, capsys):
    first, later = _rows(0, 300), _rows(280, 360)  # 20 of the later rows are indexed already
    index = tmp_path / "index"
    run_cli_here("index", "--input", str(_write(tmp_path / "a.jsonl", first)), "--index-dir", str(index), "--no-llm",
                 "--quiet")  # the add below runs in a process of its own, as a user runs it
    topics_before, old, _ = _read(index)

    out = run_cli("add", "--input", str(_write(tmp_path / "b.jsonl", later)), "--index-dir", str(index), "--json")
    done = json.loads(out.stdout)
    assert done["added"] == 60 and done["already"] == 20 and done["generation"] == 2
    assert sum(done["per_topic"].values()) == 60

    topics_after, new, reader = _read(index)
    # the new generation wrote only the 60 new documents: the 300 indexed ones are generation 1's, shared
    assert reader.parts == (1, 2) and [p.documents.count() for p in reader._open.parts] == [300, 60]
    near = reader.query_documents(reader.embeddings([later[30]["id"]])[0], 3)
    assert near[0][0].id == later[30]["id"] and later[30]["abstract"][:60] in near[0][0].text
    for topic, row in topics_after.iterrows():  # sizes grew by what each topic received; labels stayed
        assert row["Count"] == topics_before.loc[topic, "Count"] + done["per_topic"].get(str(topic), 0)
        assert row["Label"] == topics_before.loc[topic, "Label"]
    assert set(new.index) == set(old.index) | {r["id"] for r in later}
    kept = new.loc[old.index]  # the documents already there kept their topic and map position
    assert (kept["topic"] == old["topic"]).all() and (kept["x"] == old["x"]).all() and (kept["y"] == old["y"]).all()
    added = new.loc[[r["id"] for r in later[20:]]]
    assert (~added["core"]).all() and added["probability"].between(0, 1, inclusive="right").all()

    # the trends were counted again, over the old and the new documents
    dated = Counter(int(new.loc[r["id"], "topic"]) for r in first + later[20:] if "published" in r)
    assert {t: sum(row) for t, row in reader.trends().counts.items() if sum(row)} == dict(dated)
    # the same file again, through the command line's own code in this process (a subprocess costs seconds)
    from topictalk.ui import cli

    capsys.readouterr()
    assert cli.main(["add", "--input", str(tmp_path / "b.jsonl"), "--index-dir", str(index)]) == 0
    assert capsys.readouterr().out.startswith("nothing to add")

    # a second add, in this process: KeyBERT runs only on the topics that received documents and whose
    # keywords changed; the others keep their KeyBERT and MMR words as stored
    from bertopic.representation import KeyBERTInspired

    from topictalk.indexing import corpus, store

    seen = []
    real = KeyBERTInspired.extract_topics

    def spy(self, topic_model, documents, c_tf_idf, topics, embeddings=None):
        seen.append(len(topics))
        return real(self, topic_model, documents, c_tf_idf, topics, embeddings)

    before = {t.id: t for t in reader.topics()}
    more = corpus.from_files([_write(tmp_path / "c.jsonl", _rows(360, 364))],
                             date_field=reader.manifest["corpus"].get("date_field"), fields_optional=True)
    from topictalk.indexing.vocabulary import Tokens

    read = []  # texts each Tokens of the add read from their characters (the others came from the cache)
    keep = Tokens.keep
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(KeyBERTInspired, "extract_topics", spy)
    monkeypatch.setattr(Tokens, "keep", lambda self: (read.append(self.fresh), keep(self))[1])
    monkeypatch.setattr(store, "MAX_PARTS", 2)  # the live generation has 2 parts: this add writes a whole one
    try:
        done = add.add(store.Location(path=index), more)
    finally:
        monkeypatch.undo()
    # the index and the first add kept the token ids of what they read: this add's counts read at most the
    # 4 new texts and a few others (period cells sampled anew), not the hundreds they count
    assert (index / "cache" / "words").is_dir()
    assert read and all(n <= 30 for n in read), read
    joined = _read(index)[2]
    assert joined.parts == (done.generation,) and joined.count() == 364 and len(joined.all_documents()) == 364
    after = {t.id: t for t in joined.topics()}
    received = set(done.per_topic)
    changed = {t for t in received if set(after[t].keywords) != set(before[t].keywords)}
    assert sum(seen) == len(changed) < len(before) and len(seen) <= 1  # one KeyBERT call, if any
    for t in set(before) - changed:  # no new words: its KeyBERT and MMR words are the stored ones
        assert (after[t].keybert, after[t].mmr) == (before[t].keybert, before[t].mmr)
    for t in set(before) - received:
        assert after[t].keywords == before[t].keywords and after[t].size == before[t].size
    # words are fitted again only for topics the new documents are a tenth of; the others keep theirs
    refit = add.moved(Counter({t: after[t].size for t in after}), done.per_topic)
    for t in received - refit:
        assert (after[t].keywords, after[t].keybert, after[t].mmr) == (before[t].keywords, before[t].keybert,
                                                                       before[t].mmr)
        assert after[t].size == before[t].size + done.per_topic[t]
    assert len(seen) == (1 if changed else 0) and changed <= refit


def test_words_are_fitted_again_where_the_new_documents_are_a_tenth_of_a_topic_or_of_one_of_its_periods():
    sizes = Counter({0: 100, 1: 100, 2: 20})  # after the add
    assert add.moved(sizes, {0: 10, 1: 9, 2: 2}) == {0, 2}
    cells = Counter({(0, "2025-01"): 5, (0, "2025-02"): 50, (0, "2025-03"): 4})
    assert add.moved(cells, {(0, "2025-01"): 1, (0, "2025-02"): 1, (0, "2025-03"): 4}, share=0.1,
                     floor=5) == {(0, "2025-01")}  # 4 -> 5: words of its own now; 0 -> 4: still too few
    old = [DocumentRecord(str(i), "t", "", 0 if i < 60 else 1, 1.0, 0, 0, period="2025-01" if i % 2 else "2025-02")
           for i in range(120)]
    new = [DocumentRecord("a", "t", "", 0, 1.0, 0, 0, period="2025-01"),  # 30 -> 31: under a tenth
           DocumentRecord("b", "t", "", 1, 1.0, 0, 0, period="2025-03")]  # topic 1's first 2025-03 document
    assert add.moved_periods(old + new, 2) == set()  # one document gives 2025-03 no words of its own yet
    assert add.moved_periods(old + new + [DocumentRecord(str(k), "t", "", 1, 1.0, 0, 0, period="2025-03")
                                          for k in "cdef"], 6) == {1}


def test_keybert_and_mmr_run_only_on_the_topics_asked_for_with_their_own_c_tf_idf_rows():
    """partial_representation.Only: the inner representation sees the asked-for topics and, in the same
    order, their rows of c-TF-IDF (BERTopic's representations index the rows by position); the others
    get their c-TF-IDF words back untouched."""
    from types import SimpleNamespace

    import pandas as pd
    from scipy.sparse import csr_matrix

    from topictalk.indexing.partial_representation import Only

    class Spy:
        def extract_topics(self, topic_model, documents, c_tf_idf, topics):
            self.got = (sorted(topics), c_tf_idf.toarray()[:, 0].tolist())
            return {t: [("fresh", 1.0)] for t in topics}

    # BERTopic's topics -1, 0, 1, 2 hold the fitted rows 0, 1-2, 3, 4; ours are 9 (outlier bin: -1), 7, 3, 5
    documents = pd.DataFrame({"Document": list("abcde"), "ID": range(5), "Topic": [-1, 0, 0, 1, 2]})
    ours_of_row = np.array([-1, 7, 7, 3, 5])
    words = {t: [(f"w{t}a", 0.9), (f"w{t}b", 0.8), (f"w{t}c", 0.7)] for t in (-1, 0, 1, 2)}
    c_tf_idf = csr_matrix(np.arange(4, dtype=float)[:, None] + 10)  # row k says 10 + k
    asked = []
    spy = Spy()
    only = Only(spy, ours_of_row, lambda label, w: asked.append((label, w)) or label in (3, 5))
    out = only.extract_topics(SimpleNamespace(top_n_words=2), documents, c_tf_idf, words)
    assert spy.got == ([1, 2], [12.0, 13.0])  # topics 1 and 2 sit at rows 2 and 3 (after -1 and 0)
    assert out[1] == out[2] == [("fresh", 1.0)]
    assert out[0] == words[0][:2] and out[-1] == words[-1][:2]
    assert sorted(asked) == [(-1, ["w-1a", "w-1b"]), (3, ["w1a", "w1b"]), (5, ["w2a", "w2b"]), (7, ["w0a", "w0b"])]
