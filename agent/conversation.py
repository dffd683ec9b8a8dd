"""A conversation about a topic index: route, retrieve, prompt, stream, cite.

simonw/llm's shape: a ``Conversation`` keeps its own history and state (never
module globals, so many run at once over one shared ``TopicIndex`` and
model); ``respond()`` returns a ``Response`` that streams text chunks and,
once consumed, gives the ``Reply`` with the sources actually cited.
"""

from __future__ import annotations

from collections.abc import Iterator
import re
from dataclasses import dataclass, field, replace

import prompts
from agent import router
from agent.citations import CitationFilter
from agent.llm import Message, Model, Options
from agent.retrieval import TopicIndex
from indexing.errors import TopictalkError
from indexing.schema import DocumentRecord, Topic


@dataclass(frozen=True)
class Settings:
    sources: int = 4  # numbered sources per answer
    source_tokens: int = 70  # budget per source: prompt reading dominates time to first token
    question_tokens: int = 300
    # longer questions are refused before routing: the router, the embedder and the prompt all
    # grow with the question, and one user's pasted book would slow every other user's answer
    max_question_chars: int = 4000
    overview_topics: int = 10
    max_tokens: int = 500  # reference: max_new_tokens 500
    temperature: float = 0.1
    repetition_penalty: float = 1.1
    # an uncited answer sentence this similar to a source gets its citation (small models rarely cite)
    attribution_similarity: float = 0.5
    # below both, a question is off-corpus (cosine; calibrated on MiniLM over arXiv, see bench/agent.py)
    min_document_similarity: float = 0.35
    min_topic_similarity: float = 0.35


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
    # cited, so the answer lists what the model was given (the answer was written from exactly these)
    cited_by: str = "model"

    def as_dict(self) -> dict:
        return {"n": self.n, "id": self.id, "title": self.title, "topic": self.topic,
                "topic_label": self.topic_label, "snippet": self.snippet, "cited_by": self.cited_by}


@dataclass
class Reply:
    question: str
    answer: str
    intent: str
    sources: list[Source]  # cited in the answer, in order of first citation; all provided when none was
    provided: list[Source]  # every source the model was given
    topics: list[int]  # topic ids the answer drew on

    def as_dict(self) -> dict:
        return {"answer": self.answer, "sources": [s.as_dict() for s in self.sources], "topics": self.topics,
                "intent": self.intent}


@dataclass
class _Prepared:
    plan: router.Plan
    user_message: str | None  # None: answered without the LLM
    fixed_answer: str = ""
    sources: list[Source] = field(default_factory=list)
    topics: list[int] = field(default_factory=list)


_SENTENCE = re.compile(r"((?<=[.!?])\s+|\n+)")


