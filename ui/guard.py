"""The HTTP fence around the served app: what a request may be before gradio sees it.

:class:`Guard` is plain ASGI middleware wrapped around gradio's whole app
(outside its CORS middleware, which would otherwise answer a preflight first;
see :func:`outermost`). It refuses

- requests from another website: a request carrying an ``Origin`` whose host
  is not the ``Host`` it was sent to (gradio's CORS layer allows any origin
  behind a share host, and its cookie is ``SameSite=none``);
- uploads (this app takes no files) and bodies over ``MAX_REQUEST_BYTES``;
- deep links, which let any login copy any session's chat by its id;
- a session id used by a login other than the first one that used it, and
  ``cancel``/``heartbeat`` without a login (gradio leaves both open);
- a third answer in flight or waiting for one login (``max_answers``), so one
  login cannot fill the queue every visitor shares.

It also records the client address for the login throttle: the peer, or, for
a loopback peer (the share tunnel), the *last* ``X-Forwarded-For`` entry,
the one the tunnel wrote; the visitor writes the ones before it.

What gradio keeps about logins and its queue is read in :class:`GradioState`
only, so a gradio upgrade that renames them changes one class.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections import Counter, OrderedDict
from urllib.parse import parse_qs, urlsplit

from ui.logins import is_loopback

# no request of this app needs more: a question is at most Settings.max_question_chars (4,000 characters,
# under 50 kB even as escaped JSON); a bigger body is refused before gradio parses it
MAX_REQUEST_BYTES = 64 * 1024
MAX_ANSWERS_PER_LOGIN = 2  # answers in flight or waiting at once, per login (per session without logins)
MAX_SESSIONS = 20_000  # session ids remembered with their login; the oldest are forgotten first

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

    def queued_answers(self, group: str) -> Counter:
        """Events of queue ``group`` waiting or running, counted by owner (login, else session)."""
        if self.app is None:
            return Counter()
        queue = self.app.get_blocks()._queue
        waiting = getattr(queue.event_queue_per_concurrency_id.get(group), "queue", [])
        running = [e for job in queue.active_jobs if job for e in job if e.concurrency_id == group]
        return Counter(_owner(e.username, e.session_hash) for e in [*waiting, *running])


def _owner(user: str | None, session_hash: str | None) -> str:
    return f"user {user}" if user is not None else f"session {session_hash}"


def _cookies(scope) -> dict[str, str]:
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            with contextlib.suppress(Exception):  # a malformed cookie is no login
                jar.load(value.decode("latin-1"))
    return {k: m.value for k, m in jar.items()}


def client_address(scope) -> str:
    peer = (scope.get("client") or ("?", 0))[0]
    if is_loopback(peer):  # the share tunnel connects from this machine and appends the visitor's address
        forwarded = [value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"x-forwarded-for"]
        if forwarded:
            return forwarded[-1].split(",")[-1].strip() or peer
    return peer


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
    OPEN_ROUTES = ("/cancel", "/heartbeat")  # routes gradio serves without a login

    def __init__(self, app, group: str = "llm", max_answers: int = MAX_ANSWERS_PER_LOGIN) -> None:
        self.app, self.group, self.max_answers = app, group, max_answers
        self.owners: OrderedDict[str, str] = OrderedDict()  # session id -> its login
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
        client.set(client_address(scope))
        receive = _capped(receive)
        state = GradioState(scope.get("app"))
        joins = method == "POST" and (path.endswith("/queue/join") or "/call/" in path)  # both queue an event
        body = b""
        if method == "POST" and (joins or state.requires_login):  # the session id it names is in the body
            body, receive = await _read_body(receive)
        if not state.requires_login:  # no logins: each session is its own owner
            if joins:
                await self._join(scope, receive, send, _owner(None, _session_of(scope, body)), state)
            else:
                await self.app(scope, receive, send)
            return
        user = state.user(scope)
        if user is None:  # gradio refuses the rest itself
            if any(part in path for part in self.OPEN_ROUTES):
                await refuse(send, 401, "log in first")
            else:
                await self.app(scope, receive, send)
            return
        session = _session_of(scope, body)
        if session and not self._owned_by(session, user):
            await refuse(send, 403, "this session belongs to another login")
        elif joins:
            await self._join(scope, receive, send, _owner(user, None), state)
        else:
            await self.app(scope, receive, send)

    def _owned_by(self, session: str, user: str) -> bool:
        owner = self.owners.setdefault(session, user)
        self.owners.move_to_end(session)
        while len(self.owners) > MAX_SESSIONS:
            self.owners.popitem(last=False)
        return owner == user

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


def _session_of(scope, body: bytes) -> str | None:
    """The session id a request names: in its JSON body, its query or its path (heartbeat, stream)."""
    if body:
        with contextlib.suppress(ValueError, AttributeError):
            value = json.loads(body).get("session_hash")
            if isinstance(value, str):
                return value
    query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash")
    if query:
        return query[0]
    parts = scope.get("path", "").split("/")
    for route in ("heartbeat", "stream"):
        if route in parts and parts.index(route) + 1 < len(parts):
            return parts[parts.index(route) + 1]
    return None


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


async def refuse(send, status: int, detail: str, retry_after: float | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
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
