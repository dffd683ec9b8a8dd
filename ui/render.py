"""What the page shows, as text: the topic table and its search, example questions, answers with sources.

Pure functions over topics and replies, so tests need no server. Every piece
of model or document text goes through :mod:`ui.markup` (answers) or is
escaped here (sources, topic names) before a browser sees it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from topictalk.agent.conversation import Reply, Source
from topictalk.indexing.schema import Brief, Theme, Topic, biggest_first
from topictalk.ui import tables
from topictalk.ui.markup import safe_markdown

# (header, gradio datatype, width) of each column of the topic table, in one list so the table's headers,
# types and widths cannot disagree (four types and widths for five columns hid the Theme column)
TOPIC_TABLE = (("Topic", "number", "6%"), ("Size", "number", "6%"), ("Label", "str", "17%"),
               ("About", "str", "29%"), ("Keywords", "str", "22%"), ("Theme", "str", "12%"),
               ("Subtopics", "str", "8%"))
SHOW_SUBTOPICS = "▸ show"  # the Subtopics cell of a topic: a click there opens its subtopics (ui/topic_tree.py)
TOPIC_COLUMNS = [header for header, _, _ in TOPIC_TABLE]
TOPIC_TYPES = [kind for _, kind, _ in TOPIC_TABLE]
TOPIC_WIDTHS = [width for _, _, width in TOPIC_TABLE]
# the topic search runs outside the queue, once per keystroke: a longer query is cut here, so a 63 kB one
# costs what 200 characters cost (the search box stops typing there too)
MAX_SEARCH_CHARS = 200
STOPPED = '<span class="tt-stopped">(stopped)</span>'
_CITED = re.compile(r"&#91;(\d{1,3})&#93;")  # a citation as ui.markup escapes it: [n]


# -- topics table ---------------------------------------------------------------------
def topic_rows(topics: Sequence[Topic], themes: Sequence[Theme] = (), keywords: int = 8) -> list[list]:
    """One row per real topic (outliers are not a topic one can ask about), grouped by theme: themes
    biggest first, each theme's topics biggest first; "About" is its description's first sentence,
    then the theme's name and the cell that opens its subtopics."""
    return [_topic_row(t, theme, keywords) for theme, members in tables.grouped(list(topics), list(themes))
            for t in members if not t.is_outlier]


def _topic_row(t: Topic, theme: Theme | None, keywords: int) -> list:
    return [t.id, t.size, t.label, tables.short(t.description) if t.description else "",
            ", ".join(t.keywords[:keywords]), theme.label if theme else "", SHOW_SUBTOPICS]


def table_rows(topics: Sequence[Topic], themes: Sequence[Theme] = (), keywords: int = 8) -> list[list]:
    """The Topics tab's table: :func:`topic_rows` under a heading row per theme (no topic id, "Theme: <label>",
    its size, description and words, how many topics), where themes group topics (some theme holds two or
    more); else the topic rows alone."""
    groups = [(theme, [t for t in members if not t.is_outlier])
              for theme, members in tables.grouped(list(topics), list(themes))]
    if not any(theme is not None and len(members) > 1 for theme, members in groups):
        return topic_rows(topics, themes, keywords)
    rows = []
    for theme, members in groups:
        if not members:
            continue
        if theme is not None:
            rows.append(["", theme.size, f"Theme: {theme.label}",
                         tables.short(theme.description) if theme.description else "",
                         ", ".join(theme.keywords[:keywords]),
                         f"{len(members)} topic" + ("s" if len(members) > 1 else ""), ""])
        rows += [_topic_row(t, theme, keywords) for t in members]
    return rows


def topic_of(row: Sequence) -> int | None:
    """The topic id of a table row as the browser sends it back; None for a theme's heading row."""
    try:
        return int(float(row[0])) if row and str(row[0]).strip() else None
    except (TypeError, ValueError):
        return None


def filter_rows(rows: Sequence[Sequence], query: str) -> list[list]:
    """Topic rows whose text holds every word of ``query`` (any column, any case), each theme's heading row
    kept above its topics that match; all rows if empty. Only the first MAX_SEARCH_CHARS characters count."""
    words = (query or "")[:MAX_SEARCH_CHARS].lower().split()
    if not words:
        return [list(r) for r in rows]
    out: list[list] = []
    heading: list | None = None
    for row in rows:
        if topic_of(row) is None:
            heading = list(row)
            continue
        text = " ".join(str(cell) for cell in row if cell != SHOW_SUBTOPICS).lower()
        if all(w in text for w in words):
            if heading is not None:
                out.append(heading)
                heading = None
            out.append(list(row))
    return out


