"""indexing/imports.py: a heavy import started on a thread, for the caller's own import to find done."""

from __future__ import annotations

import importlib
import sys
import threading

import pytest

from topictalk.indexing import imports


def test_a_module_imported_in_the_background_is_there_for_the_callers_import(monkeypatch):
    monkeypatch.delitem(sys.modules, "xml.dom.minidom", raising=False)
    thread = imports.in_background("xml.dom.minidom")
    thread.join(timeout=60)
    assert not thread.is_alive() and "xml.dom.minidom" in sys.modules
    assert importlib.import_module("xml.dom.minidom") is sys.modules["xml.dom.minidom"]


def test_a_failed_background_import_is_left_to_the_callers_import_to_raise():
    thread = imports.in_background("topictalk_no_such_module")
    thread.join(timeout=60)
    assert not thread.is_alive()  # the thread ended quietly
    with pytest.raises(ModuleNotFoundError, match="topictalk_no_such_module"):
        importlib.import_module("topictalk_no_such_module")


def test_a_package_left_out_is_missing_for_that_import_only_and_imports_as_usual_after(tmp_path, monkeypatch):
    (tmp_path / "topictalk_probe_spare.py").write_text("VALUE = 1\n")
    (tmp_path / "topictalk_probe_guarded.py").write_text(
        "try:\n    import topictalk_probe_spare\n    HAS = True\nexcept ImportError:\n    HAS = False\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("topictalk_probe_spare", "topictalk_probe_guarded"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    finders = list(sys.meta_path)
    elsewhere: list[object] = []
    with imports._without(["topictalk_probe_spare"]):
        importlib.import_module("topictalk_probe_guarded")
        # another thread imports it meanwhile: it is only this thread's import that is left out
        thread = threading.Thread(target=lambda: elsewhere.append(importlib.import_module("topictalk_probe_spare")))
        thread.start()
        thread.join(timeout=60)
    assert sys.modules["topictalk_probe_guarded"].HAS is False
    assert elsewhere and elsewhere[0].VALUE == 1
    assert sys.meta_path == finders  # the finder is gone
    monkeypatch.delitem(sys.modules, "topictalk_probe_spare")
    monkeypatch.delitem(sys.modules, "topictalk_probe_guarded")
    imports.load("topictalk_probe_guarded", without=["topictalk_probe_spare"])
    assert sys.modules["topictalk_probe_guarded"].HAS is False and "topictalk_probe_spare" not in sys.modules
    assert importlib.import_module("topictalk_probe_spare").VALUE == 1  # a later import of it works as usual
    monkeypatch.delitem(sys.modules, "topictalk_probe_guarded")
    imports.load("topictalk_probe_guarded", without=["topictalk_probe_spare"])  # imported already: it is used
    assert sys.modules["topictalk_probe_guarded"].HAS is True
