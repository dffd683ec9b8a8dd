"""numba's on-disk cache: a second process loads umap's compiled code instead of compiling it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from topictalk.indexing import jit_cache
from topictalk.indexing.errors import TopictalkError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Fits a small UMAP after enable(); prints what the test checks as one JSON line.
SCRIPT = """
import json, sys
from topictalk.indexing import jit_cache
path = jit_cache.enable()
again = jit_cache.enable()
import numba, numpy as np, umap
from numba.core import decorators
from umap import layouts, umap_

@numba.njit
def later(x):
    return x + 1
later(1)

X = np.random.default_rng(0).random((300, 16), dtype=np.float32)
emb = umap.UMAP(n_neighbors=15, n_components=2, n_epochs=20, random_state=42).fit(X).embedding_
funcs = {
    "smooth_knn_dist": umap_.smooth_knn_dist,
    "compute_membership_strengths": umap_.compute_membership_strengths,
    "optimize_epoch": layouts._nb_optimize_layout_euclidean_single_epoch,
}
print(json.dumps({
    "path": str(path),
    "idempotent": again == path,
    "restored": numba.njit is decorators.njit and numba.jit is decorators.jit,
    "later_cached": type(later._cache).__name__ != "NullCache",
    "hits": {k: sum(f.stats.cache_hits.values()) for k, f in funcs.items()},
    "misses": {k: sum(f.stats.cache_misses.values()) for k, f in funcs.items()},
    "embedding": emb.tolist(),
}))
"""


def _run(cache) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["TOPICTALK_CACHE"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two fresh processes compile and reload all of UMAP's numba code
def test_second_process_loads_umap_from_the_cache(tmp_path):
    first = _run(tmp_path)
    path = tmp_path / "numba"
    assert first["path"].startswith(str(path))
    assert first["idempotent"] and first["restored"]
    assert not first["later_cached"]  # only umap and pynndescent functions are cached
    assert set(first["hits"].values()) == {0}
    assert all(first["misses"].values())
    index = sorted(p.name for p in path.rglob("*.nbi"))
    for name in ("smooth_knn_dist", "compute_membership_strengths", "optimize_layout"):
        assert any(name in file for file in index), (name, index)

    second = _run(tmp_path)
    assert second["path"] == first["path"]
    assert all(second["hits"].values()), second["hits"]
    assert set(second["misses"].values()) == {0}, second["misses"]
    assert second["embedding"] == first["embedding"]  # same seed, same layout, from cache
    assert sorted(p.name for p in path.rglob("*.nbi")) == index


def test_unwritable_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(TopictalkError, match="TOPICTALK_CACHE"):
        jit_cache.enable(blocker)


def test_a_function_compiled_with_other_options_gets_its_own_cache_files():
    def epoch(x):
        return x

    seen: dict = {}
    assert jit_cache._distinct(epoch, "njit[('parallel', False)]", seen) is epoch
    assert jit_cache._distinct(epoch, "njit[('parallel', False)]", seen) is epoch
    parallel = jit_cache._distinct(epoch, "njit[('parallel', True)]", seen)
    again = jit_cache._distinct(epoch, "njit[('parallel', True)]", {epoch.__code__: "x"})
    assert parallel is not epoch and parallel.__code__ is epoch.__code__
    assert parallel.__qualname__.startswith(epoch.__qualname__ + "__")
    assert parallel.__qualname__ == again.__qualname__  # the same name in every process
    assert parallel(3) == 3


def test_compiled_tells_whether_code_for_these_versions_is_on_disk(tmp_path):
    """The topics stage's ETA counts numba's compile time only when nothing is cached yet."""
    assert not jit_cache.compiled(tmp_path)
    (tmp_path / "numba-0.0-other-versions").mkdir()
    (tmp_path / "numba-0.0-other-versions" / "f.nbi").write_bytes(b"")  # an older install's code
    assert not jit_cache.compiled(tmp_path)
    jit_cache.folder(tmp_path).mkdir(parents=True)
    (jit_cache.folder(tmp_path) / "umap_.layouts.nbi").write_bytes(b"")
    assert jit_cache.compiled(tmp_path)
