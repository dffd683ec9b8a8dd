"""Extractive descriptions: what each topic and theme covers, and a brief of the whole corpus.

A topic's description is one sentence from each of its most central documents:
the sentence nearest the topic's centroid among those that say what the work
does or finds ("we propose", "results show"), not its background ("In recent
years, ..."). Every sentence is a document's own words, so it is grounded by
construction and cited by that document's id. A theme's description is the
first sentence of each of its biggest topics'. The brief names the corpus's
size and its biggest themes, with a line per theme.

The chat leads with these when it sums up a topic, and streams the brief for
"what is this corpus about?" without asking the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from topictalk.indexing import grounding
from topictalk.indexing.schema import Brief, BriefLine, Theme, Topic, biggest_first

SENTENCES_PER_TOPIC = 3  # from its three most central documents, one each
TOPICS_PER_THEME = 3
MIN_WORDS, MAX_WORDS = 6, 60  # shorter is a fragment or a heading; longer is a run-on the splitter missed

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
# what the work does or finds: preferred over background and motivation
_CLAIM = re.compile(r"\b(we|our|this (?:paper|work|study|article)|results?|show|find|propose|present|introduce|"
                    r"demonstrat|achiev|outperform|develop|report|said|says|announced)", re.IGNORECASE)
_BACKGROUND = re.compile(r"^(?:in recent years|recently|nowadays|over the past|with the (?:rapid|rise|growing)|"
                         r"despite|however|although|while|recent (?:advances|advancements|progress|work|years))\b",
                         re.IGNORECASE)
# a sentence that leans on the one before it: alone (a description's first sentence, a document's one quoted
# line) it starts mid-thought. "To this end, we introduce Roboflow100-VL, ..." was the quoted claim of an
# object-detection topic, and the first sentence of its theme (1,500 arXiv abstracts); "It also discusses ..."
# opened a model's description once the sentence before it was dropped.
LEANS_BACK = re.compile(
    r"^(?:(?:it|they|this|these|the topic|the documents)\s+also\b|also\b|additionally\b|furthermore\b|moreover\b|"
    r"in addition\b|however\b|therefore\b|thus\b|hence\b|consequently\b|as a result\b|to do so\b|"
    r"to (?:this|that|these) ends?\b|for this (?:purpose|reason)\b|in this way\b|"
    r"to (?:address|tackle|overcome|solve|mitigate|alleviate|remedy|fill|bridge|close) (?:this|these|that|them|it|such)\b|"
    r"(?:this|these|such) (?:approach|approaches|method|methods|model|models|framework|technique|techniques|problem|"
    r"problems|issue|issues|limitation|limitations|challenge|challenges|gap|idea|strategy)\b)", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` a description may quote (whole sentences of a readable length)."""
    found = [s.strip() for s in _SPLIT.split(" ".join(text.split()))]
    # and one sentence to the readers' split too (grounding.sentences, which cuts after "e.g."), which
    # pairs a description's sentences with the ids they cite
    return [s for s in found if MIN_WORDS <= len(s.split()) <= MAX_WORDS and len(grounding.sentences(s)) == 1]


def ended(sentence: str) -> str:
    """``sentence`` with a final stop, so that joined to the next it stays one sentence to the reader's split
    (``grounding.sentences``), which pairs the n-th sentence with the n-th cited id."""
    return sentence if sentence[-1:] in (".", "!", "?") else sentence + "."


def _best(candidates: list[str], vectors: np.ndarray, centroid: np.ndarray) -> int:
    """The candidate nearest the centroid, a claim over background when one is near enough, and never a
    sentence that leans on the one before it where another is left."""
    closeness = vectors @ centroid
    claim = np.array([bool(_CLAIM.search(s)) and not _BACKGROUND.search(s) for s in candidates])
    leans = np.array([bool(LEANS_BACK.match(s)) for s in candidates])
    # a claim sentence wins unless a background one is clearly closer to what the topic is about; one that
    # leans on the sentence before it only where every sentence does (cosines differ by less than 2)
    return int(np.argmax(closeness + 0.05 * claim - 2.0 * leans))


