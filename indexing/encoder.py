"""Running a loaded sentence-transformers model: one :class:`Encoder` per model and plan.

Documents (``embedding_cache``) and questions (:func:`query_vectors`, the
agent's retrieval) go through the same encoder, so they land in one space:
OpenVINO in bf16 on this CPU gives vectors a little off plain fp32 encoding,
and a question embedded the other way would be off by as much.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from topictalk.indexing import saved_encoder
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.paths import atomic_folder, cache_dir
from topictalk.indexing.saved_encoder import BATCH as CPU_BATCH
from topictalk.indexing.saved_encoder import ENGINE_ENV, CompiledGraph, SavedModel


def dimension(model) -> int | None:
    """The size of the model's vectors; None when no model is loaded yet."""
    size_of = (getattr(model, "get_embedding_dimension", None)  # sentence-transformers 6
               or getattr(model, "get_sentence_embedding_dimension", None))  # 3-5
    return size_of() if size_of else None


def preprocessor(model) -> Callable | None:
    """sentence-transformers' tokenizing step (``preprocess`` in 6, ``tokenize`` in 3-5); None for
    a model that is not sentence-transformers' (it is used through its own ``encode``)."""
    return getattr(model, "preprocess", None) or getattr(model, "tokenize", None)


GPU_MAX_BATCH = 1024
STATIC_BATCH = 4096  # a static model is a lookup and a mean: batches only bound memory


@dataclass(frozen=True)
class EncodePlan:
    """How an :class:`Encoder` runs a model: chosen once by :func:`plan`."""

    device: str  # "cpu" or "cuda"
    precision: str  # "fp32", "bf16" (native on this CPU) or "fp16" (CUDA autocast)
    batch_size: int
    engine: str = "torch"  # "torch", or "openvino" for the transformer's forward pass on a CPU


def _is_static(model) -> bool:
    return type(model[0]).__name__ == "StaticEmbedding"


def _gpu_batch(model) -> int:
    """The biggest power-of-two batch whose fp16 activations fit a quarter of the free GPU memory."""
    import torch

    free, _ = torch.cuda.mem_get_info()
    config = getattr(getattr(model[0], "auto_model", None), "config", None)
    hidden = getattr(config, "hidden_size", 768)
    heads = getattr(config, "num_attention_heads", 12)
    length = int(min(model.max_seq_length or 512, 512))
    # live activations of one layer per sequence: q, k, v, the 4x MLP and friends (~12 x hidden per
    # token) plus the attention scores (heads x length per token), in 2-byte floats
    per_sequence = length * (12 * hidden + heads * length) * 2
    batch = CPU_BATCH  # doubled while the free memory allows
    while batch * 2 <= GPU_MAX_BATCH and batch * 2 * per_sequence <= free / 4:
        batch *= 2
    return batch


def _cpu_engine(model) -> str:
    """OpenVINO where it is installed and the model is a Hugging Face transformer, unless
    ``$TOPICTALK_EMBED_ENGINE`` = "torch". OpenVINO's fused CPU kernels run MiniLM 1.35x faster than
    PyTorch at the same precision (bench/embed.py), with the same vectors to 4 decimals."""
    wanted = saved_encoder.engine_wanted()
    if wanted == "torch" or getattr(model[0], "auto_model", None) is None:
        return "torch"
    try:
        import openvino  # noqa: F401
    except ImportError:
        if wanted == "openvino":
            raise TopictalkError(f"{ENGINE_ENV}=openvino but openvino is not installed: pip install openvino") from None
        return "torch"
    return "openvino"


def plan(model, precision: str | None = None) -> EncodePlan:
    """fp16 on CUDA; on a CPU OpenVINO (see :func:`_cpu_engine`) in bf16 where the CPU has native bf16,
    else fp32; ``precision`` or ``$TOPICTALK_EMBED_PRECISION`` = "fp32" forces full precision."""
    if isinstance(model, SavedModel):
        return EncodePlan("cpu", saved_encoder.cpu_precision(precision), CPU_BATCH, "openvino")
    device = model.device.type
    wanted = saved_encoder.precision_wanted(precision)
    if _is_static(model):
        return EncodePlan(device, "fp32", STATIC_BATCH)
    if device == "cuda":
        return EncodePlan(device, "fp32" if wanted == "fp32" else "fp16", _gpu_batch(model))
    if device != "cpu":
        return EncodePlan(device, "fp32", CPU_BATCH)
    return EncodePlan(device, saved_encoder.cpu_precision(precision), CPU_BATCH, _cpu_engine(model))


