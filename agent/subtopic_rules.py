"""The router's rules for browsing the depth (issue 27): a topic's subtopics ("what are the subtopics of topic 5?",
"break it down", "what's inside the federated learning topic?") and up a level ("go up a level", "what is that part
of?": the theme of the topic, with its sibling topics).

The topic is the one the question names (by number, or by name: planning finds it by meaning), else the one the
conversation talked about last. Up from a theme, or with nothing in focus, is the top level: the themes (an
overview); down from a theme is its topics (the theme's answer). A short follow-up after one of these answers
("and topic 3?", "what about the reinforcement learning topic?") gets the same kind of answer. A question whose
words go beyond the browsing phrase ("how do transformers break down long documents?") names no topic and is
left to the other rules. Like every routing pattern, each runs in time linear in the question (``router._in_order``).
"""

from __future__ import annotations

import re

from topictalk.agent.intents import OVERVIEW, SUBTOPICS, THEME, UP
from topictalk.agent.plans import Asked, Plan

_SUB = r"sub[- ]?(?:topics?|themes?|areas?|fields?|categor(?:y|ies)|clusters?|groups?|subjects?|divisions?)"
# a browsing phrase that asks for a topic's parts: one that says so outright, and one that does only when the
# question holds nothing else ("what's inside topic 3?", not "which methods are used inside topic 3?")
_DOWN = re.compile(r"\b(?:" + _SUB + r"|break(?:s|ing)?(?:\s+[\w'-]+){0,4}?\s+down|breakdown|split(?:s|ting)?|"
                   r"(?:sub)?divide[sd]?|zoom(?:ing)?\s+in(?:to)?|drill(?:ing)?\s+(?:down|into)|dig\s+deeper|"
                   r"(?:go|step|move)\s+(?:one\s+level\s+|a\s+level\s+)?(?:down|deeper)|(?:a|one)\s+level\s+down|"
                   r"down\s+(?:a|one)\s+level|level\s+down)\b")
_DOWN_WEAK = re.compile(r"\b(?:inside|within|dig\s+into|consists?\s+of|made\s+(?:up\s+)?of|makes?\s+up|parts\s+of|finer|"
                        r"smaller\s+(?:topics|groups|parts|pieces|clusters|subjects)|deeper)\b")
_UP = re.compile(r"\b(?:(?:go|step|move|going|back)\s+(?:back\s+)?up|up\s+(?:a|one)\s+level|(?:a|one)\s+level\s+up|"
                 r"level\s+up|zoom(?:ing)?\s+(?:back\s+)?out|level\s+above|(?:a|one)\s+level\s+higher|"
                 r"(?:which|what)\s+(?:\w+\s+)?theme\b(?!s)|in\s+which\s+theme|theme\s+of\b|parent\s+theme)")
_UP_WEAK = re.compile(r"\b(?:belongs?\s+to|broader|parent|higher\s+level|bigger\s+picture|contains?|containing|"
                      r"part\s+of\s*[?.!]*$)")
# what a browsing question may hold besides its phrase and a pronoun; more words make it a question of its own
_FILLER = re.compile(r"\b(?:" + _SUB + r"|what|whats|which|is|are|does|do|did|can|could|would|you|please|me|for|it|its|s|"
                     r"that|this|these|those|topic|topics|one|the|a|an|of|in|into|to|further|more|now|again|ok|okay|"
                     r"then|so|and|let|us|show|give|tell|list|level|same|there|we|i|want|see|have|has|about|any|some|"
                     r"theme|area|part|parts|consist|consists|made|up|down|make|makes|finer|smaller|broader|bigger|"
                     r"picture|belong|belongs|deeper|go|step|move|back|zoom|out|inside|break|split|drill|dig|subdivide|"
                     r"breakdown|own|kinds?|sorts?|types?|within|inside|where|sits?|fit|fits|here|parent|above|higher|"
                     r"larger|wider|contains?|containing|divide[sd]?|clusters?|groups?|strands?|subjects?|areas?|"
                     r"exists?|several|work|pieces|deeper|we|our)\b|[^\w\s]")
_NUMBER = re.compile(r"\btopics?\s*#?\s*-?\d+")
_TOPIC_WORD = re.compile(r"\s+topic\b")
_THE = re.compile(r"\bthe\s+")
_NAME_AFTER = re.compile(r"\b(?:of|inside|into|in|within)\s+(?!(?:it|its|that|this|them)\b)((?:the\s+)?[\w' -]{2,80})")
_WHAT_ABOUT = re.compile(r"^(?:and|but|ok(?:ay)?|so|then|also)?\s*,?\s*(?:(?:what|how)\s+about|and|and\s+for|and\s+in)\s+")
MAX_NAME_WORDS = 6
MAX_FOLLOW_UP_WORDS = 8


