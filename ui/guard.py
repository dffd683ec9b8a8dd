"""The HTTP fence around the served app: what a request may be before gradio sees it.

:class:`Guard` is plain ASGI middleware wrapped around gradio's whole app
(outside its CORS middleware, which would otherwise answer a preflight first;
see :func:`outermost`). It refuses

- requests from another website: a request carrying an ``Origin`` whose host
  is not the ``Host`` it was sent to (gradio's CORS layer allows any origin
  behind a share host, and its cookie is ``SameSite=none``);
- uploads (this app takes no files) and bodies over ``MAX_REQUEST_BYTES``;
- deep links, which let any login copy any session's chat by its id;
- a session id used by a login other than the first one that used it, read
  where gradio reads it (the JSON body, every ``session_hash`` of the query,
  the heartbeat's and the stream's path) and refused if a request names two;
  a REST ``call`` result or a ``stream`` event asked for by another login;
  ``cancel``/``heartbeat``/``stream`` without a login (gradio leaves them open);
  a binding lasts as long as gradio keeps the session (no count forgets it);
- ``GET /logout`` (a link on any website could log a visitor out): only a
  ``POST`` whose ``Origin`` (or ``Referer``) is this host logs out;
- a third answer in flight or waiting for one login (``max_answers``), so one
  login cannot fill the queue every visitor shares.

It also records the client address for the login throttle: the peer, or, for
a loopback peer (the share tunnel) or a trusted proxy (``FORWARDED_ALLOW_IPS``,
the variable uvicorn reads too; ``topictalk chat --forwarded-allow-ips``), the
last ``X-Forwarded-For`` entry that is not itself a trusted proxy: a proxy
appends its peer, the visitor writes the ones before it. And it trims gradio's
login tokens: idle ones expire, and a login keeps at most its newest few.

What gradio keeps about logins and its queue is read in :class:`GradioState`
only, so a gradio upgrade that renames them changes one class.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections import Counter
from urllib.parse import urlsplit

from topictalk.ui import proxies as proxies_mod
from topictalk.ui import sessions as sessions_mod
from topictalk.ui.logins import is_loopback

# no request of this app needs more: a question is at most Settings.max_question_chars (4,000 characters,
# under 50 kB even as escaped JSON); a bigger body is refused before gradio parses it
MAX_REQUEST_BYTES = 64 * 1024
MAX_ANSWERS_PER_LOGIN = 2  # answers in flight or waiting at once, per login (per session without logins)
# a session's binding to its login is dropped only once gradio keeps nothing of the session, no request
# naming it is open (the heartbeat stays open as long as the page) and it was last named this long ago
SESSION_GRACE_S = 600.0
SWEEP_EVERY = 1_000  # new bindings between sweeps of the forgotten ones
TOKEN_IDLE_S = 7 * 24 * 3600.0  # a login token unused this long is dropped
MAX_TOKENS_PER_LOGIN = 50  # a login's newest tokens (browsers, devices) kept; older ones log out

# the client address of the request being handled, set by Guard for the login throttle
client: contextvars.ContextVar[str] = contextvars.ContextVar("topictalk_client", default="?")


class GradioState:
    """What the guard reads of the gradio app serving a request (``scope["app"]``)."""

    def __init__(self, app) -> None:
        self.app = app

    @property
    def requires_login(self) -> bool:
        return getattr(self.app, "auth", None) is not None

    def user(self, scope) -> str | None:
        """The login of the request's cookie, as gradio's own ``get_current_user`` finds it."""
        tokens, cookie_id = getattr(self.app, "tokens", None), getattr(self.app, "cookie_id", None)
        if not tokens or cookie_id is None:
            return None
        cookies = _cookies(scope)
        token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
        return tokens.get(token)

    def token(self, scope) -> str | None:
        cookie_id = getattr(self.app, "cookie_id", None)
        cookies = _cookies(scope)
        return cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")

    @property
    def queue(self):
        return self.app.get_blocks()._queue

    def holds(self, session: str) -> bool:
        """Whether gradio still keeps anything of ``session`` (its state, messages or events)."""
        queue = self.queue
        return (session in self.app.state_holder or session in queue.pending_messages_per_session
                or session in queue.pending_event_ids_session)

    def event(self, event_id: str):
        """(owner login, session id) of a queued or just finished event, as gradio's routes find it."""
        queue = self.queue
        event = queue.event_ids_to_events.get(event_id)
        if event is not None:
            return event.username, event.session_hash
        session = next((s for s, ids in queue.pending_event_ids_session.items() if event_id in ids), event_id)
        return None, session

    def queued_answers(self, group: str) -> Counter:
        """Events of queue ``group`` waiting or running, counted by owner (login, else session)."""
        if self.app is None:
            return Counter()
        return self.answers_in(self.app.get_blocks()._queue, group)

    @staticmethod
    def answers_in(queue, group: str) -> Counter:
        """What :meth:`queued_answers` counts, in a blocks' ``_queue`` (the app reads it before queueing)."""
        waiting = getattr(queue.event_queue_per_concurrency_id.get(group), "queue", [])
        running = [e for job in queue.active_jobs if job for e in job if e.concurrency_id == group]
        return Counter(owner(e.username, e.session_hash) for e in [*waiting, *running])


