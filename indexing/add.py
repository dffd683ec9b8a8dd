"""Add documents to an index without re-indexing it (``topictalk add --input NEW``).

Only the new documents are embedded. Each goes to the topic its nearest indexed documents vote for,
each vote weighted by its similarity (the graph's own neighbour count): the rule that already places
the documents a clustering leaves out. Its map position is the similarity-weighted mean of those
neighbours' positions, so the map does not move. The topics that received documents get their counts,
centroids and representative documents anew (their labels and descriptions stay: a few more documents
do not rename a topic); themes, trends and the brief follow; the result is a new generation, written as
a refinement is (indexing/refine.py), under the writer lock.

A topic's words (c-TF-IDF, KeyBERTInspired, MMR) are fitted again only where the new documents can move
them: when they are at least :data:`REFIT_SHARE` of the topic's documents; its words per period likewise,
for each period (and when a period gets the documents it needs for words of its own). The fit weighs
every topic's sampled documents, so it costs as much for one topic as for all: fitting a topic that grew
by a few percent made an add's time grow with the corpus, for words that barely move (1,000 abstracts
into 20,000: topics that grew by under 10% changed 0.3-0.8 of their 10 keywords when fitted again).

The topics themselves do not change: a new subject that no topic covers is placed at its nearest
and counted as fitting no topic well. :class:`Added` says how many did, and advises a full re-index
when so many new documents fit badly (or so many came) that the topics would likely change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from topictalk.indexing import dates, embedding, embedding_cache, refine, refine_log, refine_topics, store
from topictalk.indexing.corpus import Corpus
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import OUTLIER, DocumentRecord, biggest_first
from topictalk.indexing.topics import centre
from topictalk.indexing.writer_lock import writer_lock

# A new document fits its topic badly when it is farther from the topic's centroid than all but this
# share of the topic's own documents are (the 5th percentile of their similarity to it).
FIT_PERCENTILE = 5.0
# A full re-index is advised when this share of the new documents fits badly (new subjects came), or
# when the new documents are this share of the index (the topics were fitted on too little of it).
REINDEX_UNFIT_SHARE = 0.2
REINDEX_GROWTH = 0.3
CHUNK = 512  # new documents compared with the index at once (a 512 x n similarity block)
# the new documents' share of a topic (or of a topic's period) from which its words are fitted again
REFIT_SHARE = 0.1


@dataclass(frozen=True)
class Added:
    added: int  # new documents written
    already: int  # documents of the input the index holds already (same id or same text): skipped
    unfit: int  # new documents that fit no topic well (placed at their nearest anyway)
    per_topic: dict[int, int] = field(default_factory=dict)  # topic -> new documents it received
    generation: int | None = None  # the generation written; None when nothing was new
    advice: str | None = None  # why a full re-index would likely change the topics, when it would

    @property
    def unfit_share(self) -> float:
        return self.unfit / self.added if self.added else 0.0


@dataclass(frozen=True)
class Placement:
    topics: np.ndarray  # topic per new document
    share: np.ndarray  # the winning topic's share of the similarity-weighted vote, in [0, 1]
    xy: np.ndarray  # (n, 2) map positions
    fits: np.ndarray  # bool: as near its topic's centroid as most of the topic's own documents


def place(new: np.ndarray, vectors: np.ndarray, topics: np.ndarray, xy: np.ndarray, k: int,
          centroids: dict[int, np.ndarray]) -> Placement:
    """Each row of ``new`` placed among the indexed ``vectors`` (unit rows, their ``topics`` and map
    positions ``xy``) by its ``k`` nearest neighbours' similarity-weighted vote."""
    k = max(1, min(k, len(vectors)))
    ids = np.unique(topics)
    slot = np.searchsorted(ids, topics)
    placed = np.empty(len(new), dtype=np.int64)
    share = np.empty(len(new), dtype=np.float32)
    where = np.empty((len(new), 2), dtype=np.float32)
    for start in range(0, len(new), CHUNK):
        sims = new[start:start + CHUNK] @ vectors.T
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weight = np.clip(np.take_along_axis(sims, near, axis=1), 1e-6, None)
        votes = np.zeros((len(near), len(ids)), dtype=np.float64)
        np.add.at(votes, (np.repeat(np.arange(len(near)), k), slot[near].ravel()), weight.ravel())
        best = votes.argmax(axis=1)
        placed[start:start + len(near)] = ids[best]
        share[start:start + len(near)] = votes[np.arange(len(near)), best] / votes.sum(axis=1)
        where[start:start + len(near)] = (weight[..., None] * xy[near]).sum(axis=1) / weight.sum(axis=1)[:, None]
    return Placement(placed, share, where, _fits(new, placed, vectors, topics, centroids))


