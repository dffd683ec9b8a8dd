"""`topictalk export`: an index's documents, topics and themes as CSV, Parquet and JSON lines (issue 30),
read back from a real persistent Chroma index written by the store's writer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from topictalk.indexing import export, store
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import DocumentRecord, Theme, Topic
from topictalk.ui import cli


@pytest.fixture()
def index(tmp_path):
    location = store.Location(path=tmp_path / "index")
    writer = store.begin(store.connect(location))
    docs = [DocumentRecord(f"d{i}", f"text, with a comma {i}", f"title {i}", i % 2, 0.5 + i / 100, float(i), -float(i),
                           core=i != 3, theme=0) for i in range(7)]
    writer.write_documents(docs, np.random.default_rng(0).normal(size=(7, 8)).astype(np.float32))
    writer.write_topics([Topic(t, 4 - t, f"Topic {t}", "llm", ["k1", "k2", "k3"], ["kb"], ["m"], [f"d{t}"],
                               np.ones(8, np.float32), theme=0, description=f"About {t}.") for t in (0, 1)])
    writer.write_themes([Theme(0, 7, "All", "llm", [0, 1], ["k1"], np.ones(8, np.float32), description="Both.")])
    writer.commit({"corpus": {"documents": 7}})
    return location


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_every_table_is_written_and_reads_back(index, tmp_path, fmt):
    written = export.write(store.open_reader(index), tmp_path / "out", fmt)
    assert [p.name for p in written] == [f"documents.{fmt}", f"topics.{fmt}", f"themes.{fmt}"]
    read = {"csv": pd.read_csv, "parquet": pd.read_parquet,
            "jsonl": lambda p: pd.read_json(p, lines=True)}[fmt]
    documents, topics, themes = (read(p) for p in written)
    assert list(documents["id"]) == [f"d{i}" for i in range(7)]  # every document, in writing order
    assert list(documents["topic"]) == [i % 2 for i in range(7)] and set(documents["topic_label"]) == {"Topic 0",
                                                                                                         "Topic 1"}
    assert documents.loc[3, "core"] == False and documents.loc[2, "text"] == "text, with a comma 2"  # noqa: E712
    assert list(topics.columns[:5]) == ["Topic", "Count", "Name", "Representation", "Representative_Docs"]  # get_topic_info's
    assert topics.loc[0, "Name"] == "0_k1_k2_k3" and topics.loc[0, "Description"] == "About 0."
    keywords = topics.loc[0, "Representation"]
    assert (json.loads(keywords) if fmt == "csv" else list(keywords)) == ["k1", "k2", "k3"]
    assert themes.loc[0, "Label"] == "All" and themes.loc[0, "Count"] == 7


def test_the_command_line_writes_them_and_an_unwritable_folder_is_one_line(index, tmp_path, capsys):
    assert cli.main(["export", "--index-dir", str(index.path), "--format", "jsonl", "--out", str(tmp_path / "x")]) == 0
    assert "documents.jsonl" in capsys.readouterr().out and (tmp_path / "x" / "themes.jsonl").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TopictalkError, match="cannot write the export"):
        export.write(store.open_reader(index), blocker / "sub", "csv")
