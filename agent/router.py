"""Decide what a question asks, with light rules and the conversation's state.

A 0.5B model cannot be trusted to call tools, so the routing is plain Python:
patterns for the kinds of question people ask about topics, ordinals and
pronouns resolved against what was shown last, and retrieval (done by the
conversation) for everything else. The LLM only writes the prose.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from topictalk.agent import corpus_rules, small_talk, subtopic_rules, time_rules
from topictalk.agent.corpus_rules import search_query  # noqa: F401 - one rule for what a search embeds
from topictalk.agent.intents import (  # noqa: F401
    BRIEF,
    COMPARE,
    COUNT,
    FIND_TOPICS,
    GLOBAL,
    INTENTS,
    LIST,
    MISSING,
    OFF_CORPUS,
    OVERVIEW,
    RELATED,
    SEARCH,
    SOURCE,
    THEME,
    TOPIC,
    UNANSWERABLE,
)
from topictalk.agent.plans import Asked, IndexFacts, Plan, State  # noqa: F401 - the router's types, imported from here by older callers

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
# one topic or theme by its size: "summarize the biggest topic", "which is the smallest theme?", "which topic is
# the largest?" (a plural, "the biggest topics", is the overview's)
_RANKED_ONE = re.compile(r"\b(biggest|largest|smallest|most common|least common|most popular)\s+(topic|theme|cluster)\b(?!s)")
_WHICH_RANKED = re.compile(r"\b(?:which|what)\s+(topic|theme|cluster)\s+(?:is|has)\s+(?:the\s+)?(biggest|largest|smallest|"
                           r"most|fewest)\b")
# the same, bare, in a conversation: "and the biggest?", "what about the smallest one?"
_RANKED_BARE = re.compile(r"^\s*(?:(?:and|but|so|ok(?:ay)?)\s*,?\s*)?(?:(?:what|how)\s+about\s+)?the\s+(biggest|largest|smallest)"
                          r"(?:\s+one)?\s*[?.!]*$")
# two topics by their place: "the first two topics", "the two biggest topics", "the top two"
_RANKED_TWO = re.compile(r"\b(?:first|top|biggest|largest|smallest)\s+two\b|\btwo\s+(?:biggest|largest|main|top|first|"
                         r"smallest)\b")
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
# "summarize the topic about X" is one topic (``_named``), not "are there topics about X?"
_THE_TOPIC_ABOUT = re.compile(r"\bthe\s+topic\s+(?:on|about|of)\s+")
_MORE = re.compile(r"^\s*(?:and\s+)?(?:show|give|tell)?\s*(?:me\s+)?(?:some\s+)?more(?:\s+(?:papers|please|of them|examples|"
                   r"sources|documents|abstracts|results))?\s*[.!?]*\s*$|^\s*more\s*[.!?]*$|\bshow me more\b|"
                   # "more like this", "any others like these?": more of what the last reply showed
                   r"^\s*(?:and\s+)?(?:(?:show|give|find)\s+(?:me\s+)?|any\s+)?(?:some\s+)?(?:more|others?|similar\s+ones)"
                   r"(?:\s+(?:papers|articles|documents|stories|ones))?\s+like\s+(?:this|that|these|those|it|them)"
                   r"(?:\s+one)?\s*[.!?]*$")
_COMPARE_THEM = re.compile(r"^\s*(?:(?:now|and|so|ok(?:ay)?)[\s,]+)?(?:please\s+)?(?:compare|contrast)\s+(?:the\s+)?"
                           r"(?:them|those|these|the\s+two|both)(?:\s+(?:two|subjects))?\s*[?.!]*$")
# "its biggest topic", "the smallest topic in that theme": of the theme the conversation is on
_OF_FOCUS_THEME = re.compile(r"\b(?:its|in\s+it|of\s+it|(?:in|of)\s+(?:this|that|the\s+same)\s+theme|"
                             r"(?:this|that)\s+theme's)\b")
_THAT_TOPIC = re.compile(r"\b(?:that|this|the same|its|that one's|this one's)\s+(?:topic|cluster|theme)(?:'s)?\b|\bits\b|\bit\b")
_THEME_WORD = re.compile(r"\b(?:themes?|areas?)\b")
# "those papers", "these sources", "them": the sources the last reply showed
_THOSE = re.compile(r"\b(?:those|these|the cited|the same|the above)\s+(?:\w+\s+)?(?:papers|sources|abstracts|documents|"
                    r"articles|studies|works|results)\b|\b(?:of|from|in|among|between|compare)\s+them\b")
_PAPERS = re.compile(r"\b(papers?|abstracts?|documents?|articles?|studies|works?|examples?)\b")
_DOCUMENT_NOUNS = ("paper", "source", "abstract", "article", "document", "study")
_FILLER = re.compile(r"\b(?:tell me|more|about|the|a|an|topic|theme|please|can you|could you|explain|describe|what is|"
                     r"what's|talk|show me|give me)\b", re.IGNORECASE)
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
        if end and q[article.end(): end.start()].strip():  # "the topic about X" names X after the word
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


Rule = Callable[[Asked], "Plan | None"]


def _compare(a: Asked) -> Plan | None:
    if not _COMPARE.search(a.q):
        return None
    if _THOSE.search(a.q) and a.state.sources:
        # "what about Blair?" ... "and Brown?" ... "compare them": the two subjects; else the sources shown
        subjects = [corpus_rules.subject_of(p.subject or p.query) for p in (a.state.previous, a.state.last)
                    if p is not None and p.intent in (SEARCH, COUNT, LIST) and (p.subject or p.query)]
        if len(subjects) < 2 or subjects[0].lower() == subjects[1].lower() or not _COMPARE_THEM.search(a.q):
            return None
        return Plan(COMPARE, a.question, by_meaning=True, subjects=subjects)
    if len(a.numbers) >= 2:
        return Plan(COMPARE, a.question, a.numbers[:2])
    focus = a.state.focus_topic
    if len(a.numbers) == 1 and focus is not None and focus != a.numbers[0] and \
            set(re.findall(r"[\w']+", a.q)) & {"it", "this", "that", "its"}:  # "compare it with topic 0"
        return Plan(COMPARE, a.question, [focus, a.numbers[0]])
    two = _RANKED_TWO.search(a.q)
    if two:  # the first two the last reply listed, else the two biggest (or smallest) of the index
        order = _order(two.group())
        if order == "largest" and len(a.state.listed_topics) >= 2:
            return Plan(COMPARE, a.question, list(a.state.listed_topics[:2]))
        return Plan(COMPARE, a.question, [], order=order, by_size=True)
    return Plan(COMPARE, a.question, a.numbers[:1], by_meaning=True, subjects=corpus_rules.compared(a.q))


def _numbered_topic(a: Asked) -> Plan | None:
    if a.numbers:
        if corpus_rules.RELATES.search(a.q):  # "how are topic 0 and topic 3 related?": those two, side by side
            return Plan(COMPARE, a.question, a.numbers[:2]) if len(a.numbers) >= 2 else \
                Plan(RELATED, a.question, a.numbers[:1])
        return Plan(TOPIC, a.question, a.numbers[:1], more=bool(_MORE.search(a.q)))
    unknown = _TOPIC_NUMBERS.search(a.q)
    if unknown:
        value = _number(unknown.group(1))
        return Plan(MISSING, a.question, [] if value is None else [value], number=_shown(unknown.group(1)))
    return None


def _ordinal_rule(a: Asked) -> Plan | None:
    return _ordinal(a.question, a.q, a.state)


def _more(a: Asked) -> Plan | None:
    last = a.state.last
    if not _MORE.search(a.q) or last is None:
        return None
    return Plan(last.intent if last.intent not in (SOURCE, OFF_CORPUS, BRIEF, UNANSWERABLE, MISSING) else SEARCH,
                last.query, list(last.topics), last.theme, order=last.order, more=True, subject=last.subject,
                count=last.count, aspect=last.aspect, when=last.when, facet=last.facet, values=list(last.values))


def _topic_lists(a: Asked) -> Plan | None:
    subject = _find_subject(a.q)
    if _is_overview(a.q) and subject is None:
        return Plan(OVERVIEW, a.question, order=_order(a.q))
    if subject is not None and not _THE_TOPIC_ABOUT.search(a.q):  # topics are looked up by the subject alone
        return Plan(FIND_TOPICS, subject or a.question, subject=subject)
    return None


def _order(words: str) -> str:
    """ "smallest" when ``words`` ask for the small end ("smallest", "fewest", "least common"), else "largest"."""
    return "smallest" if _SMALL.search(words) else "largest"


def _ranked_topic(a: Asked) -> Plan | None:
    """ "summarize the biggest topic", "which topic is the smallest?": one topic (or theme) chosen by its size."""
    one = _RANKED_ONE.search(a.q)
    which = None if one else _WHICH_RANKED.search(a.q)
    bare = None if one or which else _RANKED_BARE.search(a.q)
    if bare:  # of what the conversation is on: themes after themes were listed or opened, else topics
        themes = a.state.focus_theme is not None or (a.state.numbered == "themes" and a.state.focus_topic is None)
        return Plan(THEME if themes else TOPIC, a.question, [], order=_order(bare.group(1)), by_size=True)
    if not (one or which):
        return None
    size_word, kind = (one.group(1), one.group(2)) if one else (which.group(2), which.group(1))
    within = a.state.focus_theme if kind != "theme" and _OF_FOCUS_THEME.search(a.q) else None
    return Plan(THEME if kind == "theme" else TOPIC, a.question, [], within, order=_order(size_word), by_size=True)


# a question about what the conversation is on, named by a pronoun only: "how many documents does it have?",
# "summarize it", "which topic is that?" (before the corpus rules, which read "it" as a subject or the corpus)
_PRONOUNS = frozenset("it its it's that this they them those these one ones".split())
_SUBJECTLESS = frozenset("have has hold holds contain contains in there is are was were do does did about "
                         "on with inside within".split()) | _PRONOUNS
_SUMMARIZE_IT = re.compile(r"^\s*(?:please\s+|can\s+you\s+|could\s+you\s+)?(?:summari[sz]e|describe|sum\s+up|explain|"
                           r"give\s+me\s+a\s+summary\s+of)\s+(?:it|that|this|them|those|these)(?:\s+one|\s+topic|\s+theme)?"
                           r"(?:\s+for\s+me)?(?:\s+please)?\s*[?.!]*$")
_WHICH_IS_THAT = re.compile(r"\b(?:which|what)\s+(?:topic|theme)\s+(?:is|are|was|were)\s+(?:that|this|it|they|those|these)"
                            r"(?:\s+(?:in|from|part\s+of|under))?\s*[?.!]*$|\b(?:which|what)\s+(?:topic|theme)\s+(?:do|does|did)"
                            r"\s+(?:they|it|those|these|that)\s+(?:belong\s+to|come\s+from|fall\s+(?:in|under)|sit\s+in)\s*[?.!]*$")
_SUBJECT_INTENTS = (SEARCH, COUNT, LIST, OFF_CORPUS, FIND_TOPICS)


def _about_focus(a: Asked) -> Plan | None:
    state = a.state
    if corpus_rules.counting(a.q):
        words = set(re.findall(r"[\w']+", corpus_rules.subject_of(a.question).lower()))
        if words and (not words <= _SUBJECTLESS or not words & _PRONOUNS):
            return None  # a subject of its own ("how many are about golf?")
        last = state.last
        if last is not None and last.intent in _SUBJECT_INTENTS and (last.subject or last.query):
            # "papers on golf" ... "how many are about it?", "how many?": golf
            subject = corpus_rules.subject_of(last.subject or last.query) or last.subject or last.query
            return Plan(COUNT, subject, subject=subject)
    elif not (_SUMMARIZE_IT.search(a.q) or _WHICH_IS_THAT.search(a.q)):
        return None
    if state.focus_topic is not None:
        return Plan(TOPIC, a.question, [state.focus_topic])
    if state.focus_theme is not None:
        return Plan(THEME, a.question, theme=state.focus_theme)
    return None


def _sized(plan: Plan, a: Asked) -> Plan:
    """A topic a rule would find by its name, named by its size instead ("the subtopics of the biggest topic",
    "the trend of the smallest topic"): found by size, like :func:`_ranked_topic`'s."""
    one = _RANKED_ONE.search(a.q) if plan.by_meaning and not plan.topics else None
    if one is None or one.group(2) == "theme" or plan.intent in (COMPARE, THEME):
        return plan
    plan.by_meaning, plan.by_size = False, True
    plan.order = _order(one.group(1))
    return plan


