"""The Gradio app: chat with streamed, cited answers; the topic table; the data map.

One ``TopicIndex`` and one model serve every browser; each browser session
gets its own ``Conversation`` (kept in ``gr.State``, made on its first
question), so histories never mix. Everything the model does goes through one
queue group sized to what the runtime can run at once, so waiting users see
their place in the queue instead of a frozen page.

The pure helpers (table rows and search, example questions, source HTML,
auth parsing) are separate from the Blocks wiring so tests need no server.
"""

from __future__ import annotations

import contextlib
import html
import io
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.conversation import Conversation, Reply, Settings, Source
from agent.llm import Model
from agent.retrieval import TopicIndex
from indexing.errors import TopictalkError
from indexing.schema import Topic
from ui import map as map_mod

TOPIC_COLUMNS = ["Topic", "Size", "Label", "Keywords"]
LLM_GROUP = "llm"  # every event that runs the model shares this queue group
SERVER_CONCURRENCY = 8  # an OpenAI-compatible server batches requests; in-process runtimes cannot
CSS = """
.tt-footer { font-size: 0.92em; }
.tt-footer b { font-size: 1em; font-weight: 600; }
.tt-sources { margin-top: 0.6em; border-top: 1px solid var(--border-color-primary); padding-top: 0.4em; }
.tt-source { margin: 0.35em 0; }
.tt-topics-used { margin-top: 0.4em; color: var(--body-text-color-subdued); }
.tt-source details summary { cursor: pointer; color: var(--body-text-color-subdued); }
"""


# -- topics table ---------------------------------------------------------------------
def topic_rows(topics: Sequence[Topic], keywords: int = 8) -> list[list]:
    """One row per real topic, biggest first (outliers are not a topic one can ask about)."""
    real = sorted((t for t in topics if not t.is_outlier), key=lambda t: (-t.size, t.id))
    return [[t.id, t.size, t.label, ", ".join(t.keywords[:keywords])] for t in real]


def filter_rows(rows: Sequence[Sequence], query: str) -> list[list]:
    """Rows whose text holds every word of ``query`` (any column, any case); all rows if empty."""
    words = query.lower().split()
    if not words:
        return [list(r) for r in rows]
    out = []
    for row in rows:
        text = " ".join(str(cell) for cell in row).lower()
        if all(w in text for w in words):
            out.append(list(row))
    return out


def topic_question(topic_id: int) -> str:
    return f"Tell me about topic {topic_id}"


def example_questions(topics: Sequence[Topic]) -> list[str]:
    """The questions offered as buttons: overview, sizes, a real topic by name, topic 0."""
    examples = ["What is this corpus about?", "What are the biggest topics?"]
    real = sorted((t for t in topics if not t.is_outlier), key=lambda t: (-t.size, t.id))
    if real:
        examples.append(f"Are there topics about {real[0].label}?")
        examples.append(topic_question(min(t.id for t in real)))
    return examples


# -- answers and sources ------------------------------------------------------------------
def _one_line(text: str) -> str:
    # a blank line inside an HTML block would end it and let markdown mangle the rest
    return html.escape(" ".join(text.split()))


