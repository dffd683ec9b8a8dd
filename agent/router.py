"""Decide what a question asks, with light rules and the conversation's state.

A 0.5B model cannot be trusted to call tools, so the routing is plain Python:
patterns for the kinds of question people ask about topics, ordinals and
pronouns resolved against what was shown last, and retrieval (done by the
conversation) for everything else. The LLM only writes the prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OVERVIEW, TOPIC, FIND_TOPICS, COMPARE, SEARCH, SOURCE = "overview", "topic", "find_topics", "compare", "search", "source"
MISSING = "missing_topic"  # "topic 99" where the index has no topic 99


@dataclass
class State:
    """What a conversation showed last, for follow-ups. One per conversation."""

    listed_topics: list[int] = field(default_factory=list)  # in the order shown
    focus_topic: int | None = None  # the topic last talked about
    sources: list[str] = field(default_factory=list)  # document ids of the last numbered sources
    shown: set[str] = field(default_factory=set)  # every document id shown so far
    last: Plan | None = None


@dataclass
class Plan:
    intent: str
    query: str  # what to embed for retrieval
    topics: list[int] = field(default_factory=list)
    order: str = "largest"  # overview: largest or smallest first
    document: str | None = None  # SOURCE: the document id asked about
    more: bool = False  # "show me more": skip what was already shown
    by_meaning: bool = False  # TOPIC/COMPARE: topics still to be found from ``query``


_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "last": -1}
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b(?:\s+(one|topic|paper|source|abstract|article|document|study))?")
_NUMBER_REF = re.compile(r"\b(?:number|no\.?|#)\s*(\d+)\b")
_TOPIC_NUMBERS = re.compile(r"\btopics?\s*#?\s*(-?\d+)((?:\s*(?:,|and|&|or|vs\.?|versus|with|to|from)\s*(?:topic\s*)?#?\s*-?\d+)*)")
_SMALL = re.compile(r"\b(smallest|least|fewest|rarest|niche|smaller|tiniest)\b")
_OVERVIEW = re.compile(
    r"what(?:'s| is| are)\s+(?:this|the|these)\s+(?:corpus|collection|dataset|data\s*set|data|documents|papers)"
    r"(?:\s+\w+)?\s+about|\b(?:biggest|largest|main|major|top|most common|most popular|smallest|fewest|least common)\b"
    r"(?:\s+\d+)?\s+(?:topics|themes|subjects|areas)|\b(?:list|show|all)\b.*\btopics\b|\bhow many topics\b|\boverview\b"
    r"|\bwhat topics\b(?!.*\b(?:about|on|related|cover|regarding|mention)\b)")
_FIND = re.compile(r"\b(?:are there|is there|any|which|what|find)\b.*\btopics?\b.*\b(?:about|on|related|cover|covering|"
                   r"regarding|concern|deal|involve|mention)|\btopics?\s+(?:about|on|related to|covering)\b")
_COMPARE = re.compile(r"\b(?:compare|comparison|differ|differs|difference|differences|versus|vs\.?|contrast|distinguish)\b")
_TOPIC_BY_NAME = re.compile(r"\b(?:the|a)\s+(.+?)\s+topic\b|\btopic\s+(?:on|about|of)\s+(.+)")
_MORE = re.compile(r"^\s*(?:and\s+)?(?:show|give|tell)?\s*(?:me\s+)?(?:some\s+)?more(?:\s+(?:papers|please|of them|examples|"
                   r"sources|documents|abstracts|results))?\s*[.!?]*\s*$|^\s*more\s*[.!?]*$|\bshow me more\b")
_THAT_TOPIC = re.compile(r"\b(?:that|this|the same|its|that one's|this one's)\s+(?:topic|cluster|theme)(?:'s)?\b|\bits\b|\bit\b")
_PAPERS = re.compile(r"\b(papers?|abstracts?|documents?|articles?|studies|works?|examples?)\b")
_FILLER = re.compile(r"\b(?:tell me|more|about|the|a|an|topic|please|can you|could you|explain|describe|what is|"
                     r"what's|talk|show me|give me)\b", re.IGNORECASE)


def _topic_numbers(q: str, known: set[int]) -> list[int]:
    found = []
    for m in _TOPIC_NUMBERS.finditer(q):
        for n in [m.group(1), *re.findall(r"-?\d+", m.group(2) or "")]:
            if int(n) in known and int(n) not in found:
                found.append(int(n))
    return found


def route(question: str, state: State, known_topics: set[int]) -> Plan:
    q = " ".join(question.lower().split())
    numbers = _topic_numbers(q, known_topics)
    if _COMPARE.search(q):
        if len(numbers) >= 2:
            return Plan(COMPARE, question, numbers[:2])
        return Plan(COMPARE, question, numbers[:1], by_meaning=True)
    if numbers:
        return Plan(TOPIC, question, numbers[:1], more=bool(_MORE.search(q)))
    unknown = [int(m.group(1)) for m in _TOPIC_NUMBERS.finditer(q)]
    if unknown:
        return Plan(MISSING, question, unknown[:1])

    ordinal = _ORDINAL.search(q) or _NUMBER_REF.search(q)
    if ordinal and (state.listed_topics or state.sources):
        word = ordinal.group(1)
        index = _ORDINALS.get(word, int(word) - 1 if word.isdigit() else 0)
        noun = ordinal.group(2) if ordinal.re is _ORDINAL else None
        wants_source = (noun in ("paper", "source", "abstract", "article", "document", "study")
                        or _PAPERS.search(q) is not None and not state.listed_topics
                        or not state.listed_topics)
        if wants_source and state.sources:
            doc = state.sources[index] if -len(state.sources) <= index < len(state.sources) else None
            if doc:
                return Plan(SOURCE, question, document=doc)
        if state.listed_topics and -len(state.listed_topics) <= index < len(state.listed_topics):
            return Plan(TOPIC, question, [state.listed_topics[index]])

    if _MORE.search(q) and state.last is not None:
        last = state.last
        return Plan(last.intent if last.intent != SOURCE else SEARCH, last.query, list(last.topics), last.order,
                    more=True)
    if _OVERVIEW.search(q) and not _FIND.search(q):
        return Plan(OVERVIEW, question, order="smallest" if _SMALL.search(q) else "largest")
    if _FIND.search(q):
        return Plan(FIND_TOPICS, question)
    if state.focus_topic is not None and _THAT_TOPIC.search(q):
        return Plan(TOPIC, question, [state.focus_topic], more=bool(_PAPERS.search(q)))
    named = _TOPIC_BY_NAME.search(q)
    if named:
        name = (named.group(1) or named.group(2) or "").strip()
        name = _FILLER.sub(" ", name).strip(" ?.!,")
        if name:
            return Plan(TOPIC, name, by_meaning=True)
    return Plan(SEARCH, question)
