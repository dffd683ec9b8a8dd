"""c-TF-IDF words of classes of documents, as BERTopic weighs them, without fitting a BERTopic model."""

from __future__ import annotations

import numpy as np

from topictalk.indexing import jit_cache


def class_words(texts: list[str], classes: np.ndarray, k: int, vectorizer_model, top_n: int) -> list[list[str]]:
    """The top c-TF-IDF words of each of ``k`` classes of ``texts`` (class 0..k-1 per text): BERTopic's
    ClassTfidfTransformer with frequent words reduced, without fitting a model. Themes get their keywords
    this way, and subtopics theirs against their siblings (indexing/subtopics.py)."""
    jit_cache.enable()
    from bertopic.vectorizers import ClassTfidfTransformer
    from scipy.sparse import csr_matrix

    counts = vectorizer_model.fit_transform(texts)
    onehot = csr_matrix((np.ones(len(classes)), (classes, np.arange(len(classes)))), shape=(k, len(classes)))
    weights = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(onehot @ counts).toarray()
    vocab = vectorizer_model.get_feature_names_out()
    return [[str(vocab[i]) for i in np.argsort(-weights[c])[:top_n] if weights[c, i] > 0] for c in range(k)]
