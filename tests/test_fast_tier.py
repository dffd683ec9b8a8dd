"""The fast tier's guard (tests/conftest.py) refuses what an unmarked test must not do."""

from __future__ import annotations

import socket
import sys

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


class _Finder:
    def find_spec(self, fullname, path=None, target=None):
        return None


_ADDED = _Finder()


def test_a_finder_a_package_adds_during_a_fast_test_1():
    """sentence-transformers 6 adds a finder for its old module names (sentence_transformers.models) when first
    imported: the guard put a copy of sys.meta_path back after the test and dropped it, and every later model
    load failed. This test adds one as that import does; the next checks it is still there."""
    sys.meta_path.append(_ADDED)


def test_a_finder_a_package_adds_during_a_fast_test_2():
    try:
        assert _ADDED in sys.meta_path
        # the guard of this test only: the last test's was taken out
        assert sum(type(f).__name__ == "_HeavyImportGuard" for f in sys.meta_path) == 1
    finally:
        if _ADDED in sys.meta_path:
            sys.meta_path.remove(_ADDED)
