"""The router's rules for questions about time and groups: what grew or shrank, what is new since a date,
how a topic changed, a period's topics, a group's topics ("most common in cs.CV"), how two groups differ.

They read what the index holds (``Asked.facts``: dates, facet values): with dates a time question is a
TRENDS plan, with facets a group question is a GROUPS plan; without them the question is told so
(UNANSWERABLE: "dates" or "groups"), except the vague "emerging trends", which the global answer takes
with its note that the documents carry no dates. With ``facts`` None (a caller that did not say) they
stay out. Like every routing pattern, each runs in time linear in the question (see ``router._in_order``).
"""

from __future__ import annotations

import functools
import re

from topictalk import prompts
from topictalk.agent import corpus_rules, date_words
from topictalk.agent.intents import COUNT, GLOBAL, GROUPS, SEARCH, TOPIC, TRENDS, UNANSWERABLE
from topictalk.agent.plans import Asked, IndexFacts, Plan

# a growth word as a predicate ("what is growing?", "grown the most", "fastest growing topics"), not an
# adjective of a subject ("growing pains", "growing neural networks")
_AFTER = (r"(?=\s*(?:$|[?.!,;]|the\s+most\b|most\b|fastest\b|over\b|in\b|since\b|after\b|before\b|until\b|"
          r"this\b|last\b|lately\b|recently\b|or\b|and\b|during\b|from\b|between\b|compared\b|vs\b|at\b|among\b|"
          r"topics?\b|areas?\b|subjects?\b|"
          r"themes?\b|fields?\b|stories\b|the\s+fastest\b))")
_UP = r"(?:grow(?:ing|n|s)?|grew|ris(?:ing|en)|rose|increas(?:ing|ed|es)|gain(?:ing|ed)|took\s+off|tak(?:e|ing)\s+off|" \
      r"booming|surg(?:ing|ed)|trending|picking\s+up|on\s+the\s+rise|up\s+and\s+coming|more\s+popular|hotter|" \
      r"(?:got|gets|getting|gained|gaining|drew|draws|drawing)\s+more\s+(?:attention|interest|papers|work))"
_DOWN = r"(?:shrink(?:ing|s)?|shrank|shrunk|declin(?:ing|ed|es)|decreas(?:ing|ed|es)|falling|fell|fading|faded|" \
        r"dying|waning|drop(?:ping|ped)|cooling|less\s+popular|los(?:ing|t)\s+(?:ground|steam|interest)|" \
        r"(?:got|gets|getting|drew|draws|drawing)\s+(?:less|fewer)\s+(?:attention|interest|papers|work))"
_GROWTH = re.compile(r"\b(?:" + _UP + r"|" + _DOWN + r")\b" + _AFTER)
_DOWN_WORD = re.compile(r"\b" + _DOWN + r"\b")
_UP_WORD = re.compile(r"\b" + _UP + r"\b")
_TRENDY = re.compile(r"\btrends?\b|\btrending\b|\bemerging\b|\bhot\s+topics?\b|\bmomentum\b|"
                     r"\bhot\b(?=\s*(?:right\s+now|now|these\s+days|lately|at\s+the\s+moment|[?.!]|$))")
_NEW = re.compile(r"\bwhat(?:'s|\s+is|\s+was|\s+were|\s+are)\s+(?:(?:the\s+)?new|newly)\b|\bnew\s+(?:topics?|themes?|"
                  r"subjects?|since|this|last|in\s+(?:the\s+)?(?:last|past|" + date_words.MONTH + r"|\d{4}|q[1-4])\b)|"
                  r"\bwhat\s+(?:appeared|emerged|showed\s+up|came\s+up)\b|\bwhat\s+changed\b|\bwhat\s+has\s+changed\b")
# "is interest in X rising?", "has work on X increased?", "did X grow?": one subject's course
_ABOUT_ONE = re.compile(r"\binterest\s+in\b|\bis\s+\w|^(?:has|have|is|are|did|was|were|does|do)\b")
_HOW = re.compile(r"\bhow\b")
_HOW_CHANGED = re.compile(r"\bhow\s+(?:has|have|did|do|does|is|are)\b")
_CHANGED = re.compile(r"\b(?:chang(?:ed|e|ing)|evolv(?:ed|e|ing)|develop(?:ed|ing)|shift(?:ed|ing)?|mov(?:ed|ing)|"
                      r"grown|progress(?:ed|ing))\b")
