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

import asyncio
import contextlib
import contextvars
import hmac
import html
import io
import ipaddress
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent import models
from agent.conversation import Conversation, Reply, Settings, Source
from agent.llm import Model
from agent.retrieval import TopicIndex
from indexing.errors import TopictalkError
from indexing.schema import Topic
from ui import map as map_mod
from ui.markup import safe_markdown

TOPIC_COLUMNS = ["Topic", "Size", "Label", "Keywords"]
LLM_GROUP = "llm"  # every event that runs the model shares this queue group
QUEUE_SIZE = 32  # answers waiting at once; beyond, a visitor is told the queue is full instead of waiting forever
MAX_FILE_SIZE = "1mb"  # the app takes no files; uploads are refused outright (see _guard), this is a second fence
MIN_PUBLIC_PASSWORD = 8  # characters, for a login on a public link or a non-loopback address
# no request of this app needs more: a question is at most Settings.max_question_chars (4,000 characters,
# under 50 kB even as escaped JSON); a bigger body is refused before gradio parses it
MAX_REQUEST_BYTES = 64 * 1024
CSS = """
.tt-footer { font-size: 0.92em; }
.tt-footer b { font-size: 1em; font-weight: 600; }
.tt-sources { margin-top: 0.6em; border-top: 1px solid var(--border-color-primary); padding-top: 0.4em; }
.tt-source { margin: 0.35em 0; }
.tt-topics-used { margin-top: 0.4em; color: var(--body-text-color-subdued); }
.tt-source details summary { cursor: pointer; color: var(--body-text-color-subdued); }
"""
# gradio's Markdown gives every link rel="noopener noreferrer" (and target=_blank) when it renders,
# replacing ours; links in answers come from model or document text, so they also get nofollow
NOFOLLOW_JS = """() => {
  const rel = "noopener noreferrer nofollow";
  const fix = () => document.querySelectorAll("a[href]").forEach(a => { if (a.rel !== rel) a.rel = rel; });
  new MutationObserver(fix).observe(document.body,
    {subtree: true, childList: true, attributes: true, attributeFilter: ["rel", "href"]});
  fix();
}"""


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
    # a blank line inside an HTML block would end it and let markdown mangle the rest; brackets are
    # escaped too, so no Markdown image or link could form from document text even outside the block
    return html.escape(" ".join(text.split())).replace("[", "&#91;").replace("]", "&#93;")


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
    text = safe_markdown(reply.answer) if reply.answer else "(no answer)"
    if reply.sources:
        sources = format_sources(reply.sources)
    else:
        sources = format_sources(reply.provided, "Sources given to the model (none cited)")
    return f'{text}\n\n<div class="tt-footer">{sources}{format_topics(reply.topics, labels)}</div>'


def concurrency_for(model: Model) -> int:
    """How many answers may be generated at once: what the runtime says it can run (1 in-process)."""
    return max(1, int(getattr(model, "concurrency", 1)))


