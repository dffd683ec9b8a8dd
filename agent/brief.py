"""What the corpus is about: its brief, streamed from the index at once, with no model call.

The index writes a brief at index time (``indexing.schema.Brief`` in the generation's manifest:
a paragraph and one line per theme, each resting on documents). An index written before briefs
existed gets one composed here from its themes (or topics): each theme's description, else its
topics and words, and one of its documents, cited. Either way every theme is named with what it
covers, and every line cites the documents it rests on.
"""

from __future__ import annotations

from topictalk.agent import attribution
from topictalk.agent.context import Builder, Context, Source, about, cite_sentences
from topictalk.indexing.schema import Brief, Theme, Topic

MAX_LINES = 12  # themes (or topics) named one per line; the rest are counted in one line
DOCUMENTS_PER_LINE = 2  # citations per line of a brief read from the index


def answer(builder: Builder, plan, question, vector) -> Context:
    index = builder.index
    units: list[Theme | Topic] = list(index.themes) or index.real_topics
    brief = Brief.from_dict(index.manifest.get("brief"))
    if brief is not None:
        return _from_index(builder, plan, brief)
    n_documents = sum(t.size for t in index.topics)
    shown = units[:MAX_LINES]
    ids = [_example(u) for u in shown]
    wanted = [i for u, first in zip(shown, ids) for i in (u.description_ids if u.description else [first]) if i]
    sources = builder.plain_sources(index.documents(list(dict.fromkeys(wanted))))
    number = {s.id: s.n for s in sources}
    themes = bool(index.themes)
    head = (f"This corpus holds {n_documents:,} documents in {len(index.real_topics)} topics"
            + (f", grouped into {len(units)} themes" if themes else "") + ". What each "
            + ("theme" if themes else "topic") + " covers, biggest first:")
    lines = [head]
    for unit, doc_id in zip(shown, ids):
        lines.append(_line(builder, unit, number.get(doc_id), {s.n: s for s in sources}))
    rest = units[MAX_LINES:]
    if rest:
        lines.append(f"- and {len(rest)} smaller {'themes' if themes else 'topics'} "
                     f"({sum(u.size for u in rest):,} documents): {', '.join(u.label for u in rest)}.")
    return _context(plan, "\n".join(lines), sources, units, themes)


def _example(unit: Theme | Topic) -> str | None:
    ids = unit.description_ids or unit.representative_ids
    return ids[0] if ids else None


def _line(builder: Builder, unit: Theme | Topic, n: int | None, sources: dict[int, Source]) -> str:
    if isinstance(unit, Theme):
        topics = builder.index.theme_topics(unit)
        parts = f"; topics: {', '.join(t.label for t in topics[:4])}" if len(topics) > 1 else ""
    else:
        parts = ""
    text = f"- **{unit.label}** ({unit.size:,} documents{parts}): "
    if unit.description:  # written at index time, each sentence grounded in the document it cites
        return text + cite_sentences(unit.description, unit.description_ids, {s.id: s.n for s in sources.values()})
    text += about(unit)
    if n is not None:
        source = sources[n]
        text += f' For example: "{source.title or _first_sentence(source.text)}" [{n}].'
    return text


def _first_sentence(text: str) -> str:
    found = attribution.sentences(text)
    return found[0] if found else text[:200]


def _from_index(builder: Builder, plan, brief: Brief) -> Context:
    index = builder.index
    wanted = list(dict.fromkeys(i for line in brief.themes for i in line.document_ids[:DOCUMENTS_PER_LINE]))
    sources = builder.plain_sources(index.documents(wanted))
    number = {s.id: s.n for s in sources}
    themes = index.themes_by_id
    lines = [brief.text.strip()]
    for line in brief.themes:
        theme = themes.get(line.theme)
        label = f"**{theme.label}** ({theme.size:,} documents)" if theme else f"**Theme {line.theme}**"
        cites = "".join(f" [{number[i]}]" for i in line.document_ids[:DOCUMENTS_PER_LINE] if i in number)
        lines.append(f"- {label}: {line.text.strip()}{cites}")
    units = [themes[line.theme] for line in brief.themes if line.theme in themes]
    return _context(plan, "\n".join(lines), sources, units, True)


def _context(plan, text: str, sources: list[Source], units, themes: bool) -> Context:
    ids = [u.id for u in units]
    ctx = Context(plan, None, lead=text, sources=sources, numbered="themes" if themes else "topics")
    if themes:
        ctx.themes = ids
    else:
        ctx.topics = ids
    return ctx
