"""``topictalk index``: corpus -> embeddings -> topics -> labels -> a new Chroma generation.

Every expensive step is cached under ``<index-dir>/cache`` (embedding
chunks, UMAP outputs, LLM answers) and the store switches generations only
at the very end, so a run killed at any point leaves the previous index
served and the next run resumes from the caches.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from topictalk.indexing import (
    dates,
    describe,
    descriptions,
    embed_pool,
    embedding,
    embedding_cache,
    encoder,
    fingerprint,
    host,
    jit_cache,
    refine,
    store,
    topics,
    trend_words,
    trends,
)
from topictalk.indexing.bertopic_model import SavedTopics
from topictalk.indexing.corpus import Corpus
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.labels import Completer, LabelCache, Labeler, LabelSettings, label_by_keywords, sibling_keywords
from topictalk.indexing.schema import OUTLIER, Brief, DocumentRecord, Theme, Topic
from topictalk.indexing.vocabulary import Tokens
from topictalk.indexing.writer_lock import writer_lock


@dataclass(frozen=True)
class IndexSettings:
    embedding_model: str = embedding.DEFAULT
    embeddings_file: str | None = None
    embed_workers: int = 1  # above 1: a sentence-transformers multi-process pool (indexing.embed_pool)
    topics: topics.TopicParams = field(default_factory=topics.TopicParams)
    labels: LabelSettings = field(default_factory=LabelSettings)


@dataclass
class IndexResult:
    manifest: dict
    topics: list[Topic]
    themes: list[Theme]


# (stage, total, seconds=None) -> advance(n). A stage with no countable steps is one step
# with ``seconds``, an estimate of its duration, so that a progress bar can show an ETA.
Progress = Callable[..., "Callable[[int], None]"]


def _no_progress(stage: str, total: int, seconds: float | None = None) -> Callable[[int], None]:
    return lambda n: None


def topics_seconds(n: int, jit_compiled: bool) -> float:
    """A rough duration of UMAP (5-D and 2-D) + HDBSCAN + representations, for the ETA.

    Measured with the bundled MiniLM on 2 cores at 5,000 documents: about 4 ms per
    document, plus numba compiling umap (~20 s) when its on-disk cache is empty and
    ~5 s of imports and what numba compiles in every process.
    """
    return 4e-3 * n + (5.0 if jit_compiled else 25.0)


def build(
    corpus: Corpus,
    index_dir: Path,
    settings: IndexSettings,
    llm: Completer | None,
    *,
    location: store.Location | None = None,
    progress: Progress = _no_progress,
    log: Callable[[str], None] = lambda _: None,
    topics_from: SavedTopics | None = None,
    ready: Callable[[int], None] | None = None,
) -> IndexResult:
    """Index ``corpus``; ``llm`` None labels topics by keywords only. ``topics_from``: a saved BERTopic
    model whose topics (its fitted documents' assignments, words and any labels set) are kept.

    ``ready``: with an ``llm``, the index is first committed with keyword labels and extractive
    descriptions, and ``ready(generation)`` called, before the model labels; its labels then come as the
    next generation, which readers follow. `topictalk demo` opens the chat there on a CPU, where the labels
    are most of the command's time (docs/speed.md)."""
    location = location or store.Location(path=index_dir)
    cache = index_dir / "cache"
    timings: dict[str, float] = {}
    started = time.perf_counter()
    n = len(corpus)
    topics.check_size(n, settings.topics)  # before hours of embedding, not after
    given = _given(corpus, topics_from)  # a model that does not fit the documents fails before any work
    client = store.connect(location)  # fail on a bad store (or a busy one) before hours of work
    with writer_lock(location, client) as lease:
        refinements = refine.earlier_log(location, client)  # before this run's manifest replaces the live one
        t = time.perf_counter()
        model, vectors, embed_stats = _embed(corpus, settings, cache, progress, log)
        timings["embed"] = time.perf_counter() - t

        done = progress("topics", 1, seconds=topics_seconds(n, jit_cache.compiled()))
        # each text read once for every count of words, and not again by a later run (the cache keeps them)
        tokens = Tokens(_model_texts(corpus), settings.topics, cache)
        result = topics.fit(_model_texts(corpus), corpus.ids, vectors, settings.topics, model, cache, log, given,
                            tokens)
        done(1)
        timings.update(result.timings)

        t = time.perf_counter()
        documents = {d.id: (d.title, d.text) for d in corpus.documents}
        embed = descriptions.memo(encoder.Encoder(model))  # each sentence once: for the prompts and the checks
        # extractive descriptions first: the label prompts show their central sentences, and they stay
        # wherever the model's description is not grounded
        central = describe.describe_topics(result.topics, documents, embed, settings.labels.documents)
        timings["describe"] = time.perf_counter() - t

        t = time.perf_counter()
        counted = count_trends(corpus, result, settings.topics, tokens)
        tokens.keep()
        timings["trends"] = time.perf_counter() - t

        def commit(result: topics.TopicResult, labeler: Labeler | None, described: dict, brief: Brief,
                   shared: store.Shared | None = None, **extra) -> dict:
            t = time.perf_counter()
            writer = store.begin(client, location.names, lease)
            _write(writer, corpus, result, vectors, progress, counted.period, shared)
            timings["write"] = time.perf_counter() - t
            timings["total"] = time.perf_counter() - started
            manifest = {**_manifest(corpus, settings, location, llm if labeler is not None else None, result,
                                    vectors, embed_stats, labeler, timings),
                        "descriptions": described, "brief": brief.as_dict(), "trends": counted.as_dict(), **extra}
            writer.commit(manifest)
            manifest = {**manifest, "generation": writer.generation}
            if location.path is not None:
                store.write_manifest_file(index_dir, manifest, location.index)
            return manifest

        first = None
        if ready is not None and llm is not None:  # keyword labels first, the model's as the next generation
            early = dataclasses.replace(result, topics=copy.deepcopy(result.topics),
                                        themes=copy.deepcopy(result.themes))
            _, described = _label(early, documents, central, embed, None, settings, cache, progress)
            brief, described["brief"] = _brief(early, documents, embed, None)
            first = commit(early, None, described, brief, labels_pending=True)["generation"]
            ready(first)

        t = time.perf_counter()
        labeler, described = _label(result, documents, central, embed, llm, settings, cache, progress)
        if topics_from is not None:
            _keep_labels(result, topics_from.labels)
        timings["label"] = time.perf_counter() - t

        t = time.perf_counter()
        brief, described["brief"] = _brief(result, documents, embed, labeler)
        timings["describe"] += time.perf_counter() - t

        # the labelled generation shares the documents the first one wrote: only the topics differ
        manifest = commit(result, labeler, described, brief,
                          None if first is None else store.Shared((first,), len(corpus)))
        # renames, merges and splits made on an index of these settings, redone where their topics still are
        try:
            replayed = refine.replay(location, client, lease, refinements, llm=llm, embedder=model, log=log)
        except TopictalkError as err:  # the fresh index stands; the log stays for the next run
            log(f"warning: the logged refinements were not replayed: {err}")
            replayed = refine.Replayed()
        if replayed.generation is not None:
            return IndexResult(replayed.manifest, replayed.topics, replayed.themes)
        return IndexResult(manifest, result.topics, result.themes)


def _embed(corpus: Corpus, settings: IndexSettings, cache: Path, progress: Progress,
           log: Callable[[str], None]) -> tuple[object, np.ndarray, dict]:
    """The embedding model, one unit vector per document (cached, or the precomputed file) and what was cached."""
    model = embedding.load(settings.embedding_model)
    if settings.embeddings_file:
        vectors = embedding.load_precomputed(settings.embeddings_file, len(corpus), encoder.dimension(model))
        return model, vectors, {"precomputed": settings.embeddings_file}
    advance = progress("embedding", len(corpus))
    pool = embed_pool.PoolEncoder(model, settings.embed_workers) if settings.embed_workers > 1 else None
    try:
        vectors, stats = embedding_cache.embed_cached(corpus.ids, _model_texts(corpus), settings.embedding_model,
                                                      cache, advance, model=model, log=log, encoder=pool)
    finally:
        if pool is not None:
            pool.close()
    return model, vectors, stats


def _given(corpus: Corpus, saved: SavedTopics | None) -> topics.Given | None:
    if saved is None:
        return None
    if corpus.sampled_from is not None:
        raise TopictalkError(f"--limit samples the documents, and the BERTopic model at {saved.source} needs all "
                             "it was fitted on: drop --limit")
    return topics.Given(saved.for_rows(corpus.rows or [], corpus.read), saved.source, saved.words)


def _keep_labels(result: topics.TopicResult, labels: dict[int, str]) -> None:
    """The labels a person set on the BERTopic model win over the LLM's (which still describes the topic);
    a theme of one topic is that topic, name included."""
    by_id = {tp.id: tp for tp in result.topics}
    for topic, text in labels.items():
        if topic in by_id:
            by_id[topic].label, by_id[topic].label_source = text, "bertopic"
    for th in result.themes:
        if len(th.topic_ids) == 1 and th.topic_ids[0] in labels:
            th.label = labels[th.topic_ids[0]]


def _label(result: topics.TopicResult, documents: dict[str, tuple[str, str]], central: dict[str, str],
           embed: descriptions.Embed, llm: Completer | None, settings: IndexSettings, cache: Path,
           progress: Progress) -> tuple[Labeler | None, dict]:
    """Label and describe the topics and themes in place: by the LLM when there is one, else by their
    keywords and central sentences. Returns the labeler and what became of the descriptions."""
    if llm is None:
        return None, label(result.topics, result.themes, documents, None)
    labeler = Labeler(llm, LabelCache(cache / "labels.jsonl"), settings.labels)
    labeled = sum(not tp.is_outlier for tp in result.topics)
    grouped = sum(len(th.topic_ids) > 1 for th in result.themes)
    described = label(result.topics, result.themes, documents, labeler, progress("labeling", labeled + grouped),
                      central=central, embed=embed)
    return labeler, described


def _brief(result: topics.TopicResult, documents: dict[str, tuple[str, str]], embed: descriptions.Embed,
           labeler: Labeler | None) -> tuple[Brief, dict]:
    """The corpus brief: a paragraph the model reduces from the theme descriptions (one call, cached like
    the labels), checked, between the sizes and a line per theme; without a model, the sizes and lines."""
    raw = None
    if labeler is not None and labeler.settings.describe and result.themes:
        raw = next(labeler.ask([descriptions.brief_messages(result.themes, len(documents))],
                               descriptions.BRIEF_TOKENS, "brief_user"))
    return descriptions.brief(result.themes, result.topics, len(documents), raw, documents, embed)


def count_trends(corpus: Corpus, result: topics.TopicResult, params: topics.TopicParams,
                 tokens: Tokens) -> trends.Trends:
    """The counts per topic x period and topic x facet value, and each topic's words per period, computed
    once here so that no question scans the corpus (indexing.trends). ``tokens``: the texts' words, as
    the topics read them."""
    columns = corpus.columns or {}
    when = [date.fromisoformat(d.date) if d.date else None for d in corpus.documents]
    known = [d for d in when if d is not None]
    period = dates.choose_period(known, columns.get("date_precision") or "day") if known else None
    return trend_words.counted(tokens, result.assignments, when,
                               [d.fields for d in corpus.documents], columns.get("date_field"), period,
                               columns.get("facet_fields") or {}, params)


def _write(writer: store.Writer, corpus: Corpus, result: topics.TopicResult, vectors: np.ndarray,
           progress: Progress, period: str | None = None, shared: store.Shared | None = None) -> None:
    """The documents (with their topic, theme, map position, date, period and facet values), the topics and
    the themes, uncommitted; with ``shared``, the documents are those parts' (store.Writer.write_documents)."""
    theme_of = {tp.id: tp.theme for tp in result.topics}
    records = [
        DocumentRecord(d.id, d.text, d.title, int(result.assignments[i]), float(result.probabilities[i]),
                       float(result.coordinates[i, 0]), float(result.coordinates[i, 1]), bool(result.core[i]),
                       theme_of.get(int(result.assignments[i])), date=d.date,
                       period=dates.label(date.fromisoformat(d.date), period) if d.date and period else None,
                       fields=dict(d.fields))
        for i, d in enumerate(corpus.documents)
    ]
    writer.write_documents(records, vectors, progress("writing", len(corpus) - (shared.held if shared else 0)),
                           shared=shared)
    writer.write_topics(result.topics)
    writer.write_themes(result.themes)


def _manifest(corpus: Corpus, settings: IndexSettings, location: store.Location, llm: Completer | None,
              result: topics.TopicResult, vectors: np.ndarray, embed_stats: dict, labeler: Labeler | None,
              timings: dict[str, float]) -> dict:
    """What the generation records about itself: corpus, models, parameters, counts, timings, cache use."""
    n = len(corpus)
    outliers = int((result.assignments == OUTLIER).sum())
    return {
        "version": fingerprint.version("topictalk"),
        "index": location.index,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": {"source": corpus.source, "documents": n, "read": corpus.read,
                   "dropped_empty": corpus.dropped_empty, "dropped_duplicates": corpus.dropped_duplicates,
                   "sampled_from": corpus.sampled_from, "text_column": corpus.text_column,
                   "title_column": corpus.title_column, "inputs": corpus.inputs,
                   "date_field": None, "facet_fields": {}, "reported": [], **(corpus.columns or {})},
        "models": {"embedding": embedding.model_key(settings.embedding_model),
                   "embedding_name": settings.embedding_model,
                   "embedding_dim": int(vectors.shape[1]), "llm": llm.spec if llm else None},
        "parameters": {**topics.params_dict(settings.topics, result.clustering),
                       "labels": asdict(settings.labels)},
        "clustering": {**result.clustering.manifest(),
                       "themes": {"method": result.theme_split.method, "resolution": result.theme_split.resolution,
                                  "modularity": result.theme_split.modularity,
                                  "tried": result.theme_split.tried}},
        "counts": {"topics": sum(not tp.is_outlier for tp in result.topics), "themes": len(result.themes),
                   "outliers": outliers, "outlier_share": round(outliers / n, 4),
                   "placed": int((~result.core).sum())},
        "timings": {k: round(v, 2) for k, v in timings.items()},
        # a test double of the LLM may not say how it runs
        "host": {**host.probe().as_dict(), "llm": llm.runtime() if hasattr(llm, "runtime") else None},
        "cache": {**embed_stats, "umap": result.cached.get("umap"), "umap_2d": result.cached.get("umap_2d", False),
                  "labels": labeler.stats if labeler else None},
    }


