"""The fast tier's guard (tests/conftest.py) refuses what an unmarked test must not do."""

from __future__ import annotations

import socket

import pytest


def test_an_unmarked_test_cannot_load_an_llm():
    from llama_cpp import Llama

    with pytest.raises(pytest.fail.Exception, match="mark it @pytest.mark.slow"):
        Llama(model_path="/no/such.gguf")


def test_an_unmarked_test_cannot_open_a_tcp_socket():
    with socket.socket() as s, pytest.raises(pytest.fail.Exception, match="mark it @pytest.mark.slow"):
        s.bind(("127.0.0.1", 0))


def test_an_unmarked_test_cannot_join_the_bundled_gguf():
    from topictalk.agent import bundled

    with pytest.raises(pytest.fail.Exception, match="chunk_paths"):
        bundled.chunk_paths(bundled.SMALL)


@pytest.mark.slow
def test_a_slow_test_may_open_a_socket():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        assert s.getsockname()[1] > 0


def test_a_refused_class_stays_a_class_for_the_modules_that_import_it():
    """umap binds `from pynndescent import NNDescent` at import: a fast test that first imports it must leave
    it the class, or every later UMAP fit fails its isinstance() check."""
    import umap.umap_
    from pynndescent import NNDescent

    assert isinstance(umap.umap_.NNDescent, type) and umap.umap_.NNDescent is NNDescent
    with pytest.raises(pytest.fail.Exception, match="NNDescent"):
        NNDescent([[0.0, 1.0], [1.0, 0.0]])