def _those(a: Asked) -> Plan | None:
    if _THOSE.search(a.q) and a.state.sources:
        return Plan(SOURCE, a.question, documents=list(a.state.sources))
    return None


def _that_topic(a: Asked) -> Plan | None:
    state, q = a.state, a.q
    if not _THAT_TOPIC.search(q):
        return None
    if corpus_rules.RELATES.search(q) and state.focus_topic is not None:
        return Plan(RELATED, a.question, [state.focus_topic])
    if state.focus_theme is not None and (state.focus_topic is None or _THEME_WORD.search(q)):
        return Plan(THEME, a.question, theme=state.focus_theme, more=bool(_PAPERS.search(q)))
    if state.focus_topic is not None:
        return Plan(TOPIC, a.question, [state.focus_topic], more=bool(_PAPERS.search(q)))
    return None


def _named(a: Asked) -> Plan | None:
    named = _named_topic(a.q)
    if named:
        name, is_theme = named
        name = _FILLER.sub(" ", name).strip(" ?.!,")
        if name:
            return Plan(THEME if is_theme else TOPIC, name, by_meaning=True)
    return None


# Questions about time and groups (what grew, what is new since March, which topics cs.CV holds, how two
# groups differ), read against what the index holds (``Asked.facts``). They run first: before the rules
# that answer "the documents carry no dates" (corpus_rules.unanswerable, .dated, and trends in
# .global_question), and before comparisons and numbered topics ("how does cs.CL differ from cs.LG?",
# "the trend of topic 3"), since each fires only on a question's time or group frame.
TIME_RULES: list[Rule] = [time_rules.route]

