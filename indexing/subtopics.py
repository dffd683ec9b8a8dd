"""A topic's subtopics: the third level under themes and topics, computed when first opened, then cached.

A topic's subtopics are found as the index finds topics and as a refine splits one
(``refine_topics.split_parts``): Leiden on the neighbour graph of the topic's documents alone. Where
that split is hardly modular (under ``clustering.MIN_SPLIT_MODULARITY``, the rule by which the index
leaves a topic whole) or the topic is small, it has none, and the result says why. Each subtopic gets
its size, its c-TF-IDF words weighed against its siblings' (``ctfidf.class_words``: what sets it apart
inside its topic; the words of the whole topic, its own label, fall out), a keyword label distinct
among its siblings and from its topic's, and its documents nearest its centre.

Given a model (``llm``), the subtopics are labelled by it, all of a topic's in one call
(indexing/subtopic_labels.py); each keeps its keyword label where the model's breaks the label rule, and its
``label_source`` says which it is and why.

Nothing is written to the index: the result is kept in the index folder's cache
(``cache/subtopics/<key>.json``), keyed by the index, its generation, when that generation was made
and refined, the topic (id, size, central documents), every setting and the labeller (none, or the model's
identity and the prompt), so a second ask reads the file, keyword-only and LLM-labelled subtopics never mix,
and a new generation (a re-index, a refinement, documents added) never reads an old answer. An
index on a Chroma server has no folder: a caller may keep them in memory (``memo``: the chat does).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from topictalk.indexing import clustering, ctfidf, refine_topics, subtopic_labels, topics
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.labels import Completer, LabelCache, keyword_label
from topictalk.indexing.paths import atomic_write
from topictalk.indexing.schema import OUTLIER
from topictalk.indexing.vocabulary import Tokens

VERSION = 2  # of the cached files' contents: a change to what is computed or stored bumps it


@dataclass(frozen=True)
class Settings:
    # a topic with fewer documents has none: two subtopics of twice the smallest topic, at the least
    min_documents: int = 4 * clustering.MIN_TOPIC
    min_part: int = clustering.MIN_TOPIC  # documents in a subtopic: smaller parts join the one they link to most
    max_parts: int = 8  # subtopics listed for reading: beyond this many, the smallest join their nearest
    min_modularity: float = clustering.MIN_SPLIT_MODULARITY
    keywords: int = 8
    central: int = 3  # documents nearest each subtopic's centre, kept
    labels: subtopic_labels.SubtopicLabelSettings = subtopic_labels.SubtopicLabelSettings()  # with a model


@dataclass(frozen=True)
class Subtopic:
    number: int  # 1..k within its topic, biggest first
    size: int
    label: str
    keywords: list[str]
    representative_ids: list[str]  # nearest its centre first
    label_source: str = "keywords"  # "llm", or "keywords (<why the model's label was refused>)"


@dataclass(frozen=True)
class Subtopics:
    topic: int
    label: str  # the topic's
    size: int  # the topic's documents; the subtopics' sizes sum to it
    generation: int
    parts: list[Subtopic] = field(default_factory=list)  # [] when the topic has none
    modularity: float = 0.0  # of Leiden's split of the topic's neighbour graph (0: not tried, too small)
    why_none: str = ""  # when ``parts`` is empty: why, in a sentence a reader is shown
    cached: bool = False  # read from the cache, not computed now

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("cached")
        return out

    @classmethod
    def from_dict(cls, data: dict, cached: bool = False) -> Subtopics:
        parts = [Subtopic(**p) for p in data["parts"]]
        return cls(**{**data, "parts": parts, "cached": cached})


MEMO_ENTRIES = 256  # subtopics a process keeps in memory (``memo``), the oldest dropped first


def of_index(reader, topic: int, settings: Settings = Settings(), memo: dict | None = None,
             llm: Completer | None = None) -> Subtopics:
    """:func:`find` with the index folder's cache (none for an index on a Chroma server: there ``memo``, a dict
    the caller keeps, spares computing them again in this process): what the chat, Python and the CLI ask."""
    return find(reader, topic, cache_of(reader), settings, memo, llm)


def cache_of(reader) -> Path | None:
    """The cache folder of the index ``reader`` reads, or None where it has no folder (a Chroma server)."""
    folder = getattr(getattr(reader, "location", None), "path", None)
    return Path(folder) / "cache" if folder else None


def cached(reader, topic: int, settings: Settings = Settings(), memo: dict | None = None,
           llm: Completer | None = None) -> Subtopics | None:
    """The subtopics of ``topic`` as an earlier ask left them (labelled by ``llm``, or keyword-only without it), from
    ``memo`` or the index folder's cache; None when nothing was kept. Computes nothing and never calls ``llm``: the
    app's topic table shows the chat's labels this way without waiting for the model."""
    known = {t.id: t for t in reader.topics()}
    if int(topic) not in known or int(topic) == OUTLIER:
        return None
    return _read(_key_of(reader, known[int(topic)], settings, llm)[0], cache_of(reader), memo)


def _key_of(reader, topic, settings: Settings, llm: Completer | None) -> tuple[str, topics.TopicParams, dict | None]:
    """The cache key of ``topic``'s subtopics as :func:`find` keeps them (and :func:`cached` looks them up), with
    the index's topic parameters and the labelling model's description (None: keyword headings)."""
    params = refine_topics.params_of(reader.manifest)
    labeller = subtopic_labels.describe(llm, settings.labels) if llm is not None else None
    return _key(reader, topic, params, settings, labeller), params, labeller


def find(reader, topic: int, cache: Path | None = None, settings: Settings = Settings(),
         memo: dict | None = None, llm: Completer | None = None) -> Subtopics:
    """The subtopics of ``topic`` in the generation ``reader`` reads (a ``store.Reader``), read from ``cache``
    (the index folder's ``cache``) when an earlier ask computed them, else computed and kept there. With ``llm``,
    labelled by it (one call for the topic; the model is used only when they are not cached yet)."""
    topic = int(topic)
    known = {t.id: t for t in reader.topics()}
    if topic == OUTLIER:
        raise TopictalkError("topic -1 holds the documents that fit no topic: it has no subtopics; pick a topic id "
                             "from `topictalk topics`")
    if topic not in known:
        ids = sorted(t for t in known if t != OUTLIER)
        raise TopictalkError(f"no topic {topic} in this index (its topics run from {ids[0] if ids else 0} to "
                             f"{ids[-1] if ids else 0}); see `topictalk topics`")
    key, params, labeller = _key_of(reader, known[topic], settings, llm)
    found = _read(key, cache, memo)
    if found is not None:
        return found
    if labeller is None:
        docs, vectors = reader.topic_members(topic)
        found = compute(topic, known[topic].label, reader.generation, [d.id for d in docs], [d.text for d in docs],
                        vectors, params, settings)
    else:  # the keyword result (cached, or computed and kept as such), then one call labels its parts
        found = label(reader, find(reader, topic, cache, settings, memo), llm,
                      LabelCache(cache / "labels.jsonl") if cache is not None else None, settings)
    _write(key, cache, found)
    return _kept(memo, key, dataclasses.replace(found, cached=False))


def _read(key: str, cache: Path | None, memo: dict | None) -> Subtopics | None:
    if memo is not None and key in memo:
        return memo[key]
    path = cache / "subtopics" / f"{key}.json" if cache is not None else None
    if path is not None and path.is_file():
        try:
            return _kept(memo, key, Subtopics.from_dict(json.loads(path.read_text(encoding="utf-8")), cached=True))
        except (OSError, ValueError, TypeError, KeyError):
            pass  # a torn or foreign file: computed again and written over
    return None


def _write(key: str, cache: Path | None, found: Subtopics) -> None:
    if cache is None:
        return
    text = json.dumps(found.as_dict(), ensure_ascii=False).encode("utf-8")
    try:
        atomic_write(cache / "subtopics" / f"{key}.json", lambda f: f.write(text))
    except OSError:  # a read-only index folder: computed again next time
        pass


def label(reader, found: Subtopics, llm: Completer, cache: LabelCache | None, settings: Settings = Settings()
          ) -> Subtopics:
    """``found`` with its parts labelled by ``llm`` in one call (subtopic_labels.label), each with its source."""
    if not found.parts:
        return found
    ids = [i for p in found.parts for i in p.representative_ids[: settings.labels.titles]]
    docs = {d.id: (d.title, d.text) for d in reader.get_documents(ids)}
    parts = [subtopic_labels.evidence(p.keywords, [docs[i] for i in p.representative_ids if i in docs], llm,
                                      settings.labels) for p in found.parts]
    named = subtopic_labels.label(llm, found.label, parts, cache, settings.labels)
    return dataclasses.replace(found, parts=[dataclasses.replace(p, label=name, label_source=source)
                                             for p, (name, source) in zip(found.parts, named)])


def _kept(memo: dict | None, key: str, found: Subtopics) -> Subtopics:
    """``found``, kept in ``memo`` (as read from a cache: asked again, it is not computed now)."""
    if memo is not None:
        while len(memo) >= MEMO_ENTRIES:
            memo.pop(next(iter(memo), None), None)  # another thread may have dropped it first
        memo[key] = dataclasses.replace(found, cached=True)
    return found


def compute(topic: int, label: str, generation: int, ids: list[str], texts: list[str], vectors: np.ndarray,
            params: topics.TopicParams, settings: Settings = Settings()) -> Subtopics:
    """The subtopics of one topic's documents (``ids``, ``texts``, unit ``vectors``, one row each)."""
    n = len(ids)
    base = Subtopics(topic, label, n, generation)
    if n < settings.min_documents:
        return dataclasses.replace(base, why_none=f"with {n} documents it is too small to split (subtopics are "
                                                  f"looked for in topics of {settings.min_documents} or more)")
    parts, modularity, _ = refine_topics.split_parts(vectors, params, settings.max_parts, settings.min_part)
    base = dataclasses.replace(base, modularity=modularity)
    if modularity < settings.min_modularity:
        return dataclasses.replace(base, why_none=(
            f"its {n} documents are one subject: the best split of their neighbour graph has modularity "
            f"{modularity:.2f}, under the {settings.min_modularity} at which the index splits a topic"))
    k = int(parts.max()) + 1
    if k < 2:
        return dataclasses.replace(base, why_none=f"its documents split into no parts of {settings.min_part} "
                                                  "documents or more")
    counted = Tokens(texts, params).counts(range(n))
    words = ctfidf.class_words(counted.matrix, counted.terms, parts, k, settings.keywords)
    taken = {label.lower()}
    out = []
    for p in range(k):
        members = np.flatnonzero(parts == p)
        centre = vectors[members].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        nearest = members[np.argsort(-(vectors[members] @ centre), kind="stable")[: settings.central]]
        name = keyword_label(words[p], taken)
        taken.add(name.lower())
        out.append(Subtopic(p + 1, len(members), name, words[p], [ids[i] for i in nearest]))
    return dataclasses.replace(base, parts=out)


def _key(reader, topic, params: topics.TopicParams, settings: Settings, labeller: dict | None = None) -> str:
    manifest = reader.manifest
    names = getattr(reader, "names", None)
    key = {"version": VERSION, "index": getattr(names, "prefix", ""), "generation": reader.generation,
           "created": manifest.get("created"), "refined": manifest.get("refined"), "topic": topic.id,
           # the topic as this generation holds it: a generation number used again (an index deleted and
           # built anew beside a kept cache) holds other documents
           "size": topic.size, "central": list(topic.representative_ids),
           "settings": dataclasses.asdict(settings), "params": dataclasses.asdict(params), "labeller": labeller}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


def frame(found: Subtopics):  # noqa: ANN201 - a pandas DataFrame
    """The subtopics as a table like the topic table (``export.frames``): Subtopic, Count, Name, Representation,
    Representative_Docs, Label, Label_Source, Topic, Topic_Label; no rows when the topic has none (``attrs`` says why)."""
    import pandas as pd

    columns = ["Subtopic", "Count", "Name", "Representation", "Representative_Docs", "Label", "Label_Source", "Topic",
               "Topic_Label"]
    table = pd.DataFrame(
        [{"Subtopic": p.number, "Count": p.size, "Name": f"{found.topic}.{p.number}_" + "_".join(p.keywords[:4]),
          "Representation": list(p.keywords), "Representative_Docs": list(p.representative_ids), "Label": p.label,
          "Label_Source": p.label_source, "Topic": found.topic, "Topic_Label": found.label} for p in found.parts], columns=columns)
    table.attrs.update({"topic": found.topic, "size": found.size, "modularity": found.modularity,
                        "why_none": found.why_none, "generation": found.generation})
    return table


def describe(found: Subtopics) -> str:
    """What `topictalk topics --subtopics N` prints: a line for the topic, then one per subtopic."""
    head = f"topic {found.topic} '{found.label}' ({found.size:,} documents)"
    if not found.parts:
        return f"{head} has no subtopics: {found.why_none}."
    rows = [(f"{found.topic}.{p.number}", f"{p.size:,}", p.label, ", ".join(p.keywords[:5])) for p in found.parts]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{head}: {len(found.parts)} subtopics, modularity {found.modularity:.2f}"
             + (" (cached)" if found.cached else "")]
    lines += [f"  {a:<{widths[0]}}  {b:>{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]
    return "\n".join(lines)