def _fits(new: np.ndarray, placed: np.ndarray, vectors: np.ndarray, topics: np.ndarray,
          centroids: dict[int, np.ndarray]) -> np.ndarray:
    fits = np.zeros(len(new), dtype=bool)
    for topic in np.unique(placed):
        centre = centroids.get(int(topic))
        if topic == OUTLIER or centre is None:
            continue  # the outlier bin fits nothing by definition
        mine = placed == topic
        floor = np.percentile(vectors[topics == topic] @ centre, FIT_PERCENTILE)
        fits[mine] = new[mine] @ centre >= floor
    return fits


def add(location: store.Location, corpus: Corpus, *, embedder=None, progress: Callable | None = None,
        log: Callable[[str], None] = lambda _: None) -> Added:
    """Embed ``corpus``'s documents that ``location``'s index lacks, place them, write a new generation."""
    client = store.connect(location)
    with writer_lock(location, client) as lease:
        if store.live_generation(client, location.names) is None:
            raise TopictalkError(f"no topic index at {location}: build one with `topictalk index --input FILE` first")
        state = refine._load(client, location)
        held_ids = {r.id for r in state.records}
        held_texts = {r.text for r in state.records}
        fresh = [d for d in corpus.documents if d.id not in held_ids and d.text not in held_texts]
        already = len(corpus) - len(fresh)
        if not fresh:
            return Added(0, already, 0)
        name = state.manifest.get("models", {}).get("embedding_name") or embedding.DEFAULT
        model = state.embedder = embedder or embedding.encoding_model(name)
        state.cache = location.path / "cache" if location.path is not None else None  # only new texts are read
        new = _embed(state, fresh, name, model, progress, log)
        return _place_and_write(client, location, lease, state, fresh, already, new)


def _embed(state: refine._State, fresh: list, name: str, model, progress, log) -> np.ndarray:
    """The new documents' vectors, through the index's cache (``state.cache``) when it has a folder."""
    cache = state.cache
    advance = progress("embedding", len(fresh)) if progress else None
    texts = [d.text for d in fresh]
    if cache is not None:  # the index's own cache: a later full re-index embeds none of these again
        new, _ = embedding_cache.embed_cached([d.id for d in fresh], texts, name, cache, advance, model=model,
                                              log=log)
    else:
        from topictalk.indexing import encoder

        new = encoder.encode(model, texts, advance)
    if new.shape[1] != state.vectors.shape[1]:
        raise TopictalkError(f"the embedding model {name} gives {new.shape[1]}-dimensional vectors and the "
                             f"index holds {state.vectors.shape[1]}: add with the model that built it")
    return new


def _place_and_write(client, location: store.Location, lease, state: refine._State, fresh: list, already: int,
                     new: np.ndarray) -> Added:
    """Place the ``fresh`` documents (vectors ``new``), represent the topics they move, write the generation."""
    topics = np.array([r.topic for r in state.records], dtype=np.int64)
    xy = np.array([[r.x, r.y] for r in state.records], dtype=np.float32)
    centroids = {t.id: t.embedding for t in state.topics if t.embedding is not None}
    params = refine_topics.params_of(state.manifest)
    where = place(new, state.vectors, topics, xy, params.graph_neighbors, centroids)
    theme_of = {t.id: t.theme for t in state.topics}
    state.records += [
        DocumentRecord(d.id, d.text, d.title, int(t), float(s), float(p[0]), float(p[1]), core=False,
                       theme=theme_of.get(int(t)), date=d.date, fields=dict(d.fields))
        for d, t, s, p in zip(fresh, where.topics, where.share, where.xy)]
    state.vectors = np.vstack([state.vectors, new]).astype(np.float32)
    per_topic = {int(t): int(n) for t, n in zip(*np.unique(where.topics, return_counts=True))}
    period = (state.manifest.get("trends") or {}).get("period")
    for record in state.records[-len(fresh):]:
        record.period = dates.label(date.fromisoformat(record.date), period) if record.date and period else None
    refit = moved(Counter(r.topic for r in state.records), per_topic)
    state.touched |= refit | moved_periods(state.records, len(fresh))  # their words per period fitted again
    _represent_again(state, set(per_topic), refit, params)
    corpus_part = state.manifest.get("corpus", {})
    state.manifest["corpus"] = {**corpus_part, "documents": len(state.records),
                                "added": int(corpus_part.get("added", 0)) + len(fresh)}
    generation = refine._save(client, location, lease, state, refine_log.read(location, state.manifest),
                              appended=True)
    unfit = int((~where.fits).sum())
    return Added(len(fresh), already, unfit, per_topic, generation,
                 _advice(len(fresh), unfit, len(state.records) - len(fresh)))


