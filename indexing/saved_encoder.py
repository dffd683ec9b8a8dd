"""An embedding model run from what was saved of it: its tokenizer and OpenVINO's graph, no PyTorch.

Importing sentence-transformers (and with it PyTorch and transformers) takes ~6 s of a 2-core host,
in every process that embeds: a chat's question encoder, an add, a refine. Where the model's CPU
encoder is OpenVINO, everything a text's vector needs after the first run is on disk: the converted
graph (kept by :mod:`indexing.encoder`), and, saved beside it here, the tokenizer and the pooling. A
:class:`SavedModel` encodes from those in ~0.6 s of start-up, to the same vectors as the
sentence-transformers model (1e-7 apart: the same graph and tokens, the mean taken in NumPy).

It is saved only for models it reproduces: a transformer, then mean or CLS pooling, then an optional
normalization (a Dense layer or another pooling keeps the full model), and only when its tokenizer's
ids for a few probe texts are those sentence-transformers makes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from topictalk.indexing import host
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.paths import atomic_folder, cache_dir

PRECISION_ENV = "TOPICTALK_EMBED_PRECISION"  # "fp32" forces full precision on any device
ENGINE_ENV = "TOPICTALK_EMBED_ENGINE"  # "torch" keeps the CPU forward pass in PyTorch (default: OpenVINO)
BATCH = 32  # 16, 32 and 64 measured alike on 2 cores; sorted batches of 32 pad little
KEY = "_topictalk_key"  # the attribute embedding.load puts on a model: its identity (embedding.model_key)
FORMAT = 1  # of the saved folder: a change of what is saved makes every older folder unused
# Texts whose tokens must come out as sentence-transformers makes them before the form is saved:
# accents and case, a word split into pieces, an empty text, and one past the model's length.
PROBES = ["An example.", "Ünïcödé ☃ and CamelCase tokenization", "", "graph neural networks " * 200]


@dataclass(frozen=True)
class Recipe:
    """What turns a text into the model's vector besides the graph: saved as JSON beside the tokenizer."""

    graph: str  # the folder of the converted graph's model.xml, under cache_dir()/openvino
    inputs: list[str]  # the graph's inputs, in order (their names in the graph are the tracer's)
    max_length: int
    pooling: str  # "mean" or "cls"
    dimension: int
    lower_case: bool
    pad_id: int
    pad_token: str
    pad_type_id: int


def engine_wanted() -> str:
    wanted = os.environ.get(ENGINE_ENV) or "auto"
    if wanted not in ("auto", "torch", "openvino"):
        raise TopictalkError(f"{ENGINE_ENV}={wanted!r} is not an engine; use torch or openvino, or leave it unset")
    return wanted


def precision_wanted(precision: str | None = None) -> str:
    wanted = precision or os.environ.get(PRECISION_ENV) or "auto"
    if wanted not in ("auto", "fp32"):
        raise TopictalkError(f"{PRECISION_ENV}={wanted!r} is not a precision; use fp32 or leave it unset")
    return wanted


def cpu_has_native_bf16() -> bool:
    """True where bf16 matmuls run in hardware (``host.native_bf16``) and oneDNN may use them (no cap of
    ``host.ISA_CAP_ENV`` below them): there encoders use bf16."""
    return host.native_bf16(host.usable_flags(host.cpu_flags()))


def cpu_precision(precision: str | None = None) -> str:
    """bf16 where the CPU has native bf16 matmuls, unless fp32 is asked for."""
    return "bf16" if precision_wanted(precision) == "auto" and cpu_has_native_bf16() else "fp32"


def _folder(root: Path, key: str) -> Path:
    """Where the saved form of the model ``key`` names lives, under ``root`` (the converted graphs' folder): by
    its identity and the versions that read it."""
    parts = [FORMAT, key, *(_version(p) for p in ("openvino", "tokenizers"))]
    return root / "saved" / hashlib.blake2b(json.dumps(parts).encode(), digest_size=16).hexdigest()


def _version(distribution: str) -> str:
    try:
        return installed(distribution)
    except PackageNotFoundError:
        return ""


