"""The topic table `topictalk index` and `topictalk topics` print."""

from __future__ import annotations

from indexing.schema import Topic


def info_order(topic_list: list[Topic]) -> list[Topic]:
    """BERTopic's get_topic_info() order: -1 first, then by size."""
    return sorted(topic_list, key=lambda t: (not t.is_outlier, -t.size, t.id))


def summary_rows(topic_list: list[Topic], keywords: int = 4) -> list[tuple[int, int, str, str]]:
    """(Topic, Count, Label, keywords) like BERTopic's get_topic_info()."""
    return [(t.id, t.size, t.label, ", ".join(t.keywords[:keywords])) for t in info_order(topic_list)]


def format_table(rows: list[tuple[int, int, str, str]]) -> str:
    header = ("Topic", "Count", "Label", "Keywords")
    table = [header] + [(str(a), str(b), c, d) for a, b, c, d in rows]
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    return "\n".join(f"{r[0]:>{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in table)