# Browsing the depth (a topic's subtopics, up a level to its theme): after the time and group rules, which fire
# on a question's time or group frame ("break down the topics by category"), and before the rules that would
# take "split topic 5" or "what is it part of?" as a question about the topic itself.
DEPTH_RULES: list[Rule] = [subtopic_rules.route]

# The rules, tried in order; the first plan wins. Each is one function of an :class:`Asked`.
RULES: list[Rule] = [
    small_talk.route, _compare, _numbered_topic, _ordinal_rule, _more, _about_focus,
    corpus_rules.brief, corpus_rules.unanswerable, corpus_rules.count, corpus_rules.list_documents, corpus_rules.dated,
    corpus_rules.global_question, _ranked_topic, _topic_lists,
    _those, _that_topic, corpus_rules.follow_up, _named,
]


_WORD_NUMBERS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                                 "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
                                                 .split())}
_NUMBER_WORD = "(" + "|".join(_WORD_NUMBERS) + r")\b"
_TOPIC_WORD_NUMBER = re.compile(r"\b(topics?\s+#?\s*)" + _NUMBER_WORD)
_NEXT_WORD_NUMBER = re.compile(r"(\d\s*(?:,|and|&|or|vs\.?|versus|with|to)\s*(?:topic\s+)?)" + _NUMBER_WORD)


