"""The names and shared encodings of the Chroma schema (the layout is described in
:mod:`indexing.store`): which collections an index has and where, how a document's topic and
record number share one metadata key, and the meta record that names the live generation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.paths import atomic_write

DEFAULT_INDEX = "default"
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
META_ID = "current"
NO_EMBEDDING = [0.0]  # Chroma wants an embedding on every record, the meta one too
MAP_CHUNK = 5000  # map points per record of the map collection (~0.5 MB of JSON)
# documents per record of the texts collection: a search of 8 reads at most 8 records (~40 kB each,
# 7 ms at 20k documents; 256 a record writes no faster and reads 10 ms)
TEXT_CHUNK = 32
TOPIC_STRIDE = 2**31  # topic_at = (topic + 1) * TOPIC_STRIDE + record number (Chroma ints are 64-bit)
# The HNSW graph of the documents, measured at 60k static-model abstracts on 2 cores against exact
# search (bench/scale.py): Chroma's defaults (M 16, ef_construction 100, ef_search 100) found 88% of the
# true 8 nearest; M 12 and ef_construction 40 build in ~40% of the time, and ef_search 400 then finds
# 94%, in ~2 ms a query. Embedded Chroma (the Rust segment) reads space, max_neighbors,
# ef_construction, ef_search, sync_threshold and resize_factor; batch_size and num_threads belong to
# the pre-1.0 Python segment (insertion runs on every core). sync_threshold: see Writer.
DOCUMENT_HNSW = {"space": "cosine", "max_neighbors": 12, "ef_construction": 40, "ef_search": 400}
FOLLOW_S = 2.0  # how often a reader looks for a newer live generation, at most


def check_index_name(name: str) -> str:
    # fullmatch: "$" also matches before a trailing newline, so "papers\n" would pass and fail in Chroma
    if not isinstance(name, str) or not _INDEX_NAME.fullmatch(name):
        raise TopictalkError(f"bad index name {name!r}: use 1-40 lowercase letters, digits and '-', starting "
                             "with a letter or digit (e.g. --index-name papers-2024)")
    return name


@dataclass(frozen=True)
class Names:
    """The collection names of one index."""

    index: str = DEFAULT_INDEX

    @property
    def prefix(self) -> str:
        return "tt_" if self.index == DEFAULT_INDEX else f"tt_{self.index}_"

    @property
    def meta(self) -> str:
        return self.prefix + "meta"

    def generation(self, n: int) -> tuple[str, str]:
        return f"{self.prefix}g{n}_documents", f"{self.prefix}g{n}_topics"

    def themes(self, n: int) -> str:
        return f"{self.prefix}g{n}_themes"

    def map(self, n: int) -> str:
        return f"{self.prefix}g{n}_map"

    def texts(self, n: int) -> str:
        return f"{self.prefix}g{n}_texts"

    def generation_of(self, collection: str) -> int | None:
        """The generation a collection of this index belongs to; None for anything else
        (the separator '_' cannot occur in an index name, so prefixes never overlap)."""
        got = re.fullmatch(re.escape(self.prefix) + r"g(\d+)_(?:documents|topics|themes|map|texts)", collection)
        return int(got.group(1)) if got else None

    def lock(self, epoch: int) -> str:
        return f"{self.prefix}lock_{epoch}"

    def lock_epoch(self, collection: str) -> int | None:
        got = re.fullmatch(re.escape(self.prefix) + r"lock_(\d+)", collection)
        return int(got.group(1)) if got else None


CHROMA_PORT = 8000  # `chroma run`'s default


@dataclass(frozen=True)
class Location:
    """An embedded database folder, or a Chroma server for teams; and which index in it."""

    path: Path | None = None
    host: str | None = None
    port: int = CHROMA_PORT
    index: str = DEFAULT_INDEX

    def __post_init__(self) -> None:
        check_index_name(self.index)
        if isinstance(self.path, str):  # a folder named by a string (from Python) is a folder all the same
            object.__setattr__(self, "path", Path(self.path))

    @property
    def names(self) -> Names:
        return Names(self.index)

    def __str__(self) -> str:
        where = f"chroma://{self.host}:{self.port}" if self.host else str(self.path)
        return where if self.index == DEFAULT_INDEX else f"{where} (index {self.index})"


def connect(location: Location):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    try:
        if location.host:
            client = chromadb.HttpClient(host=location.host, port=location.port, settings=settings)
            client.heartbeat()
            return client
        location.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(location.path), settings=settings)
    except TopictalkError:
        raise
    except Exception as err:  # chroma raises many types for "cannot reach/open"
        if location.path is not None and location.path.is_dir() and not _writable(location.path):
            # embedded Chroma writes even to read (its lock and write log): a read-only folder cannot be served
            raise TopictalkError(f"the index folder {location.path} is not writable by this user, and the embedded "
                                 "database writes even when it only reads: run as the folder's owner, give this "
                                 "user write access, or copy the folder somewhere writable and pass that "
                                 "--index-dir") from err
        raise TopictalkError(f"cannot open the Chroma store at {location}: {err}; check --index-dir or "
                             "--chroma-host/--chroma-port") from err


def _writable(folder: Path) -> bool:
    import os

    database = folder / "chroma.sqlite3"
    return os.access(folder, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))


def collection_names(client) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def missing(err: Exception) -> bool:
    """Chroma's "collection does not exist" (NotFoundError in 1.x, other classes before)."""
    return type(err).__name__ in ("NotFoundError", "InvalidCollectionException") or "does not exist" in str(err)


