"""What `topictalk trends` and `topictalk topics --by FIELD` print: topic shares over time, the topics
that grew and shrank most, and the topics of each group; and their JSON forms (docs/trends.md)."""

from __future__ import annotations

import json
import sys

from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import OUTLIER, Topic, biggest_first
from topictalk.indexing.trends import Change, FacetCounts, Trends, changes, rebin, shares

COLUMNS = 12  # periods shown side by side; the latest ones when there are more


def _label(topic: int, by_id: dict[int, Topic], width: int = 34) -> str:
    t = by_id.get(topic)
    text = "outliers" if topic == OUTLIER else (t.label if t else str(topic))
    return text if len(text) <= width else text[: width - 1] + "…"


def _order(trends_counts: dict[int, list[int]], topic_list: list[Topic], top: int) -> list[int]:
    """The biggest topics first (the outlier bin last), at most ``top``."""
    known = [t for t in biggest_first(topic_list) if t.id in trends_counts]
    ids = [t.id for t in known if not t.is_outlier] + [t for t in trends_counts if t not in {k.id for k in known}
                                                       and t != OUTLIER]
    return ids[:top]


def trends_json(trends: Trends, topic_list: list[Topic], moved: list[Change]) -> dict:
    by_id = {t.id: t for t in topic_list}
    share = shares(trends)
    return {"date_field": trends.date_field, "period": trends.period, "periods": trends.periods,
            "totals": trends.totals(), "undated": trends.undated,
            "topics": [{"topic": t, "label": _label(t, by_id, 200), "counts": row,
                        "shares": [round(s, 4) for s in share[t]], "words": trends.words.get(t, [])}
                       for t, row in sorted(trends.counts.items())],
            "changes": [c.as_dict() for c in moved]}


def format_trends(trends: Trends, topic_list: list[Topic], moved: list[Change], top: int = 10) -> str:
    """Topics as rows, periods as columns (each cell the topic's share of the period's dated documents),
    then the topics that grew and shrank most."""
    by_id = {t.id: t for t in topic_list}
    share = shares(trends)
    totals = trends.totals()
    start = max(0, len(trends.periods) - COLUMNS)
    periods = trends.periods[start:]
    ids = _order(trends.counts, topic_list, top)
    width = max([len("documents")] + [len(f"{t} {_label(t, by_id)}") for t in ids])
    cell = max(6, *(len(p) for p in periods))
    lines = [f"Topic shares by {trends.period} (from {trends.date_field}; % of each {trends.period}'s dated documents)"]
    if start:
        lines.append(f"(the last {len(periods)} of {len(trends.periods)} {trends.period}s: --json for all, or "
                     "--period for a coarser one)")
    lines.append(f"{'':<{width}}  " + " ".join(f"{p:>{cell}}" for p in periods))
    for t in ids:
        lines.append(f"{f'{t} {_label(t, by_id)}':<{width}}  "
                     + " ".join(f"{100 * s:>{cell - 1}.1f}%" for s in share[t][start:]))
    lines.append(f"{'documents':<{width}}  " + " ".join(f"{n:>{cell},}" for n in totals[start:]))
    hidden = len([t for t in trends.counts if t != OUTLIER]) - len(ids)
    notes = [f"{hidden} smaller topics not shown (--top N)" if hidden > 0 else "",
             f"{trends.undated} documents without a date" if trends.undated else ""]
    if any(notes):
        lines.append("; ".join(n for n in notes if n))
    lines += ["", *format_changes(moved, by_id, top=max(3, min(top, 5)))]
    return "\n".join(lines)


def format_changes(moved: list[Change], by_id: dict[int, Topic], top: int = 5) -> list[str]:
    if not moved:
        return ["Too few periods to compare."]
    c0 = moved[0]
    span = lambda s: s[0] if s[0] == s[1] else f"{s[0]}..{s[1]}"  # noqa: E731
    lines = [f"Change from {span(c0.first)} ({c0.first_total:,} documents) to {span(c0.last)} "
             f"({c0.last_total:,}); more than noise: Holm-adjusted p < 0.05 (Fisher's exact test for small "
             "counts, else a two-proportion z-test)"]
    grew = [c for c in moved if c.delta > 0][:top]
    shrank = [c for c in reversed(moved) if c.delta < 0][:top]
    for title, rows in (("Grew most", grew), ("Shrank most", shrank)):
        lines.append(f"{title}:")
        if not rows:
            lines.append("  none")
        for c in rows:
            verdict = "more than noise" if c.significant else "within noise"
            lines.append(f"  {c.topic} {_label(c.topic, by_id)}: {c.first_count}/{c.first_total} "
                         f"({100 * c.first_share:.1f}%) -> {c.last_count}/{c.last_total} ({100 * c.last_share:.1f}%), "
                         f"p={c.p_value:.2g} ({c.test}; {c.p_adjusted:.2g} adjusted), {verdict}")
    return lines


