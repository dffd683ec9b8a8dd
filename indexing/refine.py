"""Refining an index by hand: rename a topic, merge topics, split a topic into its sub-communities.

Each change reads the live generation, changes what it touches and writes the result as a new
generation under the writer lock, as `topictalk index` does: readers keep answering from the old
one until the commit switches them (indexing/store). Untouched topics keep their ids, labels,
representations and descriptions; the map positions stay. A merged topic keeps the smallest of
the merged ids and the theme of its biggest part, and gets its representations, label (the LLM's
when one is given, else keywords) and description from its documents; a split's parts take new
ids above the highest, stay in the parent's theme and each get theirs; a rename sets the label
(label_source "user"). Themes, counts and the brief follow.

Every change is logged (indexing/refine_log.py); a re-index with the same settings replays the
log (:func:`replay`), matching topics by their documents. docs/refine.md has the whole story.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from topictalk.indexing import refine_log, refine_topics, store
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.labels import Completer
from topictalk.indexing.schema import OUTLIER, DocumentRecord, Theme, Topic, biggest_first
from topictalk.indexing.vocabulary import Tokens
from topictalk.indexing.writer_lock import writer_lock

MAX_LABEL_CHARS = 80


@dataclass(frozen=True)
class Renamed:
    topic: int
    old_label: str
    label: str
    generation: int


@dataclass(frozen=True)
class Merged:
    topic: Topic  # the merged topic, with its new representations and label
    merged: list[int]  # the ids it was made of (its own included)
    generation: int


@dataclass(frozen=True)
class Split:
    parent: int
    parts: list[Topic]  # biggest first, each with its new id, representations and label
    modularity: float  # of the split, on the parent's neighbour graph (clustering.MIN_SPLIT_MODULARITY: clear)
    generation: int


@dataclass(frozen=True)
class Replayed:
    applied: list[str] = field(default_factory=list)  # one line per replayed change
    skipped: list[str] = field(default_factory=list)  # one line per change that no longer applies
    generation: int | None = None  # the generation written; None when nothing was replayed
    manifest: dict = field(default_factory=dict)
    topics: list[Topic] = field(default_factory=list)
    themes: list[Theme] = field(default_factory=list)


@dataclass
class _State:
    """The live generation in memory, changed in place by the operations, then written whole."""

    manifest: dict
    records: list[DocumentRecord]  # writing order
    vectors: np.ndarray  # one row per record
    topics: list[Topic]
    themes: list[Theme]
    embedder: object = None  # the embedding model, loaded on first need (a rename needs none)
    llm: Completer | None = None
    cache: object = None  # the index folder's cache (LLM answers, token ids), None on a server
    # the highest topic id this index has used: a split's parts come after it, so that an id a merge or
    # split retired never comes back meaning other documents
    highest: int = -1
    touched: set[int] = field(default_factory=set)  # topics made anew since the load (their trend words too)
    tokens: Tokens | None = None  # the records' words, read at the first count of them (words())
    # the live generation's parts and how many records they hold (the first, as loaded): what an add,
    # which only appends records, writes its generation on; no parts where they cannot be shared
    live: store.Shared = store.Shared((), 0)

    def words(self) -> Tokens:
        """The records' words, for every count of one change (its topics' and its trends'): each text is read
        once. Made again when records were added since (an add appends them)."""
        if self.tokens is None or len(self.tokens.texts) != len(self.records):
            self.tokens = Tokens([r.text for r in self.records], refine_topics.params_of(self.manifest), self.cache)
        return self.tokens

    def topic(self, topic_id: int) -> Topic:
        if topic_id == OUTLIER:
            raise TopictalkError("topic -1 holds the documents that fit no topic: it cannot be renamed, merged or "
                                 "split; pick a topic id from `topictalk topics`")
        for tp in self.topics:
            if tp.id == topic_id:
                return tp
        ids = sorted(t.id for t in self.topics if not t.is_outlier)
        raise TopictalkError(f"no topic {topic_id} in this index (its topics: {_ranges(ids)}); see `topictalk topics`")

    def members(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for r in self.records:
            out.setdefault(r.topic, set()).add(r.id)
        return out

    def model(self):  # noqa: ANN201
        if self.embedder is None:
            from topictalk.indexing import embedding

            self.embedder = embedding.encoding_model(self.manifest.get("models", {}).get("embedding_name"))
        return self.embedder


def _ranges(ids: Sequence[int]) -> str:
    """0-4, 7, 9-12: the ids as a reader scans them."""
    spans: list[list[int]] = []
    for i in ids:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in spans) or "none"


# -- the three changes, in memory ----------------------------------------------------------------------------------

def _rename(state: _State, topic_id: int, label: str) -> tuple[Renamed, dict]:
    label = " ".join(str(label or "").split())
    if not label:
        raise TopictalkError(f"the new label of topic {topic_id} is empty: give one, e.g. "
                             f"topictalk topics --rename {topic_id} \"Speech recognition\"")
    if len(label) > MAX_LABEL_CHARS:
        raise TopictalkError(f"the new label has {len(label)} characters: a label is a heading of at most "
                             f"{MAX_LABEL_CHARS}; shorten it")
    tp = state.topic(topic_id)
    for other in state.topics:
        if other.id != topic_id and other.label.lower() == label.lower():
            raise TopictalkError(f"topic {other.id} is already labelled '{other.label}': pick another label, or "
                                 f"merge the two (topictalk topics --merge {topic_id} {other.id})")
    old = tp.label
    entry = {"op": "rename", "topic": refine_log.named(_ids_of(state, topic_id)), "label": label}
    tp.label, tp.label_source = label, "user"
    state.themes = refine_topics.rethemes(state.themes, state.topics, set(), {}, {}, 0)
    return Renamed(topic_id, old, label, 0), entry


def _merge(state: _State, topic_ids: Sequence[int]) -> tuple[Merged, dict]:
    ids = list(dict.fromkeys(int(t) for t in topic_ids))
    if len(ids) < 2:
        raise TopictalkError(f"a merge needs two different topics, got {' and '.join(map(str, topic_ids))}: "
                             "e.g. topictalk topics --merge 3 7")
    parts = [state.topic(t) for t in ids]
    keep = min(ids)
    biggest = max(parts, key=lambda t: (t.size, -t.id))
    entry = {"op": "merge", "topics": [refine_log.named(_ids_of(state, t)) for t in ids]}
    for r in state.records:
        if r.topic in ids:
            r.topic = keep
    touched = _remake(state, {keep: biggest.theme}, removed=set(ids) - {keep},
                      changed_themes={t.theme for t in parts} - {None})
    return Merged(touched[0], ids, 0), entry


def _split(state: _State, topic_id: int, parts: int | None) -> tuple[Split, dict]:
    parent = state.topic(topic_id)
    rows = np.array([i for i, r in enumerate(state.records) if r.topic == topic_id])
    found, modularity = refine_topics.sub_communities(state.vectors[rows], refine_topics.params_of(state.manifest),
                                                      parts, topic_id)
    entry = {"op": "split", "topic": refine_log.named([state.records[i].id for i in rows]), "parts": parts}
    first = max(state.highest, *(t.id for t in state.topics)) + 1
    state.highest = first + int(found.max())
    for row, part in zip(rows.tolist(), found.tolist()):
        state.records[row].topic = first + part
    new = {first + p: parent.theme for p in range(int(found.max()) + 1)}
    touched = _remake(state, new, removed={topic_id}, changed_themes={parent.theme} - {None})
    return Split(topic_id, biggest_first(touched), modularity, 0), entry


def _ids_of(state: _State, topic_id: int) -> list[str]:
    return [r.id for r in state.records if r.topic == topic_id]


def _remake(state: _State, new: dict[int, int | None], removed: set[int], changed_themes: set[int]) -> list[Topic]:
    """After the records moved: the topics in ``new`` (id -> theme) represented, labelled and described
    from their documents, ``removed`` gone, the records' themes and the themes around them updated."""
    labels = np.array([r.topic for r in state.records], dtype=np.int64)
    theme_of = {t.id: t.theme for t in state.topics if t.id not in removed} | new
    params = refine_topics.params_of(state.manifest)
    if state.manifest.get("parameters", {}).get("method", "leiden") == "leiden":
        # the moved documents' confidence and core flag, as the graph method gives them (HDBSCAN's stay)
        rows = np.flatnonzero(np.isin(labels, list(new)))
        share, core = refine_topics.confidence(state.vectors, rows, labels, params.graph_neighbors)
        for row, p, c in zip(rows.tolist(), share.tolist(), core.tolist()):
            state.records[row].probability, state.records[row].core = p, c
    made, remade_themes = refine_topics.represent(
        [r.text for r in state.records], [r.id for r in state.records], state.vectors, labels,
        np.array([r.probability for r in state.records], dtype=np.float32),
        np.array([r.core for r in state.records], dtype=bool), theme_of, params, state.model(), set(new),
        tokens=state.words())
    touched = [made[t] for t in new]
    state.touched |= set(new)
    documents = {r.id: (r.title, r.text) for r in state.records if r.topic in new}
    from topictalk.indexing import descriptions, encoder

    embed = descriptions.memo(encoder.Encoder(state.model()))
    kept = [t for t in state.topics if t.id not in removed and t.id not in new]
    refine_topics.label(touched, kept + touched, documents, embed, state.llm,
                        refine_topics.label_settings(state.manifest), state.cache)
    state.topics = biggest_first(kept + touched)
    for r in state.records:
        r.theme = theme_of.get(r.topic)
    centroids = {}
    for theme in changed_themes:
        rows = [i for i, r in enumerate(state.records) if r.theme == theme]
        if rows:
            mean = state.vectors[rows].mean(axis=0)
            centroids[theme] = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
    # a theme's keywords change only when documents moved between themes (a merge across two)
    moved = changed_themes if len(changed_themes) > 1 else set()
    state.themes = refine_topics.rethemes(state.themes, state.topics, changed_themes,
                                          {t: remade_themes[t] for t in moved if t in remade_themes},
                                          {t: centroids[t] for t in moved if t in centroids},
                                          params.representative_docs)
    return touched