def label(topic_list: list[Topic], themes: list[Theme], documents: dict[str, tuple[str, str]],
          labeler: Labeler | None, advance: Callable[[int], None] | None = None, *,
          central: dict[str, str] | None = None, embed: descriptions.Embed | None = None) -> dict:
    """Topics first (each told its theme siblings' keywords), then themes under the same rule, never
    repeating a topic's label; without a labeler, keyword headings. A theme of one topic is that topic:
    it takes the topic's label (and description) instead of a second answer.

    With ``embed`` (and a labeler whose settings describe), each label's call writes a description too
    (indexing/descriptions.py): a topic's from its documents' titles and ``central`` sentences, a
    theme's from its topics' labels and descriptions; each sentence is checked against the documents
    and cited. The extractive descriptions already set (``describe.describe_topics``) stay where none
    is grounded; themes get theirs here. Returns what became of the descriptions (for the manifest).
    """
    alone = {th.id: next(tp for tp in topic_list if tp.id == th.topic_ids[0])
             for th in themes if len(th.topic_ids) == 1}
    grouped = [th for th in themes if th.id not in alone]
    by_id = {tp.id: tp for tp in topic_list}
    # siblings are the topics of one theme (their labels must differ by more than a word)
    family = {"group": {tp.id: tp.theme for tp in topic_list if tp.theme is not None}}
    describing = labeler is not None and embed is not None and labeler.settings.describe
    described: dict = {"source": "llm" if describing else "extractive"}
    if labeler is None:
        label_by_keywords(topic_list)
        label_by_keywords(grouped, taken={tp.label.lower() for tp in topic_list}, children=_theme_family(grouped, by_id)["children"])
        describe.describe_themes(grouped, topic_list)
    elif not describing:
        labeler.label(topic_list, documents, advance, siblings=sibling_keywords(topic_list, topic_list), **family)
        labeler.label(grouped, documents, advance, taken={tp.label.lower() for tp in topic_list}, **_theme_family(grouped, by_id))
        describe.describe_themes(grouped, topic_list)
    else:
        extra = labeler.settings.describe_tokens
        shown = {tp.id: descriptions.topic_lines(tp, documents, central or {}) for tp in topic_list}
        answers = labeler.label(topic_list, documents, advance, siblings=sibling_keywords(topic_list, topic_list), shown=shown,
                                prompt=descriptions.TOPIC_PROMPT, extra_tokens=extra, **family)
        described["topics"] = descriptions.apply(topic_list, answers, {tp.id: tp.representative_ids
                                                                       for tp in topic_list}, documents, embed)
        describe.describe_themes(grouped, topic_list)  # the fallback, from the topics' descriptions
        shown = {th.id: descriptions.theme_lines(th, by_id) for th in grouped}
        answers = labeler.label(grouped, documents, advance, taken={tp.label.lower() for tp in topic_list},
                                shown=shown, prompt=descriptions.THEME_PROMPT, extra_tokens=extra, **_theme_family(grouped, by_id))
        described["themes"] = descriptions.apply(grouped, answers, {th.id: descriptions.theme_documents(th, by_id)
                                                                    for th in grouped}, documents, embed,
                                                 {th.id: descriptions.topic_sentences(th, by_id) for th in grouped})
    for th in themes:
        if th.id in alone:
            tp = alone[th.id]
            th.label, th.label_source = tp.label, "topic"
            th.description, th.description_ids, th.description_source = (tp.description, list(tp.description_ids),
                                                                          tp.description_source)
    return described


def _theme_family(themes: list[Theme], by_id: dict[int, Topic]) -> dict:
    """What a theme's label must stay apart from, once its topics are labelled: the other themes' labels
    (all themes are siblings) and its own topics' (a theme named after one of them names a part)."""
    return {"group": {th.id: 0 for th in themes},
            "children": {th.id: [by_id[t].label for t in th.topic_ids if t in by_id] for th in themes}}


def _model_texts(corpus: Corpus) -> list[str]:
    """What the models read: the text alone, as the reference embeds abstracts.

    Long documents stay whole in the store; sentence-transformers truncates
    at its own max_seq_length, and labels use a token budget per document.
    """
    return corpus.texts