def public_model_name(spec: str) -> str:
    """The model as every visitor may see it: a name, never a local path or an internal server address."""
    return models.public_name(spec)


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


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach an app listening on ``host``."""
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def resolve_auth(*, share: bool, auth: str | None, auth_file: str | None, no_auth: bool,
                 host: str = "127.0.0.1") -> list[tuple[str, str]] | None:
    """The logins to require, or None; refuses a public app that anyone could use by accident.

    Public means a share link or an address other machines can reach; such an
    app needs a login (unless --no-auth says otherwise) with passwords of at
    least MIN_PUBLIC_PASSWORD characters, since anyone may try them.
    """
    if auth and auth_file:
        raise TopictalkError("give --auth or --auth-file, not both")
    if no_auth and (auth or auth_file):
        raise TopictalkError("--no-auth contradicts --auth/--auth-file: drop one")
    public = "--share" if share else None if is_loopback(host) else f"--host {host}"
    if public and not (auth or auth_file or no_auth):
        reach = "the public internet" if share else "every machine that can reach this one"
        raise TopictalkError(f"{public} puts the corpus and the model on {reach}: add --auth USER:PASS "
                             f"or --auth-file FILE (or --no-auth to serve without a login on purpose)")
    logins = [parse_credential(auth)] if auth else read_auth_file(auth_file) if auth_file else None
    for user, password in (logins or []) if public else []:
        if len(password) < MIN_PUBLIC_PASSWORD:
            raise TopictalkError(f"the password of {user!r} has {len(password)} characters; with {public} it needs "
                                 f"at least {MIN_PUBLIC_PASSWORD}: choose a longer one")
    return logins


# the client address of the request being handled, set by _guard for the login check
_client: contextvars.ContextVar[str] = contextvars.ContextVar("topictalk_client", default="?")


class LoginThrottle:
    """Gradio's login check, with an exponential delay after failures, per client and per user name.

    After n failed attempts from one client (or for one user) the next attempt
    waits base * 2**(n-1) seconds, at most ``cap``; a success clears both.
    Attempts are booked before they are checked, so parallel guesses queue
    behind each other instead of sharing one delay. The wait is an asyncio
    sleep: gradio awaits an async login check, so a throttled guesser holds
    no thread and no other visitor waits. Unknown user names share one key,
    so made-up names cannot grow the table.
    """

    def __init__(self, logins: list[tuple[str, str]], base: float = 1.0, cap: float = 30.0,
                 clock=time.monotonic, sleep=asyncio.sleep) -> None:
        self._logins = logins
        self._users = {user for user, _ in logins}
        self.base, self.cap, self._clock, self._sleep = base, cap, clock, sleep
        self._failures: dict[tuple[str, str], int] = {}
        self._not_before: dict[tuple[str, str], float] = {}

    def delay(self, failures: int) -> float:
        return 0.0 if failures <= 0 else min(self.cap, self.base * 2 ** (failures - 1))

    async def check(self, username: str, password: str) -> bool:
        """Pass this bound method to gradio: it awaits a coroutine function (a callable object would be
        called without await, and the coroutine it returns is truthy: everyone would be let in)."""
        keys = [("client", _client.get()), ("user", username if username in self._users else "?")]
        now = self._clock()
        start = max([now] + [self._not_before.get(k, now) for k in keys])
        for k in keys:  # booked as a failure until it proves otherwise
            self._failures[k] = self._failures.get(k, 0) + 1
            self._not_before[k] = start + self.delay(self._failures[k])
        if start > now:
            await self._sleep(start - now)
        ok = any(user == username and hmac.compare_digest(secret.encode(), password.encode())
                 for user, secret in self._logins)
        if ok:
            for k in keys:
                self._failures.pop(k, None)
                self._not_before.pop(k, None)
        elif len(self._failures) > 10_000:  # many clients: forget those whose delay has long passed
            stale = [k for k, t in self._not_before.items() if t + self.cap < now]
            for k in stale:
                self._failures.pop(k, None)
                self._not_before.pop(k, None)
        return ok


class _guard:
    """ASGI middleware: refuses Gradio's upload routes (this app takes no files) and request bodies over
    MAX_REQUEST_BYTES (a 100,000-character question costs one refusal, not a JSON parse), and records
    the client address for the login throttle. Plain ASGI, so the route runs in this task's context."""

    BLOCKED = ("/upload", "/process_recording")

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "").rstrip("/")
        if scope.get("method") == "POST" and path.endswith(self.BLOCKED):
            await _refuse(send, 403, "this app accepts no uploads")
            return
        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if (int(length) if length.isdigit() else 0) > MAX_REQUEST_BYTES:
            await _refuse(send, 413, f"requests are limited to {MAX_REQUEST_BYTES // 1024} kB")
            return
        _client.set(_client_address(scope))
        await self.app(scope, _capped(receive), send)


