"""Chat with a BERTopic model the user fitted: ``topictalk index --bertopic-model PATH --input DOCS``."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from tests.helpers import run_cli_here
from topictalk.indexing import bertopic_model
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.sample import PATH as SAMPLE

N = 240


def _write_topics_json(folder, topics, labels=None, custom=None):
    folder.mkdir(parents=True, exist_ok=True)
    reps = {str(t): [[f"w{t}a", 0.5], [f"w{t}b", 0.4]] for t in sorted(set(topics))}
    names = {str(t): f"{t}_w{t}a_w{t}b" for t in sorted(set(topics))}
    (folder / "topics.json").write_text(json.dumps({"topics": topics, "topic_representations": reps,
                                                    "topic_labels": labels or names, "custom_labels": custom}))
    return folder


def test_a_saved_folder_is_read_without_bertopic(tmp_path):
    saved = bertopic_model.read(_write_topics_json(tmp_path / "m", [0, 1, -1, 0], custom=["Outliers", "Zero", "1_w1a_w1b"]))
    assert saved.assignments.tolist() == [0, 1, -1, 0] and saved.topic_count == 2
    assert saved.words[0] == ["w0a", "w0b"]
    # custom labels align with sorted topic ids (-1, 0, 1); one left as its generated name is no label
    assert saved.labels == {-1: "Outliers", 0: "Zero"}


def test_the_documents_must_be_those_the_model_was_fitted_on(tmp_path):
    saved = bertopic_model.read(_write_topics_json(tmp_path / "m", [0, 1, 1, 0]))
    assert saved.for_rows([0, 2, 3], read=4).tolist() == [0, 1, 0]  # row 1 was dropped (a duplicate, say)
    with pytest.raises(TopictalkError, match="fitted on 4 documents and the input holds 5"):
        saved.for_rows([0, 1, 2, 3, 4], read=5)


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "no BERTopic model at"),
    (lambda p: (p.mkdir(), p)[1], "holds no topics.json"),
    (lambda p: (p.mkdir(), (p / "topics.json").write_text("{oops"), p)[2], "cannot read the BERTopic model"),
    (lambda p: (p.write_bytes(b"not a pickle"), p)[1], "cannot load the BERTopic model"),
])
def test_what_is_not_a_saved_model_is_one_line(tmp_path, make, message):
    with pytest.raises(TopictalkError, match=message) as err:
        bertopic_model.read(make(tmp_path / "model"))
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_a_model_bertopic_saved_keeps_its_topics_words_and_labels(tmp_path):
    """Fitted here with BERTopic itself (PCA to 5-D, then HDBSCAN, on the bundled model's embeddings: seconds,
    where UMAP would compile for a minute),
    saved with safetensors, then indexed: every document keeps its topic, the labels set stay."""
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.decomposition import PCA

    from topictalk.indexing import embedding, encoder

    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(N), f)]
    docs = [r["abstract"] for r in rows]
    vectors = encoder.encode(embedding.load(embedding.DEFAULT), docs)
    model = BERTopic(umap_model=PCA(n_components=5, random_state=0), hdbscan_model=HDBSCAN(min_cluster_size=8),
                     min_topic_size=8)
    fitted = np.asarray(model.fit_transform(docs, vectors)[0])
    assert len(set(fitted.tolist()) - {-1}) >= 2, "the fixture needs a model with topics"
    model.set_topic_labels({0: "Hand-named topic zero"})
    model.save(tmp_path / "model", serialization="safetensors", save_ctfidf=True, save_embedding_model=False)
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))

    index = tmp_path / "index"
    run_cli_here("index", "--input", str(data), "--bertopic-model", str(tmp_path / "model"), "--index-dir", str(index),
            "--no-llm", "--quiet")
    from topictalk.indexing import store

    reader = store.open_reader(store.Location(path=index))  # read in this process: a subprocess costs seconds
    topics = {t.id: t for t in reader.topics()}
    assert set(topics) == set(fitted.tolist())  # the same topics, outliers (-1) included
    for topic, size in zip(*np.unique(fitted, return_counts=True)):
        assert topics[int(topic)].size == size
    assert topics[0].label == "Hand-named topic zero" and topics[0].label_source == "bertopic"
    words = {t: [w for w, _ in pairs] for t, pairs in model.topic_representations_.items()}
    assert topics[1].keywords[:5] == words[1][:5]  # BERTopic's own representation words
    assert reader.themes(), "topictalk adds themes"
    topic_of = {d.id: d.topic for d in reader.all_documents()}
    assert [topic_of[r["id"]] for r in rows] == fitted.tolist()  # every document, its model's topic

    # the wrong documents are refused in one line, and the index is still there
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in rows[:-5]))
    out = run_cli_here("index", "--input", str(other), "--bertopic-model", str(tmp_path / "model"),
                       "--index-dir", str(index), "--no-llm", "--quiet", check=False)
    assert out.returncode != 0 and f"fitted on {N} documents and the input holds {N - 5}" in out.stderr
    assert "Traceback" not in out.stderr
    assert store.open_reader(store.Location(path=index)).generation == reader.generation