def _batches(model, texts: list[str], order: np.ndarray, size: int, device: str) -> Iterator[tuple[np.ndarray, dict]]:
    """sentence-transformers' tokenized batches in ``order``, on the model's device (see saved_encoder.batches)."""
    from sentence_transformers.util import batch_to_device

    prepare_batch = preprocessor(model)

    def prepare(chunk: list[str]) -> dict:
        features = prepare_batch(chunk)
        if device == "cuda":
            features = {k: v.pin_memory() if hasattr(v, "pin_memory") else v for k, v in features.items()}
        return features

    for rows, features in saved_encoder.batches(prepare, texts, order, size):
        yield rows, batch_to_device(features, model.device)


class _OpenVINOTransformer(CompiledGraph):
    """A sentence-transformers model's first module (the Hugging Face transformer) compiled by
    OpenVINO for the CPU; the modules after it (pooling, normalization, dense) stay in PyTorch, so
    every pooling mode works unchanged. Where the model can run without sentence-transformers, its
    tokenizer and pooling are saved beside the graph (indexing/saved_encoder.py)."""

    def __init__(self, model, precision: str) -> None:
        import openvino

        prepare = preprocessor(model)
        example = prepare(["an example", "a longer example text"])
        inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in example]
        # Tracing and converting took ~2.2 s of the ~2.6 s this costs (AVX-512+AMX host), in every process
        # that embeds (an index, an add, the chat's question encoder): the converted graph is kept on disk,
        # under a digest of the weights and of the code that converts them, and read back in ~0.03 s.
        saved = cache_dir() / "openvino" / _conversion_key(model, inputs) / "model.xml"
        converted = None
        if saved.is_file():
            with contextlib.suppress(RuntimeError):  # a damaged copy: converted again below
                converted = openvino.Core().read_model(saved)
        if converted is None:
            converted = _convert(model, inputs, example)
            with contextlib.suppress(OSError):  # a cache that cannot be written costs only time
                shutil.rmtree(saved.parent, ignore_errors=True)  # atomic_folder keeps a folder already there
                atomic_folder(saved.parent, lambda tmp: openvino.save_model(converted, tmp / saved.name,
                                                                            compress_to_fp16=False))
        super().__init__(converted, precision, inputs)
        if saved.is_file():
            saved_encoder.save(model, saved.parent, inputs, prepare)


def _convert(model, inputs: list[str], example: dict):
    """The model's transformer as an OpenVINO graph taking ``inputs`` of any batch size and length."""
    import warnings

    import openvino
    import torch
    import transformers
    from openvino.frontend import FrontEndManager
    from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder

    class Hidden(torch.nn.Module):  # what is traced: the tokenizer's tensors in, token embeddings out
        def __init__(self, inner, names: list[str]) -> None:
            super().__init__()
            self.inner, self.names = inner, names

        def forward(self, *tensors):
            return self.inner(**dict(zip(self.names, tensors))).last_hidden_state

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        # Through the PyTorch frontend, not openvino.convert_model: that one starts OpenVINO's
        # telemetry, which sends usage data whenever no consent file exists. Tracing warns about
        # Python branches on shapes, which are constant for an encoder.
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            decoder = TorchScriptPythonDecoder(Hidden(model[0].auto_model.eval(), inputs),
                                               example_input=tuple(example[k] for k in inputs))
    finally:
        transformers.logging.set_verbosity(verbosity)
    frontend = FrontEndManager().load_by_framework("pytorch")
    loaded = frontend.load(decoder)
    for place in loaded.get_inputs():  # any batch size and length
        loaded.set_partial_shape(place, openvino.PartialShape([-1, -1]))
    return frontend.convert(loaded)


def _conversion_key(model, inputs: list[str]) -> str:
    """What a converted graph depends on: the transformer's weights and configuration, its inputs, and
    the versions of the code that traces and converts it. Hashing MiniLM's 90 MB takes ~0.1 s."""
    import json

    import openvino
    import torch
    import transformers

    inner = model[0].auto_model
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([openvino.__version__, torch.__version__, transformers.__version__,
                              type(inner).__name__, inner.config.to_json_string(), inputs]).encode())
    for name, tensor in inner.state_dict().items():
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


COMPILED = "_topictalk_openvino"  # the model attribute holding its compiled transformers, by precision


