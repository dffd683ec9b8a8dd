"""The refinements log of an index: what was renamed, merged and split, kept so that a re-index with the
same settings gets them back (indexing/refine.py replays it).

Topic ids change between index runs, so an entry names each topic by its documents: the digest of its
sorted document ids, its size and a few of its ids. A topic of the new index *is* the named one when its
documents' digest is the same; when the corpus moved a little, the topic holding at least
:data:`MATCH_SHARE` of the sampled ids, within :data:`SIZE_SLACK` of the size, stands for it (said so).

The log lives in the manifest (``refinements``) and, beside an embedded index, in ``refinements.json``
(``refinements-<name>.json`` for a named index): a re-index writes a new manifest, the file stays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from topictalk.indexing.paths import atomic_write
from topictalk.indexing.store.layout import DEFAULT_INDEX, Location

SAMPLE = 20  # document ids kept per named topic, for the approximate match
MATCH_SHARE = 0.8
SIZE_SLACK = 0.2


def log_file(location: Location) -> Path | None:
    """The JSON file beside an embedded index; None on a Chroma server (the manifest alone keeps the log)."""
    if location.path is None:
        return None
    name = "refinements.json" if location.index == DEFAULT_INDEX else f"refinements-{location.index}.json"
    return location.path / name


def fingerprint(manifest: dict) -> str:
    """The settings that decide the topics a re-index finds: the embedding model and the topic parameters
    (label settings and the LLM change labels only, which a replay redoes anyway). Not the corpus: a
    corpus that grew or changed is what matching topics by their documents is for."""
    parameters = {k: v for k, v in manifest.get("parameters", {}).items() if k != "labels"}
    what = {"embedding": manifest.get("models", {}).get("embedding"), "topics": parameters}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def named(doc_ids: Sequence[str]) -> dict:
    """A topic as an entry names it: by its documents."""
    ordered = sorted(doc_ids)
    digest = hashlib.sha256("\x00".join(ordered).encode()).hexdigest()[:16]
    step = max(1, len(ordered) // SAMPLE)
    return {"size": len(ordered), "digest": digest, "sample": ordered[::step][:SAMPLE]}


@dataclass(frozen=True)
class Match:
    topic: int | None  # the topic of this index that is the named one; None: it no longer exists
    exact: bool = True


def match(name: dict, members: dict[int, set[str]]) -> Match:
    """The topic of ``members`` (topic id -> its document ids) that ``name`` (:func:`named`) names."""
    for topic, docs in members.items():
        if len(docs) == name["size"] and named(list(docs))["digest"] == name["digest"]:
            return Match(topic)
    sample = name.get("sample", [])
    if not sample:
        return Match(None)
    holding = {t: len(docs.intersection(sample)) for t, docs in members.items()}
    best = max(holding, key=holding.get, default=None)
    if best is None or holding[best] < MATCH_SHARE * len(sample):
        return Match(None)
    if abs(len(members[best]) - name["size"]) > SIZE_SLACK * name["size"]:
        return Match(None)
    return Match(best, exact=False)


def read(location: Location, manifest: dict | None = None) -> list[dict]:
    """The log: the file beside the index, else the manifest's (a server index, or a lost file)."""
    path = log_file(location)
    if path is not None and path.is_file():
        try:
            entries = json.loads(path.read_text(encoding="utf-8")).get("refinements", [])
            return [e for e in entries if isinstance(e, dict) and "op" in e]
        except (OSError, ValueError, AttributeError):
            pass  # unreadable: the manifest's copy is the log
    return list((manifest or {}).get("refinements", []))


def write(location: Location, entries: list[dict]) -> None:
    path = log_file(location)
    if path is None:
        return
    text = json.dumps({"refinements": entries}, indent=2, ensure_ascii=False).encode("utf-8")
    atomic_write(path, lambda f: f.write(text))
