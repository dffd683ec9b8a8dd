"""Shared fixtures. Tests never touch the network: the hub is forced offline here."""

from __future__ import annotations

import os
import socket
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chroma
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The default LLM (the 1.5B) is for users; tests that do not judge label or answer quality run the
# 0.5B, twice as fast. Tests that do judge quality name "bundled" themselves.
os.environ.setdefault("TOPICTALK_LLM", "bundled-small")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.helpers import free_port, run_cli, run_cli_here  # noqa: E402, F401 - also imported from here by older modules

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def bundled_llm():
    """The small bundled GGUF (0.5B), loaded once for the whole run."""
    from topictalk.agent.models import load

    model = load("bundled-small")
    yield model
    model.close()


@pytest.fixture(scope="session")
def bundled_gguf():
    from topictalk.agent.bundled import SMALL, gguf_path

    return gguf_path(SMALL)


def _corpus(shared_name: str) -> Path:
    """A shared corpus when ../shared/data has it, else the 2,000-abstract CC0 sample the package ships,
    so that a fresh clone runs every end-to-end, browser and server test (issue 32)."""
    shared = SHARED_DATA / shared_name
    if shared.is_file():
        return shared
    from topictalk.indexing.sample import PATH

    return PATH


ARXIV = _corpus("arxiv_ml.jsonl.gz")  # arXiv ML abstracts: the shared 100k, or the bundled 2,000
NEWS = _corpus("bbc_news.jsonl.gz")  # a second corpus for the server tests (the sample again on a fresh clone)
ARXIV_SAMPLE = 300


@pytest.fixture(scope="session")
def arxiv_index(tmp_path_factory) -> Path:
    """A real index of 300 arXiv abstracts with the bundled models, built once per test run.

    Labeled by the default LLM (the 1.5B), since tests judge these labels: the 0.5B's answers
    mostly fail the label rule (copied titles, 8-word headings) and fall back to keywords.
    Tests must not modify it: copy it (shutil.copytree) to change it.
    """
    index = tmp_path_factory.mktemp("arxiv") / "index"
    run_cli_here("index", "--input", str(ARXIV), "--limit", str(ARXIV_SAMPLE), "--index-dir", str(index), "--quiet",
            "--llm", "bundled")
    return index


@pytest.fixture(scope="session")
def news(tmp_path_factory):
    """400 BBC articles indexed without a model at modularity's own grain (--nr-topics 0), built once per run.

    At the default grain 400 articles make topics of about 45, too small to hold subtopics; these are
    sections of about 100 (sport: football, rugby, tennis, ...). Tests must not modify it."""
    from topictalk.indexing import store

    path = tmp_path_factory.mktemp("subtopics") / "index"
    run_cli_here("index", "--input", str(NEWS), "--limit", "400", "--index-dir", str(path), "--quiet", "--no-llm",
            "--nr-topics", "0")
    return store.Location(path=path)


# -- the fast tier's guard (issue 32) -------------------------------------------------------------------------------
# `-m "not slow"` must load no model, build no index, open no socket and compile no UMAP. Tests that use
# these fixtures do all of that, so they are slow by this one rule rather than by a mark each must remember.
SLOW_FIXTURES = {"arxiv_index", "news", "bundled_llm", "bundled_gguf", "served"}

# what an unmarked test may not reach: (module, attribute) pairs, replaced by a failure while it runs
# A class is refused by its __init__, not replaced: a module first imported during a fast test binds the
# class by name (umap's `from pynndescent import NNDescent`), and a replacement would stay bound there after
# the test, breaking every later isinstance() on it (a slow test's UMAP fit failed so)
HEAVY = [
    ("sentence_transformers", "SentenceTransformer.__init__"),  # an embedding model
    ("llama_cpp", "Llama.__init__"),  # a GGUF LLM
    ("transformers.modeling_utils", "PreTrainedModel.from_pretrained"),  # a Hugging Face LLM
    ("umap", "UMAP.__init__"),  # numba compiles UMAP on its first fit
    ("pynndescent", "NNDescent.__init__"),  # and the neighbour search under it
    ("topictalk.agent.bundled", "chunk_paths"),  # joining the bundled GGUF from its chunks (1.5 GB)
]


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _refuse(what: str):
    def refused(*args, **kwargs):
        pytest.fail(f"a fast-tier test reached {what}: mark it @pytest.mark.slow or give it a fake", pytrace=False)

    return refused


class _HeavyImportGuard:
    """Patches each HEAVY attribute as soon as its module is imported (most are imported lazily, inside calls)."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def patch(self, module_name: str) -> None:
        module = sys.modules[module_name]
        for name, attribute in HEAVY:
            if name != module_name:
                continue
            owner_name, _, leaf = attribute.rpartition(".")
            owner = getattr(module, owner_name) if owner_name else module
            if hasattr(owner, leaf):
                self.monkeypatch.setattr(owner, leaf, _refuse(f"{name}.{attribute}"))

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in {name for name, _ in HEAVY}:
            return None
        for finder in sys.meta_path:  # the finder that would have found it, then patch once it has run
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                run = spec.loader.exec_module

                def exec_module(module, _run=run):
                    _run(module)
                    self.patch(fullname)

                spec.loader.exec_module = exec_module
                return spec
        return None


_REAL_SOCKET = {"bind": socket.socket.bind, "connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex}


@pytest.fixture(autouse=True)
def _fast_tier_guard(request, monkeypatch):
    if request.node.get_closest_marker("slow"):
        yield
        return
    guard = _HeavyImportGuard(monkeypatch)
    for name, _ in HEAVY:
        if name in sys.modules:
            guard.patch(name)
    # into the live list, not a copy put back afterwards: a package imported during the test may add its own
    # finder (sentence-transformers 6 adds one for its old module names, sentence_transformers.models), and
    # restoring the old list dropped it, so every later model load failed (a slow test after a fast one)
    sys.meta_path.insert(0, guard)
    for call, real in _REAL_SOCKET.items():
        def guarded(self, address, *args, _call=call, _real=real, **kwargs):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                pytest.fail(f"a fast-tier test called socket.{_call}({address!r}): mark it @pytest.mark.slow",
                            pytrace=False)
            return _real(self, address, *args, **kwargs)

        monkeypatch.setattr(socket.socket, call, guarded)
    try:
        yield
    finally:
        sys.meta_path.remove(guard)