def recipe_of(model, graph: Path, inputs: list[str]) -> Recipe | None:
    """The recipe of a sentence-transformers ``model`` whose converted graph is ``graph``/model.xml; None for
    a model this module cannot reproduce (see the module docstring)."""
    kinds = [type(m).__name__ for m in model]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    config = model[1].get_config_dict()
    # sentence-transformers 6 names one mode; 3-5 set one flag per mode ("pooling_mode_mean_tokens")
    flags = [k.removeprefix("pooling_mode_").removesuffix("_tokens").removesuffix("_token")
             for k, on in config.items() if k.startswith("pooling_mode_") and on is True]
    mode = config.get("pooling_mode") or (flags[0] if flags else None)
    tokenizer = getattr(model, "tokenizer", None)
    if mode not in ("mean", "cls") or len(flags) > 1 or getattr(tokenizer, "padding_side", "right") != "right" \
            or getattr(tokenizer, "backend_tokenizer", None) is None or tokenizer.pad_token_id is None:
        return None
    return Recipe(graph=graph.name, inputs=list(inputs), max_length=int(model.max_seq_length), pooling=mode,
                  dimension=int(config.get("embedding_dimension") or config.get("word_embedding_dimension")),
                  lower_case=bool(getattr(model[0], "do_lower_case", False)), pad_id=int(tokenizer.pad_token_id),
                  pad_token=str(tokenizer.pad_token), pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0)))


def save(model, graph: Path, inputs: list[str], preprocess: Callable[[list[str]], dict]) -> bool:
    """Save ``model``'s tokenizer and recipe beside its converted ``graph`` folder when ``model`` carries its
    identity (:data:`KEY`), can be reproduced, and its tokens for :data:`PROBES` are ``preprocess``'s (once:
    again only when the recipe changed, e.g. its graph). True when a saved form is there afterwards; a cache
    that cannot be written costs only time."""
    key = getattr(model, KEY, None)
    recipe = recipe_of(model, graph, inputs) if key else None
    if recipe is None:
        return False
    folder = _folder(graph.parent, key)
    try:
        if json.loads((folder / "recipe.json").read_text(encoding="utf-8")) == asdict(recipe):
            return True
    except (OSError, ValueError):
        pass
    tokenizer = _configured(model.tokenizer.backend_tokenizer.to_str(), recipe)
    theirs = preprocess(PROBES)
    ours = _features(tokenizer, recipe, PROBES)
    if any(k not in theirs or not np.array_equal(np.asarray(theirs[k]), ours[k]) for k in recipe.inputs):
        return False

    def write(tmp: Path) -> None:
        (tmp / "tokenizer.json").write_text(tokenizer.to_str(), encoding="utf-8")
        (tmp / "recipe.json").write_text(json.dumps(asdict(recipe)), encoding="utf-8")

    try:
        shutil.rmtree(folder, ignore_errors=True)  # atomic_folder keeps a folder already there
        atomic_folder(folder, write)
    except OSError:
        return False
    return True


def usable() -> bool:
    """Whether a saved form may stand in for the model here: OpenVINO is the CPU engine, and there is no GPU
    (where there is one, sentence-transformers encodes on it)."""
    return (engine_wanted() != "torch" and find_spec("openvino") is not None
            and not any(Path(p).exists() for p in ("/dev/nvidiactl", "/dev/dxg", "/dev/kfd")))


def find(key: str) -> SavedModel | None:
    """The saved form of the model ``key`` names, when :func:`usable` and one is on disk whole; else None."""
    if not usable():
        return None
    root = cache_dir() / "openvino"
    folder = _folder(root, key)
    try:
        recipe = Recipe(**json.loads((folder / "recipe.json").read_text(encoding="utf-8")))
        graph = root / recipe.graph / "model.xml"
        if not graph.is_file() or not graph.with_suffix(".bin").is_file():
            return None
        tokenizer = _configured((folder / "tokenizer.json").read_text(encoding="utf-8"), recipe)
    except Exception:  # noqa: BLE001 - a partial or older folder (tokenizers raises plain Exceptions): not used
        return None
    return SavedModel(key, recipe, tokenizer, graph)