def _in_digits(q: str) -> str:
    """ "topic three", "topics one and four" as digits, so every rule reads them as it reads "topic 3"."""
    q = _TOPIC_WORD_NUMBER.sub(lambda m: m.group(1) + _WORD_NUMBERS[m.group(2)], q)
    return _NEXT_WORD_NUMBER.sub(lambda m: m.group(1) + _WORD_NUMBERS[m.group(2)], q)


def read_question(question: str, state: State, known_topics: set[int], facts: IndexFacts | None = None) -> Asked:
    """The question as every rule sees it."""
    question = " ".join(question.split())
    q = _in_digits(corpus_rules.mend(question.lower()))
    return Asked(question, q, state, known_topics, _topic_numbers(q, known_topics), facts)


def route(question: str, state: State, known_topics: set[int], rules: list[Rule] | None = None,
          facts: IndexFacts | None = None) -> Plan:
    """The plan of the first rule that matches; else a search (``default``: the examples may refine it).
    ``facts``: what the index holds of dates and groups (None: unknown, and time questions are told
    that the documents carry no dates)."""
    asked = read_question(question, state, known_topics, facts)
    question = asked.question
    for rule in rules if rules is not None else [*TIME_RULES, *DEPTH_RULES, *RULES]:
        plan = rule(asked)
        if plan is not None:
            return _sized(plan, asked)
    return Plan(SEARCH, search_query(question), default=True, asked=question)