_TREND_OF = re.compile(r"\btrends?\s+(?:for|of|in)\b|\b(?:over|through|across)\s+time(?![\w-])|"
                       r"\b(?:day|week|month|quarter|year)\s+(?:by|after|to)\s+(?:day|week|month|quarter|year)\b|"
                       r"\b(?:per|each|every)\s+(?:day|week|month|quarter|year)\b|\binterest\s+in\b|"
                       r"\bpopularity\s+of\b|\bover\s+the\s+(?:years|months|weeks)\b|\btimeline\b|\bhistory\s+of\b")
_SPAN = re.compile(r"\bwhen\s+(?:were|was|did)\b.{0,80}?\b(?:published|written|released|appear|come\s+out|dated)\b|"
                   r"\bpublication\s+(?:dates?|years?)\b|\bwhat\s+(?:years?|dates?|period|time\s+span|span)\s+"
                   r"(?:do|does|is|are)\b|\bdate\s+range\b|\btime\s+span\b|\bhow\s+far\s+back\b|"
                   r"\bwhat\s+(?:time\s+)?(?:period|range|span|dates|years)\s+(?:do|does|did|is|are)\s+(?:the|this|these)\b|"
                   r"\bfrom\s+when\b|\bhow\s+old\s+are\s+(?:the|these)\b|\bhow\s+recent\s+are\s+(?:the|these)\b")
_PERIOD_TOPICS = re.compile(r"\b(?:topics?|themes?|subjects?)\b|\bwriting\s+about\b|\bwrote\s+about\b|"
                            r"\bpublish(?:ed|ing)?\s+(?:about|on)\s*[?.!]*$|\bdominat\w*|\bcovered\b|\bpopular\b|"
                            r"\bbiggest\b|\bmain\b")
_SUBJECT = re.compile(r"\b(?:about|on|regarding|related\s+to)\s+\w")
_TOPIC_NUMBER = re.compile(r"\btopic\s*#?\s*(-?\d{1,9})\b")

# groups
_COMMON = re.compile(r"\b(?:most\s+(?:common|frequent|popular|prevalent)|top|biggest|largest|main|dominant|"
                     r"dominat\w*|over-?represented|typical|popular|prevalent)\b")
_GROUP_TOPICS = re.compile(r"\b(?:topics?|themes?|subjects?|areas?)\b")
_PUBLISH = re.compile(r"\bwhat\s+(?:does|do|did)\s+(.{1,60}?)\s+(?:mostly\s+|mainly\s+|usually\s+)?"
                      r"(?:publish|write|cover|hold|contain|talk)\w*(?:\s+(?:about|on))?\s*[?.!]*$")
_DIFFER = re.compile(r"\b(?:compare|comparison|differ|differs|different|difference|differences|versus|vs\.?|"
                     r"contrast|distinguish(?:es|ed)?|sets?\s+\S+\s+apart|separates?|unlike)\b")
_BY = re.compile(r"\b(?:by|per|across|for\s+each|each|between)\s+(?:the\s+)?(\w+)")
_BREAKDOWN = re.compile(r"\b(?:break\s*down|breakdown|split|distribution|spread|divided)\b|\btopics?\s+(?:by|per)\b")
_GROUP_NOUNS = ("category", "categories", "section", "sections", "group", "groups", "class", "classes", "field",
                "fields", "source", "sources", "label", "labels", "type", "types", "venue", "venues")
# a group value no facet holds still looks like one: "cs.CV", "the sport section"
_CODE = re.compile(r"(?<![\w.])[a-z][a-z-]{0,15}\.[a-z][a-z-]{0,15}(?![\w.])")
_NAMED_GROUP = re.compile(r"\bthe\s+([\w.-]{2,30})\s+(?:section|category|group|desk|class|channel)\b")


def route(a: Asked) -> Plan | None:
    """A TRENDS or GROUPS plan (or the line that the index holds no dates or groups); None: not such a question."""
    if a.facts is None:
        return None
    return _newest_of_focus(a, a.facts) or _groups(a, a.facts) or _time(a, a.facts) or _follow_up(a, a.facts)