def _configured(text: str, recipe: Recipe):
    """The tokenizer as sentence-transformers calls it: truncated to the model's length, padded to the longest."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(text)
    tokenizer.no_truncation()
    tokenizer.enable_truncation(recipe.max_length, strategy="longest_first", direction="right")
    tokenizer.no_padding()
    tokenizer.enable_padding(direction="right", pad_id=recipe.pad_id, pad_type_id=recipe.pad_type_id,
                             pad_token=recipe.pad_token)
    return tokenizer


def _features(tokenizer, recipe: Recipe, texts: list[str]) -> dict[str, np.ndarray]:
    encoded = tokenizer.encode_batch([t.lower() for t in texts] if recipe.lower_case else list(texts))
    return {"input_ids": np.array([e.ids for e in encoded], np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], np.int64)}


def batches(prepare: Callable[[list[str]], dict], texts: list[str], order: np.ndarray,
            size: int) -> Iterator[tuple[np.ndarray, dict]]:
    """``prepare``'d batches of ``texts`` in ``order``, each prepared in a worker thread while the model runs
    the one before (the Rust tokenizer releases the GIL): tokenization leaves the critical path."""
    def prepared(start: int) -> tuple[np.ndarray, dict]:
        rows = order[start:start + size]
        return rows, prepare([texts[i] for i in rows])

    starts = range(0, len(texts), size)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(prepared, starts[0]) if starts else None
        for nxt in list(starts[1:]) + [None]:
            done = pending.result()
            pending = pool.submit(prepared, nxt) if nxt is not None else None
            yield done


class CompiledGraph:
    """A converted transformer compiled by OpenVINO for this CPU: token features in, token embeddings out."""

    def __init__(self, graph, precision: str, inputs: list[str]) -> None:
        """``graph``: an ``openvino.Model`` or the path of its model.xml."""
        import openvino

        core = openvino.Core()
        if not isinstance(graph, openvino.Model):
            graph = core.read_model(graph)
        self.inputs = list(inputs)
        # One single-threaded stream per core, with a request in flight on each: 10% faster than one
        # request over both cores (57 against 52 docs/s on 2 cores, bench/embed.py's sample of 600).
        config = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        self.compiled = core.compile_model(graph, "CPU", config)

    def run(self, batches: Iterator[tuple[np.ndarray, dict]]) -> Iterator[tuple[np.ndarray, dict, np.ndarray]]:
        """(rows, features, token embeddings) for each batch, in the batches' order.

        One request per stream, started in turn and waited for oldest first (``wait`` releases the GIL).
        Not an ``AsyncInferQueue`` with a Python callback: that runs Python on OpenVINO's threads, and a
        compiled model freed while one of them waited for the GIL hung the process in the executor's
        join (seen once in a full test run: the main thread holding the GIL in ``~CPUStreamsExecutor``)."""
        n = max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        free = [self.compiled.create_infer_request() for _ in range(n)]
        running: deque[tuple[object, np.ndarray, dict]] = deque()

        def finished() -> tuple[np.ndarray, dict, np.ndarray]:
            request, rows, features = running.popleft()
            request.wait()
            # a copy: the request reuses its output buffer for its next batch
            hidden = np.array(request.get_output_tensor(0).data, dtype=np.float32)
            free.append(request)
            return rows, features, hidden

        for rows, features in batches:
            if not free:
                yield finished()
            request = free.pop()
            request.start_async([np.asarray(features[k]) for k in self.inputs])
            running.append((request, rows, features))
        while running:
            yield finished()


class SavedModel:
    """The saved form of one embedding model (see the module docstring). :class:`indexing.encoder.Encoder`
    runs it as it runs a sentence-transformers model; ``tokenizer`` gives the vocabulary (``get_vocab``)."""

    def __init__(self, key: str, recipe: Recipe, tokenizer, graph: Path) -> None:
        self.key, self.recipe, self.tokenizer, self.graph = key, recipe, tokenizer, graph
        self._compiled: dict[str, CompiledGraph] = {}  # by precision, each at its first text

    def get_embedding_dimension(self) -> int:
        return self.recipe.dimension

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None,
               precision: str = "fp32") -> np.ndarray:
        """Unit-length float32 vectors of ``texts``, in their order; longest first in batches, so each pads
        little. ``precision``: OpenVINO's, "bf16" or "fp32" (the encoder's plan chooses, see cpu_precision)."""
        out = np.zeros((len(texts), self.recipe.dimension), np.float32)
        if not texts:
            return out
        if precision not in self._compiled:
            self._compiled[precision] = CompiledGraph(self.graph, precision, self.recipe.inputs)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        prepare = lambda chunk: _features(self.tokenizer, self.recipe, chunk)  # noqa: E731
        for rows, features, hidden in self._compiled[precision].run(batches(prepare, texts, order, BATCH)):
            if self.recipe.pooling == "cls":
                vectors = hidden[:, 0]
            else:  # the mean over the text's own tokens, as sentence-transformers' Pooling takes it
                mask = features["attention_mask"][..., None].astype(np.float32)
                vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out[rows] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            if progress is not None:
                progress(len(rows))
        return out