def groups_json(name: str, values: list[str], counts: dict[int, list[int]], topic_list: list[Topic],
                multi: bool = False) -> dict:
    """Per value (a facet value or a period), its documents and its topics, biggest first."""
    by_id = {t.id: t for t in topic_list}
    out = []
    for i, value in enumerate(values):
        column = {t: row[i] for t, row in counts.items() if row[i]}
        total = sum(column.values())
        out.append({"value": value, "documents": total,
                    "topics": [{"topic": t, "label": _label(t, by_id, 200), "count": n,
                                "share": round(n / total, 4) if total else 0.0}
                               for t, n in sorted(column.items(), key=lambda kv: (-kv[1], kv[0]))]})
    return {"field": name, "multi": multi, "values": out}


def format_groups(data: dict, top_values: int = 20, top_topics: int = 5) -> str:
    """Per value, its documents and its biggest topics with their counts and shares."""
    values = data["values"]
    note = (" (a document counts under each of its values)" if data.get("multi") else "")
    lines = [f"Topics by {data['field']}{note}"]
    shown = sorted(values, key=lambda v: -v["documents"])[:top_values] if data["field"] != "date" else values
    for v in shown:
        lines.append(f"{v['value']} ({v['documents']:,} documents)")
        for t in [t for t in v["topics"] if t["topic"] != OUTLIER][:top_topics]:
            lines.append(f"  {t['topic']:>4} {t['label'][:50]:<50} {t['count']:>6,} {100 * t['share']:5.1f}%")
    if len(shown) < len(values):
        lines.append(f"... {len(values) - len(shown)} more values (--json for all)")
    return "\n".join(lines)


def facet_groups(facet: FacetCounts, topic_list: list[Topic]) -> dict:
    return groups_json(facet.field, facet.values, facet.counts, topic_list, facet.multi)



def columns_line(columns: dict) -> str:
    """One line on the date and facet columns an index run found."""
    facets = columns.get("facet_fields") or {}
    if not columns.get("date_field") and not facets:
        return ""
    when = f"dates from {columns['date_field']!r}" if columns.get("date_field") else "no date column"
    groups = ", ".join(f"{n!r}{' (multi-valued)' if m else ''}" for n, m in facets.items()) or "none"
    return f"{when}; facets: {groups}"


def dated(reader, args) -> Trends | None:  # noqa: ANN001
    """The index's trends, in the --period asked; None (after saying why on stderr) when it has no dates."""
    got = reader.trends()
    if got is None or not got.dated:
        why = ("was built before topictalk counted topics over time: index it again" if got is None else
               "has no dates: its corpus had no date column (name one with `topictalk index --date-field NAME`)")
        print(f"topictalk: the index at {reader.location} {why}", file=sys.stderr)
        return None
    if getattr(args, "period", None):
        try:
            got = rebin(got, args.period)
        except ValueError as err:
            raise TopictalkError(str(err)) from err
    return got


def trends_command(reader, args) -> int:  # noqa: ANN001
    """`topictalk trends`: exit 1 (a line on stderr) for an index without dates."""
    got = dated(reader, args)
    if got is None:
        return 1
    topic_list = reader.topics()
    moved = changes(got)
    if args.json:
        print(json.dumps(trends_json(got, topic_list, moved), indent=2, ensure_ascii=False))
    else:
        print(format_trends(got, topic_list, moved, top=args.top))
    return 0


def topics_by(reader, args, topic_list: list[Topic]) -> int:  # noqa: ANN001
    """`topics --by FIELD`: the topics of each facet value (or of each period with --by date)."""
    got = reader.trends()
    if args.by == "date":
        got = dated(reader, args)
        if got is None:
            return 1
        data = groups_json("date", got.periods, got.counts, topic_list)
    else:
        facets = got.facets if got is not None else {}
        if args.by not in facets:
            have = ", ".join([*facets, "date"]) if facets else "none (index with --facet-field NAME)"
            raise TopictalkError(f"the index has no facet {args.by!r}: --by takes one of {have}")
        data = facet_groups(facets[args.by], topic_list)
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else format_groups(data))
    return 0
