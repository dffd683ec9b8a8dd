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
