"""Refining an index on a Chroma server (issue 30): the writer lock is the store's lease, and the log lives in
the manifest alone (no folder beside the index), so a re-index replays it from there."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli, run_cli_here
from tests.test_chroma_server import chroma_server  # noqa: F401 - the module's server fixture
from topictalk.indexing.sample import PATH as SAMPLE

pytestmark = pytest.mark.slow  # a real `chroma run`, an index


def test_a_rename_on_a_server_survives_a_reindex(chroma_server, tmp_path):  # noqa: F811
    def topictalk(*args: str) -> str:
        return run_cli_here(*args).stdout

    server = ["--chroma-host", "127.0.0.1", "--chroma-port", str(chroma_server), "--index-name", "refined"]
    build = ["index", "--input", str(SAMPLE), "--limit", "200", "--no-llm", "--index-dir", str(tmp_path), "--quiet",
             *server]
    run_cli(*build)  # the index as a user builds it, in its own process
    topics = json.loads(topictalk("topics", "--json", *server))["topics"]
    target = topics[-1]["topic"]
    out = topictalk("topics", "--rename", str(target), "Named on the server", *server)
    assert "renamed" in out and not list(tmp_path.glob("refinements*.json"))
    topictalk(*build)  # the re-index replays the log from the manifest
    again = {t["topic"]: t for t in json.loads(topictalk("topics", "--json", *server))["topics"]}
    assert (again[target]["label"], again[target]["label_source"]) == ("Named on the server", "user")
