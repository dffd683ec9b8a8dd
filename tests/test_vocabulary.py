"""Counting words once a run (indexing/vocabulary.py's Tokens): the counts are CountVectorizer's, to the
term, and the topics' c-TF-IDF reads them instead of BERTopic reading the texts again."""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest
from bertopic.vectorizers import ClassTfidfTransformer
from sklearn.feature_extraction.text import CountVectorizer

from tests.helpers import LetterVectors
from topictalk.indexing import ctfidf, topics
from topictalk.indexing.sample import PATH
from topictalk.indexing.topics import TopicParams
from topictalk.indexing.vocabulary import Tokens, _shape

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    return [json.loads(line)["abstract"] for line in gzip.open(PATH, "rt", encoding="utf-8")][:600]


def _sklearn(texts: list[str], params: TopicParams):
    """What the counts replaced: CountVectorizer with the limits, or without them where it refuses."""
    min_df = params.min_df if len(texts) >= 5 * params.min_df else 1
    try:
        counter = CountVectorizer(min_df=min_df, max_df=params.max_df, **_shape(params))
        return counter, counter.fit_transform(texts)
    except ValueError:
        counter = CountVectorizer(**_shape(params))
        return counter, counter.fit_transform(texts)


@pytest.mark.parametrize("params", [TopicParams(), TopicParams(ngram_range=(1, 3)), TopicParams(ngram_range=(1, 1)),
                                    TopicParams(min_df=1, max_df=1.0), TopicParams(min_df=3, max_df=0.05),
                                    TopicParams(stop_words=None)], ids=str)
@pytest.mark.parametrize("size", [600, 40, 6, 2])
def test_the_counts_are_countvectorizers_to_the_term(abstracts, params, size):
    rows = random.Random(size).sample(range(len(abstracts)), size)
    counted = Tokens(abstracts, params).counts(rows)
    counter, expected = _sklearn([abstracts[r] for r in rows], params)
    assert counted.terms == counter.get_feature_names_out().tolist()
    assert counted.matrix.shape == expected.shape and (counted.matrix != expected).nnz == 0
    # and a vectorizer over those terms counts any text as they were counted
    assert (counted.vectorizer(params).transform([abstracts[r] for r in rows]) != expected).nnz == 0


def test_a_sample_whose_every_term_the_limits_drop_keeps_every_term_as_countvectorizer_refuses():
    texts = ["alpha beta", "alpha beta", "alpha beta", "alpha beta", "alpha beta", "alpha beta",
             "alpha beta", "alpha beta", "alpha beta", "alpha beta"]  # every term in every document
    counted = Tokens(texts, TopicParams()).counts(range(len(texts)))
    assert counted.terms == ["alpha", "alpha beta", "beta"] and counted.matrix.sum() == 30
    with pytest.raises(ValueError, match="empty vocabulary"):
        Tokens(["the and of", "a an the"], TopicParams()).counts([0, 1])


def test_each_document_is_read_once_however_many_samples_count_it(abstracts):
    tokens = Tokens(abstracts, TopicParams())
    split, reads = tokens._split, []
    tokens._split = lambda text: reads.append(text) or split(text)
    first = tokens.counts(range(0, 300))
    tokens.counts(range(200, 500))
    again = tokens.counts(range(0, 300))
    assert len(reads) == 500  # 0-499, each once
    assert again.terms == first.terms and (again.matrix != first.matrix).nnz == 0