# -- reading and writing generations -------------------------------------------------------------------------------

def _load(client, location: store.Location) -> _State:
    reader = store.Reader(client, location, follow_s=math.inf)  # pinned: the writer lock keeps it live
    records = reader.all_documents()
    vectors = reader.embeddings([r.id for r in records])
    manifest = {k: v for k, v in reader.manifest.items() if k != "generation"}
    topics = reader.topics()
    return _State(manifest, records, vectors, topics, reader.themes(),
                  highest=max([int(manifest.get("highest_topic_id", -1)), *(t.id for t in topics)]),
                  live=store.Shared(reader.parts, len(records)))


def derived_counts(state: _State) -> dict:
    """What the manifest derives from the documents' topics, computed again after a change.

    THE ONE PLACE a refine recomputes derived counts: the topic, theme and outlier counts, and the
    per-period and per-facet counts of issue 29 ("trends"), so that a merge or split keeps them in step
    with the topics. Anything else the manifest comes to derive from the topics belongs here too.
    """
    n = len(state.records)
    outliers = sum(r.topic == OUTLIER for r in state.records)
    counts = {**state.manifest.get("counts", {}), "topics": sum(not t.is_outlier for t in state.topics),
              "themes": len(state.themes), "outliers": outliers, "outlier_share": round(outliers / max(n, 1), 4),
              "placed": sum(not r.core for r in state.records)}
    out = {"counts": counts}
    if state.manifest.get("trends"):
        out["trends"] = refine_topics.recount_trends(state.manifest, state.records, state.touched,
                                                       state.words())
    return out


