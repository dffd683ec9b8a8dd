"""The router's rules for questions about the corpus as a whole, its numbers and its limits,
and for bare follow-ups ("and what about defenses?").

Each public rule takes the router's ``Asked`` and returns a :class:`Plan` or None; ``router.RULES``
orders them among the topic rules. Like the router's own patterns, each runs in time linear in the
question (no two unbounded quantifiers trade characters; see ``router._in_order``).
"""

from __future__ import annotations

import re

from topictalk import prompts
from topictalk.agent.intents import BRIEF, COUNT, FIND_TOPICS, GLOBAL, LIST, SEARCH, TOPIC, UNANSWERABLE
from topictalk.agent.plans import Asked, Plan

# -- misspellings: only the words the rules look for are mended, in the copy the rules read --------------
_VOCABULARY = ("topics", "themes", "corpus", "collection", "dataset", "papers", "articles", "documents", "biggest",
               "largest", "smallest", "overview", "summarize", "summary", "compare", "difference", "authors",
               "citations", "directions", "methods", "problems", "disagree", "trends", "emerging", "instead",
               "research", "common", "across", "related", "about")
_WORD = re.compile(r"[a-z]{5,}")


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one letter added, dropped, changed, or two neighbours swapped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return (a[i + 1:] == b[i + 1:] or a[i:] == b[i + 1:] or a[i + 1:] == b[i:]
            or (a[i:i + 2] == b[i:i + 2][::-1] and a[i + 2:] == b[i + 2:]))


def mend(q: str) -> str:
    """``q`` with words of 5+ letters one slip away from a routing word mended ("topcis" -> "topics").

    One edit only: a subject word ("federated", "graphs", "trends") is further than that from every
    routing word, so it is never changed; the search still embeds the question as typed.
    """
    def fix(m: re.Match) -> str:
        word = m.group()
        # a singular ("topic", "paper") is a word of its own, not a slip
        return next((w for w in _VOCABULARY if _one_edit(word, w) and w.rstrip("s") != word.rstrip("s")), word)

    return _WORD.sub(fix, q)


# -- subjects ----------------------------------------------------------------------------------------------
# the frame of a question ("which papers study", "how do people", "what work exists on") says nothing of its
# subject, and embedded with it, it pulls the nearest abstracts toward any that "study" or "propose methods":
# precision@4 of the nearest abstracts on bench/agent.py's questions 0.908 with the frame, 0.942 without
# (0.725 and 0.812 on a held-out set), and off-corpus questions moved no nearer the corpus
_FRAME = re.compile(r"\b(?:(?:articles?|stories|news|reports?|documents?|abstracts?)\s+(?:about|on|regarding|concerning)|"
                    r"which|what|how|are|is|there|do|does|can|any|anything|something|people|researchers|papers?|works?|"
                    r"exists?|study|"
                    r"studies|methods?|approaches|known|about|tell me more|topics?|the|used|use|made|a|an)\b",
                    re.IGNORECASE)
_COUNTING = re.compile(r"\b(?:how many|many|number of|count|give me|show me|list|find|articles?|documents?|abstracts?|"
                       r"(?:what\s+)?(?:share|fraction|percentage|percent|proportion)|"
                       r"stories|texts?|items?|publications?|of them|in the corpus|in this corpus|in the collection|"
                       r"here|these|this|deal with|deals with|discuss(?:es)?|mention(?:s)?|cover(?:s)?|on|in|"
                       r"regarding|concerning|related to|dealing with|some|me|please|and|instead|for|of|to|with|"
                       r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty)\b", re.IGNORECASE)


# a request's opening ("show me", "can you find", "I'm looking for") and the preposition the frame leaves in front
# of the subject ("papers on X" -> "on X"): embedded, "show me on diffusion models" fell under the corpus's
# similarity floor (0.347 against 0.35) on an index that holds diffusion papers
_REQUEST = re.compile(r"^\s*(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:please\s+)?(?:show|give|find|list|get|fetch|"
                      r"search(?:\s+for)?|look(?:ing)?\s+for|i(?:'m|\s+am)?\s+(?:want|need|looking\s+for)"
                      # "I want to know everything about ...", "tell me all about ...": the opening, not the subject
                      r"(?:\s+to\s+(?:know|learn|read|hear|understand))?|tell\s+me)(?:\s+me)?"
                      r"(?:\s+(?:everything|all|more|something|anything))?\b",
                      re.IGNORECASE)