_NEWEST = re.compile(r"\b(?:newest|latest|most\s+recent|recent|oldest|earliest)\b")
EARLIEST = re.compile(r"\b(?:oldest|earliest|first)\b")  # which end a recency question asks for
# what "which ones are the most recent?" says besides its recency: no subject of its own ("first" is left out:
# "the first one" is an item of a list)
_NEWEST_FRAME = frozenset("newest latest most recent oldest earliest ones one papers paper articles article "
                          "documents document stories story works work studies it its this that these those them "
                          "they in of topic theme show me list give".split())


def _newest_of_focus(a: Asked, facts: IndexFacts) -> Plan | None:
    """ "which ones are the most recent?", "show me the latest ones", "the oldest papers in it?" while a topic is in
    focus: that topic's newest (oldest) documents. Read as a time question it was the corpus's growing topics."""
    if a.state.focus_topic is None or not _NEWEST.search(a.q):
        return None
    words = set(re.findall(r"[\w']+", corpus_rules.subject_of(a.question).lower()))
    if words - _NEWEST_FRAME:
        return None
    if not facts.dated:  # the topic's documents, after the line that the documents carry no dates
        return Plan(TOPIC, a.question, [a.state.focus_topic], note=prompts.load("no_dates"))
    when = "earliest" if EARLIEST.search(a.q) else "latest"
    return Plan(SEARCH, a.question, [a.state.focus_topic], when=when)


_WHAT_ABOUT = re.compile(r"^(?:and|but|ok(?:ay)?|so|then|also)?\s*,?\s*(?:(?:what|how)\s+about|and|and\s+for|and\s+in)\s+")
MAX_FOLLOW_UP_WORDS = 8


def _follow_up(a: Asked, facts: IndexFacts) -> Plan | None:
    """After a time or group answer, "and cs.CL?", "what about speech recognition?", "and since March?": the same
    kind of answer for the group, topic or period named."""
    last, q = a.state.last, a.q.rstrip(" ?.!")
    if last is None or last.intent not in (TRENDS, GROUPS) or len(q.split()) > MAX_FOLLOW_UP_WORDS:
        return None
    m = _WHAT_ABOUT.search(q)
    if not m:
        return None
    rest = q[m.end():]
    if last.intent == GROUPS:
        field, values = named_values(rest, facts)
        if not values:
            return None
        kept = [v for v in last.values if v not in values] if last.aspect == "differ" else []
        values = (kept[:1] + values)[:2] if last.aspect == "differ" and len(values) == 1 else values
        return Plan(GROUPS, a.question, aspect=last.aspect if len(values) > 1 or last.aspect != "differ" else "common",
                    facet=field, values=values[:2])
    when = date_phrase(rest)
    if when:
        return Plan(TRENDS, last.query, list(last.topics), aspect=last.aspect, subject=last.subject, when=when,
                    by_meaning=last.by_meaning)
    subject = time_subject(rest)
    if subject and last.aspect == "topic":
        return Plan(TRENDS, subject, aspect="topic", subject=subject, when=last.when, by_meaning=True)
    return None


def from_example(plan: Plan, a: Asked) -> Plan:
    """A plan the example questions routed (``plan.routed_by``) finished by what the index holds: a TRENDS or
    GROUPS plan gets its kind, date phrase and values from the question (or is told the index has no dates
    or groups), and a GLOBAL one about trends becomes a TRENDS plan where the index holds dates."""
    facts = a.facts or IndexFacts()
    if plan.intent == UNANSWERABLE and facts.dated and _DATE_EXAMPLE.search(plan.routed_by):
        # "what year is this paper from?": each document's date is held; its documents answer it
        return Plan(SEARCH, corpus_rules.search_query(a.question), routed_by=plan.routed_by)
    if plan.intent == GLOBAL and plan.aspect in ("", "trends") and facts.dated and \
            (_TRENDY.search(plan.routed_by) or _NEW.search(plan.routed_by)):
        plan = Plan(TRENDS, a.question, routed_by=plan.routed_by)
    if plan.intent == TRENDS:
        if not facts.dated:
            return Plan(UNANSWERABLE, a.question, missing="dates", routed_by=plan.routed_by)
        kind = _time_kind(a.q, a) or ("span" if _SPAN_WORDS.search(a.q) else "growth")
        if kind == "growth" and _DOWN_WORD.search(a.q) and not _UP_WORD.search(a.q):
            kind = "shrinking"
        subject = time_subject(a.question) if kind == "topic" else ""
        return Plan(TRENDS, subject or a.question, aspect=kind, subject=subject, when=date_phrase(a.q),
                    by_meaning=bool(subject), routed_by=plan.routed_by)
    if plan.intent == GROUPS:
        if not facts.facets:
            return Plan(UNANSWERABLE, a.question, missing="groups", routed_by=plan.routed_by)
        field, values = named_values(a.q, facts)
        aspect = "differ" if len(values) >= 2 else "common" if values else "by"
        return Plan(GROUPS, a.question, aspect=aspect, facet=field or next(iter(facts.facets)),
                    values=values[:2] if aspect == "differ" else values[:1], routed_by=plan.routed_by)
    return plan


