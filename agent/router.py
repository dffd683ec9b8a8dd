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
THEME = "theme"  # one theme (a group of topics) and its topics
MISSING = "missing_topic"  # "topic 99" where the index has no topic 99
# decided after retrieval, not by these rules: nothing in the corpus is close to the question
OFF_CORPUS = "off_corpus"
INTENTS = (OVERVIEW, THEME, TOPIC, FIND_TOPICS, COMPARE, SEARCH, SOURCE, MISSING, OFF_CORPUS)


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
        if plan.intent == THEME and themes:
            self.focus_theme, self.focus_topic = themes[0], None
        elif plan.intent in (TOPIC, COMPARE, FIND_TOPICS, SEARCH, SOURCE) and topics:
            self.focus_topic, self.focus_theme = topics[0], None
        if sources:
            self.sources = list(sources)
        self.shown |= set(sources) | set(seen)
        self.last = plan


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
    number: str = ""  # MISSING: the topic number as asked (shortened when absurdly long)


_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "last": -1}
# Every pattern below runs in time linear in the question: no two unbounded quantifiers can trade
# characters (a `.*` between words is written as searches one after another, see _in_order),
# because one crafted question would otherwise hold the GIL for minutes and stall every user.
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b(?:\s+(one|topic|paper|source|abstract|article|document|study))?")
_NUMBER_REF = re.compile(r"\b(?:number|no\.?|#)\s*(\d+)\b")
_TOPIC_NUMBERS = re.compile(r"\btopics?\s*#?\s*(-?\d+)((?:\s*(?:,|and|&|or|vs\.?|versus|with|to|from)\s*(?:topic\s*)?#?\s*-?\d+)*)")
_SMALL = re.compile(r"\b(smallest|least|fewest|rarest|niche|smaller|tiniest)\b")
_CORPUS_ABOUT = re.compile(r"what(?:'s| is| are)\s+(?:this|the|these)\s+(?:corpus|collection|dataset|data\s*set|data|"
                           r"documents|papers)(?:\s+\w+)?\s+about")
_RANKED_TOPICS = re.compile(r"\b(?:biggest|largest|main|major|top|most common|most popular|smallest|fewest|"
                            r"least common)\b(?:\s+\d+)?\s+(?:topics|themes|subjects|areas)")
_LIST_WORD = re.compile(r"\b(?:list|show|all)\b")
_TOPICS_WORD = re.compile(r"\btopics\b")
_TOPIC_WORD = re.compile(r"\btopics?\b")
_PLAIN_OVERVIEW = re.compile(r"\bhow many topics\b|\boverview\b")
_WHAT_TOPICS = re.compile(r"\bwhat topics\b")
_SUBJECT_WORD = re.compile(r"\b(?:about|on|related|cover|regarding|mention)\b")  # "what topics" + one: a search
_ASKING = re.compile(r"\b(?:are there|is there|any|which|what|find)\b")
_ABOUT = re.compile(r"\b(?:about|on|related(?: to)?|cover(?:s|ed|ing)?|regarding|concern(?:s|ed|ing)?|"
                    r"deal(?:s|ing)? with|deal(?:s|ing)?|involv(?:e|es|ed|ing)|mention(?:s|ed|ing)?)\b")
_TOPICS_ABOUT = re.compile(r"\btopics?\s+(?:about|on|related to|covering)\b")
_COMPARE = re.compile(r"\b(?:compare|comparison|differ|differs|difference|differences|versus|vs\.?|contrast|distinguish)\b")
_ARTICLE = re.compile(r"\b(?:the|a)\s+")
_NAME_END = re.compile(r"\s+(?:topic|theme)\b")
_TOPIC_OF = re.compile(r"\btopic\s+(?:on|about|of)\s+")
_MORE = re.compile(r"^\s*(?:and\s+)?(?:show|give|tell)?\s*(?:me\s+)?(?:some\s+)?more(?:\s+(?:papers|please|of them|examples|"
                   r"sources|documents|abstracts|results))?\s*[.!?]*\s*$|^\s*more\s*[.!?]*$|\bshow me more\b")
