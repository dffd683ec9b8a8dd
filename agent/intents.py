"""What each kind of question gets: one table, intent -> context builder and prompt.

The router (``agent.router``, ``agent.planning``) decides a question's intent once; the
conversation builds its context with the builder this table names (a method of
``agent.context.Builder`` or of a module beside it) and, when the model writes, the
prompt file it names (``prompts/text/<prompt>.txt``). An intent whose prompt is None is
answered from the index alone: no model call, so its first text comes at once.
"""

from __future__ import annotations

from dataclasses import dataclass

BRIEF = "brief"  # what the corpus is about: the index's brief (or one composed from its themes)
OVERVIEW = "overview"  # the biggest (or smallest) themes or topics, as a list
GLOBAL = "global"  # a question about the whole corpus: map over themes/topics, reduce by the model
THEME = "theme"  # one theme (a group of topics) and its topics
TOPIC = "topic"  # one topic
RELATED = "related_topics"  # the topics nearest one topic
FIND_TOPICS = "find_topics"  # "are there topics about X?"
COMPARE = "compare"  # two topics, or two subjects' documents where no topic is about them
COUNT = "count"  # "how many papers are about X?": a number the index computes
LIST = "list"  # "give me 8 papers on X": that many documents, up to a cap, from the index
SEARCH = "search"  # a question answered from the nearest documents
SOURCE = "source"  # one document, or the last reply's sources
UNANSWERABLE = "not_in_documents"  # citation counts, authors, dates: what no document holds
MISSING = "missing_topic"  # "topic 99" where the index has no topic 99
OFF_CORPUS = "off_corpus"  # nothing in the corpus is close to the question
TRENDS = "trends"  # what grew or shrank, what is new, a topic over time, a period's topics: stored counts
GROUPS = "groups"  # a group's topics (a facet value: "cs.CV"), or how two groups differ: stored counts
SUBTOPICS = "subtopics"  # a topic's subtopics, found when first asked and cached (indexing/subtopics.py)
UP = "up"  # up a level: the theme a topic is part of, with its sibling topics
HELP = "help"  # a greeting, thanks, "what can you do?": what to ask, from the index


@dataclass(frozen=True)
class Route:
    # what makes this intent's context: a method of context.Builder, or "module.function" of agent/
    builder: str
    prompt: str | None  # the prompt the model is asked with; None: the index answers alone


TABLE: dict[str, Route] = {
    BRIEF: Route("brief.answer", None),
    OVERVIEW: Route("overview", "ask_overview"),  # an index with themes lists them without the model
    GLOBAL: Route("global_search.answer", "ask_global"),
    THEME: Route("theme", "ask_theme"),
    TOPIC: Route("topic", "ask_topic"),
    RELATED: Route("related_topics", None),
    FIND_TOPICS: Route("find_topics", "ask_find"),
    COMPARE: Route("compare", "ask_compare"),
    COUNT: Route("counts.count", None),
    LIST: Route("counts.list_documents", None),
    SEARCH: Route("search", "ask_search"),
    SOURCE: Route("source", "ask_source"),
    UNANSWERABLE: Route("counts.not_in_documents", None),
    MISSING: Route("missing_topic", None),
    OFF_CORPUS: Route("off_corpus", None),
    TRENDS: Route("trends_answers.time", None),
    GROUPS: Route("trends_answers.groups", None),
    SUBTOPICS: Route("subtopic_answers.subtopics", None),
    UP: Route("subtopic_answers.up", None),
    HELP: Route("help", None),
}
INTENTS = tuple(TABLE)
