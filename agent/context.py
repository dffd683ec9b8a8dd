"""What the model is given for each kind of question: one builder per intent.

Each builder turns a routed :class:`router.Plan` into a :class:`Context`:
the user message for the model (None when the answer needs no model), a
lead shown before the model writes (lists of themes or topics, which are
facts of the index and must not be paraphrased by a small model), the
numbered sources and what the reply shows, for follow-ups. Everything is
read from one :class:`Snapshot`, so one answer sees one index generation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from topictalk import prompts
from topictalk.agent import attribution, router
from topictalk.agent.attribution import SourceSentences
from topictalk.agent.intents import SEARCH, TABLE
from topictalk.agent.retrieval import Snapshot
from topictalk.indexing.schema import DocumentRecord, Theme, Topic


@dataclass
class Source:
    n: int
    id: str
    title: str
    topic: int
    topic_label: str
    snippet: str
    text: str = field(repr=False, default="")
    # "model": the LLM wrote [n]; "similarity": matched to a sentence afterwards; "provided": nothing was
    # cited, so the answer lists what the model was given; "extractive": the answer quotes it
    cited_by: str = "model"

    def as_dict(self) -> dict:
        return {"n": self.n, "id": self.id, "title": self.title, "topic": self.topic,
                "topic_label": self.topic_label, "snippet": self.snippet, "cited_by": self.cited_by}


@dataclass
class Ask:
    """What the model is asked in an answer from numbered sources, whole or source by source.

    ``template`` (a prompt file with a [SOURCES] slot) is filled with ``fields`` and the sources' lines:
    all of them in one message (:meth:`whole`), or the first alone and then one ``ask_next_source``
    message per later source (:meth:`steps`), for a model that reads a prompt slowly and keeps what it
    read (llama.cpp on a CPU): its first word then waits for one source, not four. A line is made when
    first needed (its digest embeds that source's sentences), so a step reads no later source.
    """

    template: str
    fields: dict[str, str]
    numbers: list[int]  # the sources' numbers, in order
    make_line: Callable[[int], str] = field(repr=False)  # source number -> its line
    _lines: dict[int, str] = field(default_factory=dict, repr=False)

    def line(self, n: int) -> str:
        if n not in self._lines:
            self._lines[n] = self.make_line(n)
        return self._lines[n]

    def whole(self) -> str:
        block = "\n\n".join(self.line(n) for n in self.numbers)
        return prompts.fill(self.template, SOURCES=block or "(none)", **self.fields)

    def steps(self) -> Iterator[str]:
        """The messages of the answer read source by source: the template with the first source, then
        each later source in the words of ``ask_next_source``."""
        if not self.numbers:
            yield self.whole()
            return
        first, *rest = self.numbers
        yield prompts.fill(self.template, SOURCES=self.line(first), **self.fields)
        for n in rest:
            yield prompts.fill("ask_next_source", SOURCE=self.line(n), N=n)


@dataclass
class Context:
    plan: router.Plan
    # the model's message when it needs no sources (an overview, a synthesis); None: answered by ``lead``
    # alone, without the LLM, unless ``ask`` is set
    user_message: str | None
    lead: str = ""  # shown first, before the model writes
    sources: list[Source] = field(default_factory=list)
    topics: list[int] = field(default_factory=list)  # topics the reply shows, in its order
    themes: list[int] = field(default_factory=list)  # themes the reply shows, in its order
    numbered: str = "topics"  # what "the second one" counts next: "themes", "topics" or "sources"
    sentences: SourceSentences | None = None  # the sources' sentences, embedded (attribution, grounding)
    focus: list[np.ndarray] = field(default_factory=list)  # per source: what its sentences were ranked by
    # text streamed after the lead and before the model (a global question's points, found one by one); it
    # fills in ``user_message`` and ``sentences`` as it goes
    prelude: Callable[[], Iterator[str]] | None = field(default=None, repr=False)
    # the model adds a synthesis to an answer the index already gave: its unsupported sentences are dropped,
    # and it is neither asked again nor replaced by quotes
    synthesis: bool = False
    ask: Ask | None = None  # the model's message of an answer from the numbered sources

    @property
    def needs_model(self) -> bool:
        return self.user_message is not None or self.ask is not None

    def message(self) -> str:
        """The model's message in one piece (every source's line made)."""
        return self.ask.whole() if self.ask is not None else self.user_message or ""


@dataclass(frozen=True)
class Budget:
    """The settings the builders read (a view of conversation.Settings)."""

    sources: int
    digest_sentences: int
    source_tokens: int
    overview_topics: int
    min_document_similarity: float
    min_topic_similarity: float
    topic_match_similarity: float
    lexical_weight: float
    count_similarity: float = 0.4
    list_cap: int = 20


RELATED_TOPICS = 4  # "which topics does topic N relate to?": this many nearest


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _snippet(text: str, chars: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " ..."


def topic_line(topic: Topic) -> str:
    return f"Topic {topic.id}: {topic.label} ({topic.size} documents; keywords: {', '.join(topic.keywords[:6])})"


def about(item: Topic | Theme, for_model: bool = False) -> str:
    """What a topic or theme covers, in words: its description, else a sentence made of its keywords.

    ``for_model``: what the model reads. An extractive description is its documents' own sentences, the
    first of them the first source's; read before the first word it was that sentence twice and ~130
    tokens (~3.5 s on a 2-core AVX2 host, a topic's follow-up on an index without an LLM). The keywords
    say what the topic covers in ~20."""
    if item.description and not (for_model and item.description_source.startswith("extractive")):
        return item.description
    words = list(dict.fromkeys([*item.keywords[:6], *getattr(item, "keybert", [])[:4]]))
    return f"its documents are about {', '.join(words)}." if words else ""


def cite_sentences(text: str, ids: list[str], number: dict[str, int]) -> str:
    """``text`` with each sentence followed by the number of the document it rests on (``ids``, in order)."""
    out = []
    for i, sentence in enumerate(attribution.sentences(text)):
        n = number.get(ids[i]) if i < len(ids) else None
        out.append(f"{sentence.rstrip()} [{n}]" if n is not None and "[" not in sentence else sentence)
    return " ".join(out)


def _topic_block(topic: Topic, with_about: bool = True) -> str:
    # prose, not "Keywords:"/"Related words:" lines: a small model copies a labelled line into its answer.
    # ``with_about=False``: the reader was shown the description already (the lead): the model need not read
    # it (~100 tokens, 1.5 s before its first word on 2 cores) nor say it again
    head = f'Topic {topic.id}, "{topic.label}" ({topic.size} documents)'
    return f"{head}: {about(topic, for_model=True)}" if with_about else f"{head}."



def _theme_line(index: Snapshot, theme: Theme, n: int) -> str:
    names = ", ".join(f"{t.label} ({t.size})" for t in index.theme_topics(theme)[:3])
    return f"{n}. **{theme.label}** ({theme.size} documents, {_count(len(theme.topic_ids), 'topic')}): {names}"


class Builder:
    """Builds one question's context from one snapshot and the conversation's state."""

    def __init__(self, index: Snapshot, state: router.State, budget: Budget,
                 truncate: Callable[[str, int], str], model=None) -> None:  # noqa: ANN001 - an llm.Model
        self.index, self.state, self.budget, self._truncate = index, state, budget, truncate
        self.model = model  # the conversation's: what labels a topic's subtopics when first opened

    def build(self, plan: router.Plan, question: str, vector: np.ndarray) -> Context:
        """The context of a final plan, by the builder ``intents.TABLE`` names for its intent: a method
        of this class, or ``module.function`` of a module beside it, called with this builder."""
        name = TABLE[plan.intent].builder
        if "." in name:
            module, function = name.rsplit(".", 1)
            ctx = getattr(importlib.import_module(f"topictalk.agent.{module}"), function)(self, plan, question, vector)
        else:
            ctx = getattr(self, name)(plan, question, vector)
        if plan.note:  # a line the router attached ("the documents carry no dates"), said first
            ctx.lead = f"{plan.note}\n\n{ctx.lead}"
        return ctx

    def _prompt(self, plan: router.Plan) -> str:
        return TABLE[plan.intent].prompt

    # -- answered from the index alone -------------------------------------------------------
    def missing_topic(self, plan, question, vector) -> Context:
        ids = sorted(t.id for t in self.index.real_topics)
        text = prompts.fill("missing_topic", NUMBER=plan.number, FIRST=ids[0] if ids else 0,
                            LAST=ids[-1] if ids else 0)
        return Context(plan, None, lead=text)

    def help(self, plan, question, vector) -> Context:
        """A greeting or "what can you do?": what to ask, with this index's biggest topic; thanks: a short reply."""
        if plan.aspect == "thanks":
            return Context(plan, None, lead=prompts.load("thanks"))
        topics = self.index.real_topics
        first = topics[0] if topics else None
        text = prompts.fill("help", N_DOCUMENTS=f"{sum(t.size for t in self.index.topics):,}", N_TOPICS=len(topics),
                            TOPIC=first.id if first else 0, LABEL=first.label if first else "a subject")
        return Context(plan, None, lead=text)

    def off_corpus(self, plan, question, vector) -> Context:
        subject = plan.no_topic
        ranked = self.index.rank_topics(vector, 3)
        lines = "\n".join(f"- {topic_line(t)}" for t, _ in ranked)
        text = prompts.fill("off_corpus", N_DOCUMENTS=sum(t.size for t in self.index.topics), TOPICS=lines)
        if subject:
            text = prompts.fill("no_topic", SUBJECT=subject) + " " + text
        return Context(plan, None, lead=text, topics=[t.id for t, _ in ranked])

    # -- themes and topics --------------------------------------------------------------------
    def overview(self, plan, question, vector) -> Context:
        themes = list(self.index.themes)
        if themes and plan.order == "largest":
            start = len(self.state.listed_themes) if plan.more and self.state.numbered == "themes" else 0
            shown = themes[start: start + self.budget.overview_topics]
            head = prompts.fill("overview_themes", N_DOCUMENTS=sum(t.size for t in self.index.topics),
                                N_TOPICS=len(self.index.real_topics), N_THEMES=len(themes))
            lines = "\n".join(_theme_line(self.index, t, start + i + 1) for i, t in enumerate(shown))
            listed = (self.state.listed_themes if start else []) + [t.id for t in shown]
            return Context(plan, None, lead=f"{head}\n{lines}" if shown else head, themes=listed, numbered="themes")
        real = self.index.real_topics
        chosen = sorted(real, key=lambda t: (t.size, t.id) if plan.order == "smallest" else (-t.size, t.id))
        start = len(self.state.listed_topics) if plan.more else 0
        chosen = chosen[start: start + self.budget.overview_topics]
        outliers = self.index.by_id.get(-1)
        m = prompts.fill("ask_overview", N_DOCUMENTS=sum(t.size for t in self.index.topics), N_TOPICS=len(real),
                         N_OUTLIERS=outliers.size if outliers else 0, ORDER=plan.order,
                         TOPICS="\n".join(topic_line(t) for t in chosen), QUESTION=question)
        listed = (self.state.listed_topics if start else []) + [t.id for t in chosen]
        return Context(plan, m, topics=listed)

    def theme(self, plan, question, vector) -> Context:
        theme = self.index.themes_by_id[plan.theme]  # planning found it when the question named none
        topics = self.index.theme_topics(theme)
        lead = prompts.fill("theme_lead", LABEL=theme.label, N_DOCUMENTS=theme.size,
                            N_TOPICS=_count(len(topics), "topic"),
                            TOPICS="\n".join(f"{i}. Topic {t.id}: **{t.label}** ({t.size} documents)"
                                             for i, t in enumerate(topics, start=1)))
        exclude = self.state.shown if plan.more else set()
        ids = [i for t in topics[: self.budget.sources] for i in t.representative_ids[:2] if i not in exclude]
        docs = self.index.documents(ids)
        picked, seen = [], set()
        for d in docs:  # one per topic first, the biggest topics first
            if d.topic not in seen:
                picked.append(d)
                seen.add(d.topic)
        ctx = self._with_sources(plan, picked[: self.budget.sources], None, topics[:4])
        self._ask(ctx, self._prompt(plan), THEME=f"{theme.label}: {about(theme, for_model=True)}",
                  TOPICS="\n".join(topic_line(t) for t in topics[:6]), QUESTION=question)
        ctx.lead, ctx.topics, ctx.themes = lead, [t.id for t in topics], [theme.id]
        return ctx

    def topic(self, plan, question, vector) -> Context:
        topic = self.index.by_id[plan.topics[0]]
        docs: list[DocumentRecord] = []
        # a topic named by its subject ("the federated learning topic") shows its documents nearest that
        # subject: the topic found for it may be wider (privacy and unlearning), its central papers off it
        near = vector if plan.by_meaning else None
        if plan.more or near is not None:  # "show me more", "that topic's papers": documents not shown yet
            hits = self.index.search(topic.embedding if near is None else near, self.budget.sources, topic=topic.id,
                                     exclude=self.state.shown if plan.more else set())
            docs = [h.document for h in hits]
        if not docs:  # not asked for more, or everything was shown already: show the most central ones again
            docs = self.index.documents(topic.representative_ids[: self.budget.sources])
        described = topic.description and not plan.more
        if described:  # the topic as a whole first: its description, cited by the documents it rests on
            own = self.index.documents(topic.description_ids)
            docs = own + [d for d in docs if d.id not in set(topic.description_ids)][: max(0, self.budget.sources - len(own))]
        ctx = self._with_sources(plan, docs, near, [topic])
        if described:
            number = {s.id: s.n for s in ctx.sources}
            ctx.lead = (f"**Topic {topic.id}: {topic.label}** ({topic.size:,} documents). "
                        f"{cite_sentences(topic.description, topic.description_ids, number)}")
        # "the second one", "that topic": the model sees only text, so the question names the topic it
        # resolved to, or a small model answers about whichever topic the history mentioned last
        question = f'{question} (this question is about topic {topic.id}, "{topic.label}")'
        self._ask(ctx, self._prompt(plan), TOPICS=_topic_block(topic, with_about=not described), QUESTION=question)
        ctx.topics = [topic.id]
        return ctx

    def compare(self, plan, question, vector) -> Context:
        if len(plan.topics) < 2:  # subjects no topic is about: each one's nearest documents
            return self._compare_subjects(plan, question)
        topics = [self.index.by_id[t] for t in plan.topics[:2]]
        per = max(1, self.budget.sources // 2)
        docs = [d for t in topics for d in self.index.documents(t.representative_ids[:per])]
        ctx = self._with_sources(plan, docs, None, topics)
        blocks = "\n\n".join(_topic_block(t) for t in topics)
        self._ask(ctx, self._prompt(plan), TOPICS=blocks, QUESTION=question)
        ctx.topics = [t.id for t in topics]
        return ctx

    def _compare_subjects(self, plan, question) -> Context:
        per = max(1, self.budget.sources // 2)
        docs, groups, seen = [], [], set()
        for subject in plan.subjects[:2]:
            hits = [h for h in self.index.search(self.index.embed(subject), per + 2) if h.document.id not in seen]
            found = [h.document for h in hits[:per]]
            seen |= {d.id for d in found}
            groups.append((subject, len(docs) + 1, len(docs) + len(found)))
            docs += found
        ctx = self._with_sources(plan, docs, None, [])
        ctx.focus = [self.index.embed(s) for s, first, last in groups for _ in range(first, last + 1)]
        blocks = "\n".join(f"{s}: no topic is about it; its nearest documents are sources [{first}]-[{last}]"
                           for s, first, last in groups)
        self._ask(ctx, self._prompt(plan), TOPICS=blocks, QUESTION=question)
        ctx.topics = list(dict.fromkeys(s.topic for s in ctx.sources if s.topic != -1))
        ctx.numbered = "sources"
        return ctx

    def find_topics(self, plan, question, vector) -> Context:
        """The topics about a subject that planning found to pass the bar, each with its nearest document."""
        good = [self.index.by_id[t] for t in plan.topics]
        subject = plan.query
        # each topic's document nearest the subject, not its most central one: "speech" matches a topic of
        # speech and audio whose central paper may be about music
        docs = [hits[0].document for t in good[:3] if (hits := self.index.search(vector, 1, topic=t.id))]
        ctx = self._with_sources(plan, docs, vector, good)
        themes = self.index.themes_by_id
        lines = "\n".join(f"- Topic {t.id}: **{t.label}** ({t.size} documents"
                          + (f"; theme: {themes[t.theme].label}" if t.theme in themes else "") + ")" for t in good)
        ctx.lead = prompts.fill("find_lead", SUBJECT=subject, TOPICS=lines)
        self._ask(ctx, self._prompt(plan), TOPICS="\n".join(topic_line(t) for t in good), QUESTION=question)
        ctx.topics = [t.id for t in good]
        return ctx

    def related_topics(self, plan, question, vector) -> Context:
        """The topics nearest one topic (cosine of their centroids), with what each covers."""
        topic = self.index.by_id[plan.topics[0]]
        others = [t for t in self.index.real_topics if t.id != topic.id and t.embedding is not None]
        if topic.embedding is None or not others:
            return Context(plan, None, lead=f"Topic {topic.id} ({topic.label}) is the only topic of this index.",
                           topics=[topic.id])
        scores = np.stack([t.embedding for t in others]) @ topic.embedding
        ranked = [(others[i], float(scores[i])) for i in np.argsort(-scores)[:RELATED_TOPICS]]
        lines = "\n".join(f"{i}. Topic {t.id}: **{t.label}** ({t.size} documents; similarity {s:.2f}"
                          + ("; same theme" if t.theme is not None and t.theme == topic.theme else "") + f"): {about(t)}"
                          for i, (t, s) in enumerate(ranked, start=1))
        lead = (f"The topics nearest topic {topic.id} (**{topic.label}**), by the similarity of their documents' "
                f"average embeddings (1 is identical):\n{lines}")
        return Context(plan, None, lead=lead, topics=[t.id for t, _ in ranked])

    # -- documents ----------------------------------------------------------------------------
    def search(self, plan, question, vector) -> Context:
        """The documents planning found (and checked to be near enough), answered by the model."""
        ctx = self._with_sources(plan, [h.document for h in plan.hits], vector, [])
        self._ask(ctx, self._prompt(plan), QUESTION=question)
        ctx.topics = list(dict.fromkeys(s.topic for s in ctx.sources if s.topic != -1))
        ctx.numbered = "sources"
        if plan.no_topic:  # "are there topics about X?" where none is: said so before the documents that are
            named = ", ".join(f"topic {t} ({self.index.by_id[t].label})" for t in ctx.topics)
            ctx.lead = prompts.fill("no_topic_documents", SUBJECT=plan.no_topic, TOPICS=named)
        return ctx

    def source(self, plan, question, vector) -> Context:
        if plan.documents:  # "those papers": the last reply's sources again
            docs = self.index.documents(plan.documents)
            ctx = self._with_sources(plan, docs, vector, [])
            self._ask(ctx, TABLE[SEARCH].prompt, QUESTION=question)  # asked as a search is
        else:
            doc = self.index.documents([plan.document])[0]
            near = self.index.search(self.index.embed(doc.text), self.budget.sources, exclude={doc.id})
            ctx = self._with_sources(plan, [doc] + [h.document for h in near][: self.budget.sources - 1], vector, [])
            self._ask(ctx, self._prompt(plan), QUESTION=question)
        ctx.topics = list(dict.fromkeys(s.topic for s in ctx.sources if s.topic != -1))
        ctx.numbered = "sources"
        return ctx

    # -- sources ------------------------------------------------------------------------------
    def plain_sources(self, docs: list[DocumentRecord]) -> list[Source]:
        """Numbered sources with nothing embedded: for answers the index writes, which are not checked."""
        by_id = self.index.by_id
        return [Source(n, d.id, d.title, d.topic, by_id[d.topic].label if d.topic in by_id else "", _snippet(d.text),
                       d.text) for n, d in enumerate(docs, start=1)]

    def _with_sources(self, plan: router.Plan, docs: list[DocumentRecord], vector: np.ndarray | None,
                      topics: list[Topic]) -> Context:
        """A context numbering ``docs``, their sentences embedded once (for digests and the checks after).

        Each source's sentences are ranked by ``vector`` (the question), or,
        for questions about a topic, by the centroid of the source's topic.
        """
        by_id = self.index.by_id
        sources = []
        for n, d in enumerate(docs, start=1):
            topic = by_id.get(d.topic)
            sources.append(Source(n, d.id, d.title, d.topic, topic.label if topic else "", _snippet(d.text), d.text))
        table = SourceSentences.of([(s.n, s.title, s.text) for s in sources], self.index.embed_many,
                                   extra=[f"{t.label}: {', '.join(t.keywords[:8])}" for t in topics])
        focus = []
        for d in docs:
            topic = by_id.get(d.topic)
            fallback = topic.embedding if topic is not None and topic.embedding is not None else None
            focus.append(vector if vector is not None else fallback if fallback is not None
                         else self.index.embed(d.title or d.text[:200]))
        return Context(plan, None, sources=sources, sentences=table, focus=focus)

    def _ask(self, ctx: Context, template: str, **fields: str) -> None:
        """``ctx`` asks the model ``template`` over its numbered sources (Ask: whole or source by source)."""
        focus = {s.n: f for s, f in zip(ctx.sources, ctx.focus)}
        by_n = {s.n: s for s in ctx.sources}

        def line(n: int) -> str:
            # each source as its title and the sentences nearest the question: short prompts answer sooner
            s = by_n[n]
            digest = " ".join(ctx.sentences.best(n, focus[n], self.budget.digest_sentences))
            body = self._truncate(digest, self.budget.source_tokens)
            return f"[{n}] {s.title}: {body}" if s.title else f"[{n}] {body}"

        ctx.ask = Ask(template, fields, [s.n for s in ctx.sources], line)