def _snippet(text: str, chars: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " ..."


class Response:
    """Iterate for text chunks as they are generated; ``reply()`` for the result."""

    def __init__(self, conversation: Conversation, question: str, prepared: _Prepared) -> None:
        self._conversation = conversation
        self.question = question
        self._prepared = prepared
        self._chunks: list[str] = []
        self._reply: Reply | None = None
        self._stream = self._generate()

    def __iter__(self) -> Iterator[str]:
        return self._stream

    def _generate(self) -> Iterator[str]:
        prep = self._prepared
        conv = self._conversation
        citations = CitationFilter(s.n for s in prep.sources)
        completed = False
        try:
            if prep.user_message is None:
                chunks = iter([prep.fixed_answer])
            else:
                messages = conv._messages(prep.user_message)
                options = Options(max_tokens=conv.settings.max_tokens, temperature=conv.settings.temperature,
                                  repetition_penalty=conv.settings.repetition_penalty)
                chunks = citations(conv.model.stream(messages, options))
            for chunk in chunks:
                self._chunks.append(chunk)
                yield chunk
            completed = True
        finally:
            # also on a stopped stream: the history keeps what the user saw
            answer = "".join(self._chunks).strip()
            numbers, how = citations.cited, "model"
            if completed and not numbers and prep.sources and answer:
                answer, numbers = conv._attribute(answer, prep.sources)
                how = "similarity"
                if not numbers and prep.user_message is not None:
                    # the 1.5B paraphrases without [n]: an answer still shows the abstracts it came from
                    numbers, how = [src.n for src in prep.sources], "provided"
            cited = [replace(next(s for s in prep.sources if s.n == n), cited_by=how) for n in numbers]
            self._reply = Reply(self.question, answer, prep.plan.intent, cited, prep.sources, prep.topics)
            conv._record(self._reply, prep)

    def reply(self) -> Reply:
        for _ in self._stream:
            pass
        assert self._reply is not None
        return self._reply

    def text(self) -> str:
        return self.reply().answer


def checked_question(question: str, settings: Settings = Settings()) -> str:
    """The question with its whitespace collapsed; a clear error when it is empty or too long."""
    question = " ".join(question.split())
    if not question:
        raise TopictalkError("the question is empty: type a question about the corpus")
    if len(question) > settings.max_question_chars:
        raise TopictalkError(f"the question is {len(question):,} characters long; questions are limited to "
                             f"{settings.max_question_chars:,}: shorten it")
    return question


class Conversation:
    def __init__(self, index: TopicIndex, model: Model, settings: Settings = Settings()) -> None:
        self.index = index
        self.model = model
        self.settings = settings
        self.history: list[tuple[str, str]] = []  # (question, answer) pairs, oldest first
        self.state = router.State()

    # -- public -------------------------------------------------------------
    def respond(self, question: str) -> Response:
        question = checked_question(question, self.settings)
        return Response(self, question, self._prepare(question))

    def ask(self, question: str) -> Reply:
        return self.respond(question).reply()

    def reset(self) -> None:
        self.history.clear()
        self.state = router.State()

    # -- planning and context -------------------------------------------------
    def _prepare(self, question: str) -> _Prepared:
        known = {t.id for t in self.index.topics}
        plan = router.route(question, self.state, known)
        question_text = self._truncate(question, self.settings.question_tokens)
        vector = self.index.embed(plan.query)
        if plan.by_meaning:
            ranked = [t.id for t, _ in self.index.rank_topics(vector, 2)]
            plan.topics = (plan.topics + [t for t in ranked if t not in plan.topics])[: 2 if plan.intent ==
                                                                                        router.COMPARE else 1]
        handler = getattr(self, f"_plan_{plan.intent}")
        return handler(plan, question_text, vector)

    def _plan_missing_topic(self, plan, question, vector) -> _Prepared:
        ids = sorted(t.id for t in self.index.real_topics)
        text = prompts.fill("missing_topic", NUMBER=plan.number, FIRST=ids[0] if ids else 0,
                            LAST=ids[-1] if ids else 0)
        return _Prepared(plan, None, fixed_answer=text)

    def _plan_overview(self, plan, question, vector) -> _Prepared:
        real = self.index.real_topics
        chosen = sorted(real, key=lambda t: (t.size, t.id) if plan.order == "smallest" else (-t.size, t.id))
        start = len(self.state.listed_topics) if plan.more else 0
        chosen = chosen[start: start + self.settings.overview_topics]
        outliers = self.index.by_id.get(-1)
        m = prompts.fill("ask_overview", N_DOCUMENTS=sum(t.size for t in self.index.topics), N_TOPICS=len(real),
                         N_OUTLIERS=outliers.size if outliers else 0, ORDER=plan.order,
                         TOPICS="\n".join(self._topic_line(t) for t in chosen), QUESTION=question)
        return _Prepared(plan, m, topics=[t.id for t in chosen])

    def _plan_topic(self, plan, question, vector) -> _Prepared:
        topic = self.index.by_id[plan.topics[0]]
        docs: list[DocumentRecord] = []
        if plan.more:  # "show me more", "that topic's papers": central documents not shown yet
            hits = self.index.search(topic.embedding, self.settings.sources, topic=topic.id, exclude=self.state.shown)
            docs = [h.document for h in hits]
        if not docs:  # not asked for more, or everything was shown already: show the most central ones again
            docs = self.index.documents(topic.representative_ids[: self.settings.sources])
        sources = self._sources(docs)
        # "the second one", "that topic": the model sees only text, so the question names the topic it
        # resolved to, or a small model answers about whichever topic the history mentioned last
        question = f'{question} (this question is about topic {topic.id}, "{topic.label}")'
        m = prompts.fill("ask_topic", TOPICS=self._topic_block(topic), SOURCES=self._source_block(sources),
                         QUESTION=question)
        return _Prepared(plan, m, sources=sources, topics=[topic.id])

    def _plan_compare(self, plan, question, vector) -> _Prepared:
        topics = [self.index.by_id[t] for t in plan.topics[:2]]
        if len(topics) < 2:
            return self._plan_topic(router.Plan(router.TOPIC, question, plan.topics[:1]), question, vector)
        per = max(1, self.settings.sources // 2)
        docs = [d for t in topics for d in self.index.documents(t.representative_ids[:per])]
        sources = self._sources(docs)
        blocks = "\n\n".join(self._topic_block(t) for t in topics)
        m = prompts.fill("ask_compare", TOPICS=blocks, SOURCES=self._source_block(sources), QUESTION=question)
        return _Prepared(plan, m, sources=sources, topics=[t.id for t in topics])

    def _plan_find_topics(self, plan, question, vector) -> _Prepared:
        ranked = self.index.rank_topics(vector, 5)
        if not ranked or ranked[0][1] < self.settings.min_topic_similarity:
            # no topic is about it, but some documents may be: answer from them (or admit nothing)
            plan.intent = router.SEARCH
            return self._plan_search(plan, question, vector)
        good = [t for t, score in ranked if score >= self.settings.min_topic_similarity]
        docs = self.index.documents([t.representative_ids[0] for t in good[:3] if t.representative_ids])
        sources = self._sources(docs)
        lines = "\n".join(f"{self._topic_line(t)} (similarity {s:.2f})" for t, s in ranked)
        m = prompts.fill("ask_find", TOPICS=lines, SOURCES=self._source_block(sources), QUESTION=question)
        return _Prepared(plan, m, sources=sources, topics=[t.id for t in good])

    def _plan_search(self, plan, question, vector) -> _Prepared:
        exclude = self.state.shown if plan.more else set()
        hits = self.index.search(vector, self.settings.sources, exclude=exclude)
        ranked = self.index.rank_topics(vector, 3)
        best_topic = ranked[0][1] if ranked else 0.0
        if (not hits or hits[0].similarity < self.settings.min_document_similarity) and \
                best_topic < self.settings.min_topic_similarity:
            return self._off_corpus(plan, ranked)
        sources = self._sources([h.document for h in hits])
        m = prompts.fill("ask_search", SOURCES=self._source_block(sources), QUESTION=question)
        topics = list(dict.fromkeys(s.topic for s in sources if s.topic != -1))
        return _Prepared(plan, m, sources=sources, topics=topics)

    def _plan_source(self, plan, question, vector) -> _Prepared:
        doc = self.index.documents([plan.document])[0]
        near = self.index.search(self.index.embed(doc.text), self.settings.sources, exclude={doc.id})
        sources = self._sources([doc] + [h.document for h in near][: self.settings.sources - 1])
        m = prompts.fill("ask_source", SOURCES=self._source_block(sources), QUESTION=question)
        return _Prepared(plan, m, sources=sources, topics=[doc.topic] if doc.topic != -1 else [])

    def _off_corpus(self, plan, ranked: list[tuple[Topic, float]]) -> _Prepared:
        plan.intent = "off_corpus"
        lines = "\n".join(f"- {self._topic_line(t)}" for t, _ in ranked[:3])
        text = prompts.fill("off_corpus", N_DOCUMENTS=sum(t.size for t in self.index.topics), TOPICS=lines)
        return _Prepared(plan, None, fixed_answer=text, topics=[t.id for t, _ in ranked[:3]])

    def _topic_line(self, topic: Topic) -> str:
        return f"Topic {topic.id}: {topic.label} ({topic.size} documents; keywords: {', '.join(topic.keywords[:6])})"

    def _topic_block(self, topic: Topic) -> str:
        extra = ", ".join(w for w in topic.keybert[:5] if w not in topic.keywords)
        return self._topic_line(topic) + (f"\nRelated words: {extra}" if extra else "")

    def _sources(self, docs: list[DocumentRecord]) -> list[Source]:
        out = []
        for n, d in enumerate(docs, start=1):
            topic = self.index.by_id.get(d.topic)
            out.append(Source(n, d.id, d.title, d.topic, topic.label if topic else "", _snippet(d.text), d.text))
        return out

    def _source_block(self, sources: list[Source]) -> str:
        lines = []
        for s in sources:
            body = self._truncate(" ".join(s.text.split()), self.settings.source_tokens)
            lines.append(f"[{s.n}] {s.title}: {body}" if s.title else f"[{s.n}] {body}")
        return "\n\n".join(lines) if lines else "(none)"

    def _truncate(self, text: str, budget: int) -> str:
        from indexing.labels import truncate

        return truncate(text, budget, self.model.count_tokens)

    def _attribute(self, answer: str, sources: list[Source]) -> tuple[str, list[int]]:
        """Cite, after the fact, the source each uncited sentence matches best.

        Small models paraphrase or copy the abstracts but rarely write [n];
        a sentence whose embedding is close enough to a source's gets that
        source's number, so every claim stays traceable. These citations are
        marked ``cited_by="similarity"``.
        """
        sentences = _SENTENCE.split(answer)  # sentences at even positions, the separators between them odd
        candidates = [i for i in range(0, len(sentences), 2) if len(sentences[i].split()) >= 5]
        if not candidates:
            return answer, []
        vectors = self.index.embed_many([sentences[i] for i in candidates] +
                                        [f"{s.title}. {s.text}" for s in sources])
        sims = vectors[: len(candidates)] @ vectors[len(candidates):].T
        cited: list[int] = []
        for row, i in enumerate(candidates):
            best = int(sims[row].argmax())
            if sims[row, best] >= self.settings.attribution_similarity:
                n = sources[best].n
                body = sentences[i].rstrip()
                end = len(body.rstrip(".!?:;"))
                sentences[i] = f"{body[:end]} [{n}]{body[end:]}"
                if n not in cited:
                    cited.append(n)
        return "".join(sentences), cited

    # -- prompt and history ------------------------------------------------------
    def _messages(self, user_message: str) -> list[Message]:
        """System prompt, as many recent turns as fit, then this turn with its context."""
        system = prompts.load("chat_system")
        used = self.model.count_tokens(system) + self.model.count_tokens(user_message) + 16
        room = self.model.context_length - self.settings.max_tokens - used
        if room < 0:
            raise TopictalkError(f"the model's context ({self.model.context_length} tokens) cannot hold this question "
                                 "and its sources; shorten the question or use a model with a longer context")
        turns: list[Message] = []
        for question, answer in reversed(self.history):  # newest first, until the window is full
            cost = self.model.count_tokens(question) + self.model.count_tokens(answer) + 16
            if cost > room:
                break
            room -= cost
            turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}] + turns
        return [{"role": "system", "content": system}, *turns, {"role": "user", "content": user_message}]

    def _record(self, reply: Reply, prep: _Prepared) -> None:
        self.history.append((reply.question, reply.answer or "(no answer)"))
        state = self.state
        plan = prep.plan
        if plan.intent in (router.OVERVIEW, router.FIND_TOPICS, "off_corpus"):
            state.listed_topics = (state.listed_topics + prep.topics) if plan.more else list(prep.topics)
        if plan.intent in (router.TOPIC, router.COMPARE) or (plan.intent == router.FIND_TOPICS and prep.topics):
            state.focus_topic = prep.topics[0]
        elif plan.intent in (router.SEARCH, router.SOURCE) and prep.sources:
            state.focus_topic = prep.sources[0].topic if prep.sources[0].topic != -1 else state.focus_topic
        if prep.sources:
            state.sources = [s.id for s in prep.sources]
            state.shown |= set(state.sources)
        state.last = plan

