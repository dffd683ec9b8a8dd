"""Load a corpus (local files or a Hugging Face dataset) into clean, uniquely identified documents."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import socket
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from topictalk.indexing import fields as fields_mod
from topictalk.indexing.errors import TopictalkError

TEXT_COLUMNS = ("abstract", "text", "body", "content")
TITLE_COLUMNS = ("title", "subject", "name")
SUPPORTED = ".csv, .tsv, .jsonl, .ndjson, .json, .parquet (each also .gz except .parquet) or a folder of .txt/.md"
FOLDER_SUFFIXES = {".txt", ".md"}


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str = ""
    date: str | None = None  # ISO YYYY-MM-DD from the corpus's date column (indexing.fields)
    fields: Mapping[str, str | list[str]] = field(default_factory=dict, hash=False)  # facet values; a list if multi


@dataclass
class Corpus:
    documents: list[Document]
    source: str  # "files: a.csv, b.jsonl" or "hf:NAME (split)"
    text_column: str
    title_column: str | None
    read: int = 0  # rows read before cleaning
    dropped_empty: int = 0
    dropped_duplicates: int = 0
    sampled_from: int | None = None  # document count before --limit sampling, else None
    inputs: list[str] | None = None  # local files: their resolved paths (``source`` names only base names)
    rows: list[int] | None = None  # each document's position among the rows read (cleaning drops some)
    # the date and facet columns found (indexing.fields.Fields.manifest): date_field, date_precision,
    # facet_fields (name -> multi-valued), reported (a line per column named like one but not used)
    columns: dict = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [doc.id for doc in self.documents]

    @property
    def texts(self) -> list[str]:
        return [doc.text for doc in self.documents]

    @property
    def titles(self) -> list[str]:
        return [doc.title for doc in self.documents]

    def __len__(self) -> int:
        return len(self.documents)


def from_files(paths: Sequence[str | Path], *, text_column: str | None = None, title_column: str | None = None,
               limit: int | None = None, seed: int = 42, date_field: str | None = None,
               facet_fields: Sequence[str] = (), fields_optional: bool = False) -> Corpus:
    """Concatenate files and folders; columns are resolved in each file so an error names the file."""
    _check_limit(limit)
    if isinstance(paths, (str, Path)):  # a lone string is a Sequence too, of characters
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise TopictalkError(f"no input given: pass --input FILE ({SUPPORTED})")
    resolved = []  # (rows, text column, title column, id column) per file
    for path in paths:
        rows, columns = _read(path)
        if not rows:
            continue  # contributes nothing; an all-empty input is reported as "no documents"
        if path.is_dir():
            resolved.append((rows, "text", "title", "id"))
            continue
        text = _pick(columns, text_column, TEXT_COLUMNS, path.name, "--text-column")
        if text is None:
            raise TopictalkError(f"no text column in {path.name} (columns: {', '.join(columns)}): "
                                 "pass --text-column NAME")
        title = _pick(columns, title_column, TITLE_COLUMNS, path.name, "--title-column", exclude={text})
        resolved.append((rows, text, title, _pick(columns, None, ("id",), path.name, "", exclude={text, title})))
    # Files may name their columns differently (abstract in one, text in another): the first file's names win.
    text_name = next((text for _, text, _, _ in resolved), "text")
    title_name = next((title for _, _, title, _ in resolved if title), None)
    merged: list[dict[str, object]] = []
    while resolved:  # each file's rows, with every column, are dropped as soon as they are merged
        rows, text, title, ident = resolved.pop(0)
        for row in rows:
            record = {"id": row.get(ident) if ident else None, text_name: row.get(text)}
            if title_name:
                record[title_name] = row.get(title) if title else None
            for key, value in row.items():  # the columns that may hold dates or facets, as they are
                if key not in (ident, text, title, "id", text_name, title_name) and \
                        fields_mod.wanted(key, date_field, facet_fields):
                    record[key] = value
            merged.append(record)
        del rows
    corpus = from_records(merged, source=files_source(paths), text_column=text_name, title_column=title_name,
                          limit=limit, seed=seed, date_field=date_field, facet_fields=facet_fields,
                          fields_optional=fields_optional)
    corpus.inputs = input_paths(paths)
    return corpus


def from_dataset(name: str, *, split: str = "train", text_column: str | None = None,
                 title_column: str | None = None, limit: int | None = None, seed: int = 42,
                 date_field: str | None = None, facet_fields: Sequence[str] = (),
                 fields_optional: bool = False) -> Corpus:
    """A Hugging Face dataset split, e.g. CShorten/ML-ArXiv-Papers (columns title, abstract)."""
    _check_limit(limit)
    try:
        import datasets  # slow to import: only when a dataset is asked for
    except ImportError as err:
        raise TopictalkError("the datasets package is missing: run ./install.sh (or pip install datasets)") from err
    if not _hub_offline():  # offline mode fails fast by itself (or reads the local cache)
        _check_hub_reachable(name)
    try:
        data = datasets.load_dataset(name, split=split)
    except Exception as err:  # offline, unknown name, bad split: datasets raises many types, all mean "cannot load"
        raise TopictalkError(f"could not reach Hugging Face dataset {name!r} (split {split!r}): {_first_line(err)}; "
                             "check the name or network, or pass --input FILE with local files") from err
    return from_records(data, source=dataset_source(name, split), text_column=text_column, title_column=title_column,
                        limit=limit, seed=seed, date_field=date_field, facet_fields=facet_fields,
                          fields_optional=fields_optional)


def _hub_offline() -> bool:
    return any(os.environ.get(v, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _check_hub_reachable(name: str, timeout: float = 3.0) -> None:
    """One quick connection to the hub first: unreachable, the datasets library retries five times
    over about 30 s, printing a line each time, before it gives up."""
    why = _unreachable(timeout)
    if why:
        raise TopictalkError(f"{why} for dataset {name!r}: pass --input FILE with local files, or set "
                             "HF_HUB_OFFLINE=1 to use a copy already in the local cache")


def _unreachable(timeout: float) -> str | None:
    endpoint = os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co"
    url = urlsplit(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        return f"cannot reach the Hugging Face hub at {host}:{port} ({reason})"
    return None


def hub_problem(name: str, timeout: float = 3.0) -> str | None:
    """Why the dataset ``name`` cannot be loaded now (no network, or offline mode without a local
    copy), or None when it can be tried. Cheap: one connection, or a look at two cache folders."""
    if not _hub_offline():
        return _unreachable(timeout)
    from huggingface_hub import constants

    # where `datasets` finds a dataset offline: the hub's snapshot (datasets--ORG--NAME) or its own
    # prepared copy (ORG___NAME, lowercased with other characters changed, so matched by prefix)
    org = name.partition("/")[0]
    snapshot = Path(constants.HF_HUB_CACHE) / ("datasets--" + name.replace("/", "--"))
    prepared = Path(os.environ.get("HF_DATASETS_CACHE") or Path(constants.HF_HOME) / "datasets")
    if snapshot.is_dir() or (prepared.is_dir() and any(p.name.startswith(f"{org}___") for p in prepared.iterdir())):
        return None
    return f"the Hugging Face hub is off (HF_HUB_OFFLINE) and {name} is not in the local cache"


def from_records(records: Iterable[Mapping[str, object]], *, source: str, text_column: str | None = None,
                 title_column: str | None = None, limit: int | None = None, seed: int = 42,
                 date_field: str | None = None, facet_fields: Sequence[str] = (),
                 fields_optional: bool = False) -> Corpus:
    """The cleaning every loader shares: strip, drop empty and duplicate texts, unique ids, then sample;
    each document keeps its date and facet values (the columns :func:`indexing.fields.detect` finds)."""
    _check_limit(limit)
    rows = list(records)
    if not rows:
        raise TopictalkError(f"no documents in {source}: the input is empty")
    columns = [str(c) for c in dict.fromkeys(key for row in rows for key in row)]
    text_col = _pick(columns, text_column, TEXT_COLUMNS, source, "--text-column")
    if text_col is None:
        raise TopictalkError(f"no text column in {source} (columns: {', '.join(columns) or 'none'}): "
                             "pass --text-column NAME")
    title_col = _pick(columns, title_column, TITLE_COLUMNS, source, "--title-column", exclude={text_col})
    id_col = _pick(columns, None, ("id",), source, "", exclude={text_col, title_col})
    found = fields_mod.detect(rows, columns, source, date_field=date_field, facet_fields=facet_fields,
                              optional=fields_optional,
                              taken=(text_col, title_col, id_col))
    documents: list[Document] = []
    kept: list[int] = []  # the row of each document
    seen_texts: set[str] = set()
    seen_ids: set[str] = set()
    dropped_empty = dropped_duplicates = 0
    for number, row in enumerate(rows, 1):
        text = _as_str(row.get(text_col), f"{source} row {number}, column {text_col!r}").strip()
        if not text:
            dropped_empty += 1
            continue
        if text in seen_texts:
            dropped_duplicates += 1
            continue
        seen_texts.add(text)
        # A hash of the text keeps ids stable across runs and machines, unlike row numbers after cleaning.
        doc_id = _as_id(row.get(id_col), f"{source} row {number}, column {id_col!r}") if id_col else ""
        doc_id = doc_id or hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        if doc_id in seen_ids:
            raise TopictalkError(f"two documents in {source} share the id {doc_id!r}: make the id column unique "
                                 "or remove it to use text hashes")
        seen_ids.add(doc_id)
        title = _as_str(row.get(title_col), f"{source} row {number}, column {title_col!r}").strip() if title_col else ""
        day = found.dates[number - 1] if found.date_field else None
        facets = {name: (vs[number - 1] if multi else vs[number - 1][0])
                  for name, multi in found.facets.items() if (vs := found.values[name])[number - 1]}
        documents.append(Document(id=doc_id, text=text, title=title, date=day.isoformat() if day else None,
                                  fields=facets))
        kept.append(number - 1)
    if not documents:
        raise TopictalkError(f"no documents in {source}: {len(rows)} rows read, none with text in column "
                             f"{text_col!r}; pass --text-column NAME or check the input")
    sampled_from = None
    if limit is not None and limit < len(documents):
        sampled_from = len(documents)
        keep = sorted(random.Random(seed).sample(range(len(documents)), limit))  # sorted: original order
        documents, kept = [documents[i] for i in keep], [kept[i] for i in keep]
    return Corpus(documents, source, text_col, title_col, read=len(rows), dropped_empty=dropped_empty,
                  dropped_duplicates=dropped_duplicates, sampled_from=sampled_from, columns=found.manifest(),
                  rows=kept)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit <= 0:
        raise TopictalkError(f"--limit must be a positive number of documents, got {limit}")


def _pick(columns: list[str], wanted: str | None, candidates: Sequence[str], where: str, flag: str,
          exclude: Collection[str | None] = ()) -> str | None:
    """The named column (must exist), else the first candidate present, matched case-insensitively."""
    if wanted:
        if wanted in columns:
            return wanted
        raise TopictalkError(f"{where} has no column {wanted!r} (columns: {', '.join(columns) or 'none'}): "
                             f"pass {flag} with one of them")
    lower: dict[str, str] = {}
    for column in columns:
        if column not in exclude:
            lower.setdefault(column.lower(), column)
    return next((lower[c] for c in candidates if c in lower), None)


def _as_str(value: object, where: str = "a value") -> str:
    """A cell as text: strings as they are, numbers and dates as written, missing values empty.

    A JSON object, list or true/false (or an array cell of a Parquet file) would
    be indexed as its Python repr, "{'a': 1}", which no one wrote: refused.
    """
    if value is None or isinstance(value, str):
        return value or ""
    kind = ("a JSON object" if isinstance(value, Mapping) else "a list" if isinstance(value, (list, tuple, set))
            else "true/false" if isinstance(value, bool) or type(value).__name__ == "bool_"
            else "bytes" if isinstance(value, (bytes, bytearray))
            else "an array" if getattr(value, "ndim", 0) else None)
    if kind:
        raise TopictalkError(f"{where} holds {kind}, not text: make it a string or pick another column "
                             "(--text-column / --title-column)")
    try:
        if value != value:  # NaN and NaT from pandas; pd.NA raises TypeError instead
            return ""
    except (TypeError, ValueError):
        return ""
    return str(value)


def _as_id(value: object, where: str = "an id") -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # pandas turns an int column with gaps into floats: 7.0 -> "7"
    return _as_str(value, where).strip()


def _read(path: Path) -> tuple[list[dict], list[str]]:
    """Rows and column names of one file or folder."""
    if path.is_dir():
        return _read_folder(path)
    if not path.exists():
        raise TopictalkError(f"input not found: {path}; check the --input path")
    name = path.name.lower()
    base = name[:-3] if name.endswith(".gz") else name
    suffix = Path(base).suffix
    if suffix == ".parquet" and not name.endswith(".gz"):
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises its own types for a damaged file
            raise TopictalkError(f"cannot read Parquet file {path}: {_first_line(err)}; check the file") from err
        return frame.to_dict("records"), [str(c) for c in frame.columns]
    if suffix not in {".csv", ".tsv", ".jsonl", ".ndjson", ".json"}:
        raise TopictalkError(f"unsupported input {path.name}: use {SUPPORTED}")
    data = _read_bytes(path)
    if suffix in {".jsonl", ".ndjson"} or (suffix == ".json" and not data.lstrip().startswith((b"[", b"\xef\xbb\xbf["))):
        rows = _parse_lines(path, data)  # line by line: no second copy of a corpus of 100k abstracts as one str
        return rows, [str(c) for c in dict.fromkeys(key for row in rows for key in row)]
    text = _decode(path, data)
    del data
    if suffix in {".csv", ".tsv"}:
        import pandas as pd

        try:  # dtype=str and no NA parsing: ids like "007" and texts like "NA" stay as written
            frame = pd.read_csv(io.StringIO(text), sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False)
        except pd.errors.EmptyDataError:
            return [], []
        except (pd.errors.ParserError, ValueError) as err:
            raise TopictalkError(f"malformed {suffix[1:].upper()} in {path}: {_first_line(err)}") from err
        return frame.to_dict("records"), [str(c) for c in frame.columns]
    try:  # a JSON list of objects (a .json file may also hold JSON Lines: see above)
        rows = json.loads(text)
    except json.JSONDecodeError as err:
        raise TopictalkError(f"malformed JSON in {path} at line {err.lineno}, column {err.colno}: "
                             f"{err.msg}; fix the file") from err
    except RecursionError as err:  # the decoder recurses once per level of nesting
        raise TopictalkError(f"{path} nests JSON too deeply to be documents: give one flat object per "
                             "document") from err
    if not all(isinstance(row, dict) for row in rows):
        raise TopictalkError(f"{path} must be a JSON list of objects, one per document")
    return rows, [str(c) for c in dict.fromkeys(key for row in rows for key in row)]


def _parse_lines(path: Path, data: bytes) -> list[dict]:
    rows = []
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # the BOM Excel writes
    number = 0
    # split on b"\n" only, not splitlines(): JSON strings may hold a raw U+2028, which splitlines() breaks on
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        number += 1
        line = _decode(path, data[start:end], start)
        start = end + 1
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            _decode(path, data[start:], start)  # a file that is not UTF-8 is the problem to name first
            raise TopictalkError(f"malformed JSON in {path} line {number}: {err.msg}; fix or remove that line") from err
        except RecursionError as err:
            raise TopictalkError(f"{path} line {number} nests JSON too deeply to be a document: give one flat "
                                 "object per line") from err
        if not isinstance(row, dict):
            _decode(path, data[start:], start)
            raise TopictalkError(f"{path} line {number} is not a JSON object: each line must be one document")
        rows.append(row)
    return rows


def _read_folder(folder: Path) -> tuple[list[dict], list[str]]:
    files = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES),
                   key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        raise TopictalkError(f"folder {folder} has no .txt or .md files: add some or pass a data file")
    rows = [{"id": p.relative_to(folder).as_posix(), "title": p.stem, "text": _read_text(p)} for p in files]
    return rows, ["id", "title", "text"]


def _read_text(path: Path) -> str:
    return _decode(path, _read_bytes(path))


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if path.name.lower().endswith(".gz") else data
    except (OSError, EOFError) as err:
        raise TopictalkError(f"cannot read {path}: {_first_line(err)}") from err


def _decode(path: Path, data: bytes, offset: int = 0) -> str:
    """Strict UTF-8, decoded here rather than by pandas so the error can give the exact byte offset
    (``offset``: where ``data`` starts in the file)."""
    try:  # strict; the BOM Excel writes is dropped, else it would rename the first column
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        name = path.name.removesuffix(".gz").removesuffix(".GZ")
        fix = (f"zcat {path.name} | iconv -f latin1 -t utf-8 > {name}" if name != path.name
               else f"iconv -f latin1 -t utf-8 {name} > utf8-{name}")
        at = f"{offset + err.start}{' (uncompressed)' if name != path.name else ''}"
        raise TopictalkError(f"{path} is not UTF-8: invalid byte 0x{data[err.start]:02x} at byte offset {at}; "
                             f"convert it, e.g. {fix}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def files_source(paths: Sequence[str | Path]) -> str:
    """How local inputs are named in ``Corpus.source`` (and so in the manifest)."""
    return "files: " + ", ".join((p.name or str(p)) + ("/" if p.is_dir() else "") for p in map(Path, paths))


def input_paths(paths: Sequence[str | Path]) -> list[str]:
    """The resolved paths of local inputs, as the manifest records them (``corpus.inputs``)."""
    return [str(Path(p).expanduser().resolve()) for p in paths]


def dataset_source(name: str, split: str) -> str:
    """How a Hugging Face dataset is named in ``Corpus.source``."""
    return f"hf:{name} ({split})"
