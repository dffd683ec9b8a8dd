"""The words topics are described by: which tokens count, which are filler, and the vocabulary a
CountVectorizer keeps (one place for the topics' c-TF-IDF, the themes', the subtopics' and the trend
words').

Every count of words goes through :class:`Tokens`: each document is read (lowercased, split by
:data:`TOKEN_PATTERN`, stop words dropped) once per run, and any sample of documents is counted from
those token ids with numpy. An index, a refine and an add each count several samples of one corpus (the
topics' vocabulary and c-TF-IDF, the themes', the words per period): with sklearn's CountVectorizer each
count read its documents again, and reading was most of the time (issue 30: an add of 1,000 abstracts to
20,000 spent 15 of its 53 s there). The counts are the ones CountVectorizer gives, to the term. Given
the index's cache folder, the ids of texts read in earlier runs come from it (indexing/token_cache.py),
and :meth:`Tokens.keep` puts this run's there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from topictalk.indexing import token_cache

# Words that name no topic in any corpus, beyond sklearn's English stop words: contraction fragments
# ("don't" -> "don"), honorifics, reporting verbs, conversational filler and HTML entity names.
FILLER = frozenset("""
    aren couldn didn doesn don hadn hasn haven isn ll mightn mustn needn shan shouldn ve wasn weren won wouldn
    mr mrs ms dr sir said says say told like just really actually got going lot lots thing things want
    quot amp nbsp lt gt apos
