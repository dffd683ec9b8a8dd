"""c-TF-IDF words of classes of documents, as BERTopic weighs them, without fitting a BERTopic model."""

from __future__ import annotations

import numpy as np


def class_sums(counts, classes: np.ndarray, k: int):
    """Each class's word counts: the rows of ``counts`` (documents x terms) summed by ``classes`` (0..k-1)."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(len(classes)), (classes, np.arange(len(classes)))), shape=(k, len(classes)))
    return (onehot @ counts).tocsr()


def idf(by_class) -> np.ndarray:
    """c-TF-IDF's idf fitted on ``by_class`` (classes x terms counts), as BERTopic's ClassTfidfTransformer fits
    it: log(1 + A / f), A the average number of words in a class (an int, as BERTopic rounds it), f a term's
    frequency over all classes. Here, not BERTopic's class, because importing BERTopic cost 7-10 s of one core
    (~1.3 s in a command since topics.lean_bertopic), most of an add of 100 documents that needed only this."""
    frequency = np.asarray(by_class.sum(axis=0), dtype=np.float64).ravel()
    average = int(by_class.sum(axis=1).mean())
    # a term of the vocabulary in no class (a saved BERTopic model's vocabulary, fitted on other rows) is
    # weighed nowhere: 0, where BERTopic's formula divides by zero (and warns)
    return np.log(np.divide(average, frequency, out=np.zeros(len(frequency)), where=frequency > 0) + 1)


def weights(counts, fitted: np.ndarray):
    """The c-TF-IDF of each row of ``counts`` under the ``fitted`` idf: its words' shares of the row (l1),
    square-rooted (BERTopic's ``reduce_frequent_words``, for words frequent in every class), times their idf.
    The same scikit-learn and scipy calls as BERTopic's transform, so the same floats to the last bit."""
    from scipy.sparse import diags
    from sklearn.preprocessing import normalize

    shares = normalize(counts, axis=1, norm="l1", copy=True)
    shares.data = np.sqrt(shares.data)
    return shares * diags(fitted, offsets=0, shape=(len(fitted), len(fitted)), format="csr", dtype=np.float64)


def class_words(counts, terms: list[str], classes: np.ndarray, k: int, top_n: int) -> list[list[str]]:
    """The top c-TF-IDF words of each of ``k`` classes of documents (``counts``: documents x ``terms``,
    ``classes``: 0..k-1 per document), weighed as BERTopic weighs them (:func:`idf`, :func:`weights`), without
    fitting a model. Themes get their keywords this way, and subtopics theirs against their siblings
    (indexing/subtopics.py)."""
    by_class = class_sums(counts, classes, k)
    weighed = weights(by_class, idf(by_class)).toarray()
    return [[str(terms[i]) for i in np.argsort(-weighed[c])[:top_n] if weighed[c, i] > 0] for c in range(k)]
