"""`topictalk trends` and `topics --by` on a real index agree with counts computed independently from the
input file (issue 29): a JSONL of bundled arXiv abstracts with a `published` month derived from each id
(2312.10925 -> 2023-12) and their `categories`, some with MSC codes appended as arXiv lists them."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.helpers import run_cli_here
from topictalk.indexing import corpus, store, trends
from topictalk.ui import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "indexing" / "data" / "arxiv_ml_sample.jsonl.gz"
CATEGORY = re.compile(r"[a-z-]+(\.[A-Za-z-]+)?")  # an arXiv category; MSC (68T45) and ACM (I.2.6) codes are not


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trends")
    rows = [json.loads(line) for line in gzip.open(SAMPLE, "rt", encoding="utf-8")][::5][:400]
    with open(folder / "papers.jsonl", "w", encoding="utf-8") as out:
        for i, row in enumerate(rows):
            row["published"] = None if i % 80 == 0 else f"20{row['id'][:2]}-{row['id'][2:4]}"
            if i % 7 == 0:
                row["categories"] += " 68T45, 62H30 I.2.6"
            out.write(json.dumps(row) + "\n")
    index = folder / "index"
    run_cli_here("index", "--input", str(folder / "papers.jsonl"), "--no-llm", "--index-dir", str(index), "--quiet")
    run_cli_here("export", "--index-dir", str(index), "--format", "jsonl", "--out", str(folder / "export"))
    topic_of = {d["id"]: d["topic"] for d in map(json.loads, open(folder / "export" / "documents.jsonl"))}
    return index, rows, topic_of


@pytest.mark.slow  # builds an index
def test_trends_json_agrees_with_the_input_file(built):
    index, rows, topic_of = built
    got = json.loads(run_cli_here("trends", "--index-dir", str(index), "--json").stdout)
    assert got["date_field"] == "published" and got["period"] == "month"  # month precision, 16 months
    expected = Counter((topic_of[r["id"]], r["published"]) for r in rows if r["published"])
    assert got["undated"] == sum(r["published"] is None for r in rows) == 5
    table = {(t["topic"], p): n for t in got["topics"] for p, n in zip(got["periods"], t["counts"]) if n}
    assert table == dict(expected)
    assert got["periods"][0] == min(r["published"] for r in rows if r["published"])
    assert sum(got["totals"]) == 395 and got["changes"] and {"p_value", "significant"} <= set(got["changes"][0])
    # words per topic and month: only where the cell has 5 documents or more
    cells = [(n, w) for t in got["topics"] if t["words"] for n, w in zip(t["counts"], t["words"])]
    assert any(w for _, w in cells) and all(n >= 5 for n, w in cells if w)
    # the human table says the same in words
    text = run_cli_here("trends", "--index-dir", str(index), "--top", "3").stdout
    assert "Topic shares by month" in text and "Grew most:" in text and "5 documents without a date" in text


@pytest.mark.slow  # builds an index
def test_topics_by_categories_agrees_with_the_input_file(built):
    index, rows, topic_of = built
    got = json.loads(run_cli_here("topics", "--by", "categories", "--json", "--index-dir", str(index)).stdout)
    assert got["field"] == "categories" and got["multi"] is True
    expected = Counter((topic_of[r["id"]], c) for r in rows
                       for c in dict.fromkeys(r["categories"].split()) if CATEGORY.fullmatch(c))
    table = {(t["topic"], v["value"]): t["count"] for v in got["values"] for t in v["topics"]}
    assert table == dict(expected)
    assert not any(v["value"] in ("68T45,", "68T45", "I.2.6") for v in got["values"])
    by_date = json.loads(run_cli_here("topics", "--by", "date", "--json", "--index-dir", str(index)).stdout)
    assert sum(v["documents"] for v in by_date["values"]) == 395
    bad = run_cli_here("topics", "--by", "nope", "--index-dir", str(index), check=False)
    assert bad.returncode == 2 and "--by takes one of categories, date" in bad.stderr
    # the chat's restriction: nearest documents of one category are all of it
    reader = store.open_reader(store.Location(path=index))
    docs = reader.get_documents([rows[1]["id"]])
    near = reader.query_documents(reader.embeddings([rows[1]["id"]])[0],
                                  10, facet=("categories", "cs.CV"))
    assert docs and near and all("cs.CV" in d.fields["categories"] for d, _ in near)


def test_an_index_without_dates_says_so_in_one_line(tmp_path, capsys):
    import numpy as np

    from topictalk.indexing.schema import DocumentRecord, Topic

    for manifest, why in (({}, "built before"), ({"trends": trends.Trends(None, None, [], {}).as_dict()}, "no dates")):
        location = store.Location(path=tmp_path / why.replace(" ", "_"))
        writer = store.begin(store.connect(location))
        writer.write_documents([DocumentRecord("a", "t", "", 0, 1.0, 0.0, 0.0)], np.ones((1, 4), np.float32))
        writer.write_topics([Topic(0, 1, "Zero", "llm", ["k"], embedding=np.ones(4, np.float32))])
        writer.write_themes([])
        writer.commit({"corpus": {"documents": 1}, **manifest})
        assert cli.main(["trends", "--index-dir", str(location.path)]) == 1
        err = capsys.readouterr().err.strip()
        assert why in err and "\n" not in err


@pytest.mark.slow  # reads 3,000 rows of the shared 120k-paper corpus
@pytest.mark.skipif(not (SHARED_DATA / "arxiv_all.jsonl.gz").exists(), reason="needs ../shared/data/arxiv_all")
def test_arxiv_all_listing_date_and_categories_are_found_automatically():
    c = corpus.from_files([SHARED_DATA / "arxiv_all.jsonl.gz"], limit=3000)
    assert c.columns["date_field"] == "listing_date" and c.columns["facet_fields"]["categories"] is True
    values = Counter(v for d in c.documents for v in d.fields.get("categories", []))
    assert values["cs.LG"] > 100 and all(CATEGORY.fullmatch(v) for v in values)  # no MSC or ACM codes
    assert sum(d.date is not None for d in c.documents) == 3000


@pytest.mark.parametrize("flag,named", [("--date-field", "no column 'nope'"), ("--facet-field", "no column 'nope'")])
def test_a_bad_field_name_is_one_line_listing_the_columns(tmp_path, capsys, flag, named):
    (tmp_path / "d.csv").write_text("id,text,published\n" + "".join(f"{i},text {i},2025-01-0{1 + i % 9}\n"
                                                                    for i in range(30)))
    assert cli.main(["index", "--input", str(tmp_path / "d.csv"), flag, "nope", "--no-llm",
                     "--index-dir", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "(columns: id, text, published)" in err and "\n" not in err
