"""What a refine recomputes for the topics it touches, with the index's own machinery: sub-communities
of a topic (Leiden on its documents' neighbour graph), BERTopic's representations (c-TF-IDF,
KeyBERTInspired, MMR), labels (the LLM's, else keywords), descriptions, the themes around them and the
corpus brief. indexing/refine.py decides what is touched; nothing here writes the store.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from topictalk.indexing import clustering, describe, descriptions, topics
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.labels import Completer, LabelCache, Labeler, LabelSettings, label_by_keywords, sibling_keywords
from topictalk.indexing.schema import OUTLIER, DocumentRecord, Theme, Topic, biggest_first
from topictalk.indexing.vocabulary import Tokens

MIN_PART = clustering.MIN_TOPIC  # documents in each part of a split: the index's smallest topic


def params_of(manifest: dict) -> topics.TopicParams:
    """The topic parameters the index was built with (its manifest's), defaults for what it lacks."""
    known = {f.name for f in dataclasses.fields(topics.TopicParams)}
    given = {k: v for k, v in manifest.get("parameters", {}).items() if k in known}
    if "ngram_range" in given:
        given["ngram_range"] = tuple(given["ngram_range"])
    return topics.TopicParams(**given)


def label_settings(manifest: dict) -> LabelSettings:
    known = {f.name for f in dataclasses.fields(LabelSettings)}
    return LabelSettings(**{k: v for k, v in manifest.get("parameters", {}).get("labels", {}).items() if k in known})


def sub_communities(vectors: np.ndarray, params: topics.TopicParams, parts: int | None,
                    topic: int) -> tuple[np.ndarray, float]:
    """The parts of one topic (0..k-1, biggest first) and the modularity of that split: Leiden on the
    neighbour graph of its documents, as the index finds topics; parts under :data:`MIN_PART` join the
    part they link to most, and with ``parts`` the smallest keep joining until that many are left."""
    n = len(vectors)
    if n < 2 * MIN_PART:
        raise TopictalkError(f"topic {topic} has {n} documents: a split needs at least {2 * MIN_PART} (two parts of "
                             f"{MIN_PART}); pick a bigger topic, or merge this one into its neighbour")
    if parts is not None and parts < 2:
        raise TopictalkError(f"a split makes at least 2 parts, not {parts}: leave out --parts, or give 2 or more")
    found, _, modularity = split_parts(vectors, params, parts)
    if found.max() < 1:
        raise TopictalkError(f"topic {topic} has no sub-communities of {MIN_PART} documents or more: its "
                             f"{n} documents are one subject to the neighbour graph; leave it whole")
    return found, modularity


def split_parts(vectors: np.ndarray, params: topics.TopicParams, parts: int | None = None,
                min_part: int = MIN_PART) -> tuple[np.ndarray, float, float]:
    """THE split of one topic's documents, for a refine's split and for subtopics (indexing/subtopics.py):
    Leiden on the neighbour graph of its documents alone, as the index finds topics; parts under
    ``min_part`` join the part they link to most, and with ``parts`` the smallest keep joining until that
    many are left. Returns the parts (0..k-1, biggest first; all 0 when there is one), the modularity of
    Leiden's own split (what :data:`clustering.MIN_SPLIT_MODULARITY` judges, as ``clustering.refine`` does)
    and that of the parts returned."""
    n = len(vectors)
    indices, distances = topics.neighbours(vectors, min(n - 1, params.graph_neighbors + 1), params.random_state)
    graph = clustering.neighbour_graph(indices, distances)
    raw = clustering.leiden(graph, params.resolution, params.random_state)
    found = clustering.renumber(clustering.absorb(raw, graph, min_part, parts))
    return (found, round(clustering.split_modularity(graph, raw), 4),
            round(float(graph.modularity(found.tolist(), weights="weight")), 4))


def represent(texts: list[str], ids: list[str], vectors: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
              core: np.ndarray, theme_of: dict[int, int | None], params: topics.TopicParams, model,
              wanted: set[int], kept: dict[int, Topic] | None = None, themes: bool = True,
              tokens=None) -> tuple[dict[int, Topic], dict[int, Theme]]:
    """The ``wanted`` topics' representations (and every theme's keywords and centroid), fitted as the index
    fits them: c-TF-IDF weighs a topic's words against every other topic's, so every topic's sampled
    documents take part; KeyBERT and MMR words, which embed words topic by topic, are made for the wanted
    topics only. A wanted topic in ``kept`` (its representations before an add) whose c-TF-IDF keywords are
    the same words as before keeps its KeyBERT and MMR words: they are drawn from those keywords' candidates,
    and a few more documents that leave the keywords as they were would move them by sampling noise only.
    ``themes=False``: no themes' keywords (an add keeps them). ``tokens``: ``texts``' words (vocabulary.Tokens),
    when the caller counts them too. ``topics.represent`` wants ids 0..k-1: ours are mapped there and back."""
    real = sorted(set(labels.tolist()) - {OUTLIER})
    dense_of = {t: k for k, t in enumerate(real)}
    theme_ids = sorted({theme_of.get(t) for t in real} - {None}) or [0]
    theme_index = {th: k for k, th in enumerate(theme_ids)}
    dense = np.array([dense_of.get(t, OUTLIER) for t in labels.tolist()], dtype=np.int64)
    theme_of_topic = np.array([theme_index.get(theme_of.get(t), 0) for t in real], dtype=np.int64)
    kept = kept or {}
    unchanged: set[int] = set()

    def needs(topic: int, words: list[str]) -> bool:
        ours = OUTLIER if topic == OUTLIER else real[topic]
        if ours in kept and set(kept[ours].keywords) == set(words):
            unchanged.add(ours)
            return False
        return ours in wanted

    made, made_themes = topics.represent(texts, ids, vectors, dense, probabilities, core, theme_of_topic, params,
                                         model, needs, themes, tokens)
    out = {}
    for tp in made:
        ours = OUTLIER if tp.is_outlier else real[tp.id]
        if ours in wanted:
            out[ours] = dataclasses.replace(tp, id=ours, theme=theme_of.get(ours))
            if ours in unchanged:
                out[ours].keybert, out[ours].mmr = list(kept[ours].keybert), list(kept[ours].mmr)
    return out, {theme_ids[th.id]: th for th in made_themes}


def label(touched: list[Topic], every: Sequence[Topic], documents: dict[str, tuple[str, str]], embed,
          llm: Completer | None, settings: LabelSettings, cache: Path | None) -> None:
    """Label and describe ``touched`` in place, as the index does: extractive descriptions first; then the
    LLM's label and description when ``llm`` is given, else a keyword heading. Their labels differ from the
    other topics'."""
    central = describe.describe_topics(touched, documents, embed, settings.documents)
    ours = {t.id for t in touched}
    taken = {t.label.lower() for t in every if t.id not in ours}
    if llm is None:
        label_by_keywords(touched, taken)
        return
    siblings = sibling_keywords(touched, every)
    # a touched topic's label stays apart from its theme's other topics', the untouched ones' included
    family = {"group": {tp.id: tp.theme for tp in touched if tp.theme is not None}, "named": {}}
    for o in every:
        if o.id not in ours and o.theme is not None:
            family["named"].setdefault(o.theme, []).append(o.label)
    with tempfile.TemporaryDirectory() as scratch:  # a server index has no folder to cache answers in
        labeler = Labeler(llm, LabelCache((cache or Path(scratch)) / "labels.jsonl"), settings)
        if not settings.describe:
            labeler.label(touched, documents, siblings=siblings, taken=taken, **family)
            return
        shown = {tp.id: descriptions.topic_lines(tp, documents, central) for tp in touched}
        answers = labeler.label(touched, documents, siblings=siblings, taken=taken, shown=shown,
                                prompt=descriptions.TOPIC_PROMPT, extra_tokens=settings.describe_tokens, **family)
        descriptions.apply(touched, answers, {tp.id: tp.representative_ids for tp in touched}, documents, embed)


def rethemes(themes: Sequence[Theme], every: Sequence[Topic], changed: set[int], remade: dict[int, Theme],
             vectors_of: dict[int, np.ndarray], representative_docs: int) -> list[Theme]:
    """The themes over ``every`` topic: sizes and topic lists anew; a theme left with no topic is gone; a
    theme of one topic is that topic (its label and description, as at index time). Themes in ``changed``
    (their topics changed) get their representative documents and extractive description anew, and, where
    ``remade`` has them, their keywords; ``vectors_of`` gives the new centroid of those whose documents moved."""
    out = []
    for theme in themes:
        members = biggest_first([t for t in every if t.theme == theme.id])
        if not members:
            continue
        th = dataclasses.replace(theme, topic_ids=[t.id for t in members], size=sum(t.size for t in members))
        if theme.id in changed:
            th.representative_ids = [t.representative_ids[0] for t in members if t.representative_ids][
                :representative_docs]
            if theme.id in remade:
                th.keywords = list(remade[theme.id].keywords)
            if theme.id in vectors_of:
                th.embedding = vectors_of[theme.id]
            if len(members) > 1:
                describe.describe_themes([th], every)
        if len(members) == 1:
            tp = members[0]
            th.label, th.label_source = tp.label, "topic"
            th.description, th.description_ids, th.description_source = (tp.description, list(tp.description_ids),
                                                                          tp.description_source)
        out.append(th)
    return biggest_first(out)


_SIZES = re.compile(r"^[\d,]+ documents in \d+ topics, grouped in \d+ themes\.\s*")
_BIGGEST = " The biggest themes: "


def rebrief(old: dict | None, themes: Sequence[Theme], every: Sequence[Topic], documents: int) -> dict:
    """The corpus brief over the new topics and themes: its sizes and theme lines computed again; the model's
    paragraph, when the index has one, kept (it sums up the same documents)."""
    text = (old or {}).get("text", "")
    paragraph, cited = "", []
    if _SIZES.match(text) and _BIGGEST in text:
        paragraph = text[_SIZES.match(text).end():text.rindex(_BIGGEST)].strip()
        cited = list((old or {}).get("document_ids", []))
    return describe.brief(themes, every, documents, paragraph, cited if paragraph else ()).as_dict()


def recount_trends(manifest: dict, records: Sequence[DocumentRecord], touched: set[int], tokens=None) -> dict:
    """The manifest's trends (issue 29) over the documents' topics now: the counts per topic x period and
    topic x facet value from the documents' dates and fields, as the pipeline counts them; each topic's
    words per period kept, and fitted again for the ``touched`` topics (c-TF-IDF across every topic's
    periods, as at index time). ``tokens``: the records' words (vocabulary.Tokens), when counted already."""
    from datetime import date

    from topictalk.indexing import trend_words, trends

    old = trends.Trends.from_dict(manifest["trends"])
    assigned = [r.topic for r in records]
    when = [date.fromisoformat(r.date) if r.date else None for r in records]
    facets = {name: ([v if isinstance(v, list) else [] if v is None else [v] for v in
                      (r.fields.get(name) for r in records)], f.multi) for name, f in old.facets.items()}
    counted = trends.count(assigned, when, old.date_field, old.period, facets)
    alive = set(assigned)
    counted.words = {t: w for t, w in old.words.items() if t in alive and t not in touched}
    if counted.dated and old.words and touched & alive:
        params = params_of(manifest)
        fresh = trend_words.period_words(tokens or Tokens([r.text for r in records], params), assigned, when,
                                         old.period, counted.periods, params, params.random_state, touched & alive)
        counted.words.update(fresh)  # only the touched topics' words were weighed
    return counted.as_dict()


def confidence(vectors: np.ndarray, rows: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For the documents ``rows``: the share of their ``k`` nearest neighbours' similarity (in the whole
    corpus, themselves left out) inside their own topic, and whether no other single topic holds more
    (core): what ``clustering.communities`` gives every document, for the documents whose topic changed."""
    share = np.zeros(len(rows), np.float32)
    core = np.zeros(len(rows), bool)
    k = min(k, len(vectors) - 1)
    for start in range(0, len(rows), 1024):
        chunk = rows[start:start + 1024]
        sims = vectors[chunk] @ vectors.T
        sims[np.arange(len(chunk)), chunk] = -np.inf
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weight = np.clip(np.take_along_axis(sims, nearest, axis=1), 0.0, None)
        for i, row in enumerate(chunk):
            per_topic: dict[int, float] = {}
            for topic, w in zip(labels[nearest[i]].tolist(), weight[i].tolist()):
                per_topic[topic] = per_topic.get(topic, 0.0) + w
            total = sum(per_topic.values())
            own = per_topic.pop(int(labels[row]), 0.0)
            share[start + i] = min(1.0, own / total) if total > 0 else 0.0
            core[start + i] = own >= max(per_topic.values(), default=0.0)
    return share, core
