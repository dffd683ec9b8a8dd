"""c-TF-IDF words of classes of documents, as BERTopic weighs them, without fitting a BERTopic model."""

from __future__ import annotations

import numpy as np

from topictalk.indexing import jit_cache


def class_sums(counts, classes: np.ndarray, k: int):
    """Each class's word counts: the rows of ``counts`` (documents x terms) summed by ``classes`` (0..k-1)."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(len(classes)), (classes, np.arange(len(classes)))), shape=(k, len(classes)))
    return (onehot @ counts).tocsr()


def class_words(counts, terms: list[str], classes: np.ndarray, k: int, top_n: int) -> list[list[str]]:
    """The top c-TF-IDF words of each of ``k`` classes of documents (``counts``: documents x ``terms``,
    ``classes``: 0..k-1 per document): BERTopic's ClassTfidfTransformer with frequent words reduced, without
    fitting a model. Themes get their keywords this way, and subtopics theirs against their siblings
    (indexing/subtopics.py)."""
    jit_cache.enable()
    from bertopic.vectorizers import ClassTfidfTransformer

    weights = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(class_sums(counts, classes, k)).toarray()
    return [[str(terms[i]) for i in np.argsort(-weights[c])[:top_n] if weights[c, i] > 0] for c in range(k)]
