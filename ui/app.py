"""The Gradio app: chat with streamed, cited answers; the topic table; the data map; trends over time.

One ``TopicIndex`` and one model serve every browser; each browser session
gets its own ``Conversation`` (kept in ``gr.State``, made on its first
question), so histories never mix. Everything the model does goes through one
queue group sized to what the runtime can run at once, so waiting users see
their place in the queue instead of a frozen page.

What the page shows is in :mod:`ui.render`; who may log in, and how fast
anyone may guess, in :mod:`ui.logins`; what a request may be, in
:mod:`ui.guard`. This module wires the Blocks, streams answers into sessions
and runs the server.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from topictalk.agent import models
from topictalk.agent.conversation import Conversation, Response, Settings, checked_question
from topictalk.agent.llm import Model
from topictalk.agent.retrieval import TopicIndex
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.schema import Brief
from topictalk.ui import guard, page_head, render, topic_edits, topic_tree, trends_view
from topictalk.ui import map as map_mod
from topictalk.ui.browser import CSS, LOGIN_HEAD, PAGE_JS
from topictalk.ui.logins import LoginThrottle, Throttled
from topictalk.ui.markup import safe_markdown
from topictalk.ui.options import APP_PORT

LLM_GROUP = "llm"  # every event that runs the model shares this queue group
# an open page looks this often for a newer generation: the model's labels `demo` writes after the page
# opened on a CPU, an edit or an addition made from another page or a terminal
NEWER_LOOK_S = 10.0
# how often the queue looks for an answer to start: a question waits at most this long, next to seconds of model
QUEUE_POLL_S = 0.02
PROGRESS_POLL_S = 0.1  # a progress bar (an edit's, an index's) moves ten times a second
QUEUE_SIZE = 32  # answers waiting at once; beyond, a visitor is told the queue is full instead of waiting forever
MAX_FILE_SIZE = "1mb"  # the app takes no files; uploads are refused outright (see ui.guard), this is a second fence
MAX_SHOWN_MESSAGES = 40  # chat messages a session keeps (20 turns): gradio diffs them all on every streamed token
# kept in the box, said under it: the guard would refuse the queue with a 429 (a red "Error" on the chat) and
# the box, already emptied, would lose the question
BUSY = "⏳ {n} of your questions are already being answered or waiting: ask this one again when an answer has finished."
KEPT = " It stays in the box."
# what a visitor sees when an answer fails: the details (a server's URL and credentials, an index path) go to
# the server log only
FAILED = "⚠️ The answer failed on the server; its log has the details. Try again, or ask a shorter question."
logger = logging.getLogger("topictalk.app")


def concurrency_for(model: Model) -> int:
    """How many answers may be generated at once: what the runtime says it can run (1 in-process)."""
    return max(1, int(getattr(model, "concurrency", 1)))


def public_model_name(spec: str) -> str:
    """The model as every visitor may see it: a name, never a local path or an internal server address."""
    return models.public_name(spec)


# -- one browser session --------------------------------------------------------------------
@dataclass
class ChatSession:
    """What one browser session keeps: its conversation and what its chat shows."""

    conversation: Conversation
    messages: list[dict] = field(default_factory=list)  # gr.Chatbot messages
    last_question: str = ""
    # one answer at a time per browser: a second question waits for the first
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    answering: Response | None = None  # the answer being written, which Stop ends

    def stop(self) -> None:
        """Stop the answer being written (from Stop's own thread): the model stops within a step, and the
        answer ends as usual, marked stopped. Gradio's cancel would close a generator it cannot close
        while it runs (the model reading its prompt), and the page showed "Error" (issue 33)."""
        answering = self.answering
        if answering is not None:
            answering.stop()

    def __deepcopy__(self, memo: dict) -> ChatSession:
        return self  # gradio may copy state values; a conversation must stay one object


@dataclass(frozen=True)
class AppParts:
    """What every session shares: the index, the model and the conversation settings."""

    index: TopicIndex
    model: Model
    settings: Settings = field(default_factory=Settings)

    @property
    def labels(self) -> dict[int, str]:
        return {t.id: t.label for t in self.index.topics}

    def prepare(self) -> threading.Thread:
        """The model reads every prompt's fixed start in a thread now, not during the first visitor's question."""
        thread = threading.Thread(target=Conversation(self.index, self.model, self.settings).prepare, daemon=True,
                                  name="topictalk-prefill")
        thread.start()
        return thread

    def session(self, current: ChatSession | None) -> ChatSession:
        return current if current is not None else ChatSession(Conversation(self.index, self.model, self.settings))


def stream_answer(parts: AppParts, session: ChatSession | None,
                  question: str) -> Iterator[tuple[list[dict], ChatSession]]:
    """Yield (chat messages, session) as the answer grows: the sources found first, then the answer
    above them, and the sources it cited when it ends.

    On Stop, gradio closes this generator; the ``finally`` closes the agent's
    stream too, which records the partial answer and releases the model at once.
    What is wrong with the question is said in the chat; any other failure is
    one generic line there and the details in the server log.
    """
    session = parts.session(session)
    question = (question or "").strip()
    if not question:
        yield session.messages, session
        return
    limit = parts.settings.max_question_chars
    with session.lock:
        session.last_question = question[:limit]
        messages = session.messages
        _trim(messages, MAX_SHOWN_MESSAGES - 2)
        shown_question = question if len(question) <= limit else question[:limit] + " …"
        messages.append({"role": "user", "content": safe_markdown(shown_question)})
        yield list(messages), session  # the question shows while the model reads the sources
        try:  # an over-long question is refused before routing it; the box caps typing
            checked_question(question, parts.settings)
        except TopictalkError as err:  # about the visitor's own words: safe and useful to show
            messages.append({"role": "assistant", "content": f"⚠️ {safe_markdown(str(err))}"})
            yield list(messages), session
            return
        stream = None
        answer = {"role": "assistant", "content": ""}
        text = pending = ""
        try:
            response = session.answering = session.conversation.respond(question)
            # the sources are found before the model reads them: shown at once, the reader has something
            # to look at during the seconds a CPU model takes to its first word
            pending = render.pending_sources(response.context.sources)
            if pending:
                answer["content"] = pending
                messages.append(answer)
                yield list(messages), session
            stream = iter(response)
            for chunk in stream:
                text += chunk
                if not text:
                    continue  # the answer joins the chat with its first text, not as an empty bubble
                # while streaming too: a half answer can hold an image
                answer["content"] = safe_markdown(text) + pending
                if not messages or messages[-1] is not answer:
                    messages.append(answer)
                yield list(messages), session
            if not messages or messages[-1] is not answer:
                messages.append(answer)
            answer["content"] = render.answer_markdown(response.reply(), parts.labels)
            pending = ""
            yield list(messages), session
        except Exception as err:  # e.g. the prompt outgrew the model's context, or its server failed
            # ours are one clear line; anything else gets its traceback
            logger.error("topictalk: an answer failed: %s", err, exc_info=not isinstance(err, TopictalkError))
            _unfinished(messages, answer, text, pending)
            pending = ""
            messages.append({"role": "assistant", "content": FAILED})
            yield list(messages), session
        finally:
            session.answering = None
            if stream is not None:
                stream.close()
            _unfinished(messages, answer, text, pending)


def _unfinished(messages: list[dict], answer: dict, text: str, pending: str) -> None:
    """A stopped or failed answer keeps what was written, without the sources it was still reading."""
    if pending and any(m is answer for m in messages):
        if text:
            answer["content"] = safe_markdown(text)
        else:
            messages[:] = [m for m in messages if m is not answer]


def _trim(messages: list[dict], keep: int) -> None:
    """Drop the oldest messages so at most ``keep`` stay, starting at a question."""
    cut = len(messages) - keep
    while 0 < cut < len(messages) and messages[cut]["role"] != "user":
        cut += 1
    if cut > 0:
        del messages[:cut]


def stop_session(session: ChatSession | None) -> None:
    if session is not None:
        session.stop()


def clear_session(session: ChatSession | None) -> tuple[list[dict], ChatSession | None]:
    """Forget the conversation. Clear also stops a running answer; waiting for it to end
    first keeps the stopped answer from landing in the fresh history."""
    if session is not None:
        session.stop()
        got = session.lock.acquire(timeout=30)
        try:
            session.conversation.reset()
            session.messages.clear()
            session.last_question = ""
        finally:
            if got:
                session.lock.release()
    return [], session


def ask_stream(parts: AppParts, question: str) -> Iterator[dict]:
    """The ``/ask`` API: one question, a fresh conversation (no follow-ups). Yields ``{"answer": the text
    so far, "done": False}`` as it is written, then the reply: ``answer``, ``sources`` (``n``, ``id``,
    ``title``, ``topic``, ``topic_label``, ``snippet``, ``cited_by``), ``topics``, ``themes``, ``intent``,
    ``answer_source``, ``dropped`` and ``"done": True``. What is wrong with the question is a
    TopictalkError, one line."""
    response = parts.session(None).conversation.respond(question or "")
    text = ""
    for chunk in response:
        text += chunk
        yield {"answer": text, "done": False}
    yield {**response.reply().as_dict(), "done": True}


def take_question(question: str, waiting: int, max_answers: int) -> tuple[str, str, str]:
    """(what the box shows, the question to answer, the notice under the box) for a question sent while
    ``waiting`` answers of its owner run or wait: over ``max_answers`` the box keeps it and says why."""
    if waiting >= max_answers:
        return question, "", BUSY.format(n=waiting) + (KEPT if question else "")
    return "", question, ""


def build(parts: AppParts, *, map_points: int = map_mod.MAX_POINTS, queue_size: int = QUEUE_SIZE,
          max_answers: int = guard.MAX_ANSWERS_PER_LOGIN, editing: topic_edits.Editing | None = None,
          newer_look_s: float = NEWER_LOOK_S):
    """The Blocks app (not launched). Call ``.queue()``/``serve()`` to run it. ``editing``: who may change
    the topics in the Topics tab (None: nobody, the table is read-only). ``newer_look_s``: how often an open
    page looks for a newer generation of the index, to show its labels in the table and the map."""
    import gradio as gr

    index, model = parts.index, parts.model
    parts.prepare()
    themes = index.themes
    rows = render.table_rows(index.topics, themes)  # theme headings over their topics
    shown = sum(1 for t in index.topics if not t.is_outlier)
    coords = index.reader.coordinates()
    points = map_mod.Points.from_coordinates(coords)
    built = index.manifest.get("generation")

    def draw(**only):  # the live generation's labels: `demo` writes the model's after the page opened
        return map_mod.figure(points, map_mod.labels_of(index.topics), map_points, map_mod.labels_of(index.themes),
                              map_mod.descriptions_of(index.topics), **only)
    trends = trends_view.TrendsView.load(index, coords)  # None for an index without dates or groups
    limit = concurrency_for(model)
    corpus = index.manifest.get("corpus", {})
    outliers = index.by_id.get(-1)
    # the corpus by name and the model by a public name: never a local path or an internal server address
    source = str(corpus.get("source", "the index"))
    if source.startswith("files: "):  # base names only, whatever a manifest recorded
        source = ", ".join(Path(name).name or name for name in source.removeprefix("files: ").split(", "))
    unplaced = f"; {outliers.size:,} fit no topic" if outliers and outliers.size else ""
    grouped = f", grouped in {len(themes)} themes" if 1 < len(themes) < shown else ""
    summary = safe_markdown(f"{corpus.get('documents', points.total):,} documents from {source}, in {shown} "
                            f"topics{grouped}{unplaced}. Answers are written by {public_model_name(model.spec)} "
                            "from these documents, and cite them.")
    brief = Brief.from_dict(index.manifest.get("brief"))
    questions = render.example_questions(index.topics)

    with gr.Blocks(title="topictalk", analytics_enabled=False) as demo:
        session = gr.State(None)
        # the question the next answer step answers: a hidden component, not a gr.State, because the browser
        # sends a component's value as the step joins the queue, while a State is read when the step starts;
        # a question taken while another waited overwrote the waiting one's (it answered the newer one, or none)
        pending = gr.Textbox("", visible=False)
        gr.Markdown(f"## topictalk\n{summary}")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                # messages arrive already escaped (ui.markup); no LaTeX: nothing to render that could load
                # the empty chat says what the collection holds and offers three questions, in sight on a phone
                chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="tt-chat", sanitize_html=True,
                                     autoscroll=False,  # the page's script shows a new question at the top
                                     latex_delimiters=[], feedback_options=None, buttons=["copy"],
                                     placeholder=render.welcome(brief, themes, index.topics),
                                     examples=[{"text": q} for q in questions[:3]])
                with gr.Row():
                    max_chars = parts.settings.max_question_chars  # the browser stops typing and pasting here
                    box = gr.Textbox(placeholder=f"Ask about the corpus and its topics (up to {max_chars:,} "
                                                 "characters), then press Enter",
                                     show_label=False, scale=6, elem_id="tt-question", autofocus=True,
                                     max_length=max_chars)
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="tt-send")
                notice = gr.Markdown("", elem_id="tt-notice")
                with gr.Row():
                    stop = gr.Button("Stop", size="sm", elem_id="tt-stop")  # red only said "danger" when idle
                    retry = gr.Button("Retry", size="sm", elem_id="tt-retry")
                    clear = gr.Button("Clear", size="sm", elem_id="tt-clear")
                gr.Markdown("**Try:**")
                with gr.Row():
                    examples = [gr.Button(q, size="sm", elem_classes=["tt-example"])
                                for q in questions]
            with gr.Tab("Topics", id="topics"):
                gr.Markdown(topic_tree.PROMPT)
                search = gr.Textbox(placeholder="Search topics by label or keyword", show_label=False,
                                    elem_id="tt-topic-search", max_length=render.MAX_SEARCH_CHARS)
                table = gr.Dataframe(value=topic_tree.topic_frame(rows),
                                     headers=render.TOPIC_COLUMNS,
                                     datatype=render.TOPIC_TYPES,
                                     interactive=False, wrap=True, elem_id="tt-topics",
                                     column_widths=render.TOPIC_WIDTHS)
                subtopic_panel = topic_tree.panel(gr)  # a topic's subtopics, opened from its row
                edit_form = topic_edits.form(gr) if editing is not None else None
            with gr.Tab("Map", id="map"):  # with a filter to a period or a group where the index has them
                map_plot = gr.Plot(value=draw(), elem_id="tt-map", show_label=False, render=False)
                map_filter = trends_view.map_with_filter(trends, map_plot, draw, len(points),
                                                         lambda: index.manifest.get("generation"))
            trends_view.add_tab(trends)

        def answer(question, current):
            yield from stream_answer(parts, current, question)

        def waiting_for(request) -> int:
            # the guard's count, read before an answer joins the queue, so that a question over the limit
            # is kept with its reason instead of refused with an "Error" on the chat (issues 31 and 33)
            owner = guard.owner(request.username, request.session_hash)
            return guard.GradioState.answers_in(demo._queue, LLM_GROUP)[owner]

        def take(question, request):
            return take_question(question, waiting_for(request), max_answers)

        def admit(question, request):  # a question a button asked: nothing to keep in the box
            return take_question(question, waiting_for(request), max_answers)[1:]

        def asked(question):
            # a question that was not taken (empty, or kept in the box over the limit) ends the chain here,
            # before the answer step would join the queue (where the guard refuses it with a 429 that shows
            # "Error"): a hidden error stops it, and the answer step runs only on .success
            if not question:
                raise gr.Error("no question taken", visible=False, print_exception=False)

        def retry_question(current):
            return current.last_question if current is not None else ""

        def choose_topic(evt):
            topic = render.topic_of(evt.row_value or [])  # None: a theme's heading
            if topic is None or topic_tree.clicked_subtopics(evt.index):  # that cell opens its subtopics here
                return gr.skip(), ""
            return gr.Tabs(selected="chat"), render.topic_question(topic)

        def example_question(evt):
            return str((evt.value or {}).get("text", ""))

        # gradio passes the clicked row to a parameter annotated with SelectData; this module's
        # annotations are postponed strings that gradio cannot resolve, so give it the class itself
        choose_topic.__annotations__["evt"] = gr.SelectData
        example_question.__annotations__["evt"] = gr.SelectData
        for fn in (take, admit):
            fn.__annotations__["request"] = gr.Request

        # trigger_mode "multiple": a question asked while an answer runs waits in the queue; gradio's default
        # ("once") dropped it, so a second question sent with Enter vanished from the box and was never answered
        llm = {"concurrency_limit": limit, "concurrency_id": LLM_GROUP, "trigger_mode": "multiple"}
        chat_io = ([pending, session], [chatbot, session])

        def answered(taken):
            """The answer step after a step that took a question into ``pending`` (none: no answer)."""
            return taken.then(asked, pending, None, queue=False).success(answer, *chat_io, **llm)

        def admitted(asking):
            """A button's question (retry, a topic, an example): admitted, or refused with a notice."""
            return answered(asking.then(admit, pending, [pending, notice], queue=False))

        answering = [
            answered(gr.on([box.submit, send.click], take, box, [box, pending, notice], queue=False)),
            admitted(retry.click(retry_question, session, pending, queue=False)),
            admitted(table.select(choose_topic, None, [tabs, pending], queue=False)),
            admitted(chatbot.example_select(example_question, None, pending, queue=False)),
        ]
        for button in examples:
            answering.append(admitted(button.click(lambda q: q, button, pending, queue=False)))
        stop.click(stop_session, session, None, queue=False)
        clear.click(clear_session, session, [chatbot, session], cancels=answering, queue=False)
        chatbot.clear(clear_session, session, [chatbot, session], cancels=answering, queue=False)  # its bin icon
        topic_tree.wire(gr, table, subtopic_panel, lambda: index.snapshot(), model)
        search.change(lambda q: topic_tree.topic_frame(render.filter_rows(rows, q)), search,
                      table, queue=False)

        def redrawn() -> tuple:
            """The table and the map of the live generation (after an edit, or the model's labels)."""
            rows[:] = render.table_rows(index.topics, index.themes)
            return topic_tree.topic_frame(rows), draw()

        drawn_for: dict[int, tuple] = {}  # the newest generation's table and map, drawn once for every page
        drawing = threading.Lock()  # the pages that see a new generation at one tick wait for one drawing

        def live_views() -> tuple:
            """:func:`redrawn` once per generation: an edit's and every page load after it share one drawing."""
            with drawing:
                generation = index.manifest.get("generation")
                if generation not in drawn_for:
                    drawn_for.clear()
                    drawn_for[generation] = redrawn()
                return drawn_for[generation]

        # the generation a page shows: the one the app was built with until the page loads or looks again
        shown = gr.State(built)
        looks = [shown, search] + ([map_filter.dropdown] if map_filter else [])
        shows = [table, map_plot, shown, chatbot, *examples]

        def newer_labels(on_page, query, period=trends_view.ALL):
            """What a page shows of a generation newer than its own: the table (as its search filters it),
            the map (of its period or group), the welcome and the example questions. `topictalk demo` on a
            CPU opens the chat with keyword labels and commits the model's after; an edit or an addition may
            come from another page or process."""
            live = index.manifest.get("generation")
            if live == on_page:
                return (gr.skip(),) * len(shows)
            _, fresh = live_views()
            if map_filter and period not in (None, "", trends_view.ALL):
                fresh = map_filter.drawn(period)
            topics = index.topics
            asked = render.example_questions(topics)
            # the chat's messages are not touched: only the text and questions its empty state offers
            welcome = gr.update(placeholder=render.welcome(Brief.from_dict(index.manifest.get("brief")),
                                                           index.themes, topics),
                                examples=[{"text": q} for q in asked[:3]])
            buttons = [gr.update(value=q) for q in asked] + [gr.skip()] * (len(examples) - len(asked))
            return (topic_tree.topic_frame(render.filter_rows(rows, query)), fresh, live, welcome,
                    *buttons[:len(examples)])

        demo.load(newer_labels, looks, shows, queue=False, show_progress="hidden")  # no timer over the table
        gr.Timer(newer_look_s).tick(newer_labels, looks, shows, queue=False, show_progress="hidden")

        if edit_form is not None:
            def edit(action, ids_text, label, request):
                if not editing.allows(request.username):
                    return topic_edits.READ_ONLY, gr.skip(), gr.skip(), gr.skip(), gr.skip()
                labelled = parts.model if index.manifest.get("models", {}).get("llm") else None
                try:
                    said = topic_edits.change(action, ids_text, label, index.reader.location, llm=labelled,
                                              embedder=index.embedder)
                except TopictalkError as err:
                    return safe_markdown(f"Not changed: {err}"), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                index.follow(force=True)  # the new generation, for this table and map and every chat's next question
                frame, fresh = live_views()
                # the subtopics shown were a topic of the old generation (merged, split or renamed away): closed
                # the page's next look brings the rest of the new generation (the welcome, its search's rows)
                return safe_markdown(said), frame, fresh, "", gr.Dataframe(visible=False)

            def edit_with(action: str):
                def run(ids_text, label, request):
                    return edit(action, ids_text, label, request)

                run.__annotations__["request"] = gr.Request  # gradio passes the request by this annotation
                return run

            for action, button in edit_form.buttons.items():
                # in the model's queue group: a merge or split may ask the model for labels
                button.click(lambda: topic_edits.WORKING, None, edit_form.outcome, queue=False,
                             show_progress="hidden").then(
                    edit_with(action), [edit_form.ids, edit_form.label],
                    [edit_form.outcome, table, map_plot, subtopic_panel.heading, subtopic_panel.table],
                    concurrency_limit=1, concurrency_id=LLM_GROUP, show_progress="hidden")

        def ask(question: str) -> Iterator[dict]:
            """Ask the corpus one question (a new conversation each call). Streams {"answer": text so far,
            "done": false}; the last item is the reply: answer, sources (n, id, title, topic, topic_label,
            snippet, cited_by), topics, themes, intent, answer_source, dropped, and "done": true."""
            try:
                yield from ask_stream(parts, question)
            except TopictalkError as err:  # the caller's own question: one line back, no traceback
                raise gr.Error(str(err), print_exception=False) from None

        ask.__annotations__ = {"question": str, "return": Iterator[dict]}  # gradio types the API from these
        # the one documented endpoint; it runs in the answers' queue group, so the model's concurrency and
        # the per-login limit hold for it as for the chat
        gr.api(ask, api_name="ask", concurrency_limit=limit, concurrency_id=LLM_GROUP)
    # every other event is the page's own (take, answer, ...): hidden from the API page and gradio_client
    for fn in demo.fns.values():
        if fn.api_name != "ask":
            fn.api_visibility = "private"

    demo.queue(default_concurrency_limit=limit, max_size=queue_size)
    quiet_queue(demo)
    return demo


def quiet_queue(demo) -> bool:
    """Let gradio's queue look for work every QUEUE_POLL_S, not every millisecond (its default off Windows),
    and for progress bars to send every PROGRESS_POLL_S, not every 10 ms. The first loop wakes that often
    while the queue is empty and while every worker is busy, so an idle app took ~6% of a core, and an
    answer's model shared the cores with it (bench/queue_poll.py). False where a gradio version has no such
    settings (tests/test_app.py notices)."""
    queue = getattr(demo, "_queue", None)
    polls = {"sleep_when_free": QUEUE_POLL_S, "progress_update_sleep_when_free": PROGRESS_POLL_S}
    if queue is None or not all(hasattr(queue, name) for name in polls):
        return False
    for name, seconds in polls.items():
        setattr(queue, name, max(getattr(queue, name), seconds))
    return True


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = APP_PORT
    share: bool = False
    auth: list[tuple[str, str]] | None = None


def launch_options(options: ServeOptions) -> dict:
    """gradio's launch() arguments: the login behind the throttle, the guard around every request, no
    uploads, one CSS, no chatter."""
    throttle = LoginThrottle(options.auth) if options.auth else None
    # gradio's login form shows nothing on HTTP 429 (a try before its wait is over): the page says how it works
    message = (f"topictalk: log in to chat with this corpus. After a wrong password, wait before trying again: "
               f"{throttle.base:g} s, doubling up to {throttle.cap:g} s (an earlier try is not checked)."
               if throttle is not None else None)
    return {"server_name": options.host, "server_port": options.port,
            "auth": login_check(throttle) if throttle is not None else None, "auth_message": message,
            "max_file_size": MAX_FILE_SIZE, "js": PAGE_JS,
            "app_kwargs": {"lifespan": guard.outermost(
                lambda stack: guard.Guard(page_head.Head(stack, LOGIN_HEAD), LLM_GROUP))},
            "prevent_thread_lock": True, "quiet": True, "ssr_mode": False, "css": CSS, "footer_links": []}


def login_check(throttle: LoginThrottle):
    """gradio's ``auth`` callable: a throttled attempt is answered at once with HTTP 429 and Retry-After
    (no task sleeps for it); ``ui.guard`` recorded the client address of the request."""
    from fastapi import HTTPException

    def check(username: str, password: str) -> bool:
        try:
            return throttle.check(username, password, guard.client.get())
        except Throttled as err:
            raise HTTPException(429, detail=str(err), headers={"Retry-After": str(math.ceil(err.retry_after))}) \
                from None

    return check


def serve(demo, options: ServeOptions, log=print) -> None:
    """Launch and block until Ctrl+C."""
    start(demo, options, log)
    wait(demo)


def start(demo, options: ServeOptions, log=print) -> None:
    """Launch and return (the app runs in gradio's threads). A share tunnel that cannot open costs one
    line, not the app."""
    launch = launch_options(options)
    shared = options.share
    # gradio prints multi-line launch chatter (and, offline, a paragraph on the failed tunnel); we print one line
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            demo.launch(share=options.share, **launch)
        except OSError as err:  # gradio's own message suggests its env variables; ours names our option
            raise TopictalkError(f"cannot serve on {options.host}:{options.port}: the port is in use or the address "
                                 "cannot be bound; pass another --port or --host") from err
        except Exception:
            if not options.share:
                raise
            # gradio 6.31 prints and goes on when the tunnel fails; should a later one raise, serve locally
            demo.close()
            shared = False
            demo.launch(share=False, **launch_options(options))  # afresh: gradio rewrote app_kwargs in place
    url = demo.local_url
    if options.share:
        if shared and demo.share_url:
            log(f"topictalk: public link {demo.share_url} (login required)" if options.auth else
                f"topictalk: public link {demo.share_url} (no login: anyone with the link can use it)")
        else:
            log(f"topictalk: could not open a share link (no internet or the share server is unreachable); "
                f"serving locally only at {url}")
    log(f"topictalk: chat at {url}{' (login required)' if options.auth else ''}; Ctrl+C stops it")


def wait(demo) -> None:
    """Block until Ctrl+C (or SIGTERM), then close the app."""
    if threading.current_thread() is threading.main_thread():
        # `kill`, `docker stop` and systemd send SIGTERM: stop as on Ctrl+C, so the caller closes the model
        signal.signal(signal.SIGTERM, _interrupt)
        # a process started in the background of a script (`topictalk chat &`, a CI runner) inherits SIGINT
        # ignored, and Python then leaves it so: Ctrl+C (kill -INT) did nothing, and a test waited 30 s
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while demo.is_running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.redirect_stdout(io.StringIO()):  # gradio's "Closing server..." line
            demo.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