def topic_question(topic_id: int) -> str:
    return f"Tell me about topic {topic_id}"


def example_questions(topics: Sequence[Topic]) -> list[str]:
    """The questions offered as buttons: overview, sizes, a real topic by name, topic 0."""
    examples = ["What is this corpus about?", "What are the biggest topics?"]
    real = biggest_first(t for t in topics if not t.is_outlier)
    if real:
        examples.append(f"Are there topics about {real[0].label}?")
        examples.append(topic_question(min(t.id for t in real)))
    return examples


def welcome(brief: Brief | None, themes: Sequence[Theme], topics: Sequence[Topic], lines: int = 5) -> str:
    """The empty chat's first words: what this corpus is (its brief's paragraph, which names its biggest
    themes, else a list of them or of its topics), then what to do; short enough that the example
    questions under it stay in sight on a phone. Text from the index is escaped like document text."""
    if brief is not None:
        about = [_one_line(brief.text)]
    else:
        groups = biggest_first(themes) or biggest_first(t for t in topics if not t.is_outlier)
        about = ["Its biggest subjects:"] + [f"- **{_one_line(g.label)}** ({g.size:,} documents)"
                                             for g in groups[:lines]]
    return ("### What this collection holds\n" + "\n".join(about) +
            "\n\nAsk about it in your own words, or start with a question below. Answers cite the documents "
            "they rest on as [1], [2] ...")


# -- answers and sources ------------------------------------------------------------------
def _one_line(text: str) -> str:
    # a blank line inside an HTML block would end it and let markdown mangle the rest; brackets are
    # escaped too, so no Markdown image or link could form from document text even outside the block
    return html.escape(" ".join(text.split())).replace("[", "&#91;").replace("]", "&#93;")


def format_sources(sources: Sequence[Source], heading: str = "Sources") -> str:
    """HTML shown under an answer: title, topic label and snippet; the full abstract folds out."""
    if not sources:
        return ""
    items = []
    for s in sources:
        title = _one_line(s.title or s.id)
        topic = f"topic {s.topic}: {_one_line(s.topic_label)}" if s.topic != -1 else "no topic (outlier)"
        full = f"<details><summary>Full text</summary>{_one_line(s.text)}</details>" if s.text else ""
        items.append(f'<div class="tt-source tt-src-{s.n}"><b>[{s.n}] {title}</b> · <i>{topic}</i><br>'
                     f"{_one_line(s.snippet)}{full}</div>")
    return f'<div class="tt-sources"><b>{heading}</b>' + "".join(items) + "</div>"


def linked_citations(markup: str, numbers: Sequence[int]) -> str:
    """Each cited [n] of an answer (escaped by safe_markdown) as a link to its source card below it; the
    page's script opens the card (the link itself goes nowhere: gradio opens links in a new tab)."""
    shown = set(numbers)
    # classes, not data- attributes: gradio's sanitizer keeps classes and drops data-*
    return _CITED.sub(lambda m: f'<a class="tt-cite tt-n-{m[1]}" href="#">{m[0]}</a>'
                      if int(m[1]) in shown else m[0], markup)


def pending_sources(sources: Sequence[Source]) -> str:
    """The sources an answer is being written from, shown under it until it is finished (no footer:
    the footer marks a finished answer)."""
    if not sources:
        return ""
    return f'\n\n<div class="tt-pending">{format_sources(sources, "Reading these sources")}</div>'


def format_topics(topic_ids: Sequence[int], labels: dict[int, str]) -> str:
    if not topic_ids:
        return ""
    names = " · ".join(f"{t}: {_one_line(labels.get(t, ''))}" for t in topic_ids)
    return f'<div class="tt-topics-used"><b>Topics</b> {names}</div>'


def answer_markdown(reply: Reply, labels: dict[int, str]) -> str:
    """The finished answer, then a footer with its sources and the topics it drew on.

    A small model often answers from its sources without writing [n]; then the
    sources it was given are shown under a heading that says so, rather than
    nothing. The footer is always there, empty or not: it marks a finished
    answer (the browser tests wait for it). A stopped answer keeps what was
    written, marked as stopped, with the sources it had cited.
    """
    text = linked_citations(safe_markdown(reply.answer), [s.n for s in reply.sources]) if reply.answer \
        else "(no answer)"
    if reply.answer_source == "stopped":
        text = (text + " " if reply.answer else "") + STOPPED
    if reply.sources or reply.answer_source == "stopped":
        sources = format_sources(reply.sources)
    else:
        sources = format_sources(reply.provided, "Sources given to the model (none cited)")
    return f'{text}\n\n<div class="tt-footer">{sources}{format_topics(reply.topics, labels)}</div>'