_LEADING = re.compile(r"^(?:on|about|regarding|concerning|for|of|in)\s+", re.IGNORECASE)


def search_query(question: str) -> str:
    """What a search embeds: the question without its frame, or the question when that is all it is."""
    subject = " ".join(_FRAME.sub(" ", _REQUEST.sub(" ", question)).replace("?", " ").replace("¿", " ").split())
    return _LEADING.sub("", subject) or subject or question


def subject_of(question: str) -> str:
    """The subject of a count or list question: without its frame and its counting words; "" if none."""
    return " ".join(_FRAME.sub(" ", _COUNTING.sub(" ", question)).replace("?", " ").replace("¿", " ").split()).strip(" .,!;:")


# -- what the corpus is about -----------------------------------------------------------------------------
_CORPUS = r"(?:corpus|collection|dataset|data\s*set|data|documents|papers|articles|index|abstracts|stories|texts)"
_BRIEF = [
    re.compile(r"what(?:'s| is| are)\s+(?:this|the|these)\s+" + _CORPUS + r"(?:\s+\w+)?\s+about"),
    re.compile(r"\bwhat(?:'s| is)\s+in\s+(?:here|this|it|the\s+" + _CORPUS + r")\s*[?.!]*$"),
    re.compile(r"\bwhat\s+(?:does|do)\s+(?:this|the|these)\s+" + _CORPUS + r"\s+(?:cover|contain|hold|include)\s*[?.!]*$"),
    re.compile(r"\bwhat\s+kinds?\s+of\s+(?:stories|papers|documents|articles|texts|things|content)\s+(?:are|is|does|do)"
               r"\s+(?:in\s+)?(?:here|there|this|these|the|it)\b"),
    # "summarize this dataset", not "summarize the reinforcement learning topic" (a topic's summary)
    re.compile(r"\b(?:summari[sz]e|describe|sum\s+up)\s+(?:this|the|these|it)(?:\s+" + _CORPUS +
               r")?(?:\s+for\s+me)?\s*[?.!]*$"),
    re.compile(r"\b(?:summary|overview|gist)\s+of\s+(?:this|the|these)\s+" + _CORPUS + r"\b"),
    # other languages than the corpus's: Spanish, French, German, Italian, Portuguese
    re.compile(r"de\s+qu[ée]\s+trata|sobre\s+qu[ée]\s+(?:es|son|tratan?)|de\s+quoi\s+(?:parle|traite)|worum\s+geht|"
               r"di\s+(?:cosa|che)\s+(?:parla|tratta)|do\s+que\s+(?:se\s+)?trata|grands?\s+th[èe]mes|"
               r"temas?\s+principales|principales\s+temas|hauptthemen|qu[ée]\s+(?:hay|contiene)\s+(?:aqu[íi]|en)"),
]


def brief(a: Asked) -> Plan | None:
    return Plan(BRIEF, a.question) if any(p.search(a.q) for p in _BRIEF) else None


# -- what no document holds ---------------------------------------------------------------------------------
_MISSING = [
    (re.compile(r"\b(?:most|highly|least|often|frequently|widely)\s+cited\b|\bcitations?\b|\bcitation\s+counts?\b|"
                r"\bh-?index\b|\bimpact\s+factor\b|\bcited\s+(?:the\s+)?most\b"), "citation counts"),
    (re.compile(r"\bauthors?\b|\bwho\s+wrote\b|\bwritten\s+by\b|\baffiliations?\b|\bwhich\s+(?:universit(?:y|ies)|"
                r"labs?|institutions?|companies)\s+(?:wrote|published|are\s+behind|produced)\b"), "authors or affiliations"),
    (re.compile(r"\bwhen\s+(?:were|was|did)\b.{0,80}\b(?:published|written|released|appear|come\s+out)|"
                r"\bpublication\s+(?:dates?|years?)\b|\bwhat\s+years?\b|\bpublished\s+(?:in|before|after|since)\s+\d{4}"),
     "publication dates"),
    (re.compile(r"\b(?:which|what)\s+(?:venues?|journals?|conferences?)\b|\bpublished\s+(?:in|at)\s+(?:which|what)\b"),
     "venues"),
    (re.compile(r"\bmost\s+(?:read|downloaded|viewed|shared|liked)\b"), "readership figures"),
    # "the most important paper": a judgement of impact, which no title or abstract holds
    (re.compile(r"\b(?:most|least)\s+(?:important|influential|significant|impactful|notable|famous|popular)\s+"
                r"(?:papers?|works?|studies|articles?|documents?|publications?)\b|\bbest\s+(?:papers?|articles?)\b"),
     "measures of importance or citations"),
]