def format_sources(sources: Sequence[Source], heading: str = "Sources") -> str:
    """HTML shown under an answer: title, topic label and snippet; the full abstract folds out."""
    if not sources:
        return ""
    items = []
    for s in sources:
        title = _one_line(s.title or s.id)
        topic = f"topic {s.topic}: {_one_line(s.topic_label)}" if s.topic != -1 else "no topic (outlier)"
        full = f"<details><summary>Full text</summary>{_one_line(s.text)}</details>" if s.text else ""
        items.append(f'<div class="tt-source"><b>[{s.n}] {title}</b> · <i>{topic}</i><br>'
                     f"{_one_line(s.snippet)}{full}</div>")
    return f'<div class="tt-sources"><b>{heading}</b>' + "".join(items) + "</div>"


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
    answer, which a stopped one never gets (the browser tests wait for it).
    """
    text = reply.answer or "(no answer)"
    if reply.sources:
        sources = format_sources(reply.sources)
    else:
        sources = format_sources(reply.provided, "Sources given to the model (none cited)")
    return f'{text}\n\n<div class="tt-footer">{sources}{format_topics(reply.topics, labels)}</div>'


def concurrency_for(model: Model) -> int:
    """How many answers may be generated at once: one per in-process model, more for a server."""
    return SERVER_CONCURRENCY if type(model).__name__ == "OpenAIModel" else 1


# -- login ----------------------------------------------------------------------------------------
def parse_credential(text: str, where: str = "--auth") -> tuple[str, str]:
    """``user:password`` (the password may itself hold colons)."""
    user, sep, password = text.strip().partition(":")
    if not sep or not user.strip() or not password:
        raise TopictalkError(f"{where}: expected USER:PASSWORD, got {text.strip()!r}")
    return user.strip(), password


def read_auth_file(path: str | Path) -> list[tuple[str, str]]:
    """One ``user:password`` per line; blank lines and ``#`` comments are skipped."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise TopictalkError(f"cannot read --auth-file {path}: {err.strerror or err}") from err
    pairs = [parse_credential(line, f"--auth-file {path} line {n}")
             for n, line in enumerate(lines, start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not pairs:
        raise TopictalkError(f"--auth-file {path} holds no user:password line")
    return pairs


def resolve_auth(*, share: bool, auth: str | None, auth_file: str | None,
                 no_auth: bool) -> list[tuple[str, str]] | None:
    """The logins to require, or None; refuses a public link that anyone could use by accident."""
    if auth and auth_file:
        raise TopictalkError("give --auth or --auth-file, not both")
    if no_auth and (auth or auth_file):
        raise TopictalkError("--no-auth contradicts --auth/--auth-file: drop one")
    if share and not (auth or auth_file or no_auth):
        raise TopictalkError("--share puts the corpus and the model on the public internet: add --auth USER:PASS "
                             "or --auth-file FILE (or --no-auth to share without a login on purpose)")
    if auth:
        return [parse_credential(auth)]
    if auth_file:
        return read_auth_file(auth_file)
    return None


# -- one browser session --------------------------------------------------------------------
@dataclass
class ChatSession:
    """What one browser session keeps: its conversation and what its chat shows."""

    conversation: Conversation
    messages: list[dict] = field(default_factory=list)  # gr.Chatbot messages
    last_question: str = ""
    # one answer at a time per browser: a second question waits for the first
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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

    def session(self, current: ChatSession | None) -> ChatSession:
        return current if current is not None else ChatSession(Conversation(self.index, self.model, self.settings))


def stream_answer(parts: AppParts, session: ChatSession | None,
                  question: str) -> Iterator[tuple[list[dict], ChatSession]]:
    """Yield (chat messages, session) as the answer grows; sources are added when it ends.

    On Stop, gradio closes this generator; the ``finally`` closes the agent's
    stream too, which records the partial answer and releases the model at once.
    """
    session = parts.session(session)
    question = (question or "").strip()
    if not question:
        yield session.messages, session
        return
    with session.lock:
        session.last_question = question
        messages = session.messages
        messages.append({"role": "user", "content": question})
        yield list(messages), session  # the question shows while the model reads the sources
        try:
            response = session.conversation.respond(question)
        except TopictalkError as err:
            messages.append({"role": "assistant", "content": f"⚠️ {err}"})
            yield list(messages), session
            return
        stream = iter(response)
        answer = {"role": "assistant", "content": ""}
        shown = False  # the answer joins the chat with its first text, not as an empty bubble
        try:
            for chunk in stream:
                answer["content"] += chunk
                if not shown and answer["content"]:
                    messages.append(answer)
                    shown = True
                yield list(messages), session
            if not shown:
                messages.append(answer)
            answer["content"] = answer_markdown(response.reply(), parts.labels)
            yield list(messages), session
        except TopictalkError as err:  # e.g. the prompt outgrew the model's context
            messages.append({"role": "assistant", "content": f"⚠️ {err}"})
            yield list(messages), session
        finally:
            stream.close()


def clear_session(session: ChatSession | None) -> tuple[list[dict], ChatSession | None]:
    """Forget the conversation. Clear also cancels a running answer; waiting for its
    generator to close first keeps the stopped answer from landing in the fresh history."""
    if session is not None:
        got = session.lock.acquire(timeout=30)
        try:
            session.conversation.reset()
            session.messages.clear()
            session.last_question = ""
        finally:
            if got:
                session.lock.release()
    return [], session


def build(parts: AppParts, *, map_points: int = map_mod.MAX_POINTS):
    """The Blocks app (not launched). Call ``.queue()``/``serve()`` to run it."""
    import gradio as gr
    import pandas as pd

    index, model = parts.index, parts.model
    rows = topic_rows(index.topics)
    points = map_mod.Points.from_coordinates(index.reader.coordinates())
    fig = map_mod.figure(points, map_mod.labels_of(index.topics), map_points)
    limit = concurrency_for(model)
    corpus = index.manifest.get("corpus", {})
    outliers = index.by_id.get(-1)
    summary = (f"{corpus.get('documents', points.total):,} documents from {corpus.get('source', 'the index')} · "
               f"{len(rows)} topics · {outliers.size if outliers else 0:,} outliers · model `{model.spec}`")

    with gr.Blocks(title="topictalk", analytics_enabled=False) as demo:
        session = gr.State(None)
        pending = gr.State("")  # the question a button or table click asks
        gr.Markdown(f"## topictalk\n{summary}")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="tt-chat",
                                     feedback_options=None, buttons=["copy"])
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask about the corpus and its topics, then press Enter",
                                     show_label=False, scale=6, elem_id="tt-question", autofocus=True)
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="tt-send")
                with gr.Row():
                    stop = gr.Button("Stop", variant="stop", size="sm", elem_id="tt-stop")
                    retry = gr.Button("Retry", size="sm", elem_id="tt-retry")
                    clear = gr.Button("Clear", size="sm", elem_id="tt-clear")
                gr.Markdown("**Try:**")
                with gr.Row():
                    examples = [gr.Button(q, size="sm", elem_classes=["tt-example"])
                                for q in example_questions(index.topics)]
            with gr.Tab("Topics", id="topics"):
                gr.Markdown("Click a topic to ask the chat about it; click a column header to sort.")
                search = gr.Textbox(placeholder="Search topics by label or keyword", show_label=False,
                                    elem_id="tt-topic-search")
                table = gr.Dataframe(value=pd.DataFrame(rows, columns=TOPIC_COLUMNS), headers=TOPIC_COLUMNS,
                                     datatype=["number", "number", "str", "str"],
                                     interactive=False, wrap=True, elem_id="tt-topics",
                                     column_widths=["8%", "8%", "34%", "50%"])
            with gr.Tab("Map", id="map"):
                gr.Plot(value=fig, elem_id="tt-map", show_label=False)

        def answer(question, current):
            yield from stream_answer(parts, current, question)

        def take(question):
            return "", question

        def retry_question(current):
            return current.last_question if current is not None else ""

        def choose_topic(evt):
            row = evt.row_value or []
            if not row:
                return gr.skip(), ""
            return gr.Tabs(selected="chat"), topic_question(int(row[0]))

        # gradio passes the clicked row to a parameter annotated with SelectData; this module's
        # annotations are postponed strings that gradio cannot resolve, so give it the class itself
        choose_topic.__annotations__["evt"] = gr.SelectData

        llm = {"concurrency_limit": limit, "concurrency_id": LLM_GROUP}
        chat_io = ([pending, session], [chatbot, session])
        answering = [
            box.submit(take, box, [box, pending], queue=False).then(answer, *chat_io, **llm),
            send.click(take, box, [box, pending], queue=False).then(answer, *chat_io, **llm),
            retry.click(retry_question, session, pending, queue=False).then(answer, *chat_io, **llm),
            table.select(choose_topic, None, [tabs, pending], queue=False).then(answer, *chat_io, **llm),
        ]
        for button in examples:
            answering.append(button.click(lambda q: q, button, pending, queue=False).then(answer, *chat_io, **llm))
        stop.click(None, None, None, cancels=answering, queue=False)
        clear.click(clear_session, session, [chatbot, session], cancels=answering, queue=False)
        chatbot.clear(clear_session, session, [chatbot, session], cancels=answering, queue=False)  # its bin icon
        search.change(lambda q: pd.DataFrame(filter_rows(rows, q), columns=TOPIC_COLUMNS), search, table,
                      queue=False)

    demo.queue(default_concurrency_limit=limit)
    return demo


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: list[tuple[str, str]] | None = None


def serve(demo, options: ServeOptions, log=print) -> None:
    """Launch and block until Ctrl+C. A share tunnel that cannot open costs one line, not the app."""
    launch = {"server_name": options.host, "server_port": options.port, "auth": options.auth,
              "auth_message": "topictalk: log in to chat with this corpus" if options.auth else None,
              "prevent_thread_lock": True, "quiet": True, "ssr_mode": False, "css": CSS, "footer_links": []}
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
            demo.launch(share=False, **launch)
    url = demo.local_url
    if options.share:
        if shared and demo.share_url:
            log(f"topictalk: public link {demo.share_url} (login required)" if options.auth else
                f"topictalk: public link {demo.share_url} (no login: anyone with the link can use it)")
        else:
            log(f"topictalk: could not open a share link (no internet or the share server is unreachable); "
                f"serving locally only at {url}")
    log(f"topictalk: chat at {url}{' (login required)' if options.auth else ''}; Ctrl+C stops it")
    if threading.current_thread() is threading.main_thread():
        # `kill`, `docker stop` and systemd send SIGTERM: stop as on Ctrl+C, so the caller closes the model
        signal.signal(signal.SIGTERM, _interrupt)
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
