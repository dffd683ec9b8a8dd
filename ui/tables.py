"""The topic table the command line prints, grouped by theme, and its JSON form."""

from __future__ import annotations

from topictalk.indexing.grounding import sentences
from topictalk.indexing.schema import Theme, Topic, biggest_first


def info_order(topic_list: list[Topic]) -> list[Topic]:
    """BERTopic's get_topic_info() order: -1 first, then by size."""
    return sorted(biggest_first(topic_list), key=lambda t: not t.is_outlier)  # stable: then biggest first


def grouped(topic_list: list[Topic], themes: list[Theme]) -> list[tuple[Theme | None, list[Topic]]]:
    """Themes biggest first, each with its topics biggest first; topics of no theme (the outlier bin,
    an index written before themes) come last under None."""
    by_id = {t.id: t for t in topic_list}
    groups = [(theme, [by_id[i] for i in theme.topic_ids if i in by_id]) for theme in themes]
    placed = {t.id for _, members in groups for t in members}
    rest = [t for t in info_order(topic_list) if t.id not in placed]
    return groups + ([(None, rest)] if rest else [])


def format_table(topic_list: list[Topic], themes: list[Theme], keywords: int = 4) -> str:
    """Topic, Count, Label, Keywords rows like BERTopic's get_topic_info(), under a line per theme and
    the first sentence of its description (outside the columns, which it would widen)."""
    rows = [("Topic", "Count", "Label", "Keywords")]
    notes: dict[int, str] = {}  # row index -> the line printed under it
    for theme, members in grouped(topic_list, themes):
        if theme is not None:
            rows.append(("", "", "", ""))
            rows.append((f"T{theme.id}", str(theme.size), f"== {theme.label} ==", ", ".join(theme.keywords[:keywords])))
            if theme.description:
                notes[len(rows) - 1] = short(theme.description)
        rows += [(str(t.id), str(t.size), t.label, ", ".join(t.keywords[:keywords])) for t in members]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for k, (a, b, c, d) in enumerate(rows):
        lines.append(f"{a:>{widths[0]}}  {b:>{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip())
        if k in notes:
            lines.append(" " * (widths[0] + widths[1] + 4) + notes[k])
    return "\n".join(lines)


def short(description: str, limit: int = 110) -> str:
    """A description's first sentence, cut at a word within ``limit`` characters."""
    found = sentences(description)
    first = found[0] if found else description
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " ..."


def as_json(topic_list: list[Topic], themes: list[Theme]) -> dict:
    """``{"topics": [...], "themes": [...]}``: each topic row names its theme's id (None for none)."""
    return {
        "topics": [{"topic": t.id, "count": t.size, "label": t.label, "label_source": t.label_source,
                    "theme": t.theme, "keywords": t.keywords, "keybert": t.keybert, "mmr": t.mmr,
                    "representative_ids": t.representative_ids, "description": t.description,
                    "description_ids": t.description_ids, "description_source": t.description_source}
                   for t in info_order(topic_list)],
        "themes": [{"id": th.id, "label": th.label, "label_source": th.label_source, "size": th.size,
                    "topic_ids": th.topic_ids, "keywords": th.keywords, "description": th.description,
                    "description_ids": th.description_ids, "description_source": th.description_source}
                   for th in themes],
    }
