"""The saved form of the embedding model (indexing/saved_encoder.py): its tokenizer and OpenVINO's graph,
run without PyTorch. It must give the sentence-transformers model's vectors, be found only where it
stands for that model, and start a process that embeds without importing PyTorch at all."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from topictalk.indexing import embedding, encoder, saved_encoder

# accents, pieces of words, an empty text, one past the model's 256 tokens, one-token texts padded in a batch
TEXTS = ["short", "x", "", "Ünïcödé ☃ naïve CamelCase tokenization", "graph " * 400,
         "Graph neural networks learn representations of molecules for property prediction.",
         "We study federated learning under differential privacy and membership inference attacks."] * 6

CHILD = """
import json, sys
import numpy as np
from topictalk.indexing import embedding, encoder
model = embedding.encoding_model("bundled")
vectors = encoder.Encoder(model, "fp32")(json.loads(sys.argv[1]))
np.save(sys.argv[2], vectors)
print(json.dumps({"type": type(model).__name__, "vocabulary": len(model.tokenizer.get_vocab()),
                  "imported": sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)}))
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICTALK_CACHE", str(tmp_path))
    monkeypatch.delenv(saved_encoder.ENGINE_ENV, raising=False)
    return tmp_path


@pytest.mark.slow  # loads the bundled model
def test_a_process_after_the_first_encodes_from_the_saved_form_without_pytorch_to_the_same_vectors(cache, tmp_path):
    """The first encoder (sentence-transformers, OpenVINO) saves the form; a new process then encodes from it
    without importing PyTorch, transformers or sentence-transformers, to the sentence-transformers vectors."""
    model = embedding.encoding_model("bundled")
    assert not isinstance(model, saved_encoder.SavedModel)  # nothing saved yet: the full model
    exact = encoder.Encoder(model, "fp32")
    theirs = exact(TEXTS)
    assert exact.plan.engine == "openvino"
    plain = model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)  # PyTorch, no OpenVINO
    assert np.allclose(theirs, plain, atol=1e-5)
    assert len(list((cache / "openvino" / "saved").glob("*/recipe.json"))) == 1

    out = tmp_path / "child.npy"
    run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(TEXTS), str(out)], capture_output=True, text=True,
                         check=True)
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert said == {"type": "SavedModel", "vocabulary": len(model.tokenizer.get_vocab()), "imported": []}
    ours = np.load(out)
    assert ours.shape == theirs.shape and np.allclose(ours, theirs, atol=1e-5)
    assert np.allclose(ours, plain, atol=1e-5)
    # the same text gets the same vector wherever it sits in a batch (padding changes nothing)
    assert np.allclose(ours[0], ours[len(TEXTS) // 6], atol=1e-6)


@pytest.mark.slow  # loads the bundled model
def test_the_saved_form_is_found_only_for_its_model_on_a_cpu_with_openvino_and_whole(cache, monkeypatch):
    model = embedding.load("bundled")
    encoder.Encoder(model, "fp32")(TEXTS[:3])
    key = embedding.model_key("bundled")
    assert isinstance(saved_encoder.find(key), saved_encoder.SavedModel)
    assert saved_encoder.find(key + "-another-version") is None  # another model identity: never this form
    monkeypatch.setenv(saved_encoder.ENGINE_ENV, "torch")  # the user asked for PyTorch
    assert saved_encoder.find(key) is None
    assert not isinstance(embedding.encoding_model("bundled"), saved_encoder.SavedModel)
    monkeypatch.delenv(saved_encoder.ENGINE_ENV)
    [folder] = (cache / "openvino" / "saved").glob("*")
    graph = cache / "openvino" / json.loads((folder / "recipe.json").read_text())["graph"] / "model.bin"
    data = graph.read_bytes()
    graph.unlink()  # the graph it runs is gone: the full model again, which converts and saves anew
    assert saved_encoder.find(key) is None
    graph.write_bytes(data)
    (folder / "recipe.json").write_text("{not json")
    assert saved_encoder.find(key) is None


@pytest.mark.slow  # loads the bundled model
def test_a_model_the_saved_form_cannot_reproduce_is_never_saved(cache):
    """A Dense layer after the pooling, or a tokenizer whose ids differ from sentence-transformers': no form."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense

    model = embedding.load("bundled")
    graph = cache / "openvino" / "graph"
    assert saved_encoder.recipe_of(model, graph, ["input_ids"]) is not None
    dense = SentenceTransformer(modules=[model[0], model[1], Dense(384, 16)], device="cpu")
    setattr(dense, saved_encoder.KEY, "dense-model")
    assert saved_encoder.recipe_of(dense, graph, ["input_ids"]) is None
    assert not saved_encoder.save(dense, graph, ["input_ids"], encoder.preprocessor(dense))

    def shifted(texts: list[str]) -> dict:  # ids one off: the tokenizer is not the one the model was run with
        features = encoder.preprocessor(model)(texts)
        return {**features, "input_ids": features["input_ids"] + 1}

    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    assert not saved_encoder.save(model, graph, inputs, shifted)
    assert not (cache / "openvino" / "saved").exists()
    assert saved_encoder.save(model, graph, inputs, encoder.preprocessor(model))  # the true ids: saved
