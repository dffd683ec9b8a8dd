"""indexing/imports.py: a heavy import started on a thread, for the caller's own import to find done."""

from __future__ import annotations

import importlib
import sys

import pytest

from topictalk.indexing import imports


def test_a_module_imported_in_the_background_is_there_for_the_callers_import(monkeypatch):
    monkeypatch.delitem(sys.modules, "xml.dom.minidom", raising=False)
    order: list[str] = []
    thread = imports.in_background("xml.dom.minidom", prepare=lambda: order.append("prepared"))
    thread.join(timeout=60)
    assert not thread.is_alive() and order == ["prepared"] and "xml.dom.minidom" in sys.modules
    assert importlib.import_module("xml.dom.minidom") is sys.modules["xml.dom.minidom"]


def test_a_failed_background_import_is_left_to_the_callers_import_to_raise():
    thread = imports.in_background("topictalk_no_such_module")
    thread.join(timeout=60)
    assert not thread.is_alive()  # the thread ended quietly
    with pytest.raises(ModuleNotFoundError, match="topictalk_no_such_module"):
        importlib.import_module("topictalk_no_such_module")