_THAT_TOPIC = re.compile(r"\b(?:that|this|the same|its|that one's|this one's)\s+(?:topic|cluster|theme)(?:'s)?\b|\bits\b|\bit\b")
_THEME_WORD = re.compile(r"\b(?:themes?|areas?)\b")
# "those papers", "these sources", "them": the sources the last reply showed
_THOSE = re.compile(r"\b(?:those|these|the cited|the same|the above)\s+(?:\w+\s+)?(?:papers|sources|abstracts|documents|"
                    r"articles|studies|works|results)\b|\b(?:of|from|in|among|between|compare)\s+them\b")
_PAPERS = re.compile(r"\b(papers?|abstracts?|documents?|articles?|studies|works?|examples?)\b")
_DOCUMENT_NOUNS = ("paper", "source", "abstract", "article", "document", "study")
_FILLER = re.compile(r"\b(?:tell me|more|about|the|a|an|topic|theme|please|can you|could you|explain|describe|what is|"
                     r"what's|talk|show me|give me)\b", re.IGNORECASE)
# the frame of a question ("which papers study", "how do people", "what work exists on") says nothing of its
# subject, and embedded with it, it pulls the nearest abstracts toward any that "study" or "propose methods":
# precision@4 of the nearest abstracts on bench/agent.py's questions 0.908 with the frame, 0.942 without
# (0.725 and 0.812 on a held-out set), and off-corpus questions moved no nearer the corpus
_FRAME = re.compile(r"\b(?:which|what|how|are|is|there|do|does|can|people|researchers|papers?|works?|exists?|study|"
                    r"studies|methods?|approaches|known|about|tell me more|topics?|the|used|use|made|a|an)\b",
                    re.IGNORECASE)
_MAX_DIGITS = 9  # a longer topic number exists in no index (and int() refuses numbers past 4,300 digits)


def _in_order(q: str, *patterns: re.Pattern) -> re.Match | None:
    """The last match when each pattern matches after the previous one: ``a.*b.*c`` in linear time.

    Taking each pattern's first match leaves the most room for the next, so
    this finds a match whenever the backtracking form would.
    """
    pos, m = 0, None
    for pattern in patterns:
        m = pattern.search(q, pos)
        if m is None:
            return None
        pos = m.end()
    return m


def _number(digits: str) -> int | None:
    return int(digits) if len(digits.lstrip("-")) <= _MAX_DIGITS else None


def _shown(digits: str) -> str:
    return digits if len(digits) <= _MAX_DIGITS + 3 else digits[:_MAX_DIGITS] + "…"


def _topic_numbers(q: str, known: set[int]) -> list[int]:
    found = []
    for m in _TOPIC_NUMBERS.finditer(q):
        for n in [m.group(1), *re.findall(r"-?\d+", m.group(2) or "")]:
            value = _number(n)
            if value in known and value not in found:
                found.append(value)
    return found


def _is_overview(q: str) -> bool:
    if _CORPUS_ABOUT.search(q) or _RANKED_TOPICS.search(q) or _PLAIN_OVERVIEW.search(q):
        return True
    if _in_order(q, _LIST_WORD, _TOPICS_WORD):
        return True
    last = None
    for last in _WHAT_TOPICS.finditer(q):  # "what topics ..." with no subject after it
        pass
    return last is not None and not _SUBJECT_WORD.search(q, last.end())


def _find_subject(q: str) -> str | None:
    """For "are there topics about X?": X (what to look topics up by), "" when X is empty; None: not such a question."""
    m = _in_order(q, _ASKING, _TOPIC_WORD, _ABOUT) or _TOPICS_ABOUT.search(q)
    if m is None:
        return None
    return q[m.end():].strip(" ?.!,;:")


def _named_topic(q: str) -> tuple[str, bool] | None:
    """The name in "the X topic" (or "the X theme": True) or "topic on X", whichever comes first."""
    found = []
    article = _ARTICLE.search(q)
    if article:
        end = _NAME_END.search(q, article.end() + 1)
        if end:
            found.append((article.start(), q[article.end(): end.start()], end.group().strip() == "theme"))
    of = _TOPIC_OF.search(q)
    if of:
        found.append((of.start(), q[of.end():], False))
    return min(found)[1:] if found else None