def encode(items: Sequence[str]) -> str:
    return json.dumps(list(items), ensure_ascii=False)


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def record_id(chunk: int) -> str:
    """The id of a texts or map record: its number, zero-padded so that ids sort as numbers."""
    return f"{chunk:07d}"


def topic_at(topic: int, chunk: int) -> int:
    """A document's topic and its texts record in one int: each metadata key costs embedded Chroma a
    row and an index entry per document, 20% of the write with two keys; a topic is the range
    [topic_at(t, 0), topic_at(t + 1, 0))."""
    return (int(topic) + 1) * TOPIC_STRIDE + chunk


def topic_of(meta: dict) -> int:
    return int(meta["topic_at"]) // TOPIC_STRIDE - 1 if "topic_at" in meta else int(meta["topic"])


FACET_KEY = "f:{field}={value}"  # one True flag per facet value of a document: see filters()


def filters(record) -> dict:
    """The metadata a document is filtered on besides its topic: its period (a string) and one True flag
    per facet value, ``f:FIELD=VALUE``. Flags, not Chroma's list metadata: lists and their ``$contains``
    came in chromadb 1.5 (this package supports 1.0 on, and servers may run older ones); a flag filters
    a multi-valued facet (arXiv categories) exactly with ``{key: True}`` on every 1.x."""
    out: dict = {}
    if record.period:
        out["period"] = record.period
    for name, value in (record.fields or {}).items():
        for v in (value if isinstance(value, list) else [value]):
            out[FACET_KEY.format(field=name, value=v)] = True
    return out


def live_record(client, names: Names) -> dict | None:
    if names.meta not in collection_names(client):
        return None
    got = client.get_collection(names.meta, embedding_function=None).get(ids=[META_ID], include=["metadatas"])
    return got["metadatas"][0] if got["ids"] else None


def parts_of(record: dict) -> list[int]:
    """The generations whose documents and texts collections hold the documents of the generation a meta
    record names, in writing order: an add writes only its new documents, in its own generation's
    collections, and shares the rest (see :class:`writer.Shared`); a whole generation is its own one part."""
    return json.loads(record["parts"]) if record.get("parts") else [int(record["generation"])]


def needed(record: dict | None) -> set[int]:
    """The generations the live record needs kept: the live one, the one it replaced (still read by
    readers that opened it), and every part either reads."""
    if not record:
        return set()
    keep = {int(record["generation"]), *parts_of(record)}
    if record.get("previous") is not None:
        keep |= {int(record["previous"]), *json.loads(record.get("previous_parts") or "[]")}
    return keep


def live_generation(client, names: Names = Names()) -> int | None:
    record = live_record(client, names)
    return int(record["generation"]) if record else None


def manifest_file(folder: Path, index: str = DEFAULT_INDEX) -> Path:
    """Where the human-readable manifest of an index lives beside an embedded database."""
    return folder / ("manifest.json" if index == DEFAULT_INDEX else f"manifest-{index}.json")


def write_manifest_file(folder: Path, manifest: dict, index: str = DEFAULT_INDEX) -> None:
    """A human-readable copy of the live manifest beside an embedded database."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
    atomic_write(manifest_file(folder, index), lambda f: f.write(text))