def _save(client, location: store.Location, lease, state: _State, log: list[dict], appended: bool = False) -> int:
    """Write ``state`` as a new generation and switch readers to it; the log beside the index too.
    ``appended``: the loaded records are unchanged and the new ones follow them (an add), so the new
    generation shares the live one's documents and writes only the new ones, while the live generation
    has fewer than ``store.MAX_PARTS`` parts; a refine rewrites them all (and so joins the parts again)."""
    manifest = {**state.manifest, **derived_counts(state),
                "brief": refine_topics.rebrief(state.manifest.get("brief"), state.themes, state.topics,
                                               len(state.records)),
                "refined": datetime.now(timezone.utc).isoformat(timespec="seconds"), "refinements": log,
                "highest_topic_id": max(state.highest, *(t.id for t in state.topics))}
    writer = store.begin(client, location.names, lease)
    share = appended and 0 < len(state.live.parts) < store.MAX_PARTS
    writer.write_documents(state.records, state.vectors, shared=state.live if share else None)
    writer.write_topics(state.topics)
    writer.write_themes(state.themes)
    writer.commit(manifest)
    state.manifest = {**manifest, "generation": writer.generation}
    if location.path is not None:
        store.write_manifest_file(location.path, state.manifest, location.index)
    refine_log.write(location, log)
    if state.tokens is not None:
        state.tokens.keep()
    return writer.generation


def _change(location: store.Location, apply: Callable[[_State], tuple[object, dict]], *, embedder=None,
            llm: Completer | None = None):
    """Load the live generation under the writer lock, ``apply`` one change, log it and write it."""
    client = store.connect(location)
    with writer_lock(location, client) as lease:
        if store.live_generation(client, location.names) is None:
            raise TopictalkError(f"no topic index at {location}: build one with `topictalk index --input FILE` first")
        state = _load(client, location)
        state.embedder, state.llm = embedder, llm
        state.cache = location.path / "cache" if location.path is not None else None
        result, entry = apply(state)
        entry = {**entry, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "fingerprint": refine_log.fingerprint(state.manifest)}
        generation = _save(client, location, lease, state, [*refine_log.read(location, state.manifest), entry])
        return dataclasses.replace(result, generation=generation)