def unanswerable(a: Asked) -> Plan | None:
    for pattern, missing in _MISSING:
        if pattern.search(a.q):
            return Plan(UNANSWERABLE, a.question, missing=missing, subject=subject_of(a.question))
    return None


# -- time, on an index without dates: an honest line, then what the index can say ---------------------------
_RECENCY = re.compile(r"\b(?:newest|latest|most\s+recent|recent|oldest|earliest|first|new)\s+(?:papers?|articles?|"
                      r"documents?|work|studies|stories|results|news)\b|"
                      # "which papers on X are the most recent?"
                      r"\b(?:are|is)\s+the\s+(?:most\s+recent|newest|latest|oldest|earliest)(?:\s+ones?)?(?=\s*[?.!]*$)")


def dated(a: Asked) -> Plan | None:
    """ "the latest papers on X": the documents on X, after a line saying the index holds no dates."""
    if not _RECENCY.search(a.q):
        return None
    subject = subject_of(_RECENCY.sub(" ", a.q))
    return Plan(SEARCH, subject or a.question, subject=subject, note=prompts.load("no_dates"))


# -- counts and lists ---------------------------------------------------------------------------------------
_NOUNS = r"(?:papers?|articles?|documents?|abstracts?|studies|works|stories|texts|items|publications|sources|examples)"
HOW_MANY = re.compile(r"\bhow\s+many\s+(?:(?:more|other)\s+)?(?:" + _NOUNS + r"|of\s+(?:them|these|the)|are\s+(?:there|about))\b|"
                       r"\bnumber\s+of\s+" + _NOUNS + r"\b|\bhow\s+much\s+of\s+(?:the|this)\s+" + _CORPUS +
                       r"\b|\bwhat\s+(?:share|fraction|percentage|proportion)\b")
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "a dozen": 12, "thirty": 30, "fifty": 50}
_AMOUNT = re.compile(r"\b(\d{1,6}|" + "|".join(_NUMBER_WORDS) + r")\s+(?:more\s+)?(?:[a-z-]+\s+)?" + _NOUNS + r"\b")
_ASK_FOR = re.compile(r"\b(?:give|show|list|find|name|suggest|recommend|get|want|need|fetch|top|pick|cite)\b")


# "how many?", "how many of them?": of the last turn's subject or the topic in focus (router._about_focus), else
# of the corpus
_HOW_MANY_BARE = re.compile(r"^\s*(?:and\s+)?how\s+many(?:\s+(?:are\s+there|of\s+them|in\s+all|in\s+total|is\s+that))?"
                            r"\s*[?.!]*$")


def counting(q: str) -> bool:
    """Whether a question (lower case) asks how many: with a subject ("how many papers are about X?") or bare."""
    return bool(HOW_MANY.search(q) or _HOW_MANY_BARE.search(q))


def count(a: Asked) -> Plan | None:
    if not counting(a.q):
        return None
    return Plan(COUNT, subject_of(a.question) or a.question, subject=subject_of(a.question))


def list_documents(a: Asked) -> Plan | None:
    amount = _AMOUNT.search(a.q)
    if not amount or not _ASK_FOR.search(a.q, 0, amount.start() + 1) and not a.q.startswith(amount.group(1)):
        return None
    word = amount.group(1)
    number = _NUMBER_WORDS.get(word) or int(word)
    subject = subject_of(a.question)
    return Plan(LIST, subject or a.question, subject=subject, count=number)


