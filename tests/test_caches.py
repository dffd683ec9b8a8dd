"""Caches trust nothing they find: keyed by the model behind a name, torn or corrupt entries recomputed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.fakes import FakeLLM
from topictalk.indexing import topics
from topictalk.indexing.labels import LabelCache, Labeler
from topictalk.indexing.schema import Topic

DOCS = {f"d{i}": (f"title {i}", f"a document about graphs and networks number {i}") for i in range(5)}


def _topics() -> list[Topic]:
    return [Topic(0, 5, "", "", ["graph", "network", "node"], representative_ids=list(DOCS))]


def test_a_torn_last_line_does_not_swallow_the_next_answer(tmp_path):
    path = tmp_path / "labels.jsonl"
    cache = LabelCache(path)
    cache.put("k1", "Graph Networks")
    with path.open("a", encoding="utf-8") as f:
        f.write('{"key": "k2", "answ')  # a run killed mid-write
    cache = LabelCache(path)
    assert cache.get("k1") == "Graph Networks"
    cache.put("k3", "Protein Folding")
    again = LabelCache(path)
    assert again.get("k3") == "Protein Folding" and again.get("k1") == "Graph Networks"
    assert again.skipped == 1 and path.read_text().endswith("\n")  # only the torn line is lost


def test_labels_asked_where_the_cache_cannot_be_written_are_kept_for_the_process(tmp_path):
    """A chat over a shared, read-only index still labels a topic's subtopics: the answer is kept in memory."""
    (tmp_path / "index").write_text("a file where the cache folder would be")  # so no folder can be made there
    llm = FakeLLM("Graph Networks")
    labeler = Labeler(llm, LabelCache(tmp_path / "index" / "cache" / "labels.jsonl"))
    labeler.label(_topics(), DOCS)
    labeler.label(_topics(), DOCS)
    assert len(llm.calls) == 1 and labeler.stats["cached"] == 1
    memory = Labeler(FakeLLM("Graph Networks"), None)  # no cache at all: this process's answers only
    assert list(memory.ask([[{"role": "user", "content": "x"}]])) == list(memory.ask([[{"role": "user", "content": "x"}]]))
    assert memory.stats == {**memory.stats, "asked": 1, "cached": 1}


class _Weights(FakeLLM):
    """The same spec with other weights behind it (an openai URL serving another model, a replaced file)."""

    def __init__(self, identity: str, reply: str) -> None:
        super().__init__(reply)
        self.identity = identity


def test_labels_are_keyed_by_the_model_identity_not_its_spec(tmp_path):
    old = _Weights("openai:http://host/v1#model-a", "Graph Neural Networks")
    first = _topics()
    Labeler(old, LabelCache(tmp_path / "labels.jsonl")).label(first, DOCS)
    new = _Weights("openai:http://host/v1#model-b", "Network Science")
    again = _topics()
    labeler = Labeler(new, LabelCache(tmp_path / "labels.jsonl"))
    labeler.label(again, DOCS)
    assert new.calls and labeler.stats["asked"] == 1 and labeler.stats["cached"] == 0
    assert (first[0].label, again[0].label) == ("Graph Neural Networks", "Network Science")
    same = Labeler(_Weights("openai:http://host/v1#model-b", "never asked"), LabelCache(tmp_path / "labels.jsonl"))
    same.label(_topics(), DOCS)
    assert same.stats == {**same.stats, "asked": 0, "cached": 1}


def test_a_runtime_identity_names_its_weights(tmp_path):
    from topictalk.agent import bundled, models

    def identity(spec: str) -> str:  # what a runtime loaded from ``spec`` keys its answers by
        parsed = models.parse(spec)
        return models.runtime(parsed).identity_of(parsed)

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"v1")
    first = identity(f"llama-cpp:{gguf}?format=llama-2&n_ctx=2048")
    assert str(gguf) in first and first.endswith("?format=llama-2")  # n_ctx changes no answer
    gguf.write_bytes(b"v2 with other weights")
    assert identity(f"llama-cpp:{gguf}?format=llama-2") != first
    assert bundled.DEFAULT.sha256 in identity("bundled") and bundled.SMALL.sha256 in identity("bundled-small")
    assert identity("openai:http://10.0.0.5:8000/v1#llama-2-13b") == "openai:http://10.0.0.5:8000/v1#llama-2-13b"
    assert identity("hf:/no/such/folder?quantize=none") == "hf:hub:/no/such/folder@unresolved?quantize=none"
    assert FakeLLM().identity == "fake"  # a runtime serving no scheme is known by its spec


@pytest.mark.slow  # fits UMAP (numba compiles it in a fresh process)
def test_a_corrupt_umap_cache_is_recomputed_and_reported(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    params = topics.TopicParams(n_neighbors=5)
    reduced, cached = topics.reduce(vectors, params, 2, tmp_path)
    assert not cached and reduced.shape == (40, 2)
    path = next((tmp_path / "umap").glob("*.npy"))
    for damage in (b"", path.read_bytes()[:-16]):
        path.write_bytes(damage)
        said: list[str] = []
        again, cached = topics.reduce(vectors, params, 2, tmp_path, said.append)
        assert not cached and again.shape == (40, 2) and "corrupt" in said[0]
    np.save(path, np.full((40, 2), np.nan, np.float32))
    said = []
    assert topics.reduce(vectors, params, 2, tmp_path, said.append)[0].shape == (40, 2) and "NaN" in said[0]
    assert topics.reduce(vectors, params, 2, tmp_path)[1] is True
    assert [p.name for p in (tmp_path / "umap").iterdir()] == [path.name]  # no temp files left


def test_manifest_file_is_written_whole(tmp_path):
    from topictalk.indexing import store

    store.write_manifest_file(tmp_path, {"generation": 3})
    store.write_manifest_file(tmp_path, {"generation": 4}, "papers")
    assert json.loads((tmp_path / "manifest.json").read_text()) == {"generation": 3}
    assert json.loads((tmp_path / "manifest-papers.json").read_text()) == {"generation": 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest-papers.json", "manifest.json"]


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__]))


@pytest.mark.slow  # pynndescent and two UMAP fits: numba compiles them in a fresh test process
def test_umap_neighbours_are_searched_once_and_only_on_a_cache_miss(tmp_path, monkeypatch):
    """Both reductions share one neighbour search; exact up to EXACT_NEIGHBOURS rows, pynndescent beyond."""
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    indices, distances = topics.neighbours(vectors, 10)
    truth = np.argsort(-(vectors @ vectors.T), axis=1)[:, :10]
    assert (indices == truth).all() and (indices[:, 0] == np.arange(300)).all()
    assert np.allclose(distances, 1 - np.take_along_axis(vectors @ vectors.T, truth, 1), atol=1e-5)
    monkeypatch.setattr(topics, "EXACT_NEIGHBOURS", 100)  # pynndescent: approximate, nearly all found
    approx, _ = topics.neighbours(vectors, 10, random_state=0)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx, truth)]) > 0.9

    calls: list[int] = []

    def knn():
        calls.append(1)
        return indices, distances

    params = topics.TopicParams(n_neighbors=10)
    for n_components in (5, 2):
        reduced, cached = topics.reduce(vectors, params, n_components, tmp_path, knn=knn)
        assert not cached and reduced.shape == (300, n_components) and np.isfinite(reduced).all()
    assert len(calls) == 2 and (indices == truth).all()  # UMAP was given copies: ours are unchanged
    assert topics.reduce(vectors, params, 5, tmp_path, knn=knn)[1] is True and len(calls) == 2
