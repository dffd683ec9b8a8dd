"""Answers about time and groups, written from the index's stored counts alone (no model call).

What grew or shrank, what is new since a date, how one topic moved, a period's topics, when the
documents were written; a group's topics ("most common in cs.CV"), how two groups differ, the topics
per group. Every number is read or computed here from ``indexing.trends.Trends`` (counts per topic x
period and per topic x facet value, kept with the generation), with ``indexing.trends.changes`` for the
test of whether a change is more than noise; the cited documents come from the period or the group
asked about (``Snapshot.search_within``).
"""

from __future__ import annotations

from topictalk.agent.context import Builder, Context
from topictalk.indexing import trends as tr

TOP = 5  # topics per list (grew, shrank, a period's, a group's)
DIFFER_TOP = 4  # topics over-represented on each side of a comparison of two groups
# "the latest papers on X": the newest of this many documents nearest X (farther ones are rarely on X)
NEWEST_POOL = 20
ROW_MAX = 24  # periods printed one by one in a topic's row; more: the newest this many
SPARK = "▁▂▃▄▅▆▇█"
NO_DATES = ("This index has no dates: its documents were indexed without a date field, so it cannot count what "
            "grew, shrank or is new (re-index with --date-field NAME).")
NO_GROUPS = ("This index has no groups: its documents were indexed without a facet field such as a category, so it "
             "cannot count topics per group (re-index with --facet-field NAME).")


# -- the periods a question names -------------------------------------------------------------------------
def span_of(trends, when: str) -> tuple[str, str] | None:
    """The index's periods a date phrase names ("latest", "earliest": its newest, its first period); None
    when it names none the index holds."""
    if trends is not None and trends.dated and when in ("latest", "earliest"):
        label = trends.periods[-1] if when == "latest" else trends.periods[0]
        return label, label
    return tr.resolve_period(trends, when[:200]) if when and trends is not None and trends.dated else None


def span_text(span: tuple[str, str]) -> str:
    return span[0] if span[0] == span[1] else f"{span[0]} to {span[1]}"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _label(builder: Builder, topic: int) -> str:
    t = builder.index.by_id.get(topic)
    return f"**{t.label}** (topic {topic})" if t else f"topic {topic}"


def _cite(builder: Builder, wanted: list[tuple[int, str | None, tuple[str, str] | None]]) -> list:
    """One document per (topic, period, facet): the nearest its topic's centre within that period or group."""
    docs, seen = [], set()
    for topic, period, facet in wanted:
        t = builder.index.by_id.get(topic)
        if t is None or t.embedding is None:
            continue
        hits = builder.index.search_within(t.embedding, 1, topic=topic, period=period, facet=facet)
        for h in hits:
            if h.document.id not in seen:
                seen.add(h.document.id)
                docs.append(h.document)
    return docs


def _shown(builder: Builder, plan) -> set[int]:
    """ "show me more" after a list of topics: the topics it listed are skipped."""
    return set(builder.state.listed_topics) if plan.more else set()


def _finish(plan, lines: list[str], builder: Builder, docs: list, topics: list[int], head: str = "") -> Context:
    sources = builder.plain_sources(docs)
    if sources:
        lines.append((head or "From the periods and groups asked about:") + "\n" + "\n".join(
            f"- {s.title or s.snippet} ({_where(d)}) [{s.n}]" for s, d in zip(sources, docs)))
    ctx = Context(plan, None, lead="\n\n".join(lines), sources=sources, numbered="topics")
    ctx.topics = topics
    return ctx


def _where(doc) -> str:
    parts = [doc.date or doc.period or ""]
    return ", ".join(p for p in parts if p) or "undated"


# -- time --------------------------------------------------------------------------------------------------
def time(builder: Builder, plan, question, vector) -> Context:
    trends = builder.index.trends()
    if trends is None or not trends.dated:
        return Context(plan, None, lead=NO_DATES)
    span = span_of(trends, plan.when)
    if plan.when and span is None:
        return Context(plan, None, lead=f"The index holds no documents dated \"{plan.when}\": its dates run from "
                                        f"{trends.periods[0]} to {trends.periods[-1]} (by {trends.period}).")
    if plan.aspect == "span":
        return _dates(builder, plan, trends)
    if plan.aspect == "topic":
        return _topic(builder, plan, trends)
    if plan.aspect == "period":
        return _period(builder, plan, trends, span or (trends.periods[0], trends.periods[-1]))
    return _changes(builder, plan, trends, span)


