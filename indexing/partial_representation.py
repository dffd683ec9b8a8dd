"""BERTopic's KeyBERTInspired and MMR for some topics only: what a refine or an add needs.

c-TF-IDF weighs a topic's words against every other topic's, so a refine fits BERTopic on every
topic's sampled documents (indexing/refine_topics.py); but KeyBERTInspired and MMR then embed each
topic's candidate words and representative documents, topic by topic: most of the fit's time, spent
again on topics whose result is thrown away. :class:`Only` runs its representation model on the
topics ``needs`` asks for and hands the others their c-TF-IDF words (which the caller discards).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from bertopic.representation import BaseRepresentation


class Only(BaseRepresentation):
    """``inner`` for the topics whose ``needs(label, words)`` is true.

    ``labels_of_row``: the caller's topic label of each fitted document (BERTopic numbers topics its
    own way; the fitted documents' ``ID`` column maps them back). ``words``: the topic's c-TF-IDF
    words, fresh from this fit, best first.
    """

    def __init__(self, inner: BaseRepresentation, labels_of_row: np.ndarray,
                 needs: Callable[[int, list[str]], bool]) -> None:
        self.inner = inner
        self.labels_of_row = labels_of_row
        self.needs = needs

    def extract_topics(self, topic_model, documents, c_tf_idf, topics, embeddings=None):  # noqa: ANN001, ANN201
        first = documents.groupby("Topic")["ID"].first()
        order = sorted(topics)  # BERTopic's representations index c_tf_idf's rows in this order
        wanted = [t for t in order if t in first.index and self.needs(
            int(self.labels_of_row[int(first[t])]), [w for w, _ in topics[t][:topic_model.top_n_words]])]
        made = {}
        if wanted:
            rows = [order.index(t) for t in wanted]
            made = self.inner.extract_topics(topic_model, documents, c_tf_idf[rows], {t: topics[t] for t in wanted})
        return {t: made.get(t, topics[t][:topic_model.top_n_words]) for t in order}