def test_the_topics_c_tf_idf_reads_the_counts_made_for_the_vocabulary_not_the_texts_again(monkeypatch):
    """BERTopic read each topic's documents again for its c-TF-IDF; the counts made when the vocabulary
    was chosen are its input now, and the keywords are the top c-TF-IDF words of those counts."""
    rng = random.Random(0)
    streams = ["real-time stream processing with low-latency queues", "real-time scheduling of stream operators",
               "low-latency real-time event streams and queues"]
    proteins = ["protein folding prediction from amino acid sequences", "protein structure and folding energy",
                "amino acid contacts predict protein structure"]
    texts = [rng.choice(streams) + f" case {i}" for i in range(30)] + [rng.choice(proteins) + f" run {i}"
                                                                         for i in range(30)]
    labels = np.array([0] * 30 + [1] * 30)
    params = dataclasses.replace(TopicParams(), min_df=1, max_df=0.6)  # each subject is half the corpus
    read = []
    fit_transform = CountVectorizer.fit_transform
    monkeypatch.setattr(CountVectorizer, "fit_transform", lambda self, docs, y=None: read.append(len(docs)) or
                        fit_transform(self, docs, y))
    tokens = Tokens(texts, params)
    made, _ = topics.represent(texts, [f"d{i}" for i in range(60)], LetterVectors().encode(texts), labels,
                               np.ones(60, np.float32), np.ones(60, bool), np.array([0, 1]), params, LetterVectors(),
                               tokens=tokens)
    assert read == []  # no vectorizer read the texts
    counted = tokens.counts(range(60))
    weights = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(
        ctfidf.class_sums(counted.matrix, labels, 2)).toarray()
    column = {term: i for i, term in enumerate(counted.terms)}
    by_id = {t.id: t for t in made}
    for topic in (0, 1):  # the top words of those counts' c-TF-IDF (ties in any order)
        tenth = np.sort(weights[topic])[-params.top_n_words]
        assert len(by_id[topic].keywords) == params.top_n_words
        assert all(weights[topic, column[w]] >= tenth - 1e-12 for w in by_id[topic].keywords)
    assert "real time" in by_id[0].keywords and "protein" in by_id[1].keywords


def test_the_cache_keeps_each_texts_ids_so_a_later_run_reads_only_new_texts(abstracts, tmp_path):
    params = TopicParams()
    first = Tokens(abstracts[:400], params, tmp_path)
    expected = first.counts(range(400))
    assert first.fresh == 400
    first.keep()
    again = Tokens(abstracts[:400], params, tmp_path)
    counted = again.counts(range(400))
    assert again.fresh == 0  # every text's ids came from the cache
    assert counted.terms == expected.terms and (counted.matrix != expected.matrix).nnz == 0
    # an add: the held texts in another order, new ones after; only the new ones are read
    texts = abstracts[200:400] + abstracts[:200] + abstracts[400:600]
    grown = Tokens(texts, params, tmp_path)
    counted = grown.counts(range(600))
    assert grown.fresh == 200
    counter, sklearn_counts = _sklearn(texts, params)
    assert counted.terms == counter.get_feature_names_out().tolist()
    assert (counted.matrix != sklearn_counts).nnz == 0
    grown.keep()
    last = Tokens(abstracts[:600], params, tmp_path)
    last.counts(range(600))
    assert last.fresh == 0


