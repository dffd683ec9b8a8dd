"""A topic's words in each period, BERTopic's ``topics_over_time`` way: one model, no refit per period.

The words come from the same c-TF-IDF as the topic's keywords (``indexing.topics``: its vectorizer,
``ClassTfidfTransformer(reduce_frequent_words=True)``): the idf is fitted once on the topics' word
counts, then each topic x period cell's counts are weighted by it and averaged with the topic's own
row (BERTopic's ``global_tuning``), so a period's words stay the topic's words, reordered by what
that period stressed. A cell of fewer than :data:`MIN_DOCUMENTS` documents gets no words of its own;
at most :data:`PER_CELL` documents of a cell (seeded) are read, and :data:`TOTAL` in all, which bounds
the cost at 120k documents.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from topictalk.indexing import dates
from topictalk.indexing.ctfidf import class_sums, idf, weights
from topictalk.indexing.schema import OUTLIER
from topictalk.indexing.topics import draw
from topictalk.indexing.vocabulary import Tokens

MIN_DOCUMENTS = 5
PER_CELL = 40
TOTAL = 20000  # documents read in all: the cells share it (at least MIN_DOCUMENTS each) when there are many
WORDS = 5


def period_words(tokens: Tokens, topics: Sequence[int], when: Sequence, period: str, periods: list[str],
                 params, seed: int | None = 42, only: set[int] | None = None) -> dict[int, list[list[str]]]:
    """topic -> its words per period (aligned with ``periods``; [] where the cell is too small), from the
    documents' ``tokens`` (one per document of ``topics``); for the topics ``only`` when given (the idf is
    still fitted on every topic's periods, so their words are the ones a full count gives)."""
    slot = {p: i for i, p in enumerate(periods)}
    cells: dict[tuple[int, int], list[int]] = {}
    for row, (topic, day) in enumerate(zip(topics, when)):
        if day is not None and int(topic) != OUTLIER:
            cells.setdefault((int(topic), slot[dates.label(day, period)]), []).append(row)
    cells = {key: rows for key, rows in cells.items() if len(rows) >= MIN_DOCUMENTS}
    per_cell = max(MIN_DOCUMENTS, min(PER_CELL, TOTAL // max(1, len(cells))))
    # a generator per cell: the cells an add leaves alone keep their sample (and read their words from the cache)
    chosen = {key: (rows if len(rows) <= per_cell else
                    sorted(draw(seed, *key).choice(rows, per_cell, replace=False).tolist()))
              for key, rows in cells.items()}
    if not chosen:
        return {}
    keys = sorted(chosen)
    rows = [r for key in keys for r in chosen[key]]
    counted = tokens.counts(rows)  # the words of the sample's documents, each read once in a run
    by_cell = class_sums(counted.matrix, np.repeat(np.arange(len(keys)), [len(chosen[k]) for k in keys]), len(keys))
    topic_ids = sorted({k[0] for k in keys})
    topic_row = {t: i for i, t in enumerate(topic_ids)}
    by_topic = class_sums(by_cell, np.array([topic_row[k[0]] for k in keys]), len(topic_ids))
    fitted = idf(by_topic)
    # sparse throughout: cells x vocabulary held dense was 0.5 GB and most of this function's time at 20k
    wanted = [i for i, k in enumerate(keys) if only is None or k[0] in only]
    if not wanted:
        return {}
    tuned = ((weights(by_cell[wanted], fitted) + weights(by_topic, fitted)[[topic_row[keys[i][0]] for i in wanted]])
             / 2).tocsr()
    vocab = counted.terms
    out: dict[int, list[list[str]]] = {}
    for i, (topic, column) in enumerate(keys[i] for i in wanted):
        row = slice(tuned.indptr[i], tuned.indptr[i + 1])
        weight, column_of = tuned.data[row], tuned.indices[row]
        top = np.lexsort((column_of, -weight))[:WORDS]  # the heaviest, ties by vocabulary order
        out.setdefault(topic, [[] for _ in periods])[column] = [str(vocab[column_of[j]]) for j in top
                                                                if weight[j] > 0]
    return out


def counted(tokens: Tokens, topics: Sequence[int], when: Sequence, fields: Sequence[dict],
            date_field: str | None, period: str | None, facet_fields: dict[str, bool], params):
    """The trends of an index (indexing.trends.Trends): counts per topic x period and topic x facet value,
    and each topic's words per period. ``tokens``: the documents' words (vocabulary.Tokens); ``fields``:
    each document's facet values; ``facet_fields``: field -> multi-valued."""
    from topictalk.indexing import trends

    facets = {name: ([_as_list(f.get(name)) for f in fields], multi) for name, multi in facet_fields.items()}
    known = date_field if any(d is not None for d in when) else None
    out = trends.count([int(t) for t in topics], when, known, period if known else None, facets)
    if out.dated:
        out.words = period_words(tokens, [int(t) for t in topics], when, period, out.periods, params,
                                 params.random_state)
    return out


def _as_list(value) -> list[str]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]
