"""Re-indexing removes the HNSW folders of the generations it drops (Chroma keeps them, issue 31)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.helpers import run_cli
from tests.test_store import _write
from topictalk.indexing import store
from topictalk.indexing.store import folders

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_folders(path):
    return sorted(p.name for p in path.iterdir() if p.is_dir() and UUID.fullmatch(p.name))


def test_ten_reindexes_leave_only_the_live_and_the_previous_generation(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    _write(client, 12, "first")
    one_generation = len(_uuid_folders(tmp_path))  # its collections' graphs and the meta collection's
    for n in range(10):
        _write(client, 12 + n, f"run {n}")
    assert len(_uuid_folders(tmp_path)) <= 2 * one_generation  # live + previous (+ meta), not 11 generations
    assert folders.orphans(tmp_path) == []
    reader = store.open_reader(location)
    assert reader.topics()[0].label == "run 9 0" and len(reader.query_documents(np.ones(8), 3)) == 3


@pytest.mark.slow
def test_index_gc_removes_what_older_versions_left(tmp_path):
    location = store.Location(path=tmp_path)
    client = store.connect(location)
    _write(client, 12, "first")
    left = client.create_collection("left-by-an-old-version", embedding_function=None)
    left.add(ids=["a", "b"], embeddings=[[0.1] * 8, [0.2] * 8])
    client.delete_collection("left-by-an-old-version")  # as 92ea497 dropped generations: the folder stays
    before = _uuid_folders(tmp_path)
    assert len(folders.orphans(tmp_path)) == 1
    out = run_cli("index", "--gc", "--index-dir", str(tmp_path), timeout=300)
    assert "removed 1 orphan HNSW folder" in out.stdout
    assert len(_uuid_folders(tmp_path)) == len(before) - 1 and folders.orphans(tmp_path) == []
    assert store.open_reader(location).topics()[0].label == "first 0"  # the live index untouched
