"""Answers that browse the depth (issue 27), written from the index (the answer is no model's text): a topic's
subtopics, each with its label, size, words and its most central document, cited; and up a level, the theme a
topic is part of with its sibling topics.

The subtopics come from ``Snapshot.subtopics`` (indexing/subtopics.py): computed the first time a topic is
opened, their labels given by the chat's model in one call, then read from the index folder's cache. After them, "the second one" is the second subtopic's
document (the answer numbers its sources), "go up a level" the theme of the topic, "and topic 3?" topic 3's.
"""

from __future__ import annotations

from topictalk.agent.context import Builder, Context, about, cite_sentences
from topictalk.indexing.schema import Topic

KEYWORDS = 4  # words shown per subtopic
SUGGESTED = 3  # topics named when a question opens none


def _name(topic: Topic) -> str:
    return f"**Topic {topic.id}: {topic.label}** ({topic.size:,} documents)"


def subtopics(builder: Builder, plan, question, vector) -> Context:
    """The subtopics of the plan's topic, biggest first, each citing its most central document."""
    index = builder.index
    if not plan.topics:  # nothing named and no topic in focus: which one?
        biggest = index.real_topics[:SUGGESTED]
        names = "; ".join(f'"what are the subtopics of topic {t.id}?" ({t.label})' for t in biggest)
        return Context(plan, None, lead=f"Which topic should I open? Name one, for example {names}.",
                       topics=[t.id for t in biggest])
    topic = index.by_id[plan.topics[0]]
    found = index.subtopics(topic.id, builder.model)
    if not found.parts:
        sources = builder.plain_sources(index.documents(topic.representative_ids[:1]))
        central = f" Its most central document: {sources[0].title or sources[0].snippet} [1]." if sources else ""
        lead = f"{_name(topic)} has no subtopics: {found.why_none}.{central}"
        return Context(plan, None, lead=lead, sources=sources, topics=[topic.id], numbered="sources")
    by_id = {d.id: d for d in index.documents([p.representative_ids[0] for p in found.parts if p.representative_ids])}
    docs = [by_id[p.representative_ids[0]] for p in found.parts if p.representative_ids and p.representative_ids[0] in by_id]
    sources = builder.plain_sources(docs)
    number = {s.id: s for s in sources}
    lines = []
    for p in found.parts:
        cited = number.get(p.representative_ids[0]) if p.representative_ids else None
        doc = f": {cited.title or cited.snippet} [{cited.n}]" if cited else ""
        lines.append(f"{p.number}. **{p.label}** ({p.size:,} documents; {', '.join(p.keywords[:KEYWORDS])}){doc}")
    head = (f"{_name(topic)} has {len(found.parts)} subtopics, the communities of its documents' neighbour graph "
            "(biggest first, each with its most central document):")
    tail = (f'Ask about "the second one" to read its document, or "go up a level" for the theme topic {topic.id} '
            "is part of.")
    ctx = Context(plan, None, lead="\n".join([head, *lines]) + "\n\n" + tail, sources=sources, numbered="sources")
    ctx.topics = [topic.id]
    return ctx


def up(builder: Builder, plan, question, vector) -> Context:
    """The theme the plan's topic is part of, with its description and its topics (the asked one marked)."""
    index = builder.index
    topic = index.by_id[plan.topics[0]]
    theme = index.theme_of(topic)
    if theme is None:  # an index without themes: topics are the top level
        return Context(plan, None, lead=f"{_name(topic)} is at the top level: this index has no themes above its "
                                        "topics.", topics=[topic.id])
    siblings = index.theme_topics(theme)
    sources = builder.plain_sources(index.documents(list(theme.description_ids)))
    described = cite_sentences(theme.description, list(theme.description_ids), {s.id: s.n for s in sources}) \
        if theme.description else about(theme)
    lines = [f"{i}. Topic {t.id}: **{t.label}** ({t.size:,} documents)" + (" (this one)" if t.id == topic.id else "")
             for i, t in enumerate(siblings, start=1)]
    count = "the only topic" if len(siblings) == 1 else f"one of the {len(siblings)} topics"
    head = (f"Topic {topic.id} (**{topic.label}**) is {count} of the theme **{theme.label}** ({theme.size:,} "
            f"documents). {described}".rstrip())
    ctx = Context(plan, None, lead="\n".join([head, "", *lines]), sources=sources, numbered="topics")
    ctx.topics, ctx.themes = [t.id for t in siblings], [theme.id]
    return ctx
