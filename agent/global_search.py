"""Questions about the whole corpus, by map-reduce over its themes (GraphRAG's global search on our tree).

Map, without the model: each relevant theme (or topic, in an index without themes) gives one point,
the sentence of its description or of its documents that best answers the kind of question asked
(directions, methods, open problems, disagreements), cited by the document it comes from. The
points stream as they are found, so the first one shows early. Reduce, one model call: the model
reads the points (not the abstracts) and writes two or three sentences for the corpus as a whole,
checked like every answer (sentences no point supports are dropped; no retry, the points stand).

CPU budget per question: no model call in the map; it embeds the sentences of at most
``DOCUMENTS_PER_UNIT`` documents of each of at most ``MAP_UNITS`` units (about 130 short sentences,
one MiniLM batch per unit); the reduce reads about 60 tokens per point plus the question and writes
at most the conversation's ``max_tokens``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from topictalk import prompts
from topictalk.agent import attribution
from topictalk.agent.attribution import SourceSentences
from topictalk.agent.context import Builder, Context
from topictalk.indexing.schema import Theme, Topic

MAP_UNITS = 8  # themes (or topics) mapped, the most relevant (for a scoped question) or biggest first
# documents read per unit: its description's, else its most representative (more of them: an open problem
# or a disagreement is stated in few abstracts)
DOCUMENTS_PER_UNIT = 3
POINT_WORDS = 45  # a point longer than this is cut at a word (the reader's time, the reduce's prompt)
# what a point answers, per kind of global question: the unit's sentence nearest this text wins
PROBES = {
    "directions": "In this paper we propose a new approach and show that it improves on previous methods.",
    "trends": "In this paper we propose a new approach and show that it improves on previous methods.",
    "methods": "We use a method based on a neural network model trained with a standard algorithm.",
    "problems": "This remains an open problem; a key limitation and challenge left for future work is.",
    "disagreements": "However, in contrast to prior work and contrary to common belief, we find that.",
}
HEADS = {
    "directions": "The main directions of the corpus, one point from each of {shown}:",
    "trends": "The main directions of the corpus, one point from each of {shown}:",
    "methods": "Methods that come up in the corpus, one from each of {shown}:",
    "problems": "Open problems and limitations the documents state, one from each of {shown}:",
    "disagreements": "Where the documents take a position against other work, one point from each of {shown}:",
    "": "What the corpus says on this, one point from each of {shown}:",
}
def units_for(builder: Builder, plan, vector: np.ndarray) -> list[Theme | Topic]:
    """The themes (or topics) a global question is answered from: for a question with its own subject,
    those near it; else the biggest, up to MAP_UNITS."""
    index = builder.index
    themed = len(index.themes) >= 2
    if plan.subject:
        ranked = index.rank_themes(vector, MAP_UNITS) if themed else index.rank_topics(vector, MAP_UNITS)
        near = [u for u, score in ranked if score >= builder.budget.min_topic_similarity]
        total = len(index.themes) if themed else len(index.real_topics)
        if near and 2 * len(near) <= total:  # a subject some parts are about; else the question is corpus-wide
            return near[:4]
        if not near and ranked:  # no part is about it: its two nearest parts, not one point from every part
            return [u for u, _ in ranked[:2]]  # ("the iraq war" on BBC news had a point from sport)
    return list(index.themes if themed else index.real_topics)[:MAP_UNITS]


def answer(builder: Builder, plan, question, vector) -> Context:
    index = builder.index
    units = units_for(builder, plan, vector)
    per_unit = [_documents_of(builder, u) for u in units]
    docs = {d.id: d for d in index.documents(list(dict.fromkeys(i for ids in per_unit for i in ids)))}
    sources = builder.plain_sources([docs[i] for i in dict.fromkeys(i for ids in per_unit for i in ids) if i in docs])
    kind = "themes" if units and isinstance(units[0], Theme) else "topics"
    total = len(index.themes) if kind == "themes" else len(index.real_topics)
    shown = f"{len(units)} {kind}" if len(units) == total else f"{len(units)} of the {total} {kind}"
    head = HEADS.get(plan.aspect, HEADS[""]).format(shown=shown)
    ctx = Context(plan, None, lead=head + "\n", sources=sources, numbered=kind, synthesis=True)
    if kind == "themes":
        ctx.themes = [u.id for u in units]
    else:
        ctx.topics = [u.id for u in units]
    probe_text = PROBES.get(plan.aspect) or (plan.query if plan.subject else None)
    ctx.prelude = lambda: _map(builder, ctx, units, per_unit, probe_text, question, plan.aspect)
    return ctx


def _documents_of(builder: Builder, unit: Theme | Topic) -> list[str]:
    """The documents a unit's point is taken from: those its description cites, else its most
    representative ones (for a theme, its topics' in turn, biggest topic first)."""
    if unit.description_ids:
        return unit.description_ids[:DOCUMENTS_PER_UNIT]
    if isinstance(unit, Topic):
        return unit.representative_ids[:DOCUMENTS_PER_UNIT]
    lists = [t.representative_ids for t in builder.index.theme_topics(unit)] or [unit.representative_ids]
    turns = [ids[i] for i in range(max(len(ids) for ids in lists)) for ids in lists if i < len(ids)]
    return list(dict.fromkeys(unit.representative_ids[:1] + turns))[:DOCUMENTS_PER_UNIT]


def _map(builder: Builder, ctx: Context, units, per_unit, probe_text: str | None, question: str,
         aspect: str) -> Iterator[str]:
    """The points, one per unit as it is read; then the reduce's prompt, from the points."""
    index = builder.index
    number = {s.id: s for s in ctx.sources}
    probe = index.embed(probe_text) if probe_text else None
    tables, points = [], []
    for unit, ids in zip(units, per_unit):
        mine = [number[i] for i in ids if i in number]
        if not mine:
            continue
        table = SourceSentences.of([(s.n, s.title, s.text) for s in mine], index.embed_many)
        tables.append(table)
        best = _best_sentence(table, _aimed(probe, unit, aspect), quotes=aspect == "disagreements")
        if best is None:
            continue
        sentence, n = best
        point = f"**{unit.label}** ({unit.size:,} documents): {_cut(sentence)} [{n}]"
        points.append(point)
        yield f"- {point}\n"
    ctx.sentences = _joined(tables)
    ctx.focus = [probe if probe is not None else index.embed(question) for _ in ctx.sources]
    if points:
        ctx.user_message = prompts.fill("ask_global", POINTS="\n".join(points), QUESTION=question)
        yield "\n"


# sentences that say nothing of the work (where its code is, what a section holds) are never a point
_BOILERPLATE = re.compile(r"\b(?:code|github|available at|release|https?:|section \d|appendix)\b", re.IGNORECASE)


_QUOTED = re.compile(r"^[\"“‘']|[\"”]\s*,?\s*(?:said|says|added|told)\b")


def _aimed(probe: np.ndarray | None, unit: Theme | Topic, aspect: str) -> np.ndarray:
    """What a unit's point is chosen by: for directions and methods, the kind of sentence asked for and
    what the unit is about, in equal parts (a direction of this theme, not any result sentence); for open
    problems and disagreements, the kind of sentence alone (few abstracts state one at all)."""
    if unit.embedding is None:
        return probe
    if probe is None:  # "the main themes across these articles": each theme's most central sentence
        return unit.embedding
    if aspect not in ("directions", "trends", "methods"):
        return probe
    mixed = probe + unit.embedding
    return mixed / max(1e-9, float(np.linalg.norm(mixed)))


def _best_sentence(table: SourceSentences, probe: np.ndarray, quotes: bool = False) -> tuple[str, int] | None:
    """The sentence of the table's sources nearest ``probe`` (the kind of point asked for), and its source;
    a quoted remark (news) is a point only of a disagreement, elsewhere it is one person's view."""
    rows = [r for r in np.flatnonzero(~table.titles) if not _BOILERPLATE.search(table.texts[r])
            and attribution.words(table.texts[r]) >= attribution.MIN_CLAIM_WORDS
            and (quotes or not _QUOTED.search(table.texts[r]))]
    if not rows:
        return None
    row = rows[int(np.argmax(table.vectors[rows] @ probe))]
    return table.texts[row], int(table.owners[row])


def _cut(sentence: str) -> str:
    words = sentence.split()
    return sentence if len(words) <= POINT_WORDS else " ".join(words[:POINT_WORDS]) + " …"


def _joined(tables: list[SourceSentences]) -> SourceSentences:
    if not tables:
        return SourceSentences([], np.zeros(0, np.int64), np.zeros(0, bool), np.zeros((0, 1), np.float32))
    return SourceSentences([t for s in tables for t in s.texts], np.concatenate([s.owners for s in tables]),
                           np.concatenate([s.titles for s in tables]), np.vstack([s.vectors for s in tables]))
