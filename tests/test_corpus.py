"""Corpus loading: every format, column detection, cleaning, sampling and one-line errors."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

import pandas as pd
import pytest

from topictalk.indexing import corpus
from topictalk.indexing.errors import TopictalkError

ROWS = [
    {"id": "a1", "title": "Graph networks", "abstract": "We study message passing on graphs."},
    {"id": "a2", "title": "Diffusion", "abstract": "Denoising models generate images."},
    {"id": "a3", "title": "Bandits", "abstract": "Regret bounds for contextual bandits."},
]


def _jsonl(path: Path, rows: list[dict], compress: bool = False) -> Path:
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _raises(match: str, call, *args, **kwargs) -> str:
    with pytest.raises(TopictalkError, match=match) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def _check_rows(loaded: corpus.Corpus) -> None:
    assert loaded.ids == ["a1", "a2", "a3"]
    assert loaded.titles == ["Graph networks", "Diffusion", "Bandits"]
    assert loaded.texts == [row["abstract"] for row in ROWS]
    assert (loaded.text_column, loaded.title_column, len(loaded), loaded.read) == ("abstract", "title", 3, 3)


@pytest.mark.parametrize("name", ["c.csv", "c.tsv", "c.csv.gz", "c.jsonl", "c.ndjson", "c.jsonl.gz", "c.json.gz",
                                  "c.json", "c.parquet"])
def test_each_format_loads_text_title_and_id(tmp_path, name):
    path = tmp_path / name
    frame = pd.DataFrame(ROWS)
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    elif ".csv" in name or ".tsv" in name:
        data = frame.to_csv(index=False, sep="\t" if ".tsv" in name else ",").encode("utf-8")
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    elif name == "c.json":
        path.write_text(json.dumps(ROWS), encoding="utf-8")
    else:
        _jsonl(path, ROWS, compress=name.endswith(".gz"))
    loaded = corpus.from_files([path])
    _check_rows(loaded)
    assert loaded.source == f"files: {name}"


def test_json_file_holding_json_lines_loads(tmp_path):
    _check_rows(corpus.from_files([_jsonl(tmp_path / "c.json", ROWS)]))


def test_folder_is_one_document_per_txt_or_md_file(tmp_path):
    (tmp_path / "notes" / "sub").mkdir(parents=True)
    (tmp_path / "notes" / "b.txt").write_text("  Second note.\n", encoding="utf-8")
    (tmp_path / "notes" / "a.md").write_text("# First\nA markdown note.", encoding="utf-8")
    (tmp_path / "notes" / "sub" / "c.TXT").write_text("Nested note.", encoding="utf-8")
    (tmp_path / "notes" / "skip.csv").write_text("text\nignored", encoding="utf-8")
    loaded = corpus.from_files([tmp_path / "notes"])
    assert loaded.ids == ["a.md", "b.txt", "sub/c.TXT"]
    assert loaded.titles == ["a", "b", "c"]
    assert loaded.texts == ["# First\nA markdown note.", "Second note.", "Nested note."]
    assert loaded.source == "files: notes/"


def test_columns_detected_case_insensitively_in_priority_order(tmp_path):
    rows = [{"Body": "body text", "Text": "the text", "Subject": "a subject", "name": "a name"}]
    loaded = corpus.from_files([_jsonl(tmp_path / "c.jsonl", rows)])
    assert (loaded.text_column, loaded.title_column) == ("Text", "Subject")
    assert (loaded.texts, loaded.titles) == (["the text"], ["a subject"])


def test_explicit_columns_win(tmp_path):
    rows = [{"abstract": "short", "full_text": "the whole paper", "headline": "Head", "title": "T"}]
    loaded = corpus.from_files([_jsonl(tmp_path / "c.jsonl", rows)], text_column="full_text",
                               title_column="headline")
    assert (loaded.texts, loaded.titles) == (["the whole paper"], ["Head"])
    assert (loaded.text_column, loaded.title_column) == ("full_text", "headline")


def test_without_title_column_titles_are_empty(tmp_path):
    loaded = corpus.from_files([_jsonl(tmp_path / "c.jsonl", [{"content": "only text"}])])
    assert (loaded.titles, loaded.title_column) == ([""], None)


def test_files_are_concatenated_even_with_different_column_names(tmp_path):
    first = _jsonl(tmp_path / "a.jsonl", [{"abstract": "one"}, {"abstract": "two"}])
    second = tmp_path / "b.csv"
    pd.DataFrame([{"text": "three", "title": "Three"}]).to_csv(second, index=False)
    loaded = corpus.from_files([str(first), second])
    assert loaded.texts == ["one", "two", "three"]
    assert loaded.titles == ["", "", "Three"]
    assert (loaded.source, loaded.text_column, loaded.title_column) == ("files: a.jsonl, b.csv", "abstract", "title")


def test_ids_are_stable_text_hashes_without_an_id_column(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", [{"text": " Hello world "}, {"text": "Another"}])
    first, second = corpus.from_files([path]), corpus.from_files([path])
    assert first.ids == second.ids
    assert first.ids[0] == hashlib.sha256(b"Hello world").hexdigest()[:16]
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in first.ids)


def test_id_column_is_kept_as_string(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("ID,text\n007,first\n,second\n", encoding="utf-8")
    assert corpus.from_files([csv]).ids == ["007", hashlib.sha256(b"second").hexdigest()[:16]]
    jsonl = _jsonl(tmp_path / "c.jsonl", [{"id": 7, "text": "x"}, {"id": 8, "text": "y"}])
    assert corpus.from_files([jsonl]).ids == ["7", "8"]
    parquet = tmp_path / "c.parquet"
    pd.DataFrame({"id": [1, None], "text": ["p", "q"]}).to_parquet(parquet)  # ints with a gap become floats
    assert corpus.from_files([parquet]).ids == ["1", hashlib.sha256(b"q").hexdigest()[:16]]


def test_empty_and_duplicate_texts_are_dropped_and_counted(tmp_path):
    rows = [{"text": "keep me", "title": None}, {"text": "   "}, {"text": None}, {"text": "  keep me\n"},
            {"text": "other", "title": float("nan")}, {"text": "x" * 200_000, "title": "Long"}]
    loaded = corpus.from_records(rows, source="test")
    assert loaded.texts == ["keep me", "other", "x" * 200_000]  # long documents are kept whole
    assert loaded.titles == ["", "", "Long"]
    assert (loaded.read, loaded.dropped_empty, loaded.dropped_duplicates, loaded.sampled_from) == (6, 2, 1, None)


def test_parquet_and_csv_missing_values_become_empty(tmp_path):
    path = tmp_path / "c.parquet"
    pd.DataFrame({"title": ["T", None, None], "text": ["one", None, "two"]}).to_parquet(path)
    loaded = corpus.from_files([path])
    assert (loaded.texts, loaded.titles, loaded.dropped_empty) == (["one", "two"], ["T", ""], 1)
    csv = tmp_path / "c.csv"
    csv.write_text("title,text\n,NA\nT,\n", encoding="utf-8")
    loaded = corpus.from_files([csv])
    assert (loaded.texts, loaded.titles, loaded.dropped_empty) == (["NA"], [""], 1)


def test_two_documents_with_one_id_is_an_error(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", [{"id": "x", "text": "one"}, {"id": "x", "text": "two"}])
    _raises("share the id 'x'", corpus.from_files, [path])


def test_duplicate_text_with_repeated_id_is_dropped_not_an_error():
    loaded = corpus.from_records([{"id": "x", "text": "same"}, {"id": "x", "text": "same"}], source="t")
    assert (loaded.ids, loaded.dropped_duplicates) == (["x"], 1)


def test_limit_sample_is_reproducible_and_keeps_order():
    rows = [{"id": f"d{i:03}", "text": f"document {i}"} for i in range(100)]
    first = corpus.from_records(rows, source="t", limit=10)
    again = corpus.from_records(rows, source="t", limit=10, seed=42)
    other = corpus.from_records(rows, source="t", limit=10, seed=7)
    assert first.ids == again.ids and first.ids != other.ids
    assert first.ids == sorted(first.ids) and len(first) == 10
    assert (first.sampled_from, first.read) == (100, 100)
    whole = corpus.from_records(rows, source="t", limit=500)
    assert (len(whole), whole.sampled_from) == (100, None)


def test_limit_is_taken_after_cleaning():
    rows = [{"text": ""}] * 5 + [{"text": f"doc {i}"} for i in range(5)]
    loaded = corpus.from_records(rows, source="t", limit=3)
    assert (len(loaded), loaded.sampled_from, loaded.dropped_empty) == (3, 5, 5)


@pytest.mark.parametrize("limit", [0, -3])
def test_limit_must_be_positive(tmp_path, limit):
    _raises("--limit must be a positive", corpus.from_files, [_jsonl(tmp_path / "c.jsonl", ROWS)], limit=limit)


def test_missing_file(tmp_path):
    _raises("not found.*nope.csv", corpus.from_files, [tmp_path / "nope.csv"])


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "c.xlsx"
    path.write_bytes(b"PK")
    message = _raises("unsupported input c.xlsx", corpus.from_files, [path])
    assert ".csv" in message and ".parquet" in message and ".jsonl" in message


def test_no_text_column_lists_columns(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", [{"title": "T", "summary": "S"}])
    message = _raises("no text column in c.jsonl", corpus.from_files, [path])
    assert "title, summary" in message and "--text-column" in message


def test_named_column_that_is_missing_lists_columns(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", ROWS)
    _raises("no column 'summary'.*id, title, abstract", corpus.from_files, [path], text_column="summary")
    _raises("no column 'heading'.*--title-column", corpus.from_files, [path], title_column="heading")


def test_column_must_resolve_in_every_file(tmp_path):
    good = _jsonl(tmp_path / "a.jsonl", ROWS)
    bad = _jsonl(tmp_path / "b.jsonl", [{"summary": "S"}])
    _raises("no text column in b.jsonl", corpus.from_files, [good, bad])


@pytest.mark.parametrize("name", ["latin.csv", "latin.jsonl.gz"])
def test_non_utf8_names_file_and_byte_offset(tmp_path, name):
    data = "text\ncafé\n".encode("latin-1")  # é is byte 0xe9 at offset 8
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    message = _raises(f"{name} is not UTF-8", corpus.from_files, [path])
    assert "0xe9 at byte offset 8" in message and "iconv -f latin1 -t utf-8" in message


def test_non_utf8_text_file_in_folder(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_bytes(b"ok \xff")
    _raises("x.txt is not UTF-8.*offset 3", corpus.from_files, [tmp_path / "d"])


def test_utf8_bom_does_not_rename_the_first_column(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("text,title\nhello,Hi\n".encode("utf-8-sig"))
    assert corpus.from_files([path]).text_column == "text"


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": "broken\n', encoding="utf-8")
    _raises("c.jsonl line 3", corpus.from_files, [path])
    path.write_text('{"text": "fine"}\n["not", "an", "object"]\n', encoding="utf-8")
    _raises("c.jsonl line 2 is not a JSON object", corpus.from_files, [path])


def test_malformed_json_array(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('[{"text": "a"},\n {"text": }]', encoding="utf-8")
    _raises("malformed JSON.*c.json at line 2", corpus.from_files, [path])


def test_deeply_nested_json_is_one_clear_line_not_a_recursion_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "fine"}\n{"text": %s}\n' % deep, encoding="utf-8")
    _raises("c.jsonl line 2 nests JSON too deeply", corpus.from_files, [path])
    (tmp_path / "c.json").write_text('[{"text": %s}]' % deep, encoding="utf-8")
    _raises("c.json nests JSON too deeply", corpus.from_files, [tmp_path / "c.json"])


@pytest.mark.parametrize("value, kind", [({"en": "hello"}, "a JSON object"), (["a", "b"], "a list"),
                                         (True, "true/false")])
def test_a_text_that_is_not_text_is_refused_not_indexed_as_a_repr(tmp_path, value, kind):
    rows = [{"text": "a real abstract"}, {"text": value}]
    _raises(f"row 2, column 'text' holds {kind}, not text", corpus.from_files, [_jsonl(tmp_path / "c.jsonl", rows)])
    _raises(f"row 1, column 'title' holds {kind}", corpus.from_records, [{"text": "x", "title": value}], source="s")
    numbers = corpus.from_records([{"text": 42, "title": 1.5}], source="s")  # numbers are written as they read
    assert numbers.texts == ["42"] and numbers.titles == ["1.5"]


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    _raises("no .txt or .md files", corpus.from_files, [tmp_path / "empty"])


def test_no_documents_after_cleaning(tmp_path):
    _raises("no documents in files: c.jsonl", corpus.from_files,
            [_jsonl(tmp_path / "c.jsonl", [{"text": " "}, {"text": ""}])])
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    _raises("no documents", corpus.from_files, [tmp_path / "empty.csv"])
    _raises("no input given", corpus.from_files, [])


def test_from_dataset_offline_is_one_clear_line():
    started = time.monotonic()
    message = _raises("could not reach Hugging Face dataset 'CShorten/ML-ArXiv-Papers'", corpus.from_dataset,
                      "CShorten/ML-ArXiv-Papers")
    assert "--input FILE" in message
    assert time.monotonic() - started < 60


def test_loads_the_test_corpora():
    """The corpora the end-to-end tests index: the shared ones when ../shared/data has them, else the sample."""
    from tests.conftest import ARXIV, NEWS

    for path in {ARXIV, NEWS}:
        loaded = corpus.from_files([path])
        assert len(loaded) + loaded.dropped_empty + loaded.dropped_duplicates == loaded.read >= 2000
        assert all(loaded.titles) and len(set(loaded.ids)) == len(loaded)
    if NEWS.name == "bbc_news.jsonl.gz":
        loaded = corpus.from_files([NEWS])
        assert loaded.read == 2225 and (loaded.text_column, loaded.title_column) == ("text", "title")
        assert loaded.ids[0] == "business/001"


def test_the_bundled_sample_is_what_its_readme_says():
    import gzip
    import json

    from topictalk.indexing import corpus, sample

    corpus_ = corpus.from_files([sample.PATH])
    assert len(corpus_) == sample.DOCUMENTS == 2000 and corpus_.dropped_empty == corpus_.dropped_duplicates == 0
    assert corpus_.text_column == "abstract" and corpus_.title_column == "title"
    assert all(d.title for d in corpus_.documents) and len({d.id for d in corpus_.documents}) == 2000
    with gzip.open(sample.PATH, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert all(set(r) == {"id", "title", "abstract", "categories"} and r["categories"] for r in rows)
    first = [r["categories"].split()[0] for r in rows]
    readme = (sample.PATH.parent / "README.md").read_text()
    assert "CC0" in readme and "2,000" in readme
    for name in ("cs.LG", "cs.CV", "cs.CL", "cs.AI"):  # the README's counts of primary categories
        assert f"{name} {first.count(name):,}" in readme