def owner(user: str | None, session_hash: str | None) -> str:
    """Whose answers count together: a login's, or a session's where the app has no logins."""
    return f"user {user}" if user is not None else f"session {session_hash}"


def _cookies(scope) -> dict[str, str]:
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            with contextlib.suppress(Exception):  # a malformed cookie is no login
                jar.load(value.decode("latin-1"))
    return {k: m.value for k, m in jar.items()}


def same_origin(scope) -> bool:
    """No ``Origin``, or one whose host is the host the request was sent to."""
    headers = dict(scope.get("headers", []))
    origin = headers.get(b"origin")
    if origin is None:
        return True
    origin_host = urlsplit(origin.decode("latin-1")).hostname
    hosts = [headers.get(b"host", b"")]
    if is_loopback((scope.get("client") or ("?", 0))[0]):  # a proxy on this machine may name the public host
        hosts.append(headers.get(b"x-forwarded-host", b""))
    return origin_host is not None and any(
        urlsplit("//" + h.decode("latin-1").split(",")[-1].strip()).hostname == origin_host for h in hosts if h)


class Guard:
    """ASGI middleware; see the module docstring. ``group`` is the queue group the answers run in."""

    BLOCKED = ("/upload", "/process_recording")
    OPEN_ROUTES = ("/cancel", "/heartbeat/", "/stream/")  # routes gradio serves without a login

    def __init__(self, app, group: str = "llm", max_answers: int = MAX_ANSWERS_PER_LOGIN, proxies=None,
                 clock=time.monotonic) -> None:
        self.app, self.group, self.max_answers = app, group, max_answers
        self.proxies = proxies_mod.trusted_proxies() if proxies is None else list(proxies)
        self.clock = clock
        self.owners: dict[str, str] = {}  # session id (or REST call event id) -> its login
        self.seen: dict[str, float] = {}  # session id -> when a request last named it
        self.open: Counter = Counter()  # session id -> requests naming it still being served
        self.bound_since_sweep = 0
        self.token_used: dict[str, float] = {}  # gradio login token -> when last used
        self.joining: Counter = Counter()  # owner -> queue joins being handled now (not yet in the queue)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "").rstrip("/")
        method = scope.get("method")
        if not same_origin(scope):
            await refuse(send, 403, "requests from other websites are refused")
            return
        if method == "POST" and path.endswith(self.BLOCKED):
            await refuse(send, 403, "this app accepts no uploads")
            return
        if path.endswith("/deep_link"):
            await refuse(send, 404, "this app keeps no deep links")
            return
        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if (int(length) if length.isdigit() else 0) > MAX_REQUEST_BYTES:
            await refuse(send, 413, f"requests are limited to {MAX_REQUEST_BYTES // 1024} kB")
            return
        client.set(proxies_mod.client_address(scope, self.proxies))
        receive = _capped(receive)
        state = GradioState(scope.get("app"))
        if path.endswith("/logout"):
            await self._logout(scope, receive, send, method)
            return
        joins = method == "POST" and (path.endswith("/queue/join") or "/call/" in path)  # both queue an event
        body = b""
        if method == "POST" and (joins or state.requires_login):  # the session id it names is in the body
            body, receive = await _read_body(receive)
        try:
            sessions = sessions_mod.named(scope, body)
        except ValueError as err:
            await refuse(send, 400, str(err))
            return
        if not state.requires_login:  # no logins: each session is its own owner
            if joins:
                await self._join(scope, receive, send, owner(None, next(iter(sessions), None)), state)
            else:
                await self.app(scope, receive, send)
            return
        if method == "POST" and path.endswith("/login"):
            await self.app(scope, receive, send)
            self._trim_tokens(state)  # each login adds a token to gradio's table
            return
        user = state.user(scope)
        if user is None:  # gradio refuses the rest itself
            if any(part in path + "/" for part in self.OPEN_ROUTES):
                await refuse(send, 401, "log in first")
            else:
                await self.app(scope, receive, send)
            return
        self.token_used[state.token(scope)] = self.clock()
        refusal = self._refusal(path, method, sessions, user, state)
        if refusal:
            await refuse(send, *refusal)
            return
        for session in sessions:
            self.open[session] += 1
        try:
            if joins:
                send = self._binding_call_events(send, user) if "/call/" in path else send
                await self._join(scope, receive, send, owner(user, None), state)
            else:
                await self.app(scope, receive, send)
        finally:
            for session in sessions:
                self.seen[session] = self.clock()
                self.open[session] -= 1
                if not self.open[session]:
                    del self.open[session]

    def _refusal(self, path: str, method: str, sessions: list[str], user: str, state: GradioState):
        """(status, detail) for a request of ``user`` that names another login's session or event, else None."""
        if any(not self._owned_by(session, user, state) for session in sessions):
            return 403, "this session belongs to another login"
        call = sessions_mod.CALL_RESULT.search(path)
        if method == "GET" and call:  # a REST call's result: only its caller's, as gradio finds its session
            owner, session = state.event(call.group(1))
            if (owner is not None and owner != user) or self.owners.get(session) != user:
                return 404, "no such call of this login"
        stream = sessions_mod.STREAM_EVENT.search(path)
        if method == "POST" and stream:
            owner, _ = state.event(stream.group(1))
            if owner is not None and owner != user:
                return 403, "this event belongs to another login"
        return None

    def _owned_by(self, session: str, user: str, state: GradioState) -> bool:
        owner = self.owners.setdefault(session, user)
        if owner == user and session not in self.seen:
            self.seen[session] = self.clock()
            self.bound_since_sweep += 1
            if self.bound_since_sweep >= SWEEP_EVERY:
                self._sweep(state)
        return owner == user

    def _sweep(self, state: GradioState) -> None:
        """Forget the bindings of sessions gone from gradio: a binding lasts as long as its session."""
        self.bound_since_sweep = 0
        old = self.clock() - SESSION_GRACE_S
        for session in [s for s, when in self.seen.items() if when < old and not self.open[s]]:
            with contextlib.suppress(Exception):  # a gradio without these fields: keep the binding
                if state.holds(session):
                    continue
                self.owners.pop(session, None)
                self.seen.pop(session, None)
        self._trim_tokens(state)

    def _trim_tokens(self, state: GradioState) -> None:
        """Drop gradio's login tokens unused for TOKEN_IDLE_S, and all but a login's newest MAX_TOKENS_PER_LOGIN."""
        tokens = getattr(state.app, "tokens", None)
        if not isinstance(tokens, dict):
            return
        now = self.clock()
        for token in [t for t in self.token_used if t not in tokens]:
            del self.token_used[token]
        by_login: dict[str, list[str]] = {}
        for token, login in list(tokens.items()):
            used = self.token_used.setdefault(token, now)  # first seen now: a new login
            if used < now - TOKEN_IDLE_S:
                tokens.pop(token, None)
                del self.token_used[token]
            else:
                by_login.setdefault(login, []).append(token)
        for login_tokens in by_login.values():
            for token in sorted(login_tokens, key=self.token_used.__getitem__)[:-MAX_TOKENS_PER_LOGIN]:
                tokens.pop(token, None)
                del self.token_used[token]

    def _binding_call_events(self, send, user: str):
        """A ``send`` that binds the event id of a REST call's answer to its caller: gradio uses the id as
        the session id of a call that named none, and returns the call's result to whoever asks for it."""
        chunks: list[bytes] = []

        async def wrapped(message):
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    with contextlib.suppress(ValueError, AttributeError, TypeError):
                        event_id = json.loads(b"".join(chunks)).get("event_id")
                        if isinstance(event_id, str):
                            self.owners.setdefault(event_id, user)
                            self.seen.setdefault(event_id, self.clock())
            await send(message)

        return wrapped

    async def _logout(self, scope, receive, send, method: str) -> None:
        """Only a same-origin POST logs out (a GET could come from a link or an image on any website)."""
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin") or headers.get(b"referer")
        if method != "POST":
            await refuse(send, 405, "log out with a POST from this app's page", allow=b"POST")
        elif origin is None or origin == b"null":
            await refuse(send, 403, "a logout must name its origin (this app's page sends it)")
        else:  # same_origin() above checked an Origin; a Referer is checked here
            if b"origin" not in headers and not same_origin({**scope, "headers": [(b"origin", origin),
                                                                                  *scope.get("headers", [])]}):
                await refuse(send, 403, "requests from other websites are refused")
                return
            await self.app({**scope, "method": "GET"}, receive, send)  # gradio's logout route is a GET

    async def _join(self, scope, receive, send, owner: str, state: GradioState) -> None:
        # counted and booked with no await in between, so a burst of joins cannot all pass one count;
        # the booking lasts until gradio has queued (or refused) the event, when the queue counts it
        if state.queued_answers(self.group)[owner] + self.joining[owner] >= self.max_answers:
            await refuse(send, 429, f"at most {self.max_answers} answers at once per login: wait for one to finish",
                         retry_after=5)
            return
        self.joining[owner] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.joining[owner] -= 1
            if not self.joining[owner]:
                del self.joining[owner]


async def _read_body(receive):
    """The whole (capped) body, and a ``receive`` that hands it to the app as if unread."""
    chunks, messages = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break

    async def replay():
        return messages.pop(0) if messages else await receive()

    return b"".join(chunks), replay


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


async def refuse(send, status: int, detail: str, retry_after: float | None = None, allow: bytes | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def outermost(guard_factory):
    """A gradio ``lifespan`` that wraps the app's whole middleware stack in ``guard_factory(stack)``.

    gradio adds its CORS middleware after the app is made, so middleware given
    to the app at creation sits inside it and never sees a preflight. At
    startup the stack is built; wrapping it then puts the guard outside all.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.middleware_stack = guard_factory(app.middleware_stack or app.build_middleware_stack())
        yield

    return lifespan