_DATE_EXAMPLE = re.compile(r"\b(?:dates?|dated|years?|when|published|publication|month)\b")
_SPAN_WORDS = re.compile(r"\b(?:date\s+range|period|span|per\s+(?:day|week|month|quarter|year)|cover)\b")


# -- time -------------------------------------------------------------------------------------------------------
def _time(a: Asked, facts: IndexFacts) -> Plan | None:
    q = a.q
    if facts.dated:  # "which papers were published in 2025?": dates are what this index holds
        missing = corpus_rules.unanswerable(a)
        if missing is not None and missing.missing == "publication dates":
            when = date_phrase(q)
            if not when:
                return Plan(TRENDS, a.question, aspect="span")
            subject = count_subject(corpus_rules.subject_of(without_date(a.question)))
            if not subject:  # no subject: how many the period holds, with examples of them
                return Plan(COUNT, a.question, when=when)
            return Plan(SEARCH, subject, subject=subject, when=when, asked=a.question)
    kind = _time_kind(q, a)
    if kind is None:
        return None
    if not facts.dated:
        if kind == "span" and corpus_rules.unanswerable(a) is not None:
            return None  # "when were these published?": what no document holds, said as before
        if kind == "span":
            return Plan(UNANSWERABLE, a.question, missing="dates")
        if kind == "growth" and _TRENDY.search(q) and not _GROWTH.search(q):
            return None  # "emerging trends": the global answer, with its note that there are no dates
        return undated_subject(a.question) or Plan(UNANSWERABLE, a.question, missing="dates")
    when = date_phrase(q)
    if kind == "new" and a.state.focus_topic is not None and _IN_IT.search(q):  # "what's new in it?"
        return Plan(TRENDS, a.question, [a.state.focus_topic], aspect="topic", when=when)
    if kind == "topic":
        numbers = [int(n) for n in _TOPIC_NUMBER.findall(q) if int(n) in a.known]
        subject = "" if numbers else time_subject(a.question)
        return Plan(TRENDS, subject or a.question, numbers[:1], aspect="topic", subject=subject, when=when,
                    by_meaning=not numbers)
    if kind == "growth" and _DOWN_WORD.search(q) and not _UP_WORD.search(q):
        kind = "shrinking"
    return Plan(TRENDS, a.question, aspect=kind, when=when)


# asking for documents or methods ("which methods model change over time", "papers on the evolution of X"):
# a search, whatever time words its subject holds, unless it asks what grew
_SEARCH_FRAME = re.compile(r"^\s*(?:which|what)\s+(?:\w+\s+)?(?:methods?|papers?|models?|approaches|techniques?|works?|"
                           r"studies|articles?|documents?|algorithms?|datasets?)\b|^\s*(?:find|show|give|list|get)\b|"
                           r"^\s*(?:papers?|articles?|documents?|works?|studies)\s+(?:on|about|from|in)\b")


_IN_IT = re.compile(r"\b(?:in|of|for|from|within|inside)\s+(?:it|that|this|that\s+topic|this\s+topic|the\s+same\s+topic)\s*[?.!]*$")