def route(a: Asked) -> Plan | None:
    """A SUBTOPICS or UP plan (or the overview, or a theme, where up or down leads there); None: not such a question."""
    return _follow_up(a) or _up(a) or _down(a)


def _the_x_topic(q: str) -> str:
    """X in "the X topic" (a few words after the last "the" before "topic"), or ""."""
    for m in _TOPIC_WORD.finditer(q):
        start = None
        for start in _THE.finditer(q, max(0, m.start() - 80), m.start()):
            pass
        if start is not None:
            name = _clean(q[start.end(): m.start()])
            if _content(name) and len(name.split()) <= MAX_NAME_WORDS:
                return name
    return ""


def _named(a: Asked, match: re.Match | None) -> str:
    """The topic named by its subject: "the X topic", else what follows the browsing phrase ("the subtopics of X")."""
    name = _the_x_topic(a.q)
    if name or match is None:
        return name
    after = _NAME_AFTER.search(a.q, match.start())
    name = _clean(after.group(1)) if after else ""
    return name if _content(name) else ""


def _clean(name: str) -> str:
    words = [w for w in re.findall(r"[\w'-]+", name) if w not in ("the", "a", "an", "topic", "topics", "please")]
    return " ".join(words[:MAX_NAME_WORDS + 1]).strip()


def _content(text: str) -> list[str]:
    """The words of ``text`` that are not the browsing phrase, pronouns or filler."""
    return _FILLER.sub(" ", text).split()


def _bare(q: str, name: str = "") -> bool:
    """``q`` is the browsing phrase, pronouns and ``name`` only: it asks nothing of its own."""
    return _content(q) == _content(name)


def _topic_plan(a: Asked, intent: str, match: re.Match, outright: bool) -> Plan | None:
    """The plan for the topic the question names, or the one in focus; ``outright``: the phrase asks for the
    level above or below whatever else the question holds, else only when it holds nothing else."""
    if a.numbers:
        return Plan(intent, a.question, a.numbers[:1]) if outright or _bare(_NUMBER.sub(" ", a.q)) else None
    if _NUMBER.search(a.q):  # a topic number the index does not have: the missing-topic answer says so
        return None
    name = _named(a, match)
    if name and len(name.split()) <= MAX_NAME_WORDS and _bare(a.q, name):
        return Plan(intent, name, by_meaning=True, subject=name)
    if not _bare(a.q):
        return None
    state = a.state
    if state.focus_topic is not None:
        return Plan(intent, a.question, [state.focus_topic])
    if intent == UP:  # up from a theme, or from nothing: the top level, the themes
        return Plan(OVERVIEW, a.question)
    if state.focus_theme is not None:  # down from a theme: its topics
        return Plan(THEME, a.question, theme=state.focus_theme)
    return Plan(SUBTOPICS, a.question)  # no topic to open: the answer asks which one


def _up(a: Asked) -> Plan | None:
    m = _UP.search(a.q) or _UP_WEAK.search(a.q)
    if m is None:
        return None
    if a.state.focus_topic is None and a.state.focus_theme is not None and _bare(a.q):
        return Plan(OVERVIEW, a.question)
    return _topic_plan(a, UP, m, m.re is _UP)


def _down(a: Asked) -> Plan | None:
    m = _DOWN.search(a.q) or _DOWN_WEAK.search(a.q)
    if m is None:
        return None
    return _topic_plan(a, SUBTOPICS, m, m.re is _DOWN)


def _follow_up(a: Asked) -> Plan | None:
    """After subtopics or up: "and topic 3?", "what about the reinforcement learning topic?"."""
    last, q = a.state.last, a.q.rstrip(" ?.!")
    if last is None or last.intent not in (SUBTOPICS, UP) or len(q.split()) > MAX_FOLLOW_UP_WORDS:
        return None
    m = _WHAT_ABOUT.search(q)
    if not m:
        return None
    if a.numbers:
        return Plan(last.intent, a.question, a.numbers[:1])
    name = _the_x_topic(q)
    if name:
        return Plan(last.intent, name, by_meaning=True, subject=name)
    return None
