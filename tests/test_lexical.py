"""The re-ranking of a search's nearest abstracts by the words they share with it."""

from topictalk.agent import lexical


def _rank(query, hits, weight=0.07):
    return [t for t, _ in lexical.rerank(query, hits, lambda h: h[1], lambda h: h[0], weight)]


def test_an_abstract_holding_the_searched_words_moves_above_a_slightly_nearer_one():
    hits = [("What transformers can compute: Turing completeness", 0.55),
            ("Graph connectivity heuristics in transformers", 0.55),
            ("Efficient inference of transformers on edge devices", 0.52),
            ("Speculative decoding makes inference faster", 0.51)]
    ranked = _rank("transformers efficient at inference", hits)
    assert ranked[0] == "Efficient inference of transformers on edge devices"
    # sharing one of three words is not enough to pass an abstract 0.04 nearer
    assert ranked.index("Speculative decoding makes inference faster") == 3


def test_a_word_every_candidate_holds_moves_nothing():
    hits = [("Diffusion models for images", 0.60), ("Image diffusion with fewer steps", 0.58),
            ("Diffusion for image editing", 0.57)]
    assert _rank("diffusion images", hits, weight=1.0) == [t for t, _ in hits]


def test_far_abstracts_are_not_pulled_up_by_a_shared_word():
    hits = [("Speech recognition with transformers", 0.62), ("A survey of cooking recipes for speech therapy", 0.30)]
    assert _rank("speech recognition", hits)[0] == "Speech recognition with transformers"


def test_the_order_is_unchanged_without_subject_words_or_weight():
    hits = [("B paper", 0.5), ("A paper on the data", 0.4)]
    assert _rank("the of and", hits) == ["B paper", "A paper on the data"]
    assert _rank("paper data", hits, weight=0) == ["B paper", "A paper on the data"]


def test_stems_meet_across_word_forms_and_hyphens():
    assert lexical.stem("hallucinations") == lexical.stem("hallucination")
    assert {"self-supervis", "supervis"} <= lexical.stems("Self-supervised pretraining")
    assert lexical.search_words("neural networks for noisy labels") == ["noisy", "label"]


def test_word_forms_meet_but_different_words_do_not():
    def meet(a, b):
        return lexical.holds(lexical.stem(a), lexical.stems(b))

    for query, text in [("generalize", "a bound on generalization"), ("recognize", "named entity recognition"),
                        ("estimate", "estimation of causal effects"), ("financial", "finance and markets"),
                        ("overparameterized", "over-parameterized networks"), ("labels", "label noise")]:
        assert meet(query, text), (query, text)
    for query, text in [("generalize", "we generate images"), ("transformers", "machine translation"),
                        ("noisy", "denoising"), ("privacy", "private keys"), ("art", "artificial")]:
        assert not meet(query, text), (query, text)


def test_the_words_of_a_question_that_name_no_subject_are_not_searched():
    assert lexical.search_words("Why overparameterized networks generalize") == ["overparameteriz", "generalize"]
    assert lexical.search_words("semantic segmentation done") == ["semantic", "segment"]


def test_a_word_form_counts_as_the_word_in_the_re_ranking():
    # "generalize" in the search, "generalization" in the abstract: the third moves above the nearer two
    hits = [("Loss landscapes of ReLU networks", 0.54), ("Oversmoothing in graph networks", 0.53),
            ("Why interpolating overparameterized models still achieve good generalization", 0.50)]
    assert _rank("overparameterized networks generalize", hits)[0] == hits[2][0]
