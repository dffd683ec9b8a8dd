"""Shared fixtures. Tests never touch the network: the hub is forced offline here."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chroma
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def bundled_llm():
    """The bundled 0.5B GGUF, loaded once for the whole run."""
    from agent.models import load

    model = load("bundled")
    yield model
    model.close()


@pytest.fixture(scope="session")
def bundled_gguf():
    from agent.bundled import gguf_path

    return gguf_path()