def central_sentences(topics: Sequence[Topic], documents: dict[str, tuple[str, str]],
                      embed: Callable[[list[str]], np.ndarray], per_topic: int) -> dict[str, str]:
    """The sentence of each of the ``per_topic`` most central documents of each real topic that is
    nearest its topic's centroid, a claim over background (one embed call). What a description quotes,
    and what the label prompt shows of a document besides its title."""
    wanted: list[tuple[Topic, str, list[str]]] = []
    for topic in topics:
        if topic.is_outlier or topic.embedding is None:
            continue
        for doc_id in topic.representative_ids[:per_topic]:
            found = sentences(documents.get(doc_id, ("", ""))[1])
            if found:
                wanted.append((topic, doc_id, found))
    flat = [s for _, _, found in wanted for s in found]
    vectors = embed(flat) if flat else np.zeros((0, 0), np.float32)
    start, chosen = 0, {}
    for topic, doc_id, found in wanted:
        rows = vectors[start:start + len(found)]
        start += len(found)
        chosen[doc_id] = found[_best(found, rows, topic.embedding)]
    return chosen


def describe_topics(topics: Sequence[Topic], documents: dict[str, tuple[str, str]],
                    embed: Callable[[list[str]], np.ndarray], per_topic: int = SENTENCES_PER_TOPIC) -> dict[str, str]:
    """Fill each real topic's ``description`` and ``description_ids`` in place with the central sentences
    of its :data:`SENTENCES_PER_TOPIC` most central documents; returns the central sentence of each of
    the ``per_topic`` most central (at least as many)."""
    central = central_sentences(topics, documents, embed, max(per_topic, SENTENCES_PER_TOPIC))
    for topic in topics:
        picked: list[tuple[str, str]] = []
        for doc_id in topic.representative_ids[:SENTENCES_PER_TOPIC]:
            pick = central.get(doc_id)
            if pick and pick not in (s for s, _ in picked):
                picked.append((pick, doc_id))
        topic.description = " ".join(ended(s) for s, _ in picked)
        topic.description_ids = [d for _, d in picked]
        topic.description_source = "extractive" if picked else ""
    return central


def describe_themes(themes: Sequence[Theme], topics: Sequence[Topic]) -> None:
    """Each theme: the first sentence of the descriptions of its biggest topics, cited as they are."""
    by_id = {t.id: t for t in topics}
    for theme in themes:
        parts, theme.description_ids = [], []
        for topic_id in theme.topic_ids[:TOPICS_PER_THEME]:  # biggest first
            topic = by_id.get(topic_id)
            if topic is not None and topic.description_ids:
                parts.append(ended(grounding.sentences(topic.description)[0]))  # the reader's split: what ids[0] cites
                theme.description_ids.append(topic.description_ids[0])
        theme.description = " ".join(parts)
        theme.description_source = "extractive" if parts else ""


def brief(themes: Sequence[Theme], topics: Sequence[Topic], documents: int, paragraph: str = "",
          paragraph_ids: Sequence[str] = ()) -> Brief:
    """What the corpus covers: its size, ``paragraph`` (the model's, checked: indexing/descriptions.py)
    and its biggest themes, then a line per theme (biggest first)."""
    real = [t for t in topics if not t.is_outlier]
    ordered = biggest_first(themes)
    biggest = ", ".join(f"{t.label} ({t.size:,})" for t in ordered[:3])
    text = " ".join(part for part in (f"{documents:,} documents in {len(real)} topics, grouped in {len(ordered)} "
                                      "themes.", paragraph, f"The biggest themes: {biggest}.") if part)
    return Brief(text=text, themes=[_line(t, topics) for t in ordered], document_ids=list(paragraph_ids))


def _line(theme: Theme, topics: Sequence[Topic]) -> BriefLine:
    """A theme's line: its topics' names, then the first sentence of its description, whose document it cites
    (the reader shows the theme's own name before it)."""
    by_id = {t.id: t for t in topics}
    names = [by_id[i].label for i in theme.topic_ids[:4] if i in by_id]
    parts = [f"topics such as {', '.join(names)}."] if len(names) > 1 else []
    if theme.description:
        parts.append(grounding.sentences(theme.description)[0])  # the one document_ids[:1] cites
    return BriefLine(theme=theme.id, text=" ".join(parts) or theme.label, document_ids=theme.description_ids[:1])