class Encoder:
    """Encodes texts with one model under one :class:`EncodePlan`.

    It keeps what is costly to prepare (OpenVINO converts and compiles the
    transformer in ~3 s) across the calls of one index run; ``log`` hears of
    a model OpenVINO cannot convert, which then runs in PyTorch.
    """

    plan: EncodePlan | None

    def __init__(self, model, precision: str | None = None, log: Callable[[str], None] = lambda _: None) -> None:
        self.model = model
        # None for a model that is not sentence-transformers': its own encode() runs as it is
        self.plan = plan(model, precision) if preprocessor(model) or isinstance(model, SavedModel) else None
        self.log = log
        self._openvino: _OpenVINOTransformer | None = None

    def _compiled(self) -> _OpenVINOTransformer | None:
        """OpenVINO's compiled transformer (made at the first call) when the plan runs OpenVINO. It is kept
        on the model object, so every Encoder of one loaded model compiles it once: an index run made three
        (documents, representation words, description sentences), about 3 s each."""
        if self.plan.engine == "openvino" and self._openvino is None:
            made = getattr(self.model, COMPILED, None)
            if made is None:
                made = {}
                setattr(self.model, COMPILED, made)
            try:
                if self.plan.precision not in made:
                    made[self.plan.precision] = _OpenVINOTransformer(self.model, self.plan.precision)
                self._openvino = made[self.plan.precision]
            except Exception as err:  # noqa: BLE001 - the converter raises anything a model's code can
                self.log(f"warning: OpenVINO cannot compile this embedding model ({type(err).__name__}: "
                         f"{str(err)[:200]}); embedding with PyTorch")
                self.plan = EncodePlan(self.plan.device, self.plan.precision, self.plan.batch_size, "torch")
        return self._openvino

    def __call__(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts``, in their order.

        Texts run longest first so each batch pads little. ``progress(n)`` is
        called after every batch.
        """
        model = self.model
        if isinstance(model, SavedModel):  # tokenizer, graph and pooling, without PyTorch
            return model.encode(texts, progress, self.plan.precision)
        if self.plan is None:  # a model of another kind: its own encode, no PyTorch of ours
            vectors = np.asarray(model.encode(texts, batch_size=CPU_BATCH, normalize_embeddings=True,
                                              convert_to_numpy=True, show_progress_bar=False), np.float32)
            if progress is not None:
                progress(len(texts))
            return vectors
        import torch

        out = np.zeros((len(texts), dimension(model)), np.float32)
        if not texts:
            return out
        compiled = self._compiled()
        how = self.plan  # read after: OpenVINO may have fallen back to PyTorch
        order = np.argsort([-len(t) for t in texts], kind="stable")
        if how.precision == "fp32" or how.engine == "openvino":  # OpenVINO runs its own precision
            cast = torch.autocast(how.device, enabled=False)
        else:
            cast = torch.autocast(how.device, dtype=torch.bfloat16 if how.precision == "bf16" else torch.float16)
        model.eval()
        # one autocast region for the whole call: the cast weights are cached across batches
        with torch.inference_mode(), cast:
            batches = _batches(model, texts, order, how.batch_size, how.device)
            if compiled is not None:  # OpenVINO's transformer, then the other modules in PyTorch
                for rows, features, hidden in compiled.run(batches):
                    self._store(out, rows, self._rest({**features, "token_embeddings": torch.from_numpy(hidden)}),
                                progress)
                return out
            for rows, features in batches:
                vectors = model(features)["sentence_embedding"].float()
                if how.precision == "fp16" and not torch.isfinite(vectors).all():
                    with torch.autocast(how.device, enabled=False):  # this model overflows fp16: fp32 for it
                        vectors = model(features)["sentence_embedding"].float()
                self._store(out, rows, vectors, progress)
        return out

    def _rest(self, features: dict):
        """sentence-transformers' modules after the transformer (pooling, normalization, dense)."""
        for module in list(self.model)[1:]:
            features = module(features)
        return features["sentence_embedding"].float()

    @staticmethod
    def _store(out: np.ndarray, rows: np.ndarray, vectors, progress: Callable[[int], None] | None) -> None:
        import torch

        out[rows] = torch.nn.functional.normalize(vectors, dim=1).cpu().numpy()
        if progress is not None:
            progress(len(rows))


def encode(model, texts: list[str], progress: Callable[[int], None] | None = None,
           precision: str | None = None) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts``: one :class:`Encoder` call (prefer an Encoder
    for several calls with one model)."""
    return Encoder(model, precision)(texts, progress)


def query_vectors(encoder: Encoder, questions: list[str]) -> np.ndarray:
    """Unit-length vectors of questions, made exactly as the documents' were (the same encoder
    and plan), so that a question and a document with the same text get the same vector."""
    return encoder(questions)