def _ordinal(question: str, q: str, state: State) -> Plan | None:
    """ "the second one", "the first paper", "number 3": an item of what the last reply showed."""
    ordinal = _ORDINAL.search(q) or _NUMBER_REF.search(q)
    if not ordinal or not (state.listed_topics or state.listed_themes or state.sources):
        return None
    word = ordinal.group(1)
    number = None if word in _ORDINALS else _number(word)
    index = _ORDINALS[word] if word in _ORDINALS else number - 1 if number is not None else 1 << 40
    noun = ordinal.group(2) if ordinal.re is _ORDINAL else None
    if noun in _DOCUMENT_NOUNS or (noun is None and _PAPERS.search(q)):
        kind = "sources"
    elif noun == "topic":
        kind = "themes" if state.numbered == "themes" and not state.listed_topics else "topics"
    else:  # "the second one": an item of the list the last reply enumerated
        kind = state.numbered
    lists = {"sources": state.sources, "topics": state.listed_topics, "themes": state.listed_themes}
    # what was asked for first, then the other lists the last reply showed
    for kind in dict.fromkeys([kind, state.numbered, "topics", "themes", "sources"]):
        items = lists[kind]
        if not -len(items) <= index < len(items):
            continue
        if kind == "sources":
            return Plan(SOURCE, question, document=items[index])
        if kind == "themes":
            return Plan(THEME, question, theme=items[index])
        return Plan(TOPIC, question, [items[index]])
    return None


def search_query(question: str) -> str:
    """What a search embeds: the question without its frame, or the question when that is all it is."""
    subject = " ".join(_FRAME.sub(" ", question).replace("?", " ").split())
    return subject or question


def route(question: str, state: State, known_topics: set[int]) -> Plan:
    q = " ".join(question.lower().split())
    numbers = _topic_numbers(q, known_topics)
    if _COMPARE.search(q) and not (_THOSE.search(q) and state.sources):
        if len(numbers) >= 2:
            return Plan(COMPARE, question, numbers[:2])
        return Plan(COMPARE, question, numbers[:1], by_meaning=True)
    if numbers:
        return Plan(TOPIC, question, numbers[:1], more=bool(_MORE.search(q)))
    unknown = _TOPIC_NUMBERS.search(q)
    if unknown:
        value = _number(unknown.group(1))
        return Plan(MISSING, question, [] if value is None else [value], number=_shown(unknown.group(1)))

    plan = _ordinal(question, q, state)
    if plan is not None:
        return plan

    if _MORE.search(q) and state.last is not None:
        last = state.last
        return Plan(last.intent if last.intent not in (SOURCE, OFF_CORPUS) else SEARCH, last.query, list(last.topics),
                    last.theme, order=last.order, more=True)
    subject = _find_subject(q)
    if _is_overview(q) and subject is None:
        return Plan(OVERVIEW, question, order="smallest" if _SMALL.search(q) else "largest")
    if subject is not None:  # topics are looked up by the subject alone: the question's frame is noise
        return Plan(FIND_TOPICS, subject or question)
    if _THOSE.search(q) and state.sources:
        return Plan(SOURCE, question, documents=list(state.sources))
    if _THAT_TOPIC.search(q):
        if state.focus_theme is not None and (state.focus_topic is None or _THEME_WORD.search(q)):
            return Plan(THEME, question, theme=state.focus_theme, more=bool(_PAPERS.search(q)))
        if state.focus_topic is not None:
            return Plan(TOPIC, question, [state.focus_topic], more=bool(_PAPERS.search(q)))
    named = _named_topic(q)
    if named:
        name, is_theme = named
        name = _FILLER.sub(" ", name).strip(" ?.!,")
        if name:
            if is_theme:
                return Plan(THEME, name, by_meaning=True)
            return Plan(TOPIC, name, by_meaning=True)
    return Plan(SEARCH, search_query(question))