# -- the public functions ------------------------------------------------------------------------------------------

def rename(location: store.Location, topic: int, label: str) -> Renamed:
    """Give ``topic`` the label ``label`` (label_source "user"), as a new generation."""
    return _change(location, lambda s: _rename(s, int(topic), label))


def merge(location: store.Location, topics: Sequence[int], *, llm: Completer | None = None,
          embedder=None) -> Merged:
    """Merge ``topics`` into one (the smallest id), labelled by ``llm`` when given, else by its keywords."""
    return _change(location, lambda s: _merge(s, topics), embedder=embedder, llm=llm)


def split(location: store.Location, topic: int, *, parts: int | None = None, llm: Completer | None = None,
          embedder=None) -> Split:
    """Split ``topic`` into its sub-communities (at most ``parts`` of them when given), each labelled."""
    return _change(location, lambda s: _split(s, int(topic), parts), embedder=embedder, llm=llm)


def earlier_log(location: store.Location, client) -> list[dict]:
    """The log before a re-index rewrites the manifest: read it first (a server index keeps it nowhere else)."""
    try:
        manifest = store.Reader(client, location, follow_s=math.inf).manifest
    except TopictalkError:
        manifest = None
    return refine_log.read(location, manifest)


def replay(location: store.Location, client, lease, entries: list[dict], *, llm: Completer | None = None,
           embedder=None, log: Callable[[str], None] = lambda _: None) -> Replayed:
    """After a re-index (writer lock held): redo the logged changes made with this index's settings whose
    topics still exist (matched by their documents), in order, as one more generation; says in one line
    what was replayed and in one what was skipped."""
    if not entries:
        return Replayed()
    state = _load(client, location)
    state.embedder, state.llm = embedder, llm
    state.cache = location.path / "cache" if location.path is not None else None
    current = refine_log.fingerprint(state.manifest)
    applied, skipped = [], []
    for entry in entries:
        what = _describe(entry)
        if entry.get("fingerprint") != current:
            skipped.append(f"{what} (made with other index settings)")
            continue
        try:
            found = _replay_one(state, entry)
        except TopictalkError as err:
            skipped.append(f"{what} ({err})")
            continue
        if found is None:
            skipped.append(f"{what} (its topics are no longer in the index)")
        else:
            applied.append(found)
    if skipped:
        log(f"warning: skipped {len(skipped)} logged refinement{'s' * (len(skipped) != 1)}: {'; '.join(skipped)}")
    if not applied:
        return Replayed([], skipped)
    generation = _save(client, location, lease, state, entries)
    log(f"replayed {len(applied)} logged refinement{'s' * (len(applied) != 1)}: {'; '.join(applied)}")
    return Replayed(applied, skipped, generation, state.manifest, state.topics, state.themes)


def _describe(entry: dict) -> str:
    names = entry.get("topics") or [entry.get("topic", {})]
    sizes = " + ".join(f"{n.get('size', '?')}" for n in names)
    return {"rename": f"rename to '{entry.get('label')}'", "merge": "merge", "split": "split"}.get(
        entry.get("op"), str(entry.get("op"))) + f" of topics of {sizes} documents"


def _replay_one(state: _State, entry: dict) -> str | None:
    """Redo one logged change on ``state``; what was done, or None when a topic it names is gone."""
    members = state.members()
    names = entry.get("topics") or [entry.get("topic", {})]
    found = [refine_log.match(n, {t: d for t, d in members.items() if t != OUTLIER}) for n in names]
    if any(m.topic is None for m in found):
        return None
    ids = [m.topic for m in found]
    near = "" if all(m.exact for m in found) else " (matched by most of its documents)"
    if entry["op"] == "rename":
        done = _rename(state, ids[0], entry["label"])[0]
        return f"topic {done.topic} renamed '{done.label}'{near}"
    if entry["op"] == "merge":
        merged = _merge(state, ids)[0]
        return f"topics {', '.join(map(str, ids))} merged into {merged.topic.id} '{merged.topic.label}'{near}"
    if entry["op"] == "split":
        done = _split(state, ids[0], entry.get("parts"))[0]
        return f"topic {ids[0]} split into {', '.join(str(p.id) for p in done.parts)}{near}"
    raise TopictalkError(f"unknown change '{entry['op']}'")