def _time_kind(q: str, a: Asked) -> str | None:
    if _SPAN.search(q):
        return "span"
    names_topic = bool(_TOPIC_NUMBER.search(q))
    if _SEARCH_FRAME.search(q) and not _GROWTH.search(q) and not _NEW.search(q) and not names_topic:
        return "period" if date_words.names_date(q) and _period_topics(q) else None
    how = _HOW_CHANGED.search(q) or _HOW.search(q)
    if how and _CHANGED.search(q, how.end()) or _TREND_OF.search(q) and (names_topic or _subject_left(a)):
        return "topic" if names_topic or _subject_left(a) else "growth"
    if _GROWTH.search(q):
        return "topic" if names_topic or (_subject_left(a) and _ABOUT_ONE.search(q)) else "growth"
    if _NEW.search(q):  # "what's new in topic 2?": that topic over time, not the corpus's new topics
        return "topic" if names_topic else "new"
    if _TRENDY.search(q) and not _SUBJECT.search(q):
        return "growth"
    if date_words.names_date(q) and _period_topics(q):
        return "period"
    return None


def _period_topics(q: str) -> bool:
    """ "the main topics in 2025", "what were people writing about in May": a period's topics, no subject."""
    undated = without_date(q)
    return bool(_PERIOD_TOPICS.search(q) or _PUBLISHED_ABOUT.search(undated)) and \
        not _SUBJECT.search(_strip_publish(undated))


_PUBLISHED_ABOUT = re.compile(r"\b(?:writing|wrote|write|published|publish|publishing|talking|talked|talk)\s+(?:about|on)"
                              r"(?:\s+(?:the\s+)?most(?:ly)?)?\s*[?.!]*$")


def _strip_publish(q: str) -> str:
    """ "what did people publish about most?": no subject, whatever "about" says."""
    return _PUBLISHED_ABOUT.sub("", q.strip())


_TIME_WORDS = re.compile(r"\b(?:how|has|have|had|did|do|does|is|are|was|were|the|a|an|topic|topics|theme|on|about|of|for|"
                         r"in|changed?|changing|evolved?|evolving|developed|developing|shifted|shifting|moved|grown|"
                         r"progressed|over|time|trends?|interest|popularity|rising|falling|growing|shrinking|declining|"
                         r"or|and|show|me|tell|timeline|history|since|lately|recently|years|months|weeks|"
                         r"increasing|decreasing|research|work|papers|field|area|what|which|who|becoming|become|"
                         r"became|getting|gotten|got|less|more|popular|common|lately|now|so|far|been|being|much|"
                         r"people|published|publishing|written|writing|say|says|it|its|there|up|down|going|gone|"
                         r"increased|decreased|grew|grows|rose|risen|rises|declined|declines|fallen|fell|falls|"
                         r"dropped|dropping|gained|gaining|lost|losing|ground|steam|took|take|taking|off|faded|fading|"
                         r"shrank|shrunk|waning|booming|surging|surged|picked|picking)\b",
                         re.IGNORECASE)


def undated_subject(question: str) -> Plan | None:
    """ "how has federated learning changed?" where the documents carry no dates: what they say about federated
    learning, after the line that they carry none (a user asking about a subject wants the subject, not only
    the refusal); None when the question names no subject ("what is growing?", "what's new?")."""
    subject = corpus_rules.search_query(time_subject(question))
    if not any(w not in _VAGUE for w in re.findall(r"[a-z]{4,}", subject.lower())):
        return None
    return Plan(SEARCH, subject, subject=subject, note=prompts.load("no_dates"))


# what is left of "how did things change?", "which topics grew the most?" once the time words are out: no subject
_VAGUE = frozenset("things thing stuff everything anything something most more much what which where when there "
                   "these those they them their topics topic themes theme documents papers articles stories field "
                   "fields area areas subject subjects corpus collection overall general".split())


def time_subject(question: str) -> str:
    """The subject of "how has the topic on diffusion models changed?": "diffusion models"; "" if none."""
    text = _DATE_PHRASES.sub(" ", question.lower())
    return " ".join(_TIME_WORDS.sub(" ", text).replace("?", " ").split()).strip(" .,!;:")


def _subject_left(a: Asked) -> bool:
    return bool(time_subject(a.question))


_DATE_PHRASES = re.compile(r"\b(?:since|after|from|before|until|in|during|of|over\s+the|the)?\s*(?:"
                           r"(?:last|past|previous|this)\s+(?:\d{1,3}\s+|two\s+|three\s+|six\s+|twelve\s+)?"
                           r"(?:days?|weeks?|months?|quarters?|years?)|" + date_words.MONTH +
                           r"(?:\s+\d{4})?|q[1-4](?:\s*\d{4})?|\d{4}(?:-\d{2}(?:-\d{2})?)?)\b", re.IGNORECASE)