def _changes(builder: Builder, plan, trends, span) -> Context:
    found = tr.changes(trends, None, span)
    lines = []
    if not found and span and span[0] == trends.periods[0] and span[1] != span[0]:
        # "since 2025" where the index starts in 2025: the span's final third against the rest of it
        lines.append(f"{span_text(span)} is every period the index holds from its start, so its final third is "
                     f"compared with what comes before.")
        found = tr.changes(trends, None, None) if span[1] == trends.periods[-1] else []
    if not found:  # nothing before the span: a period's topics instead
        lines = [f"Nothing in the index comes before {span_text(span or (trends.periods[0], trends.periods[0]))} "
                 f"to compare with: its dates start at {trends.periods[0]}."]
        return _period(builder, plan, trends, span or (trends.periods[0], trends.periods[-1]), lines)
    first, last = found[0].first, found[0].last
    shown = _shown(builder, plan)
    grew = [c for c in found if c.delta > 0 and c.topic not in shown][:TOP]
    shrank = sorted((c for c in found if c.delta < 0 and c.topic not in shown), key=lambda c: (c.delta, c.topic))[:TOP]
    if shown and not grew and not shrank:
        return Context(plan, None, lead="No more topics: every topic that grew or shrank was listed.")
    sections = [("Shrinking", shrank), ("Growing", grew)] if plan.aspect == "shrinking" else \
        [("Growing", grew), ("Shrinking", shrank)]
    for name, rows in sections:
        if not rows:
            lines.append(f"{name} ({span_text(last)} vs {span_text(first)}): no {'other ' if shown else ''}topic.")
            continue
        lines.append(f"{name} ({span_text(last)} vs {span_text(first)}):\n" + "\n".join(
            f"{i}. {_label(builder, c.topic)}: {_pct(c.first_share)} -> {_pct(c.last_share)} of the dated documents "
            f"({c.first_count:,} -> {c.last_count:,}), {_noise(c)}" for i, c in enumerate(rows, start=1)))
    real = [c for c in found if c.significant]
    if real:
        lines.append(f"{len(real)} of the {len(found)} topics changed by more than noise: "
                     + ", ".join(f"topic {c.topic} ({c.direction})" for c in real[:8]) + ".")
    else:
        lines.append(f"No topic's change is more than noise: with {found[0].first_total:,} and {found[0].last_total:,} "
                     f"dated documents in the two spans, shifts this size can come from chance alone.")
    lines.append(f"Shares are of all dated documents in each span ({found[0].first_total:,} in {span_text(first)}, "
                 f"{found[0].last_total:,} in {span_text(last)}). A change is more than noise when its p-value "
                 f"(Fisher's exact test for small counts, else the two-proportion z-test), adjusted by Holm's method "
                 f"over the {len(found)} topics, is below {tr.ALPHA}.")
    lead_rows = sections[0][1]
    docs = _cite(builder, [(c.topic, last[1], None) for c in lead_rows[:3]])
    listed = [c.topic for _, rows in sections for c in rows]  # "show me more" skips both lists
    return _finish(plan, lines, builder, docs, listed,
                   head=f"Documents of {span_text((last[1], last[1]))}, the newest period asked about:")


def _noise(change) -> str:
    if change.significant:
        return f"more than noise (adjusted p = {change.p_adjusted:.2g})"
    return f"within noise (adjusted p = {change.p_adjusted:.2g})"


def _period(builder: Builder, plan, trends, span, lines: list[str] | None = None) -> Context:
    a, b = trends.periods.index(span[0]), trends.periods.index(span[1])
    total = sum(trends.totals()[a: b + 1])
    ranked = sorted(((sum(row[a: b + 1]), t) for t, row in trends.counts.items() if t != -1), key=lambda x: (-x[0], x[1]))
    ranked = [(n, t) for n, t in ranked if n and t not in _shown(builder, plan)][:TOP]
    if not ranked:
        return Context(plan, None, lead=f"No more topics in {span_text(span)}: every topic with documents there was listed.")
    lines = list(lines or [])
    lines.append(f"The biggest topics of {span_text(span)} ({total:,} dated documents):\n" + "\n".join(
        f"{i}. {_label(builder, t)}: {n:,} documents ({_pct(n / total if total else 0)})"
        for i, (n, t) in enumerate(ranked, start=1)))
    wanted = []
    for n, t in ranked[:3]:  # each topic's document from its busiest period of the span
        row = trends.counts[t][a: b + 1]
        wanted.append((t, trends.periods[a + row.index(max(row))], None))
    docs = _cite(builder, wanted)
    if not docs:  # the biggest topics have no document near their centre in the span: the span's nearest
        periods = trends.periods[a: b + 1]
        docs = [h.document for h in builder.index.search_within(builder.index.embed(plan.query), 2, periods=periods)]
    return _finish(plan, lines, builder, docs, [t for _, t in ranked])