""".split())
# Tokens of two or more word characters with at least one letter: no "39" (from "&#39;") or "000".
TOKEN_PATTERN = r"(?u)\b(?=\w*[^\W\d_])\w\w+\b"


@dataclass(frozen=True)
class WordCounts:
    """Documents x terms: ``matrix`` (scipy CSR, int64) over ``terms`` (sorted, as CountVectorizer sorts)."""

    terms: list[str]
    matrix: object

    def vectorizer(self, params):
        """A CountVectorizer over these terms (BERTopic's ``vectorizer_model``: it counts what it is given
        with this vocabulary, no pruning)."""
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(vocabulary=self.terms, **_shape(params))


class Tokens:
    """The token ids of ``texts``' documents, each read at its first count; one per run and corpus.

    :meth:`counts` gives what ``CountVectorizer(min_df, max_df, ...).fit_transform`` gives on the
    documents asked for: their n-grams (``params.ngram_range``) of stop-word-free tokens, the terms in
    fewer than min_df or more than max_df of them dropped, the rest sorted.
    """

    def __init__(self, texts: Sequence[str], params, cache: Path | None = None) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        shape = _shape(params)
        reader = CountVectorizer(**shape)
        self._lower, self._split = reader.build_preprocessor(), reader.build_tokenizer()
        self._stop = frozenset(reader.get_stop_words() or ())
        self.texts = texts
        self.ngram_range = tuple(params.ngram_range)
        self.min_df, self.max_df = params.min_df, params.max_df
        self._ids: dict[str, int] = {}  # token -> id, in the order first seen
        self._read: dict[int, np.ndarray] = {}  # document row -> its token ids
        # the ids of texts read by earlier runs with these token settings (``cache``: the index's cache folder)
        self._file = token_cache.path(cache, shape) if cache is not None else None
        self._known = token_cache.read(self._file) if self._file is not None and self._file.is_file() else None
        if self._known is not None:
            self._ids = {w: i for i, w in enumerate(self._known.words)}  # so that the kept ids stay valid
        self.fresh = 0  # texts this run read from their characters (not kept before)

    def row(self, i: int) -> np.ndarray:
        ids = self._read.get(i)
        if ids is None:
            text = self.texts[i]
            ids = self._known.ids(token_cache.digest(text)) if self._known is not None else None
            if ids is None:
                known = self._ids
                ids = np.fromiter((known.setdefault(w, len(known)) for w in self._split(self._lower(text))
                                   if w not in self._stop), np.int64)
                self.fresh += 1
            self._read[i] = ids
        return ids

    def keep(self) -> None:
        """Put the ids of every text read so far in the cache folder (with those kept before, of the texts
        still here), when this run read any anew; a failed write only means reading them again later."""
        if self._file is None or not self.fresh:
            return
        read: dict[bytes, np.ndarray] = {}
        for i, text in enumerate(self.texts):
            key = token_cache.digest(text)
            ids = self._read.get(i)
            if ids is None and self._known is not None:
                ids = self._known.ids(key)
            if ids is not None:
                read[key] = ids
        try:
            token_cache.write(self._file, list(self._ids), read)
        except OSError:
            pass

    def counts(self, rows: Sequence[int]) -> WordCounts:
        """The documents ``rows`` counted (in that order). A tiny sample (under 5 x min_df documents) keeps
        every term, as does one whose every term the limits would drop."""
        from scipy.sparse import csr_matrix

        rows = [int(r) for r in rows]
        read = [self.row(r) for r in rows]
        words = list(self._ids)  # token ids index this list
        flat = np.concatenate(read) if read else np.zeros(0, np.int64)
        doc = np.repeat(np.arange(len(read), dtype=np.int64), [len(r) for r in read])
        blocks = []  # per n: (the distinct n-grams as rows of token ids, each occurrence's n-gram, its document)
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            starts = np.arange(max(0, len(flat) - n + 1))
            starts = starts[doc[starts] == doc[starts + n - 1]]  # no n-gram spans two documents
            grams = np.stack([flat[starts + j] for j in range(n)], axis=1)
            distinct, which = _distinct(grams, len(words))
            blocks.append((distinct, which, doc[starts]))
        offsets = np.cumsum([0] + [len(d) for d, _, _ in blocks])
        n_terms = int(offsets[-1])
        if not n_terms:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        key = np.concatenate([w + o for (_, w, _), o in zip(blocks, offsets)])
        # documents x every n-gram: the sparse constructor sums repeated (document, term) pairs in C
        every = csr_matrix((np.ones(len(key), np.int64), (np.concatenate([d for _, _, d in blocks]), key)),
                           shape=(len(rows), n_terms))
        every.sum_duplicates()
        df = np.bincount(every.indices, minlength=n_terms)
        # CountVectorizer's min_df and max_df; a tiny sample keeps every term
        low = self.min_df if len(rows) >= 5 * self.min_df else 1
        low = low if isinstance(low, (int, np.integer)) else low * len(rows)
        high = self.max_df if isinstance(self.max_df, (int, np.integer)) else self.max_df * len(rows)
        keep = (df >= low) & (df <= high)
        if high < low or not keep.any():  # CountVectorizer refuses these limits: the plain vocabulary, as before
            keep = np.ones(n_terms, bool)
        kept = np.flatnonzero(keep)
        # the kept terms as rows of token ids, shorter n-grams padded with -1 (blocks by n, each in its
        # distinct order)
        width = self.ngram_range[1]
        grams = np.full((len(kept), width), -1, np.int64)
        for (distinct, _, _), start, stop in zip(blocks, offsets, offsets[1:]):
            mine = (kept >= start) & (kept < stop)
            grams[mine, :distinct.shape[1]] = distinct[kept[mine] - start]
        # CountVectorizer sorts the terms as strings. The space that joins an n-gram's words sorts before
        # every word character, so that is the order of the id rows compared word by word, a shorter row
        # (a prefix) first: one integer sort by each word's rank, not a sort of strings
        vocabulary = np.array(words, dtype=object)
        rank = np.empty(len(words) + 1, np.int64)
        rank[np.argsort(vocabulary, kind="stable")] = np.arange(1, len(words) + 1)
        rank[-1] = 0  # the padding (-1) before any word
        order = np.lexsort(rank[grams].T[::-1])  # kept is never empty: the limits fall back to every term
        ordered = grams[order]
        text = vocabulary[ordered[:, 0]]
        for j in range(1, width):
            longer = ordered[:, j] >= 0
            text[longer] = text[longer] + " " + vocabulary[ordered[longer, j]]
        column = np.full(n_terms, -1, np.int64)
        column[kept[order]] = np.arange(len(order))
        mine = column[every.indices] >= 0
        indptr = np.concatenate([[0], np.cumsum(mine)])[every.indptr]  # each row's kept entries
        matrix = csr_matrix((every.data[mine], column[every.indices[mine]], indptr),
                            shape=(len(rows), len(order)), dtype=np.int64)
        matrix.sort_indices()
        return WordCounts(text.tolist(), matrix)


def _distinct(grams: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``grams`` (token ids under ``size``) and each row's index among them: through
    one int64 code per row where ``size ** n`` fits one (unigrams and bigrams always do), else row-wise."""
    n = grams.shape[1]
    if not len(grams):
        return grams, np.zeros(0, np.int64)
    if float(size) ** n < 2 ** 62:
        code = np.zeros(len(grams), np.int64)
        for j in range(n):
            code = code * size + grams[:, j]
        unique, which = np.unique(code, return_inverse=True)
        rows = np.stack([unique // size ** (n - 1 - j) % size for j in range(n)], axis=1)
        return rows, which.reshape(-1)
    unique, which = np.unique(grams, axis=0, return_inverse=True)
    return unique, which.reshape(-1)


def _shape(params) -> dict:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop = sorted(FILLER | (ENGLISH_STOP_WORDS if params.stop_words == "english" else frozenset()))
    return {"stop_words": stop, "ngram_range": tuple(params.ngram_range), "token_pattern": TOKEN_PATTERN}
