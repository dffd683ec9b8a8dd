"""What the router decides: a :class:`Plan` per question, and the conversation's :class:`State` it reads.

Kept apart from the rules (``router``, ``corpus_rules``) so both rule modules and the planning
step share them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from topictalk.agent.intents import (
    COMPARE,
    COUNT,
    FIND_TOPICS,
    GROUPS,
    LIST,
    SEARCH,
    SOURCE,
    SUBTOPICS,
    THEME,
    TOPIC,
    TRENDS,
    UP,
)


@dataclass
class State:
    """What a conversation showed last, for follow-ups. One per conversation."""

    listed_topics: list[int] = field(default_factory=list)  # topics the last reply showed, in its order
    listed_themes: list[int] = field(default_factory=list)  # themes the last overview showed, in its order
    # what "the second one" counts in: what the last reply enumerated ("themes", "topics" or "sources")
    numbered: str = "topics"
    focus_topic: int | None = None  # the topic last talked about
    focus_theme: int | None = None  # the theme last opened, while no single topic is in focus
    sources: list[str] = field(default_factory=list)  # document ids of the last reply's sources
    shown: set[str] = field(default_factory=set)  # every document id shown so far
    last: Plan | None = None
    previous: Plan | None = None  # the plan before ``last`` ("compare them" after two searches: their subjects)

    def remember(self, plan: Plan, topics: list[int], themes: list[int], numbered: str, sources: list[str],
                 seen: list[str] = ()) -> None:
        """What a reply showed, for the next question's "that topic", "those papers", "the second one".

        ``topics``: the topics the reply showed (after a search, those of the
        sources it cited); ``sources``: the documents it cited; ``seen``: every
        document the model was given ("show me more" skips them).
        """
        if topics or themes or sources:  # a reply that showed nothing (a missing topic) changes no list
            self.listed_topics, self.numbered = list(topics), numbered
            if numbered == "themes":
                self.listed_themes = list(themes)
        if plan.intent in (THEME, UP) and themes:  # up a level: the theme is in focus ("up" again: the themes)
            self.focus_theme, self.focus_topic = themes[0], None
        elif plan.intent in (TOPIC, COMPARE, FIND_TOPICS, SEARCH, SOURCE, COUNT, LIST, TRENDS, GROUPS, SUBTOPICS) \
                and topics:
            self.focus_topic, self.focus_theme = topics[0], None
        if sources:
            self.sources = list(sources)
        self.shown |= set(sources) | set(seen)
        self.previous, self.last = self.last, plan


@dataclass
class Plan:
    intent: str
    query: str  # what to embed for retrieval
    topics: list[int] = field(default_factory=list)
    theme: int | None = None  # THEME: the theme asked about (None: found from ``query``)
    documents: list[str] = field(default_factory=list)  # SOURCE: "those papers", the last reply's sources
    order: str = "largest"  # overview: largest or smallest first
    document: str | None = None  # SOURCE: the one document id asked about
    more: bool = False  # "show me more": skip what was already shown
    by_meaning: bool = False  # TOPIC/COMPARE: topics still to be found from ``query``
    by_size: bool = False  # TOPIC/THEME/COMPARE: the biggest (``order``: or smallest) one or two, found by planning
    number: str = ""  # MISSING: the topic number as asked (shortened when absurdly long)
    # decided by the rules' last resort (a plain search): the example questions may route it better
    default: bool = False
    subject: str = ""  # COUNT, LIST, COMPARE, GLOBAL: what the question is about, as asked
    subjects: list[str] = field(default_factory=list)  # COMPARE by meaning: the two subjects compared
    count: int = 0  # LIST: how many documents were asked for
    aspect: str = ""  # GLOBAL: directions, methods, problems, disagreements, trends or "" (the question)
    note: str = ""  # a line said before the answer (e.g. that the documents carry no dates)
    missing: str = ""  # UNANSWERABLE: what the documents do not hold ("citation counts")
    no_topic: str = ""  # SEARCH: a subject no topic is about, said so before the documents
    blend: str = ""  # a bare follow-up's earlier subject, blended into what its search embeds
    asked: str = ""  # the question as typed, where ``query`` is only its subject (the default search)
    routed_by: str = ""  # the example question that routed it, when the rules did not
    # TRENDS, GROUPS, and a SEARCH or LIST restricted to a time or a group: the date phrase as asked ("since
    # January"), the facet field and the values named ("categories", ["cs.CL", "cs.LG"])
    when: str = ""
    facet: str = ""
    values: list[str] = field(default_factory=list)
    hits: list = field(default_factory=list, repr=False)  # SEARCH: the documents planning found (reused)


@dataclass(frozen=True)
class IndexFacts:
    """What the rules need to know of the index for questions about time and groups."""

    dated: bool = False  # it holds documents' dates and counts per period
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> its values, most documents first

    @classmethod
    def of(cls, trends) -> IndexFacts:
        """The facts of an index's ``Trends`` (None: an index without dates or facets)."""
        if trends is None:
            return cls()
        return cls(bool(trends.date_field and trends.periods),
                   {name: tuple(f.values) for name, f in (trends.facets or {}).items()})


@dataclass(frozen=True)
class Asked:
    """One question as every rule sees it."""

    question: str  # as typed (whitespace collapsed)
    q: str  # lower case, misspelled routing words mended (corpus_rules.mend): what patterns match
    state: State
    known: set[int]  # the index's topic ids
    numbers: list[int]  # the known topic numbers the question names, in order
    # None: not known (the time and group rules stay out, and dates are what no document holds)
    facts: IndexFacts | None = None
