"""Numbers and limits the index answers itself: how many documents are about X, N documents on X,
and a plain line for what no document holds (citation counts, authors, dates).

No model call: a count is computed, a list is the nearest documents, and a question about
something the index does not hold is told so rather than answered with documents.
"""

from __future__ import annotations

from topictalk import prompts
from topictalk.agent import attribution, retrieval, trends_answers
from topictalk.agent.context import Builder, Context

COUNT_POOL = 2000  # a count reads at most this many nearest documents (it says "at least" when all pass)
COUNT_EXAMPLES = 3  # the nearest documents a count cites
LIST_WORDS = 30  # each listed document's first sentence, cut at this many words


def count(builder: Builder, plan, question, vector) -> Context:
    index, budget = builder.index, builder.budget
    if plan.when or plan.values:  # in a period or a group: from the stored counts, or counted within it
        return trends_answers.count_in(builder, plan, vector, COUNT_POOL, COUNT_EXAMPLES)
    total = sum(t.size for t in index.topics)
    subject = plan.subject or plan.query
    if not plan.subject:  # "how many papers are there?"
        lead = (f"The corpus holds **{total:,}** documents in {len(index.real_topics)} topics"
                + (f" and {len(index.themes)} themes." if index.themes else "."))
        return Context(plan, None, lead=lead)
    pool = min(total, COUNT_POOL)
    hits = index.search(vector, pool)
    near = retrieval.near_or_named(hits, subject, budget.count_similarity)
    at_least = "at least " if len(near) == pool < total else ""
    topics = [(t, s) for t, s in index.rank_topics(vector, 3) if s >= budget.topic_match_similarity]
    sources = builder.plain_sources([h.document for h in near[:COUNT_EXAMPLES]])
    share = f"{at_least}{len(near) / max(total, 1):.1%}"  # "what share/percentage ...?" is answered by it too
    lines = [f"**{at_least}{len(near):,}** of the {total:,} documents are about {subject} ({share}): counted as the documents "
             f"whose similarity to \"{subject}\" is at least {budget.count_similarity:.2f} (cosine of their "
             f"embeddings; 1 is identical) or that name it word for word, so the number is an estimate of how much "
             f"of the corpus is near it."]
    if topics:
        named = "; ".join(f"topic {t.id} **{t.label}** ({t.size:,} documents)" for t, _ in topics)
        lines.append(f"The topics about it: {named}.")
    else:
        lines.append("No topic is about it as a whole: its documents are spread over other topics.")
    if sources:
        lines.append("The nearest:\n" + "\n".join(f"- {s.title or _first(s.text)} [{s.n}]" for s in sources))
    ctx = Context(plan, None, lead="\n\n".join(lines), sources=sources, numbered="sources")
    ctx.topics = [t.id for t, _ in topics] or list(dict.fromkeys(s.topic for s in sources if s.topic != -1))
    return ctx


def list_documents(builder: Builder, plan, question, vector) -> Context:
    index, budget = builder.index, builder.budget
    subject = plan.subject or plan.query
    asked = plan.count or budget.sources * 2
    k = min(asked, budget.list_cap)
    exclude = builder.state.shown if plan.more else set()
    hits = trends_answers.restricted(index, plan, vector, k, exclude) if plan.when or plan.values else []
    scope = trends_answers.scope_note(index, plan) if hits else ""
    hits = hits or index.search(vector, k, exclude=exclude, words=subject, lexical_weight=budget.lexical_weight)
    near = retrieval.near_or_named(hits, subject, budget.min_document_similarity)
    sources = builder.plain_sources([h.document for h in near])
    if not sources:
        lead = (f"No document is at least {budget.min_document_similarity:.2f} similar to \"{subject}\" (cosine of "
                "their embeddings): the corpus has nothing on that to list.")
        return Context(plan, None, lead=lead)
    if len(sources) < k:
        head = (f"Only {len(sources)} documents are at least {budget.min_document_similarity:.2f} similar to "
                f"\"{subject}\" (asked for {asked}); the rest of the corpus is further from it:")
    elif asked > budget.list_cap:
        head = (f"You asked for {asked}; a list holds at most {budget.list_cap}, so here are the "
                f"{len(sources)} documents nearest \"{subject}\":")
    else:
        head = f"The {len(sources)} documents nearest \"{subject}\":"
    lines = [f"{s.n}. **{s.title}** [{s.n}]: {_first(s.text)}" if s.title else f"{s.n}. {_first(s.text)} [{s.n}]"
             for s in sources]
    ctx = Context(plan, None, lead=(scope + "\n\n" if scope else "") + head + "\n" + "\n".join(lines), sources=sources,
                  numbered="sources")
    ctx.topics = list(dict.fromkeys(s.topic for s in sources if s.topic != -1))
    return ctx


def not_in_documents(builder: Builder, plan, question, vector) -> Context:
    if plan.missing in ("dates", "groups"):  # a question the index would answer from counts it was not given
        return Context(plan, None, lead=trends_answers.NO_DATES if plan.missing == "dates" else trends_answers.NO_GROUPS)
    return Context(plan, None, lead=prompts.fill("not_in_documents", MISSING=plan.missing or "such facts"))


def _first(text: str) -> str:
    found = attribution.sentences(text)
    sentence = found[0] if found else text
    words = sentence.split()
    return sentence if len(words) <= LIST_WORDS else " ".join(words[:LIST_WORDS]) + " …"