def test_the_cache_is_per_token_settings_and_ngrams_share_it(abstracts, tmp_path):
    Tokens(abstracts[:50], TopicParams(), tmp_path).counts(range(50))  # nothing kept without keep()
    assert not (tmp_path / "words").exists()
    one = Tokens(abstracts[:50], TopicParams(), tmp_path)
    one.counts(range(50))
    one.keep()
    trigrams = Tokens(abstracts[:50], TopicParams(ngram_range=(1, 3)), tmp_path)
    trigrams.counts(range(50))
    assert trigrams.fresh == 0  # n-grams are made from the ids at each count
    other = Tokens(abstracts[:50], TopicParams(stop_words=None), tmp_path)
    counted = other.counts(range(50))
    assert other.fresh == 50  # other stop words read other ids
    assert "ability to" in counted.terms  # stop words counted
    other.keep()
    assert len(list((tmp_path / "words").glob("*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "ids out of range"])
def test_a_damaged_cache_is_read_as_empty_and_rebuilt(abstracts, tmp_path, damage):
    from topictalk.indexing import token_cache

    params = TopicParams()
    first = Tokens(abstracts[:100], params, tmp_path)
    expected = first.counts(range(100))
    first.keep()
    (file,) = (tmp_path / "words").glob("*.npz")
    if damage == "truncate":
        file.write_bytes(file.read_bytes()[:200])
    elif damage == "garbage":
        file.write_bytes(b"not an npz")
    else:
        with np.load(file) as got:
            parts = dict(got)
        parts["flat"] = parts["flat"] + 10 ** 6
        with open(file, "wb") as f:
            np.savez(f, **parts)
    assert token_cache.read(file) is None
    again = Tokens(abstracts[:100], params, tmp_path)
    counted = again.counts(range(100))
    assert again.fresh == 100 and counted.terms == expected.terms
    again.keep()
    assert token_cache.read(file) is not None and len(token_cache.read(file)) == 100


def test_documents_without_words_and_terms_that_sort_by_prefix_count_as_countvectorizer_counts():
    # empty rows between full ones; "deep" < "deep learning" < "deeper" < "deeper nets" as strings
    texts = ["deep learning deeper nets", "", "the and", "deeper nets deep learning deep", "deep_net 3d deeper",
             "über nets deep", "", "nets über deeper"]
    params = TopicParams(min_df=1, max_df=1.0, ngram_range=(1, 3))
    counted = Tokens(texts, params).counts(range(len(texts)))
    counter = CountVectorizer(**_shape(params))
    expected = counter.fit_transform(texts)
    assert counted.terms == counter.get_feature_names_out().tolist()
    assert (counted.matrix != expected).nnz == 0 and counted.matrix.indptr.tolist() == expected.indptr.tolist()


def test_a_topic_that_grows_leaves_the_other_topics_samples_as_they_were():
    labels = np.repeat([0, 1, 2], [500, 400, 350])
    before = topics.sample_members(labels, 300, 42)
    grown = np.concatenate([labels, np.zeros(60, np.int64)])  # an add: 60 documents into topic 0
    after = topics.sample_members(grown, 300, 42)
    for topic in (1, 2):
        assert before[labels[before] == topic].tolist() == after[grown[after] == topic].tolist()
    assert before[labels[before] == 0].tolist() != after[grown[after] == 0].tolist()
    assert topics.sample_members(labels, 300, 42).tolist() == before.tolist()  # seeded
    assert topics.sample_members(labels, 300, 7).tolist() != before.tolist()


def test_the_words_of_some_topics_per_period_are_those_of_the_full_count(abstracts):
    from datetime import date

    from topictalk.indexing import trend_words

    rng = np.random.default_rng(0)
    assigned = rng.integers(0, 4, len(abstracts)).tolist()
    when = [date(2020, 1 + int(m), 1) for m in rng.integers(0, 6, len(abstracts))]
    periods = [f"2020-{m:02d}" for m in range(1, 7)]
    tokens = Tokens(abstracts, TopicParams())
    every = trend_words.period_words(tokens, assigned, when, "month", periods, TopicParams())
    some = trend_words.period_words(tokens, assigned, when, "month", periods, TopicParams(), only={1, 3})
    assert set(some) == {1, 3} and all(some[t] == every[t] for t in some)
    assert sum(bool(w) for t in some for w in some[t]) >= 10  # cells with words, not empty lists


def test_our_c_tf_idf_is_bertopics_to_the_last_bit_and_the_words_per_period_need_no_bertopic(abstracts):
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(3)
    counts = csr_matrix(rng.poisson(0.4, (12, 300)) * (rng.random((12, 300)) < 0.3))
    counts = counts[:, np.flatnonzero(counts.sum(axis=0))]  # every term seen somewhere, as in a real count
    other = csr_matrix(rng.poisson(0.5, (5, counts.shape[1])))
    theirs = ClassTfidfTransformer(reduce_frequent_words=True).fit(counts)
    fitted = ctfidf.idf(counts)
    for rows in (counts, other):  # the classes it was fitted on, and other rows weighed by that fit
        assert np.array_equal(ctfidf.weights(rows, fitted).toarray(), theirs.transform(rows).toarray())
    # a vocabulary term no class holds (a saved model's vocabulary) weighs 0, where BERTopic's formula divides
    # by zero; the other terms keep their weights to the last bit
    import warnings

    unseen = csr_matrix(np.hstack([counts.toarray(), np.zeros((counts.shape[0], 1), np.int64)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wider = ctfidf.idf(unseen)
    assert wider[-1] == 0.0 and np.array_equal(wider[:-1], fitted)
    # an add of a few documents counts the words per period, and the themes' words, without importing BERTopic
    import subprocess
    import sys

    code = (
        "import sys; from datetime import date; import numpy as np\n"
        "from topictalk.indexing import ctfidf, trend_words\n"
        "from topictalk.indexing.topics import TopicParams\n"
        "from topictalk.indexing.vocabulary import Tokens\n"
        "from topictalk.indexing.sample import PATH\n"
        "import gzip, json\n"
        "texts = [json.loads(l)['abstract'] for l in gzip.open(PATH, 'rt')][:120]\n"
        "tokens = Tokens(texts, TopicParams())\n"
        "words = trend_words.period_words(tokens, [i % 3 for i in range(120)], [date(2020, 1 + i % 2, 1) for i in "
        "range(120)], 'month', ['2020-01', '2020-02'], TopicParams())\n"
        "counted = tokens.counts(range(120))\n"
        "themes = ctfidf.class_words(counted.matrix, counted.terms, np.arange(120) % 2, 2, 5)\n"
        "assert all(len(w) == 2 for w in words.values()) and all(len(t) == 5 for t in themes), (words, themes)\n"
        "print(sorted(m for m in ('bertopic', 'torch', 'sentence_transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # a fresh process, for an import of BERTopic without them (~8 s)
def test_bertopic_without_its_spare_packages_represents_the_topics_as_with_them(abstracts):
    """topics.lean_bertopic (an add's or a refine's command) leaves out what BERTopic imports for parts we never
    call (BERTOPIC_SPARES: 7 of the 8.8 s its import took in an add); the words it fits are the ones it fits
    with them (here, where the test module's import of BERTopic brought them all)."""
    import subprocess
    import sys

    code = (
        "import sys, json, gzip; import numpy as np\n"
        "from topictalk.indexing import topics\n"
        "from topictalk.indexing.sample import PATH\n"
        "with topics.lean_bertopic():\n"
        "    pass\n"
        "from tests.helpers import LetterVectors\n"
        "texts = [json.loads(l)['abstract'] for l in gzip.open(PATH, 'rt')][:240]\n"
        "made, themes = topics.represent(texts, [str(i) for i in range(240)], LetterVectors().encode(texts),\n"
        "    np.arange(240) % 3, np.ones(240, np.float32), np.ones(240, bool), np.array([0, 0, 1]),\n"
        "    topics.TopicParams(), LetterVectors())\n"
        "spares = sorted(m for m in topics.BERTOPIC_SPARES if m in sys.modules)\n"
        "import sentence_transformers  # a later import of one works as usual\n"
        "print(json.dumps({'spares': spares, 'topics': [[t.id, t.keywords, t.keybert, t.mmr] for t in made],\n"
        "                  'themes': [[t.id, t.keywords] for t in themes]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    lean = json.loads(out.stdout.strip().splitlines()[-1])
    assert lean["spares"] == [] and all(m in sys.modules for m in topics.BERTOPIC_SPARES)
    texts = abstracts[:240]
    made, themes = topics.represent(texts, [str(i) for i in range(240)], LetterVectors().encode(texts), np.arange(240) % 3,
                                    np.ones(240, np.float32), np.ones(240, bool), np.array([0, 0, 1]), TopicParams(),
                                    LetterVectors())
    assert all(len(keybert) == 10 and len(mmr) == 10 for _, _, keybert, mmr in lean["topics"])
    assert lean["topics"] == [[t.id, t.keywords, t.keybert, t.mmr] for t in made]
    assert lean["themes"] == [[t.id, t.keywords] for t in themes]
