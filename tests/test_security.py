"""A shared app no stranger can lock, borrow or flood (issue 18): logins and their throttle,
and the guard around every request, as units and against a served app over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from indexing.errors import TopictalkError
from tests.conftest import free_port, run_cli
from tests.fakes import FakeLLM
from ui import app, guard, logins
from ui.logins import LoginThrottle, Throttled


# -- logins ----------------------------------------------------------------------------------------------
def test_auth_parsing(tmp_path):
    assert logins.parse_credential("ann:pa:ss") == ("ann", "pa:ss")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(TopictalkError, match="USER:PASSWORD"):
            logins.parse_credential(bad)
    f = tmp_path / "users.txt"
    f.write_text("# team\nann:one\n\n bob:two:2 \n")
    assert logins.read_auth_file(f) == [("ann", "one"), ("bob", "two:2")]
    f.write_text("ann:one\nhunter2-no-colon\n")
    with pytest.raises(TopictalkError, match="line 2") as info:
        logins.read_auth_file(f)
    assert "hunter2" not in str(info.value)  # a malformed line may be a password: never echoed
    with pytest.raises(TopictalkError, match="cannot read --auth-file"):
        logins.read_auth_file(tmp_path / "missing.txt")


def test_cli_never_echoes_a_malformed_auth_file_line(tmp_path):
    f = tmp_path / "users.txt"
    f.write_text("ann:a-long-password\nsecret-password-without-user\n")
    out = run_cli("chat", "--share", "--auth-file", str(f), "--index-dir", str(tmp_path / "none"), check=False,
                  timeout=120)
    assert out.returncode == 2 and "line 2" in out.stderr and "secret-password" not in out.stderr


def test_share_needs_a_login_unless_waived():
    with pytest.raises(TopictalkError, match="--auth"):
        logins.resolve_auth(share=True, auth=None, auth_file=None, no_auth=False)
    assert logins.resolve_auth(share=True, auth=None, auth_file=None, no_auth=True) is None
    assert logins.resolve_auth(share=True, auth="a:longer-secret", auth_file=None, no_auth=False) == \
        [("a", "longer-secret")]
    assert logins.resolve_auth(share=False, auth=None, auth_file=None, no_auth=False) is None
    with pytest.raises(TopictalkError, match="not both"):
        logins.resolve_auth(share=False, auth="a:b", auth_file="f", no_auth=False)
    with pytest.raises(TopictalkError, match="contradicts"):
        logins.resolve_auth(share=True, auth="a:b", auth_file=None, no_auth=True)


def test_cli_refuses_share_without_login_in_one_line(tmp_path):
    out = run_cli("chat", "--share", "--index-dir", str(tmp_path / "none"), check=False, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("topictalk: error: --share") and "--auth" in lines[0]
    assert not (tmp_path / "none").exists()  # refused before touching the index


def test_a_reachable_host_needs_a_login_and_public_passwords_a_length():
    with pytest.raises(TopictalkError, match="--host 0.0.0.0 puts the corpus"):
        logins.resolve_auth(share=False, auth=None, auth_file=None, no_auth=False, host="0.0.0.0")
    assert logins.resolve_auth(share=False, auth=None, auth_file=None, no_auth=True, host="0.0.0.0") is None
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert logins.resolve_auth(share=False, auth="a:b", auth_file=None, no_auth=False, host=host) == [("a", "b")]
    with pytest.raises(TopictalkError, match="has 1 characters; with --share it needs at least 8"):
        logins.resolve_auth(share=True, auth="a:b", auth_file=None, no_auth=False)
    with pytest.raises(TopictalkError, match="'bob' has 5 characters; with --host 192.168.1.5"):
        logins.resolve_auth(share=False, auth="bob:short", auth_file=None, no_auth=False, host="192.168.1.5")


# -- the throttle, on an injected clock -----------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **kw) -> LoginThrottle:
    return LoginThrottle([("ann", "correct horse")], base=1.0, cap=8.0, clock=clock, **kw)


def test_failed_logins_wait_exponentially_from_the_last_failure():
    clock = Clock()
    t = throttle(clock)
    waits = []
    for _ in range(6):
        assert t.check("ann", "guess", "1.1.1.1") is False
        waits.append(t.wait("ann", "1.1.1.1"))
        clock.now += waits[-1]  # the next guess comes when its wait is over
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubling after each failure, up to the cap
    assert t.check("ann", "correct horse", "1.1.1.1") is True  # admitted once its wait is over
    assert t.wait("ann", "1.1.1.1") == 0.0  # success clears the delay


def test_a_guess_before_its_wait_is_refused_at_once_and_books_nothing():
    clock = Clock()
    t = throttle(clock)
    t.check("ann", "guess", "1.1.1.1")
    for _ in range(100):  # 100 guesses sent and abandoned at once: each refused, none pushes the wait further
        with pytest.raises(Throttled) as info:
            t.check("ann", "guess", "2.2.2.2")
        assert info.value.retry_after == 1.0
    clock.now = 1.0
    assert t.check("ann", "correct horse", "3.3.3.3") is True  # one delay after the last failure, not 100


def test_thousands_of_failures_never_overflow_nor_lock_out_the_right_password():
    clock = Clock()
    t = throttle(clock)
    for i in range(2_000):  # the old throttle raised OverflowError at 1,025 failures, for good
        client = f"10.0.{i // 250}.{i % 250}"
        clock.now += t.wait("ann", client)  # each guess as soon as it may be checked
        assert t.check("ann", "guess", client) is False
    assert t.delay(10**9) == 8.0
    with pytest.raises(Throttled) as info:
        t.check("ann", "correct horse", "192.0.2.1")
    assert info.value.retry_after <= 8.0  # at most the cap ...
    clock.now += info.value.retry_after
    assert t.check("ann", "correct horse", "192.0.2.1") is True  # ... then the right password works


def test_the_client_table_stays_under_its_bound():
    clock = Clock()
    t = throttle(clock, max_keys=100)
    for i in range(1_000):
        t.check(f"user{i}", "guess", f"10.1.{i // 250}.{i % 250}")
        clock.now += 10  # every guess checked, from a new client
    assert len(t) <= 100


def test_unknown_user_names_share_one_key():
    clock = Clock()
    t = throttle(clock)
    t.check("nobody", "x", "1.1.1.1")
    with pytest.raises(Throttled):
        t.check("someone-else", "x", "2.2.2.2")
    assert t.check("ann", "correct horse", "3.3.3.3") is True  # a real user is not held by made-up names


# -- the guard, as a unit ---------------------------------------------------------------------------------------
def http(path="/", method="GET", headers=(), peer="127.0.0.1", query=b""):
    return {"type": "http", "method": method, "path": path, "client": (peer, 1), "query_string": query,
            "headers": [(k.encode(), v.encode()) for k, v in headers]}


def test_the_client_is_the_last_forwarded_entry_for_loopback_peers_only():
    forged = [("x-forwarded-for", "6.6.6.6, 7.7.7.7"), ("x-forwarded-for", "1.2.3.4, 9.9.9.9")]
    assert guard.client_address(http(headers=forged)) == "9.9.9.9"  # what the tunnel appended
    assert guard.client_address(http(headers=forged, peer="203.0.113.5")) == "203.0.113.5"
    assert guard.client_address(http()) == "127.0.0.1"


@pytest.mark.parametrize("origin, host, ok", [
    (None, "x.gradio.live", True),  # no Origin: not a cross-site browser request
    ("https://x.gradio.live", "x.gradio.live", True),
    ("http://127.0.0.1:7860", "127.0.0.1:7860", True),
    ("https://evil.example", "x.gradio.live", False),
    ("null", "x.gradio.live", False),
    ("https://x.gradio.live.evil.example", "x.gradio.live", False),
])
def test_same_origin(origin, host, ok):
    headers = [("host", host)] + ([("origin", origin)] if origin else [])
    assert guard.same_origin(http(headers=headers, peer="203.0.113.5")) is ok


def run_guard(scope, body=b""):
    sent, reached = [], []

    async def inner(scope, receive, send):
        reached.append(await receive())

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    asyncio.run(guard.Guard(inner)(scope, receive, send))
    return (sent[0]["status"] if sent else None), reached


def test_request_bodies_beyond_any_question_are_refused_before_parsing():
    big = b"x" * (guard.MAX_REQUEST_BYTES + 1)
    scope = http("/gradio_api/queue/join", "POST", [("content-length", str(len(big)))], peer="1.2.3.4")
    assert run_guard(scope, big) == (413, [])
    chunked = http("/gradio_api/queue/join", "POST", peer="1.2.3.4")  # no length given: cut off while reading
    assert run_guard(chunked, big) == (None, [{"type": "http.disconnect"}])


def test_uploads_deep_links_and_other_sites_are_refused():
    assert run_guard(http("/gradio_api/upload", "POST"))[0] == 403
    assert run_guard(http("/gradio_api/deep_link", query=b"session_hash=abc"))[0] == 404
    preflight = http("/gradio_api/queue/join", "OPTIONS", [("host", "x.gradio.live"), ("origin", "https://evil.example"),
                                                          ("access-control-request-method", "POST")])
    assert run_guard(preflight) == (403, [])


# -- a served app over HTTP ---------------------------------------------------------------------------------------
TOPICS = [SimpleNamespace(id=0, size=1, label="Graphs", keywords=["graph"], is_outlier=False, theme=None)]


class HeldConversation:
    """Answers only when the test releases it: answers stay in flight as long as the test needs."""

    release = threading.Event()

    def respond(self, question):
        return HeldResponse()

    def reset(self):
        pass


class HeldResponse:
    context = SimpleNamespace(sources=[])

    def __iter__(self):
        HeldConversation.release.wait(30)
        yield "done"

    def close(self):
        pass

    def reply(self):
        from agent.conversation import Reply

        return Reply("q", "done", "topic", [], [], [])


class HeldParts(app.AppParts):
    def session(self, current):
        return current if current is not None else app.ChatSession(HeldConversation())


USERS = [("ann", "correct horse"), ("bob", "battery staple")]


@pytest.fixture(scope="module")
def served():
    coords = {"ids": ["a"], "x": [0.0], "y": [0.0], "topic": [0], "title": ["A"]}
    index = SimpleNamespace(topics=TOPICS, themes=[], by_id={t.id: t for t in TOPICS}, reader=SimpleNamespace(
        coordinates=lambda: coords), manifest={"corpus": {"documents": 1}})
    demo = app.build(HeldParts(index, FakeLLM()))
    demo.launch(**app.launch_options(app.ServeOptions(port=free_port(), auth=USERS)))
    try:
        yield demo
    finally:
        HeldConversation.release.set()
        demo.close()


def login(url: str, user: str, password: str):
    import httpx

    client = httpx.Client(base_url=url, timeout=30)
    r = client.post("login", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return client


def join(client, demo, session: str):
    """Ask in ``session`` as the page does: ``take`` puts the question in the session's state (gradio keeps
    state on the server, whatever a request sends), then the answer joins the queue."""
    take, answer = (next(i for i, f in demo.fns.items() if f.name == name) for name in ("take", "answer"))
    took = client.post("gradio_api/run/take", json={"data": ["a question"], "fn_index": take, "session_hash": session})
    assert took.status_code == 200, took.text
    return client.post("gradio_api/queue/join", json={"data": [None, None], "fn_index": answer,
                                                      "session_hash": session, "trigger_id": None})


def test_a_wrong_password_is_answered_429_with_retry_after_then_the_right_one_works(served):
    import httpx

    with httpx.Client(base_url=served.local_url, timeout=30) as client:
        form = {"username": "ann", "password": "guess"}
        assert client.post("login", data=form).status_code == 400
        start = time.monotonic()
        early = client.post("login", data={"username": "ann", "password": "correct horse"})
        assert early.status_code == 429 and early.headers["retry-after"] == "1"
        assert time.monotonic() - start < 0.5  # refused at once, no sleeping task
        time.sleep(1.05)
        assert client.post("login", data={"username": "ann", "password": "correct horse"}).status_code == 200


def test_another_site_cannot_borrow_a_visitors_login(served):
    client = login(served.local_url, "bob", "battery staple")
    share = {"host": "abc.gradio.live"}
    preflight = client.options("gradio_api/queue/join", headers={**share, "origin": "https://evil.example",
                                                                   "access-control-request-method": "POST"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    assert client.get("config", headers={**share, "origin": "https://evil.example"}).status_code == 403
    assert client.get("config", headers={**share, "origin": "https://abc.gradio.live"}).status_code == 200


def test_a_session_belongs_to_its_login_and_cancel_needs_one(served):
    import httpx

    ann, bob = login(served.local_url, "ann", "correct horse"), login(served.local_url, "bob", "battery staple")
    with ann.stream("GET", "gradio_api/heartbeat/ann-session") as beat:  # ann's browser opens its session
        assert beat.status_code == 200
    assert bob.get("gradio_api/queue/data", params={"session_hash": "ann-session"}).status_code == 403
    assert bob.post("gradio_api/cancel", json={"session_hash": "ann-session", "fn_index": 0,
                                               "event_id": "x"}).status_code == 403
    assert bob.get("gradio_api/deep_link", params={"session_hash": "ann-session"}).status_code == 404
    stranger = httpx.post(served.local_url + "gradio_api/cancel",
                          json={"session_hash": "ann-session", "fn_index": 0, "event_id": "x"})
    assert stranger.status_code == 401


def test_one_login_gets_two_answers_at_once_and_another_login_still_gets_in(served):
    HeldConversation.release.clear()
    ann, bob = login(served.local_url, "ann", "correct horse"), login(served.local_url, "bob", "battery staple")
    try:
        statuses = [join(ann, served, f"ann-{i}").status_code for i in range(5)]  # five sessions of one login
        assert statuses == [200, 200, 429, 429, 429]
        assert join(bob, served, "bob-1").status_code == 200  # the next login is not shut out
    finally:
        HeldConversation.release.set()
    deadline = time.monotonic() + 20
    while join(ann, served, "ann-late").status_code != 200:  # once answers finish, the login may ask again
        assert time.monotonic() < deadline
        time.sleep(0.2)