# -- questions about the whole corpus -------------------------------------------------------------------------
_ASPECTS = [
    ("disagreements", re.compile(r"\bdisagree|\bcontrovers|\bdebated?\b|\bconflicting\b|\bcontradict|\bdisput")),
    ("problems", re.compile(r"\bopen\s+(?:problems?|questions?|challenges?|issues?)\b|\bunsolved\b|\bfuture\s+work\b|"
                            r"\b(?:main|key|biggest|remaining)\s+(?:challenges|limitations|problems|gaps)\b|"
                            r"\bwhat\s+(?:challenges|limitations|problems)\b")),
    # "growing" as what topics do ("what is growing?"), not a subject's adjective ("growing pains", "growing networks")
    ("trends", re.compile(r"\btrends?\b|\btrending\b|\bemerging\b|\bover\s+time(?![\w-])|\bhot\s+topics?\b|"
                          r"\bgrowing\b(?=\s*(?:$|[?.!,;]|topics?\b|areas?\b|fields?\b|subjects?\b|themes?\b|the\s+most\b|"
                          r"fastest\b|in\b|over\b|since\b|this\b|lately\b|recently\b))|"
                          r"\brecent\s+(?:developments|advances|work)\b|\blatest\s+(?:developments|advances|work)\b")),
    ("methods", re.compile(r"\b(?:methods?|techniques?|approaches|tools|algorithms|models)\b.{0,60}?"
                           r"\b(?:across|common|shared|recur\w*|come\s+up|most\s+used|popular|between|in\s+common)\b")),
    ("directions", re.compile(r"\bresearch\s+(?:directions?|areas|agenda|landscape|lines)\b|\bmain\s+(?:directions?|"
                              r"ideas|lines\s+of\s+(?:work|research)|contributions|findings|questions)\b|"
                              r"\bdirections?\b")),
    ("", re.compile(r"\bmain\s+(?:themes|subjects|ideas|points)\b.{0,40}?\b(?:across|in\s+these|of\s+these|of\s+this)\b|"
                    r"\bacross\s+(?:these|the|all|this)\s+(?:corpus|collection|" + _NOUNS + r")\b|\boverall\b")),
]


def global_question(a: Asked) -> Plan | None:
    for aspect, pattern in _ASPECTS:
        if pattern.search(a.q):
            return Plan(GLOBAL, a.question, aspect=aspect, subject=global_subject(a.question),
                        note=prompts.load("no_dates") if aspect == "trends" else "")
    return None


_GLOBAL_WORDS = re.compile(r"\b(?:main|research|directions?|open|problems?|questions?|challenges?|issues?|limitations|"
                           r"disagree\w*|controvers\w*|debate\w*|trends?|emerging|over time|methods?|techniques?|"
                           r"approaches|come up|across|common|shared|topics?|themes?|corpus|collection|overall|"
                           r"point to|show|future work|these|this|all|key|biggest|recent|latest|developments|advances|"
                           r"gaps|subjects|ideas|findings|unsolved|remaining|overview|summary|picture|give me|tell me|"
                           r"news|stories|articles|papers|documents|corpus|collection|dataset|here|say|says)\b",
                           re.IGNORECASE)


def global_subject(question: str) -> str:
    """A global question's own subject ("open problems in federated learning": federated learning), or ""."""
    return subject_of(_GLOBAL_WORDS.sub(" ", question))


# -- comparisons ---------------------------------------------------------------------------------------------
_VERSUS = re.compile(r"\s+(?:differs?\s+from|different\s+from|compared?\s+(?:to|with)|versus|vs\.?|against|"
                     r"in\s+contrast\s+to)\s+")
_BETWEEN = re.compile(r"\b(?:difference|differences|contrast)\s+between\s+|\bcompare\s+")
_AND = re.compile(r"\s+(?:and|with|to)\s+")


def compared(q: str) -> list[str]:
    """The two subjects of "how does A differ from B?" or "compare A and B", framed words removed; [] if not two."""
    sep = _VERSUS.search(q)
    if sep:
        left, right = q[: sep.start()], q[sep.end():]
    else:
        between = _BETWEEN.search(q)
        rest = q[between.end():] if between else ""
        split = _AND.search(rest)
        if not split:
            return []
        left, right = rest[: split.start()], rest[split.end():]
    sides = [subject_of(_DIFFER.sub(" ", side)) for side in (left, right)]
    return sides if all(sides) else []


