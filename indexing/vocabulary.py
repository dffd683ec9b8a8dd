"""The words topics are described by: which tokens count, which are filler, and the vocabulary a
CountVectorizer keeps (one place for the topics' c-TF-IDF, the themes' and the trend words')."""

from __future__ import annotations

# Words that name no topic in any corpus, beyond sklearn's English stop words: contraction fragments
# ("don't" -> "don"), honorifics, reporting verbs, conversational filler and HTML entity names.
FILLER = frozenset("""
    aren couldn didn doesn don hadn hasn haven isn ll mightn mustn needn shan shouldn ve wasn weren won wouldn
    mr mrs ms dr sir said says say told like just really actually got going lot lots thing things want
    quot amp nbsp lt gt apos
""".split())
# Tokens of two or more word characters with at least one letter: no "39" (from "&#39;") or "000".
TOKEN_PATTERN = r"(?u)\b(?=\w*[^\W\d_])\w\w+\b"


def vectorizer(texts: list[str], params):
    """BERTopic's CountVectorizer over a vocabulary chosen on the documents themselves.

    BERTopic fits its vectorizer on one concatenated document per topic, so
    its min_df/max_df would count topics; document frequencies are what tell
    filler ("said", "model") from topic words, so the vocabulary is picked here.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    counted, _ = word_counts(texts, params)
    return CountVectorizer(vocabulary=sorted(counted.vocabulary_), **_shape(params))


def word_counts(texts: list[str], params):
    """The vectorizer that picks :func:`vectorizer`'s vocabulary, fitted on ``texts``, and its counts of them:
    the same matrix as ``vectorizer(texts, params).fit_transform(texts)`` (sorted columns), read once."""
    from sklearn.feature_extraction.text import CountVectorizer

    min_df = params.min_df if len(texts) >= 5 * params.min_df else 1  # a tiny corpus keeps every word
    try:
        counter = CountVectorizer(min_df=min_df, max_df=params.max_df, **_shape(params))
        return counter, counter.fit_transform(texts)
    except ValueError:  # every term pruned (tiny or uniform corpus): keep the plain vocabulary
        counter = CountVectorizer(**_shape(params))
        return counter, counter.fit_transform(texts)


def _shape(params) -> dict:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop = sorted(FILLER | (ENGLISH_STOP_WORDS if params.stop_words == "english" else frozenset()))
    return {"stop_words": stop, "ngram_range": tuple(params.ngram_range), "token_pattern": TOKEN_PATTERN}
