"""Shared fixtures. Tests never touch the network: the hub is forced offline here."""

from __future__ import annotations

import os

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

from tests.helpers import free_port, run_cli  # noqa: E402, F401 - also imported from here by older modules

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def bundled_llm():
    """The small bundled GGUF (0.5B), loaded once for the whole run."""
    from agent.models import load

    model = load("bundled-small")
    yield model
    model.close()


@pytest.fixture(scope="session")
def bundled_gguf():
    from agent.bundled import SMALL, gguf_path

    return gguf_path(SMALL)


def _corpus(shared_name: str) -> Path:
    """A shared corpus when ../shared/data has it, else the 2,000-abstract CC0 sample the package ships,
    so that a fresh clone runs every end-to-end, browser and server test (issue 32)."""
    shared = SHARED_DATA / shared_name
    if shared.is_file():
        return shared
    from indexing.sample import PATH

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
    run_cli("index", "--input", str(ARXIV), "--limit", str(ARXIV_SAMPLE), "--index-dir", str(index), "--quiet",
            "--llm", "bundled")
    return index