_DIFFER = re.compile(r"\b(?:how|does|do|did|is|are|differ(?:s|ed|ent|ence|ences|ing)?|compare[sd]?|comparing|contrast|"
                     r"between|work|research)\b")

# -- bare follow-ups ------------------------------------------------------------------------------------------
_WHAT_ABOUT = re.compile(r"^(?:and|but|ok(?:ay)?|so|then|also)?\s*,?\s*(?:what|how)\s+about\s+")
_AND_FOR = re.compile(r"^(?:and|but|also)\s+(?:for|on|in|with|about|regarding)?\s*")
_INSTEAD = re.compile(r"\s+instead\b|\s+then\b")
_OTHER_SIDE = re.compile(r"^(?:and|but|what about|how about)?\s*(?:the\s+)?(?:other\s+side|opposite|reverse|"
                         r"other\s+way\s+(?:round|around)|counter-?arguments?|the\s+rest)\s*[?.!]*$")
# "the other side" of a subject, where words say it: each word and its opposite (both ways)
_OPPOSITES = {"attack": "defense", "attacks": "defenses", "offense": "defense", "advantages": "disadvantages",
              "benefits": "risks", "pros": "cons", "strengths": "weaknesses", "supporters": "critics",
              "government": "opposition", "labour": "conservatives", "success": "failure", "training": "inference",
              "generation": "detection", "rise": "fall", "gains": "losses", "winners": "losers",
              "supervised": "unsupervised", "theory": "practice", "positive": "negative"}
_OPPOSITES.update({v: k for k, v in list(_OPPOSITES.items())})
_OPPOSITES.update({"defences": "attacks", "defence": "attack"})
_MAX_FOLLOW_UP_WORDS = 8  # longer questions say their own subject


def _opposite(subject: str) -> str:
    return " ".join(_OPPOSITES.get(w, w) for w in subject.split())


def follow_up(a: Asked) -> Plan | None:
    """ "and what about defenses?", "what about X instead?", "and the other side?": the last turn's subject."""
    q, last = a.q.rstrip(" ?.!"), a.state.last
    if len(q.split()) > _MAX_FOLLOW_UP_WORDS or last is None:
        return None
    intent = last.intent if last.intent in (SEARCH, COUNT, LIST, FIND_TOPICS, GLOBAL) else SEARCH
    # a subject to carry over: what a search, count or list was about, or a topic named by its subject
    has_subject = last.intent in (SEARCH, COUNT, LIST, FIND_TOPICS) or bool(last.subject) or \
        (last.intent == TOPIC and last.by_meaning)
    base = (last.subject or last.query) if has_subject else ""
    if _OTHER_SIDE.search(q) and base:
        other = _opposite(base)
        return Plan(intent, other, subject=other, count=last.count, aspect=last.aspect, more=other == base)
    m = _WHAT_ABOUT.search(q) or _AND_FOR.search(q)
    if not m:
        return None
    rest = q[m.end():]
    instead = _INSTEAD.search(rest)
    new = subject_of(rest[: instead.start()] if instead else rest)
    if not new:
        return None
    if instead or not base:  # "what about X instead?": X replaces the subject, the kind of question stays
        return Plan(intent, new, subject=new, count=last.count, aspect=last.aspect)
    # "and what about defenses?": defenses of the last subject; a word the new one opposes leaves it
    kept = " ".join(w for w in base.split() if _OPPOSITES.get(w) not in new.split())
    return Plan(intent if intent != FIND_TOPICS else SEARCH, f"{new} {kept}".strip(), subject=new, count=last.count,
                aspect=last.aspect, blend=kept)


RELATES = re.compile(r"\b(?:relates?|related|relation|relationship|similar|closest|close\s+to|connect(?:ed|s)?|"
                     r"neighbou?r(?:s|ing)?|linked|overlaps?|overlapping|like\s+it|in\s+common|"
                     r"(?:has|have)\s+to\s+do\s+with)\b")