def date_phrase(q: str) -> str:
    """The question's date phrases as written ("since january", "in 2025"); "" if none."""
    if not date_words.names_date(q):
        return ""
    found = [m.group().strip() for m in _DATE_PHRASES.finditer(q) if m.group().strip()]
    return " ".join(found)


_DANGLING = re.compile(r"(?:\s+(?:from|in|since|during|of|dated|published|before|after|until)|\s*-)+\s*$|^\s*-\s*",
                       re.IGNORECASE)


def without_date(question: str) -> str:
    """``question`` with its date phrases taken out (what a search restricted to them embeds)."""
    return _DANGLING.sub("", " ".join(_DATE_PHRASES.sub(" ", question).split()))


def without_values(text: str, values: list[str]) -> str:
    """``text`` without the group values it names ("cs.CV papers on detection": "papers on detection")."""
    for value in values:
        text = re.sub(r"(?<![\w.])" + re.escape(value) + r"(?![\w])", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


_COUNT_FRAME = re.compile(r"\b(?:were|was|are|is|published|released|written|dated|posted|listed|submitted|from|in|"
                          r"during|there|since|total|altogether|overall|last|this|month|year|week|category|section)\b")


def count_subject(subject: str) -> str:
    """What is left of a count's subject once its period and group are out: "" when it only asked how many
    documents a period or a group holds ("how many papers were published in March?")."""
    return " ".join(_COUNT_FRAME.sub(" ", subject).split()).strip(" .,!?;:")


# -- groups -------------------------------------------------------------------------------------------------------
MAX_NAMED_VALUES = 2000  # a facet's most common values recognised by name in a question (an author field may hold 100k)


@functools.lru_cache(maxsize=16)
def _values_pattern(values: tuple[str, ...]) -> re.Pattern | None:
    """One pattern for a facet's values, longest first, matched case-blind and not inside a longer word."""
    kept = sorted({v.lower() for v in values[:MAX_NAMED_VALUES] if len(v) >= 2}, key=lambda v: (-len(v), v))
    if not kept:
        return None
    return re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(v) for v in kept) + r")(?![\w])")


def named_values(q: str, facts: IndexFacts) -> tuple[str, list[str]]:
    """The facet field and its values the question names, in the order named."""
    best: tuple[str, list[str]] = ("", [])
    for name, values in facts.facets.items():  # the field that holds the most of them (the first of equals)
        pattern = _values_pattern(tuple(values))
        if pattern is None:
            continue
        by_lower = {v.lower(): v for v in reversed(values[:MAX_NAMED_VALUES])}
        found = list(dict.fromkeys(by_lower[m.group()] for m in pattern.finditer(q.lower()) if m.group() in by_lower))
        if len(found) > len(best[1]):
            best = (name, found)
    return best


def _groups(a: Asked, facts: IndexFacts) -> Plan | None:
    q = a.q
    field, values = named_values(q, facts)
    if not values:  # a value the index does not hold, but shaped like one
        text = a.question.lower()  # the same length as ``q``'s letters: the values as typed are read from it
        guessed = [a.question[m.start(): m.end()] for m in _CODE.finditer(text)] or \
            [a.question[m.start(1): m.end(1)] for m in _NAMED_GROUP.finditer(text)]
        field = next(iter(facts.facets), "")
        values = guessed
    breakdown = bool(_BREAKDOWN.search(q)) and any(
        m.group(1) in _GROUP_NOUNS or m.group(1) in facts.facets for m in _BY.finditer(q))
    differ = bool(_DIFFER.search(q)) and len(values) >= 2
    common = bool(values) and (bool(_COMMON.search(q) and _GROUP_TOPICS.search(q))
                               or bool(_PUBLISH.search(q)) or bool(_NAMED_GROUP.search(q) and _GROUP_TOPICS.search(q)))
    if not (breakdown or differ or common):
        return None
    if not facts.facets:
        return Plan(UNANSWERABLE, a.question, missing="groups")
    aspect = "by" if breakdown and not values else "differ" if differ else "common"
    return Plan(GROUPS, a.question, aspect=aspect, facet=field, values=values[:2] if differ else values[:1])