def _capped(receive):
    """A body sent without a length (chunked) is cut off at MAX_REQUEST_BYTES: the route sees a disconnect."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_REQUEST_BYTES:
                return {"type": "http.disconnect"}
        return message

    return wrapped


async def _refuse(send, status: int, detail: str) -> None:
    body = ('{"detail": "%s"}' % detail).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _client_address(scope) -> str:
    peer = (scope.get("client") or ("?", 0))[0]
    if is_loopback(peer):  # the share tunnel connects from this machine: trust its forwarding header
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                return value.decode("latin-1").split(",")[0].strip() or peer
    return peer


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
    limit = parts.settings.max_question_chars
    with session.lock:
        session.last_question = question[:limit]
        messages = session.messages
        shown_question = question if len(question) <= limit else question[:limit] + " …"
        messages.append({"role": "user", "content": safe_markdown(shown_question)})
        yield list(messages), session  # the question shows while the model reads the sources
        try:  # the conversation refuses an over-long question before routing it; the box caps typing
            response = session.conversation.respond(question)
        except TopictalkError as err:
            messages.append({"role": "assistant", "content": f"⚠️ {safe_markdown(str(err))}"})
            yield list(messages), session
            return
        stream = iter(response)
        answer = {"role": "assistant", "content": ""}
        text = ""
        try:
            for chunk in stream:
                text += chunk
                if not text:
                    continue  # the answer joins the chat with its first text, not as an empty bubble
                answer["content"] = safe_markdown(text)  # while streaming too: a half answer can hold an image
                if not messages or messages[-1] is not answer:
                    messages.append(answer)
                yield list(messages), session
            if not messages or messages[-1] is not answer:
                messages.append(answer)
            answer["content"] = answer_markdown(response.reply(), parts.labels)
            yield list(messages), session
        except TopictalkError as err:  # e.g. the prompt outgrew the model's context
            messages.append({"role": "assistant", "content": f"⚠️ {safe_markdown(str(err))}"})
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


def build(parts: AppParts, *, map_points: int = map_mod.MAX_POINTS, queue_size: int = QUEUE_SIZE):
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
    # the corpus by name and the model by a public name: never a local path or an internal server address
    source = str(corpus.get("source", "the index"))
    if source.startswith("files: "):  # base names only, whatever a manifest recorded
        source = ", ".join(Path(name).name or name for name in source.removeprefix("files: ").split(", "))
    summary = safe_markdown(f"{corpus.get('documents', points.total):,} documents from {source} · {len(rows)} "
                            f"topics · {outliers.size if outliers else 0:,} outliers · model: "
                            f"{public_model_name(model.spec)}")

    with gr.Blocks(title="topictalk", analytics_enabled=False) as demo:
        session = gr.State(None)
        pending = gr.State("")  # the question a button or table click asks
        gr.Markdown(f"## topictalk\n{summary}")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                # messages arrive already escaped (ui.markup); no LaTeX: nothing to render that could load
                chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="tt-chat", sanitize_html=True,
                                     latex_delimiters=[], feedback_options=None, buttons=["copy"])
                with gr.Row():
                    max_chars = parts.settings.max_question_chars  # the browser stops typing and pasting here
                    box = gr.Textbox(placeholder=f"Ask about the corpus and its topics (up to {max_chars:,} "
                                                 "characters), then press Enter",
                                     show_label=False, scale=6, elem_id="tt-question", autofocus=True,
                                     max_length=max_chars)
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

    demo.queue(default_concurrency_limit=limit, max_size=queue_size)
    return demo


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: list[tuple[str, str]] | None = None


def launch_options(options: ServeOptions) -> dict:
    """gradio's launch() arguments: the login behind the throttle, no uploads, one CSS, no chatter."""
    from starlette.middleware import Middleware

    auth = LoginThrottle(options.auth).check if options.auth else None
    return {"server_name": options.host, "server_port": options.port, "auth": auth,
            "auth_message": "topictalk: log in to chat with this corpus" if options.auth else None,
            "max_file_size": MAX_FILE_SIZE, "js": NOFOLLOW_JS, "app_kwargs": {"middleware": [Middleware(_guard)]},
            "prevent_thread_lock": True, "quiet": True, "ssr_mode": False, "css": CSS, "footer_links": []}


def serve(demo, options: ServeOptions, log=print) -> None:
    """Launch and block until Ctrl+C. A share tunnel that cannot open costs one line, not the app."""
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
