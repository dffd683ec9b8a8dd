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

from indexing.schema import Brief, BriefLine, Theme, Topic, biggest_first

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


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` a description may quote (whole sentences of a readable length)."""
    found = [s.strip() for s in _SPLIT.split(" ".join(text.split()))]
    return [s for s in found if MIN_WORDS <= len(s.split()) <= MAX_WORDS]


def _first_sentence(text: str) -> str:
    return (sentences(text)[:1] or [text])[0]


def _best(candidates: list[str], vectors: np.ndarray, centroid: np.ndarray) -> int:
    """The candidate nearest the centroid, a claim over background when one is near enough."""
    closeness = vectors @ centroid
    claim = np.array([bool(_CLAIM.search(s)) and not _BACKGROUND.search(s) for s in candidates])
    # a claim sentence wins unless a background one is clearly closer to what the topic is about
    return int(np.argmax(closeness + 0.05 * claim))


def describe_topics(topics: Sequence[Topic], documents: dict[str, tuple[str, str]],
                    embed: Callable[[list[str]], np.ndarray]) -> None:
    """Fill each real topic's ``description`` and ``description_ids`` in place (one embed call)."""
    wanted: list[tuple[Topic, str, list[str]]] = []
    for topic in topics:
        if topic.is_outlier or topic.embedding is None:
            continue
        for doc_id in topic.representative_ids[:SENTENCES_PER_TOPIC]:
            found = sentences(documents.get(doc_id, ("", ""))[1])
            if found:
                wanted.append((topic, doc_id, found))
    flat = [s for _, _, found in wanted for s in found]
    vectors = embed(flat) if flat else np.zeros((0, 0), np.float32)
    start = 0
    chosen: dict[int, list[tuple[str, str]]] = {}
    for topic, doc_id, found in wanted:
        rows = vectors[start:start + len(found)]
        start += len(found)
        pick = found[_best(found, rows, topic.embedding)]
        if pick not in (s for s, _ in chosen.get(topic.id, [])):
            chosen.setdefault(topic.id, []).append((pick, doc_id))
    for topic in topics:
        picked = chosen.get(topic.id, [])
        topic.description = " ".join(s for s, _ in picked)
        topic.description_ids = [d for _, d in picked]


def describe_themes(themes: Sequence[Theme], topics: Sequence[Topic]) -> None:
    """Each theme: the first sentence of the descriptions of its biggest topics, cited as they are."""
    by_id = {t.id: t for t in topics}
    for theme in themes:
        parts, theme.description_ids = [], []
        for topic_id in theme.topic_ids[:TOPICS_PER_THEME]:  # biggest first
            topic = by_id.get(topic_id)
            if topic is not None and topic.description_ids:
                parts.append(_first_sentence(topic.description))
                theme.description_ids.append(topic.description_ids[0])
        theme.description = " ".join(parts)


def brief(themes: Sequence[Theme], topics: Sequence[Topic], documents: int) -> Brief:
    """What the corpus covers: its size and biggest themes, then a line per theme (biggest first)."""
    real = [t for t in topics if not t.is_outlier]
    ordered = biggest_first(themes)
    biggest = ", ".join(f"{t.label} ({t.size:,})" for t in ordered[:3])
    text = (f"{documents:,} documents in {len(real)} topics, grouped in {len(ordered)} themes. "
            f"The biggest themes: {biggest}.")
    return Brief(text=text, themes=[_line(t, topics) for t in ordered])


def _line(theme: Theme, topics: Sequence[Topic]) -> BriefLine:
    """A theme's line: its topics' names, then the first sentence of its description, whose document it cites
    (the reader shows the theme's own name before it)."""
    by_id = {t.id: t for t in topics}
    names = [by_id[i].label for i in theme.topic_ids[:4] if i in by_id]
    parts = [f"topics such as {', '.join(names)}."] if len(names) > 1 else []
    if theme.description:
        parts.append(_first_sentence(theme.description))
    return BriefLine(theme=theme.id, text=" ".join(parts) or theme.label, document_ids=theme.description_ids[:1])
