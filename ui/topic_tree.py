"""The Topics tab's third level (issue 27): a click on a topic's "Subtopics" cell opens its subtopics in a
second table under the topic table, without leaving the tab.

A topic's subtopics are found the first time anyone opens it (indexing/subtopics.py), here or in the chat, and
kept: in the index folder's cache, or (an index on a Chroma server) in the TopicIndex's memory, which the chat
and this table share, so a topic is split once. The table never waits for the model: it shows the keyword
headings at once, or the chat model's labels where the chat has already asked for them (then cached). The rows
and headings are pure functions of a ``subtopics.Subtopics``; :func:`panel` and :func:`wire` add the
components and the event to the Blocks being built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from topictalk.indexing.errors import TopictalkError
from topictalk.ui import render
from topictalk.ui.markup import safe_markdown

# (header, gradio datatype, width) of the subtopic table, in one list as render.TOPIC_TABLE
SUBTOPIC_TABLE = (("Subtopic", "str", "8%"), ("Size", "number", "7%"), ("Label", "str", "22%"),
                  ("Keywords", "str", "28%"), ("Central document", "str", "35%"))
SUBTOPIC_COLUMNS = [header for header, _, _ in SUBTOPIC_TABLE]
KEYWORDS = 5  # words shown per subtopic (the chat shows 4, the command line 5)
PROMPT = ("Click a topic's **▸ show** (the Subtopics column) to see the parts it splits into; click anywhere else "
          "in its row to ask the chat about it.")


HEADING_STYLE = "font-weight: 700; background-color: #eef2f7"  # a theme's row over its topics


def topic_frame(rows: Sequence[Sequence]):  # noqa: ANN201 - a pandas Styler
    """The topic table's value: ``rows`` (render.table_rows, filtered or not) with each theme's heading row in bold
    on a tint, so the themes read as headings (gradio shows a Styler's styles in a read-only table)."""
    import pandas as pd

    frame = pd.DataFrame([list(r) for r in rows], columns=render.TOPIC_COLUMNS)
    return frame.style.apply(lambda row: [HEADING_STYLE if render.topic_of(list(row)) is None else ""] * len(row),
                             axis=1)


def subtopic_rows(found, titles: dict[str, str]) -> list[list]:
    """One row per subtopic, biggest first: "3.1", size, label, words, and the title of the document nearest its
    centre (``titles``: document id -> title or opening; "" where unknown)."""
    return [[f"{found.topic}.{p.number}", p.size, p.label, ", ".join(p.keywords[:KEYWORDS]),
             titles.get(p.representative_ids[0], "") if p.representative_ids else ""] for p in found.parts]


def heading(found) -> str:
    """The Markdown above the subtopic table: which topic, how many parts and whose labels; or why it has none.
    Index text (labels) is escaped as document text is."""
    name = f"topic {found.topic}: {found.label}"
    if not found.parts:
        return safe_markdown(f"**{name[0].upper() + name[1:]}** ({found.size:,} documents) has no subtopics: "
                             f"{found.why_none}.")
    labelled = any(p.label_source == "llm" for p in found.parts)
    whose = ("labelled by the chat's model" if labelled else
             f'labelled by their keywords (ask the chat "what are the subtopics of topic {found.topic}?" to have '
             "its model name them)")
    return safe_markdown(f"**Subtopics of {name}** ({found.size:,} documents): {len(found.parts)} parts of its "
                         f"documents' neighbour graph, biggest first, {whose}.")


def opened(snapshot, topic: int, model=None) -> tuple[str, list[list]]:  # noqa: ANN001 - agent.retrieval.Snapshot
    """(heading, rows) for ``topic`` in ``snapshot``: the subtopics the chat's ``model`` labelled if they are kept,
    else the keyword-labelled ones (computed now the first time, then kept for the chat too). Never calls the model."""
    found = (snapshot.cached_subtopics(topic, model) if model is not None else None) or snapshot.subtopics(topic)
    ids = [p.representative_ids[0] for p in found.parts if p.representative_ids]
    docs = snapshot.documents(ids) if ids else []
    titles = {d.id: " ".join((d.title or d.text[:120]).split()) for d in docs}
    return heading(found), subtopic_rows(found, titles)


@dataclass(frozen=True)
class Panel:
    heading: object  # gr.Markdown
    table: object  # gr.Dataframe


def panel(gr) -> Panel:  # noqa: ANN001 - gradio, imported by the app
    """The subtopic heading and table (in the Blocks being built), empty until a topic is opened."""
    import pandas as pd

    shown = gr.Markdown("", elem_id="tt-subtopics-heading")
    table = gr.Dataframe(value=pd.DataFrame([], columns=SUBTOPIC_COLUMNS), headers=SUBTOPIC_COLUMNS,
                         datatype=[kind for _, kind, _ in SUBTOPIC_TABLE], interactive=False, wrap=True,
                         column_widths=[width for _, _, width in SUBTOPIC_TABLE], elem_id="tt-subtopics",
                         visible=False)
    return Panel(shown, table)


def clicked_subtopics(index: Sequence | None) -> bool:
    """Whether a click on the topic table (gradio's ``SelectData.index``: [row, column]) was on its Subtopics cell."""
    return bool(index) and len(index) > 1 and index[1] == render.TOPIC_COLUMNS.index("Subtopics")


def wire(gr, table, shown: Panel, snapshot: Callable, model=None) -> None:  # noqa: ANN001
    """A click on a topic's Subtopics cell fills ``shown``: at once a line saying it is being looked for, then
    the subtopics. ``snapshot()``: the index's newest snapshot. Outside the queue (as the topic search): the
    per-login limit of the model's queue must not refuse a click that needs no model, and a topic is split at
    most once per generation (then kept), one at a time here."""
    import pandas as pd

    computing = threading.Lock()
    opening = gr.State(None)  # the topic the click opens, from the click's step to the one that finds its parts

    def looking(evt):
        topic = render.topic_of(evt.row_value or []) if clicked_subtopics(evt.index) else None
        if topic is None:
            return gr.skip(), None
        return f"Finding the subtopics of topic {topic} ...", topic

    def fill(topic):
        if topic is None:
            return gr.skip(), gr.skip()
        try:
            with computing:
                said, rows = opened(snapshot(), int(topic), model)
        except TopictalkError as err:  # e.g. a topic the table still lists after another process re-indexed
            return safe_markdown(f"No subtopics: {err}"), gr.Dataframe(visible=False)
        return said, gr.Dataframe(value=pd.DataFrame(rows, columns=SUBTOPIC_COLUMNS), visible=bool(rows))

    # gradio passes the click to a parameter annotated with SelectData (postponed annotations are strings)
    looking.__annotations__["evt"] = gr.SelectData
    table.select(looking, None, [shown.heading, opening], queue=False, show_progress="hidden").then(
        fill, opening, [shown.heading, shown.table], queue=False)
