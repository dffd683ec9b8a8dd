"""A conversation about a topic index: route, build the context, stream, check, cite.

simonw/llm's shape: a ``Conversation`` keeps its own history and state (never
module globals, so many run at once over one shared ``TopicIndex`` and
model); ``respond()`` returns a ``Response`` that streams text chunks and,
once consumed, gives the ``Reply`` with the sources actually cited.

The jobs live beside this module: ``router`` decides what a question asks,
``context`` builds what the model is given per intent, ``attribution``
ties answer sentences to source sentences, ``substance`` holds the rule an
answer must pass, ``checks`` runs both on one answer, ``history`` keeps the
turns. What is left here is the order of it all, per question, on one
snapshot of the index.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from topictalk import prompts
from topictalk.agent import attribution, intents, languages, planning, router
from topictalk.agent.checks import AnswerCheck
from topictalk.agent.citations import CitationFilter
from topictalk.agent.context import Budget, Builder, Context, Source
from topictalk.agent.history import History
from topictalk.agent.llm import Message, Model, Options, Usage
from topictalk.agent.retrieval import Snapshot, TopicIndex
from topictalk.indexing.errors import TopictalkError

# a line of the prompt's context that a small model copied into its answer ("Related words: ...")
_CONTEXT_LINE = re.compile(r"^[ \t]*(?:Related words|Keywords|Sources(?: \([^)\n]*\))?|Question|Points from [^:\n]*)"
                           r":[^\n]*(?:\n|$)", re.MULTILINE)

__all__ = ["Conversation", "Reply", "Response", "Settings", "Source", "checked_question"]


@dataclass(frozen=True)
class Settings:
    sources: int = 4  # numbered sources per answer
    # what the model reads of a source: its title and the sentence nearest the question that says what the
    # work does (attribution.SourceSentences.best), at most source_tokens long. Reading the prompt is most
    # of the time to first token on a CPU (~70 tokens/s for the bundled 1.5B on 2 AVX-512 cores): bench/agent.py
    digest_sentences: int = 1
    source_tokens: int = 48
    question_tokens: int = 300
    # what later prompts show of an earlier answer (its first tokens): the router, not the model, resolves
    # "that topic" and "the second one". An answer written source by source is shown as its first call was
    # (History.add), which llama.cpp's KV cache still holds, so a follow-up does not read it again
    history_tokens: int = 64
    # longer questions are refused before routing: the router, the embedder and the prompt all
    # grow with the question, and one user's pasted book would slow every other user's answer
    max_question_chars: int = 4000
    overview_topics: int = 10  # topics (or themes) per overview
    max_tokens: int = Options.max_tokens  # reference: max_new_tokens 500 (defined once, in indexing.generation)
    temperature: float = Options.temperature
    repetition_penalty: float = Options.repetition_penalty
    # an uncited answer sentence this similar to a source gets its citation (small models rarely cite)
    attribution_similarity: float = 0.5
    # an answer sentence less similar than this to every sentence of its sources is dropped (MiniLM
    # cosine; calibrated in bench/agent.py: on-topic sentences the model made up score below it)
    grounded_similarity: float = 0.55
    # a search's nearest abstracts re-ranked by the words they share with it (agent/lexical.py); 0 turns it
    # off. Measured on bench/agent.py's questions and 22 held out (/tmp/idx5k): the nearest four's titles
    # read by hand were better for 9 questions and worse for 3 at 0.07; word forms meeting as one word
    # (lexical.meets) took the held-out nearest four from 83/88 to 85/88 on topic
    lexical_weight: float = 0.07
    # below both, a question is off-corpus (cosine; calibrated on MiniLM over arXiv, see bench/agent.py)
    min_document_similarity: float = 0.35
    min_topic_similarity: float = 0.35
    # "are there topics about X?" lists a topic only this similar to X
    topic_match_similarity: float = 0.45
    # "how many papers are about X?" counts the documents at least this similar to X (MiniLM cosine). Not
    # calibrated against hand counts yet: on a 600-abstract arXiv index it counted 28 for "reinforcement
    # learning" (its topic holds 56) and 0 for "medical imaging", where a few abstracts are on medical images
    count_similarity: float = 0.4
    list_cap: int = 20  # "give me 50 papers on X" lists this many and says so
    # a global question's reduce: 2-3 sentences over the points the map streamed (the CPU budget of one
    # model call: the points, ~60 tokens each, read, and at most this many tokens written)
    synthesis_tokens: int = 120
    # grounding (ungrounded sentences dropped), the substance rule, one re-ask, then the extractive answer
    check_answers: bool = True
    # route what the rules leave to a search by the nearest labelled example question (agent/examples.py)
    route_by_examples: bool = True
    # an answer from several sources read and written one source at a time (context.Ask.steps): the first
    # word waits for one source, not all. None: where the model prefers it (Model.prefers_steps: a runtime
    # that reads prompts slowly and keeps what it read). step_tokens caps each source's sentence
    stepped: bool | None = None
    step_tokens: int = 96
    # a question with a subject asked in another language (agent.languages) is translated by the model
    # first: the encoders read English. At most this many tokens of translation
    translate_tokens: int = 60

    def budget(self) -> Budget:
        return Budget(self.sources, self.digest_sentences, self.source_tokens, self.overview_topics,
                      self.min_document_similarity, self.min_topic_similarity, self.topic_match_similarity,
                      self.lexical_weight, self.count_similarity, self.list_cap)


@dataclass
class Reply:
    question: str
    answer: str
    intent: str
    sources: list[Source]  # cited in the answer, in order of first citation; all provided when none was
    provided: list[Source]  # every source the model was given
    topics: list[int]  # topic ids the reply showed (after a search: those of its cited sources)
    themes: list[int] = field(default_factory=list)  # theme ids the reply showed
    # "model", "model-retry" (the re-asked answer), "extractive" (quoted from the sources), "index" (the
    # index's own facts, no model), "stopped" (the user stopped it)
    answer_source: str = "model"
    draft: str = ""  # the model's first answer as streamed, before any check
    dropped: list[str] = field(default_factory=list)  # sentences no source supports, removed
    calls: list[Usage] = field(default_factory=list)  # what each model call read and wrote, in order

    def as_dict(self) -> dict:
        return {"answer": self.answer, "sources": [s.as_dict() for s in self.sources], "topics": self.topics,
                "themes": self.themes, "intent": self.intent, "answer_source": self.answer_source,
                "dropped": self.dropped}


@dataclass
class _Outcome:
    body: str  # the answer after the lead
    cited: list[int]
    how: str
    cited_by: dict[int, str] = field(default_factory=dict)
    draft: str = ""
    dropped: list[str] = field(default_factory=list)


class Response:
    """Iterate for text chunks as they are generated; ``reply()`` for the result."""

    def __init__(self, conversation: Conversation, question: str, index: Snapshot, context: Context) -> None:
        self._conversation = conversation
        self.question = question
        self.index = index
        self.context = context
        self._shown: list[str] = []  # what the reader saw, in order
        self.calls: list[Usage] = []  # what each model call of this answer read and wrote
        self.dialogue: list[Message] = []  # an answer written source by source: its messages so far
        self._outcome: _Outcome | None = None
        self._reply: Reply | None = None
        self._stopping = threading.Event()  # set by stop(), read by the model between tokens
        self._stream = self._generate()

    def __iter__(self) -> Iterator[str]:
        return self._stream

    def stop(self) -> None:
        """End this answer soon, from any thread (the app's Stop): the model stops between two tokens
        or two steps of reading its prompt, no retry or check follows, and the reply is what was shown,
        marked "stopped"."""
        self._stopping.set()

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    def _emit(self, chunks) -> Iterator[str]:
        for chunk in chunks:
            if self.stopped:
                getattr(chunks, "close", lambda: None)()  # frees the model now, not when collected
                return
            self._shown.append(chunk)
            yield chunk

    def _generate(self) -> Iterator[str]:
        ctx = self.context
        if ctx.lead and ctx.needs_model and not ctx.lead.endswith("\n"):
            # the one place a lead is parted from the model's text, a paragraph of its own (a theme's list of
            # topics, whose template ends with the list, ran into its "[1] ...")
            ctx.lead += "\n\n"
        try:
            if ctx.lead:
                yield from self._emit([ctx.lead])
            if ctx.prelude is not None:  # a global question's points, as each is found
                yield from self._emit(ctx.prelude())
            if self.stopped:
                pass  # the finally records what was shown
            elif not ctx.needs_model:  # the index's own answer: its citations are the sources it numbered
                numbers = [s.n for s in ctx.sources]
                self._outcome = _Outcome(self._prelude_text(), numbers, "index", {n: "index" for n in numbers})
            else:
                self._outcome = yield from self._answer()
        finally:
            # also on a stopped stream: the history keeps what the user saw, with the sources it cited so far
            shown = "".join(self._shown)[len(ctx.lead):]
            outcome = self._outcome or _Outcome(shown, [s.n for s in ctx.sources if f"[{s.n}]" in shown], "stopped")
            self._reply = self._conversation.record(self, outcome)

    def _prelude_text(self) -> str:
        return "".join(self._shown)[len(self.context.lead):]

    def _attempt(self, messages: list[Message], shown: bool = True) -> Iterator[str]:
        """One answer of the model, streamed to the reader (``shown``) or written quietly."""
        conv = self._conversation
        citations = CitationFilter(s.n for s in self.context.sources)
        limit = min(conv.settings.max_tokens, conv.settings.synthesis_tokens) if self.context.synthesis \
            else conv.settings.max_tokens
        chunks = citations(self._call(messages, limit))
        if shown:
            start = len(self._shown)
            yield from self._emit(chunks)
            return "".join(self._shown[start:]).strip(), citations.cited
        return "".join(chunks).strip(), citations.cited

    def _call(self, messages: list[Message], max_tokens: int):  # noqa: ANN202 - an llm.Response
        """One model call of this answer, by the conversation's settings; its usage is kept in ``calls``."""
        settings = self._conversation.settings
        options = Options(max_tokens=max_tokens, temperature=settings.temperature,
                          repetition_penalty=settings.repetition_penalty)
        response = self._conversation.model.stream(messages, options, self._stopping)
        self.calls.append(response.usage)
        return response

    def _attempt_steps(self, steps: Iterator[str]) -> Iterator[str]:
        """One answer written source by source, streamed: each call's message adds the next source to the
        dialogue so far, so a model that keeps what it read (llama.cpp's KV cache) reads only that source,
        and the first word waits for the first source alone. The whole answer is capped at max_tokens."""
        conv = self._conversation
        citations = CitationFilter(s.n for s in self.context.sources)
        left = conv.settings.max_tokens
        dialogue = self.dialogue = []
        start = len(self._shown)
        for message in steps:
            if self.stopped or left <= 0:
                break
            dialogue.append({"role": "user", "content": message})
            response = self._call(conv.messages(dialogue), min(left, conv.settings.step_tokens))
            before = len(self._shown)
            yield from self._emit(_after(citations(response), " " if "".join(self._shown[start:]).strip() else ""))
            left -= max(1, response.usage.completion_tokens)
            dialogue.append({"role": "assistant", "content": "".join(self._shown[before:]).strip() or "(nothing)"})
        return "".join(self._shown[start:]).strip(), citations.cited

    def _answer(self) -> Iterator[str]:
        """The model's answer, checked; asked again once, then replaced by quotes of the sources."""
        conv, ctx = self._conversation, self.context
        before = self._prelude_text()
        if conv.stepped(ctx):
            draft, cited = yield from self._attempt_steps(ctx.ask.steps())
        else:
            draft, cited = yield from self._attempt(conv.messages([{"role": "user", "content": ctx.message()}]))
        if self.stopped:
            return None  # recorded as stopped: nothing is checked or asked again
        if not ctx.sources:  # an overview written from the topic list: nothing to check against
            return _Outcome(draft, [], "model", draft=draft)
        check = conv.check(self)
        review = check.review(draft, cited)
        if ctx.synthesis:  # the points stand; the synthesis keeps only what they support
            outcome = _outcome(review, "model", draft)
            # only claims stay: a short line of a small model ("[107 documents] and [3]") says nothing
            claims = [s for s in attribution.sentences(outcome.body) if attribution.words(s) >= attribution.MIN_CLAIM_WORDS]
            outcome.body = " ".join(claims)
            outcome.cited = [n for n in outcome.cited if f"[{n}]" in outcome.body]
            outcome.body = (before + outcome.body).strip()
            cited_before = [s.n for s in ctx.sources if f"[{s.n}]" in before]
            outcome.cited = list(dict.fromkeys(cited_before + outcome.cited))
            outcome.cited_by = {**{n: "index" for n in cited_before}, **outcome.cited_by}
            return outcome
        if check.passes(review):
            return _outcome(review, "model", draft)
        if (trimmed := check.trimmed(review)) is not None:  # a good answer with an empty line
            return _outcome(trimmed, "model", draft)
        # asked once more, quietly: the reader keeps the first attempt until the reply replaces it, once
        # (streamed, the notice, the second attempt and the quotes rewrote the answer three times; issue 33)
        # the same turn, the first answer and the request again: the history window shrinks to fit
        first: list[Message] = [{"role": "user", "content": ctx.message()}]
        again = conv.messages(first + [{"role": "assistant", "content": draft or "(no answer)"},
                                       {"role": "user", "content": prompts.load("ask_retry")}])
        second, cited = yield from self._attempt(again, shown=False)
        if self.stopped:
            return None
        retry = check.review(second, cited)
        if check.passes(retry):
            return _outcome(retry, "model-retry", draft, review.dropped)
        if (trimmed := check.trimmed(retry)) is not None:
            return _outcome(trimmed, "model-retry", draft, review.dropped)
        lines = prompts.load("extractive_notice") + "\n" + check.extractive()
        if off := check.off_question(conv.settings.min_document_similarity):
            numbers = ", ".join(f"[{n}]" for n in off)
            lines += "\n" + prompts.fill("off_question_notice", NUMBERS=numbers)
        numbers = [s.n for s in ctx.sources]
        return _Outcome(lines, numbers, "extractive", {n: "extractive" for n in numbers}, draft,
                        review.dropped + retry.dropped)

    def reply(self) -> Reply:
        for _ in self._stream:
            pass
        assert self._reply is not None
        return self._reply

    def text(self) -> str:
        return self.reply().answer


def _after(chunks: Iterator[str], separator: str) -> Iterator[str]:
    """``chunks`` without their leading whitespace, ``separator`` before the first text (none when empty)."""
    pending = separator
    try:
        for chunk in chunks:
            if pending is not None:
                chunk = chunk.lstrip()
                if not chunk:
                    continue
                chunk, pending = pending + chunk, None
            yield chunk
    finally:
        getattr(chunks, "close", lambda: None)()


def _outcome(review: attribution.Review, how: str, draft: str, dropped: list[str] = ()) -> _Outcome:
    cited_by = {n: "similarity" if n in review.by_similarity else "model" for n in review.cited}
    return _Outcome(review.answer, review.cited, how, cited_by, draft, list(dropped) + review.dropped)


def checked_question(question: str, settings: Settings = Settings()) -> str:
    """The question with its whitespace collapsed; a clear error when it is empty or too long."""
    question = " ".join(question.split())
    if not question:
        raise TopictalkError("the question is empty: type a question about the corpus")
    if len(question) > settings.max_question_chars:
        raise TopictalkError(f"the question is {len(question):,} characters long; questions are limited to "
                             f"{settings.max_question_chars:,}: shorten it")
    return question


# the plans that need no subject matched in English: the index's brief or lists, a number, a greeting, the last
# reply's sources, up a level. Other languages' words for these are the router's (corpus_rules, the examples)
_NO_SUBJECT = frozenset({intents.BRIEF, intents.OVERVIEW, intents.HELP, intents.SOURCE, intents.UP, intents.MISSING})
_TRANSLATION_HEAD = re.compile(r"^\s*(?:english(?: question| translation)?|translation)\s*:\s*",
                               re.IGNORECASE | re.MULTILINE)


class Conversation:
    def __init__(self, index: TopicIndex, model: Model, settings: Settings = Settings()) -> None:
        self.index = index
        self.model = model
        self.settings = settings
        self.history = History()
        self.state = router.State()

    # -- public -------------------------------------------------------------
    def respond(self, question: str) -> Response:
        question = checked_question(question, self.settings)
        self.model.priority.arrived()  # labels written in the background wait from now, not from the model call
        snapshot = self.index.snapshot()  # this answer reads this generation only
        return Response(self, question, snapshot, self._prepare(snapshot, question))

    def ask(self, question: str) -> Reply:
        return self.respond(question).reply()

    def prepare(self) -> None:
        """Have the model read what every question's prompt starts with (the system prompt and the worked
        example, ~320 tokens: 4-5 s on 2 AVX-512 cores, ~3x that with AVX2 only) before the first question,
        which then reads only its own part. Blocks while reading; the app and the terminal chat call it in
        a thread when they start. The question's message is begun with a search's fixed head (its
        instruction), the commonest question's, so that one reads only its sources and question."""
        head = prompts.head(intents.TABLE[intents.SEARCH].prompt)
        with self.model.priority.person():  # for people: before labels written in the background
            self.model.prefill(self.messages([{"role": "user", "content": head}]))

    def reset(self) -> None:
        self.history.clear()
        self.state = router.State()

    # -- one question ---------------------------------------------------------
    def _prepare(self, index: Snapshot, question: str) -> Context:
        """Route once (planning.decide: rules, example questions, the index), then build what the plan says."""
        budget = self.settings.budget()
        examples = self.index.examples() if self.settings.route_by_examples else None
        plan, vector = planning.decide(question, self.state, index, budget, examples)
        if plan.intent not in _NO_SUBJECT and languages.foreign(question):
            english = self._in_english(question)
            if english:  # routed and answered as the English question, which the answer shows first
                plan, vector = planning.decide(english, self.state, index, budget, examples)
                plan.note = f"{prompts.fill('translation_note', READ=english)} {plan.note}".strip()
                question = english
        question_text = self._truncate(question, self.settings.question_tokens)
        return Builder(index, self.state, budget, self._truncate, self.model).build(plan, question_text, vector)

    def _in_english(self, question: str) -> str | None:
        """The model's English for ``question`` (a person's call), or None where it gave no English question."""
        from topictalk.indexing.labels import clean

        asked = [{"role": "user", "content": prompts.fill("translate_question", QUESTION=question)}]
        options = Options(max_tokens=self.settings.translate_tokens, temperature=0.0)
        # its first line without a heading or quotes, as a label's answer is read
        english = clean(_TRANSLATION_HEAD.sub("", self.model.stream(asked, options).text()))
        if len(english.split()) < 2 or languages.foreign(english) or english.lower() == question.lower():
            return None
        return english

    def _truncate(self, text: str, budget: int) -> str:
        from topictalk.indexing.labels import truncate

        return truncate(text, budget, self.model.count_tokens)

    def messages(self, this_turn: list[Message]) -> list[Message]:
        """The system prompt, the worked example, the history that fits, and ``this_turn``."""
        # the worked example shows a small model the one-sentence-per-source answer it is asked for
        # it is a search's own prompt, filled with the example's sources and question: one template, so the
        # example's instruction and layout cannot drift from what every search reads after it
        user = prompts.fill(intents.TABLE[intents.SEARCH].prompt, SOURCES=prompts.load("answer_example_sources"),
                            QUESTION=prompts.load("answer_example_question"))
        example = [{"role": "user", "content": user},
                   {"role": "assistant", "content": prompts.load("answer_example_assistant")}]
        return self.history.messages(prompts.load("chat_system"), this_turn, self.model.count_tokens,
                                     self.model.context_length, self.settings.max_tokens, example)

    def stepped(self, context: Context) -> bool:
        """Whether this answer is read and written source by source (Settings.stepped)."""
        wanted = self.settings.stepped if self.settings.stepped is not None else self.model.prefers_steps
        return wanted and context.ask is not None and len(context.sources) > 1

    @staticmethod
    def _kept(response: Response, reply: Reply) -> list[Message]:
        """What later prompts show of a turn answered source by source: its first call's message and sentence,
        as the model's KV cache holds them (also where the checks trimmed that sentence: the reader saw the
        checked answer, the model its own words). After a re-ask the cache holds that call instead, so
        (nothing) the question and the start of the answer."""
        first = response.dialogue[:2]
        return first if reply.answer_source == "model" and len(first) == 2 else []

    def check(self, response: Response) -> AnswerCheck:
        """The checks of one response's answer, by this conversation's settings."""
        return AnswerCheck(response.context, response.index, response.question,
                           cite_at=self.settings.attribution_similarity, ground_at=self.settings.grounded_similarity,
                           enabled=self.settings.check_answers)

    def record(self, response: Response, outcome: _Outcome) -> Reply:
        """The reply of a finished (or stopped) response, kept in the history and the router's state."""
        ctx = response.context
        body = outcome.body if outcome.how not in ("model", "model-retry") else _CONTEXT_LINE.sub("", outcome.body)
        answer = (ctx.lead + body).strip()
        numbers = outcome.cited
        cited_by = dict(outcome.cited_by)
        if not numbers and ctx.sources and outcome.how in ("model", "model-retry"):
            # nothing cited (checks off): the answer still shows the abstracts it was written from
            numbers = [s.n for s in ctx.sources]
            cited_by = {n: "provided" for n in numbers}
        in_lead = [s.n for s in ctx.sources if f"[{s.n}]" in ctx.lead]  # a description's citations, shown first
        if in_lead and outcome.how != "index":
            numbers = list(dict.fromkeys(in_lead + list(numbers)))
            cited_by = {**{n: "index" for n in in_lead}, **cited_by}
        cited = [replace(s, cited_by=cited_by.get(s.n, "model")) for n in numbers for s in ctx.sources if s.n == n]
        topics = ctx.topics
        if ctx.numbered == "sources":  # after a search, "that topic" is the topic most of what it cited is in
            counts = Counter(s.topic for s in cited if s.topic != -1)  # ties: the first cited first
            topics = [t for t, _ in counts.most_common()] or ctx.topics
        reply = Reply(response.question, answer, ctx.plan.intent, cited, ctx.sources, topics, ctx.themes,
                      outcome.how, outcome.draft, outcome.dropped, list(response.calls))
        self.history.add(reply.question, self._truncate(reply.answer, self.settings.history_tokens),
                         self._kept(response, reply))
        self.state.remember(ctx.plan, topics, ctx.themes, ctx.numbered, [s.id for s in cited],
                            seen=[s.id for s in ctx.sources])
        return reply