def moved(sizes: Counter, new: dict, share: float = REFIT_SHARE, floor: int = 0) -> set:
    """The keys (topics, or topic x period cells) of at least ``floor`` documents now whose ``new`` documents
    are at least ``share`` of their ``sizes``, or that had fewer than ``floor`` before (too few for words)."""
    return {key for key, n in new.items() if sizes[key] >= floor and (n >= share * sizes[key] or sizes[key] - n < floor)}


def moved_periods(records: list[DocumentRecord], added: int) -> set[int]:
    """The topics one of whose periods the last ``added`` records move (:func:`moved`): a period's first
    documents, or a share of an old one's; their words per period are fitted again."""
    from topictalk.indexing.trend_words import MIN_DOCUMENTS

    cells = Counter((r.topic, r.period) for r in records if r.period is not None)
    new = Counter((r.topic, r.period) for r in records[len(records) - added:] if r.period is not None)
    return {topic for topic, _ in moved(cells, new, floor=MIN_DOCUMENTS)}


def _represent_again(state: refine._State, touched: set[int], refit: set[int], params) -> None:
    """The touched topics' sizes, centroids and representative documents from their documents now, and the
    ``refit`` ones' words too (the others keep theirs); labels and descriptions stay. Themes' sizes follow."""
    labels = np.array([r.topic for r in state.records], dtype=np.int64)
    core = np.array([r.core for r in state.records], dtype=bool)
    made = {}
    if refit:
        made, _ = refine_topics.represent(
            [r.text for r in state.records], [r.id for r in state.records], state.vectors, labels,
            np.array([r.probability for r in state.records], dtype=np.float32), core,
            {t.id: t.theme for t in state.topics}, params, state.model(), refit,
            kept={t.id: t for t in state.topics if t.id in refit}, themes=False, tokens=state.words())
    for tp in state.topics:
        if tp.id in made:
            fresh = made[tp.id]
            tp.size, tp.keywords, tp.keybert, tp.mmr = fresh.size, fresh.keywords, fresh.keybert, fresh.mmr
            tp.representative_ids, tp.embedding = fresh.representative_ids, fresh.embedding
        elif tp.id in touched:
            members = np.flatnonzero(labels == tp.id)
            tp.size = len(members)
            if not tp.is_outlier:  # the outlier bin has no centroid or representatives
                centroid, closest = centre(state.vectors, members, core, params.representative_docs)
                tp.embedding, tp.representative_ids = centroid.astype(np.float32), [state.records[i].id for i in closest]
    state.topics = biggest_first(state.topics)
    state.themes = refine_topics.rethemes(state.themes, state.topics, set(), {}, {}, params.representative_docs)


def _advice(added: int, unfit: int, held: int) -> str | None:
    if added and unfit / added >= REINDEX_UNFIT_SHARE:
        return (f"{unfit / added:.0%} of the new documents fit no topic well: they may hold subjects the "
                "topics lack; a full re-index (topictalk index) would find them")
    if held and added / held >= REINDEX_GROWTH:
        return (f"the index grew by {added / held:.0%}: its topics were fitted on too little of it; a full "
                "re-index (topictalk index) would fit them to all of it")
    return None