def _dates(builder: Builder, plan, trends) -> Context:
    totals = trends.totals()
    dated = sum(totals)
    busiest = max(range(len(totals)), key=lambda i: (totals[i], i))
    lines = [f"The {dated:,} dated documents (from the field \"{trends.date_field}\") run from {trends.periods[0]} to "
             f"{trends.periods[-1]}, counted by {trends.period} in {len(trends.periods)} periods; the most in "
             f"{trends.periods[busiest]} ({totals[busiest]:,})"
             + (f"; {trends.undated:,} documents have no date." if trends.undated else ".")]
    lines.append(_row(trends.periods, totals))
    return Context(plan, None, lead="\n\n".join(lines))


def _row(periods: list[str], counts: list[int]) -> str:
    """A sparkline of all periods, then the counts of the newest ROW_MAX periods."""
    top = max(counts) or 1
    spark = "".join(SPARK[min(len(SPARK) - 1, (len(SPARK) - 1) * c // top)] if c else " " for c in counts)
    shown = list(zip(periods, counts))[-ROW_MAX:]
    more = f" (the newest {ROW_MAX} of {len(periods)} periods)" if len(periods) > ROW_MAX else ""
    return f"`{spark}`\n" + " · ".join(f"{p}: {c:,}" for p, c in shown) + more


def _topic(builder: Builder, plan, trends) -> Context:
    if not plan.topics:
        return Context(plan, None, lead=f"No topic is about \"{plan.subject or plan.query}\", so the index has no counts "
                                        f"of it over time; ask \"what topics are growing?\" for all of them.")
    topic = plan.topics[0]
    row = trends.counts.get(topic)
    if row is None:
        return Context(plan, None, lead=f"The index holds no counts over time for topic {topic}.")
    lines = [f"{_label(builder, topic)}: {sum(row):,} dated documents, per {trends.period} from {trends.periods[0]} to "
             f"{trends.periods[-1]}:\n" + _row(trends.periods, row)]
    change = next((c for c in tr.changes(trends) if c.topic == topic), None)
    if change is not None:
        moved = {"grew": "it grew", "shrank": "it shrank", "steady": "its share held"}[change.direction]
        lines.append(f"In {span_text(change.last)} against {span_text(change.first)} {moved}: {_pct(change.first_share)} "
                     f"-> {_pct(change.last_share)} of the dated documents ({change.first_count:,} -> "
                     f"{change.last_count:,}), {_noise(change)}.")
    words = trends.words.get(topic) or []
    with_words = [i for i, w in enumerate(words) if w and i < len(row) and row[i]]
    if len(with_words) >= 2:
        early, late = with_words[0], with_words[-1]
        lines.append(f"Its words in {trends.periods[early]}: {', '.join(words[early][:6])}; in "
                     f"{trends.periods[late]}: {', '.join(words[late][:6])}.")
    present = [i for i, c in enumerate(row) if c]
    ends = list(dict.fromkeys([present[0], present[-1]])) if present else []
    docs = _cite(builder, [(topic, trends.periods[i], None) for i in ends])
    return _finish(plan, lines, builder, docs, [topic], head="Documents from its first and newest periods:")


# -- groups ------------------------------------------------------------------------------------------------
def groups(builder: Builder, plan, question, vector) -> Context:
    trends = builder.index.trends()
    if trends is None or not trends.facets:
        return Context(plan, None, lead=NO_GROUPS)
    facet = trends.facets.get(plan.facet) or next(iter(trends.facets.values()))
    totals = facet.totals()
    by_lower = {v.lower(): i for i, v in enumerate(facet.values)}
    missing = [v for v in plan.values if v.lower() not in by_lower]
    if missing:
        known = ", ".join(f"{v} ({n:,})" for v, n in list(zip(facet.values, totals))[:8])
        return Context(plan, None, lead=f"The index's \"{facet.field}\" has no value \"{missing[0]}\"; its most common "
                                        f"values (of {len(facet.values):,}): {known}.")
    columns = [by_lower[v.lower()] for v in plan.values]
    note = (f"; a document with several {facet.field} values counts under each" if facet.multi else "")
    if plan.aspect == "differ" and len(columns) >= 2:
        return _differ(builder, plan, facet, totals, columns[:2], note)
    if columns:
        return _common(builder, plan, facet, totals, columns[0], note)
    return _by(builder, plan, facet, totals, note)


def _ranked(facet, j: int) -> list[tuple[int, int]]:
    """(documents, topic) of value ``j``, most first, the outliers left out."""
    return sorted(((row[j], t) for t, row in facet.counts.items() if t != -1 and row[j]), key=lambda x: (-x[0], x[1]))


def _common(builder: Builder, plan, facet, totals, j: int, note: str) -> Context:
    value, total = facet.values[j], totals[j]
    ranked = [(n, t) for n, t in _ranked(facet, j) if t not in _shown(builder, plan)][:TOP]
    if not ranked:
        return Context(plan, None, lead=f"No more topics in {value}: every topic with documents there was listed.")
    lines = [f"The most common topics in {value} (the field \"{facet.field}\": {total:,} documents{note}):\n" + "\n".join(
        f"{i}. {_label(builder, t)}: {n:,} of the {total:,} documents ({_pct(n / total if total else 0)})"
        for i, (n, t) in enumerate(ranked, start=1))]
    docs = _cite(builder, [(t, None, (facet.field, value)) for _, t in ranked[:3]])
    return _finish(plan, lines, builder, docs, [t for _, t in ranked], head=f"Documents in {value}:")


def _differ(builder: Builder, plan, facet, totals, columns: list[int], note: str) -> Context:
    (a, b), names = columns, [facet.values[j] for j in columns]
    ta, tb = totals[a], totals[b]
    rows = [(row[a] / ta if ta else 0.0, row[b] / tb if tb else 0.0, t, row[a], row[b])
            for t, row in facet.counts.items() if t != -1 and (row[a] or row[b])]
    lines, wanted, shown = [f"{names[0]} has {ta:,} documents and {names[1]} {tb:,}{note}. The topics most "
                            f"over-represented in each, by share of its documents:"], [], []
    for side, (mine, other) in enumerate([(names[0], names[1]), (names[1], names[0])]):
        sign = 1 if side == 0 else -1
        best = sorted((r for r in rows if sign * (r[0] - r[1]) > 0), key=lambda r: (-sign * (r[0] - r[1]), r[2]))
        best = best[:DIFFER_TOP]
        if not best:
            lines.append(f"In {mine}: no topic has a larger share than in {other}.")
            continue
        lines.append(f"More in {mine}:\n" + "\n".join(
            f"- {_label(builder, t)}: {_pct(sa)} of {names[0]} ({na:,}) vs {_pct(sb)} of {names[1]} ({nb:,})"
            for sa, sb, t, na, nb in best))
        wanted.append((best[0][2], None, (facet.field, mine)))
        shown += [r[2] for r in best]
    return _finish(plan, lines, builder, _cite(builder, wanted), shown,
                   head="Documents of each side's most over-represented topic:")


def _by(builder: Builder, plan, facet, totals, note: str) -> Context:
    lines = [f"The biggest topic in each of the {min(len(facet.values), 8)} largest {facet.field} values "
             f"(of {len(facet.values):,}{note}):"]
    items, shown = [], []
    for j, value in enumerate(facet.values[:8]):
        ranked = _ranked(facet, j)
        if ranked:
            n, t = ranked[0]
            items.append(f"- {value} ({totals[j]:,} documents): {_label(builder, t)} {n:,} "
                         f"({_pct(n / totals[j] if totals[j] else 0)})")
            shown.append(t)
    lines[0] += "\n" + "\n".join(items)
    first = _ranked(facet, 0)[:1]
    docs = _cite(builder, [(t, None, (facet.field, facet.values[0])) for _, t in first])
    return _finish(plan, lines, builder, docs, list(dict.fromkeys(shown)), head=f"A document of {facet.values[0]}:")


# -- searches and lists kept to a period or a group ---------------------------------------------------------
def _newest_of(plan) -> str | None:
    """What a search's "latest" ("earliest") reads, for the search and its note alike: "topic", a topic's newest
    documents; "subject", the newest of those nearest its subject; None: the newest period (or a date, a group)."""
    if plan.when not in ("latest", "earliest") or plan.values:
        return None
    return "topic" if plan.topics else "subject" if plan.subject else None


def scope_note(index, plan, hits=()) -> str:
    """The line said before a restricted search's answer: which period and group it searched (for a topic's
    newest or oldest documents, the periods they came from)."""
    newest = _newest_of(plan)
    if newest is not None:
        periods = sorted({h.document.period for h in hits if h.document.period})
        dates = f", dated {span_text((periods[0], periods[-1]))}" if periods else ""
        kind = "newest" if plan.when == "latest" else "oldest"
        if newest == "topic":
            return f"*(The {kind} documents of topic {plan.topics[0]}{dates}.)*"
        return f"*(The {kind} of the {NEWEST_POOL} documents nearest \"{plan.subject}\"{dates}.)*"
    span = span_of(index.trends(), plan.when)
    parts = ([f"dated {span_text(span)}"] if span else []) + \
        ([f"in {plan.facet} {plan.values[0]}"] if plan.values else [])
    return f"*(Searched only the documents {' and '.join(parts)}.)*" if parts else ""


def restricted(index, plan, vector, k: int, exclude: set[str]) -> list:
    """The nearest documents within the period and group a plan names; [] when it names none the index holds.
    A plan with a topic and "latest" ("earliest"): the topic's documents of its newest (oldest) periods, read
    one period at a time from that end until ``k`` are found, newest (oldest) first. With a subject instead:
    the newest (oldest) of the NEWEST_POOL documents nearest it."""
    trends = index.trends()
    newest, latest = _newest_of(plan), plan.when == "latest"
    if newest == "subject":
        # "the latest papers on X": the documents on X, newest first; the newest period alone may hold none on X
        pool = [h for h in index.search(vector, NEWEST_POOL, exclude=exclude) if h.document.date]
        return sorted(pool, key=lambda h: h.document.date, reverse=latest)[:k] if pool else []
    if newest == "topic" and trends is not None and trends.dated:
        found: list = []
        for period in (reversed(trends.periods) if latest else trends.periods):
            found += index.search_within(vector, k - len(found), topic=plan.topics[0], period=period, exclude=exclude)
            if len(found) >= k:
                break
        return found
    span = span_of(trends, plan.when)
    periods = trends.periods[trends.periods.index(span[0]): trends.periods.index(span[1]) + 1] if span else None
    facet = (plan.facet, plan.values[0]) if plan.values else None
    if periods is None and facet is None:
        return []
    return index.search_within(vector, k, periods=periods, facet=facet, exclude=exclude)


def count_in(builder: Builder, plan, vector, pool: int, examples: int) -> Context:
    """ "How many papers were published in March?", "how many are in cs.CV?": the stored count; "how many papers
    about X in 2025?": the documents of that period (or group) near X, counted as a count is, read within it."""
    index, budget = builder.index, builder.budget
    trends = index.trends()
    span = span_of(trends, plan.when)
    if plan.when and span is None:
        return Context(plan, None, lead=f"The index holds no documents dated \"{plan.when}\"" + (
            f": its dates run from {trends.periods[0]} to {trends.periods[-1]}." if trends and trends.dated else "."))
    facet = trends.facets.get(plan.facet) if trends and plan.values else None
    column = facet.values.index(plan.values[0]) if facet and plan.values[0] in facet.values else None
    periods = trends.periods[trends.periods.index(span[0]): trends.periods.index(span[1]) + 1] if span else None
    where = " and ".join(([f"dated {span_text(span)}"] if span else [])
                         + ([f"in {plan.values[0]}"] if column is not None else []))
    if not plan.subject:
        lines = []
        if span:
            a, b = trends.periods.index(span[0]), trends.periods.index(span[1])
            lines.append(f"**{sum(trends.totals()[a: b + 1]):,}** documents are dated {span_text(span)} (of "
                         f"{sum(trends.totals()):,} dated documents).")
        if column is not None:
            lines.append(f"**{facet.totals()[column]:,}** documents are in {plan.values[0]} (the field \"{facet.field}\").")
        if span and column is not None:
            lines.append("The index counts documents per period and per group, not both together.")
        hits = index.search_within(vector, examples, periods=periods,
                                   facet=(plan.facet, plan.values[0]) if column is not None else None)
        return _finish(plan, lines, builder, [h.document for h in hits], [], head="For example:")
    facet_key = (plan.facet, plan.values[0]) if column is not None else None
    near = []
    for period in periods or [None]:  # each period read on its own: a merged top-k would cut the count short
        got = index.search_within(vector, pool, period=period, facet=facet_key)
        near += [h for h in got if h.similarity >= budget.count_similarity]
    near.sort(key=lambda h: -h.similarity)
    lines = [f"**{len(near):,}** documents {where} are about {plan.subject}: counted as those whose similarity to "
             f"\"{plan.subject}\" is at least {budget.count_similarity:.2f} (cosine of their embeddings), so the "
             f"number is an estimate" + (f" (each period read up to its {pool:,} nearest)." if periods else ".")]
    return _finish(plan, lines, builder, [h.document for h in near[:examples]], [], head="The nearest:")
