"""`topictalk chat` in a real headless Chromium, as a user meets it: login, a streamed
answer with sources, the topic table, the map, and two users chatting at once.

The app runs as a subprocess on 127.0.0.1 over the shared 300-abstract index with the
bundled model; answers are capped at a few tokens (--max-tokens) to keep this module
to a few minutes on 2 cores. Screenshots of the three views go to artifacts/.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakes import FakeLLM
from tests.helpers import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "artifacts"
USER, PASSWORD = "user", "secret"
ANSWER_TIMEOUT_MS = 180_000  # a queued answer waits for the one before it on a busy 2-core machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (./install.sh)"),
]


@pytest.fixture(scope="module")
def app_url(arxiv_index):
    port = free_port()
    # -X faulthandler: should Ctrl+C not end it, SIGABRT prints where each thread is (below)
    cmd = [sys.executable, "-X", "faulthandler", "-m", "topictalk.ui.cli", "chat", "--index-dir", str(arxiv_index),
           "--host", "127.0.0.1", "--port", str(port), "--auth", f"{USER}:{PASSWORD}", "--max-tokens", "32"]
    # started as from a script's background (`topictalk chat &`, a CI runner): SIGINT ignored, which Python keeps
    # unless the app sets its handler; Ctrl+C then did nothing, and this teardown waited 30 s in full runs
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)  # never block on a full pipe
    reader.start()
    deadline = time.monotonic() + 240
    while not any("chat at http" in line for line in output):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("topictalk chat did not start:\n" + "".join(output)[-3000:])
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/"
    proc.send_signal(signal.SIGINT)  # Ctrl+C: the app closes the server and the model
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:  # where its threads wait, to say why
        proc.send_signal(signal.SIGABRT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.join(5)
        dump = "".join(output)
        pytest.fail("topictalk chat did not exit within 30 s of Ctrl+C; its threads:\n"
                    + dump[dump.find("Fatal Python error"):][-6000:])
    assert "Traceback" not in "".join(output), "".join(output)[-3000:]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_login(browser, url: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url)
    return page


def log_in(page, password: str = PASSWORD) -> None:
    page.get_by_label("username").fill(USER)  # the form is cleared after a refusal
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()


def logged_in(browser, url: str):
    page = open_login(browser, url)
    log_in(page)
    page.wait_for_selector("#tt-question textarea", timeout=60_000)
    return page


def ask(page, question: str) -> None:
    page.locator("#tt-question textarea").fill(question)
    page.keyboard.press("Enter")


def finished_answers(page) -> int:
    return page.locator("#tt-chat .tt-footer").count()  # every finished answer ends with one footer


def wait_for_answers(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#tt-chat .tt-footer').length >= {n}",
                           timeout=ANSWER_TIMEOUT_MS)


LAST_BOT = """() => { const m = document.querySelectorAll('#tt-chat .message.bot');
  if (!m.length) return null; const last = m[m.length - 1];
  return {text: last.innerText, done: !!last.querySelector('.tt-footer')}; }"""


def chat_text(page) -> str:
    return page.locator("#tt-chat").inner_text()


@pytest.fixture(scope="module")
def page(browser, app_url):
    return logged_in(browser, app_url)


def test_login_refuses_a_wrong_password_and_admits_the_right_one(browser, app_url):
    page = open_login(browser, app_url)
    log_in(page, "not-the-password")
    page.get_by_text("Incorrect Credentials").wait_for(timeout=30_000)
    assert page.locator("#tt-question").count() == 0
    log_in(page)  # the right password at once, inside the wait after a failure: HTTP 429, and the page says so
    note = page.locator("#tt-login-wait")
    note.wait_for(timeout=10_000)
    assert "wait" in note.inner_text() and "not checked" in note.inner_text()
    assert not page.get_by_text("Incorrect Credentials").is_visible()  # no longer the reason shown
    assert page.get_by_label("username").input_value() == USER  # the form is kept
    time.sleep(2.1)  # after one failure the next attempt is checked 1 s later (earlier ones get HTTP 429)
    log_in(page)
    page.wait_for_selector("#tt-question textarea", timeout=60_000)
    assert page.get_by_role("tab", name="Topics").count() == 1
    page.context.close()


def test_example_question_gets_a_streamed_answer_with_sources(page):
    page.get_by_role("button", name="Tell me about topic 0").click()  # an example: one click asks it
    seen: list[dict] = []
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        state = page.evaluate(LAST_BOT)
        if state and (not seen or state != seen[-1]):
            seen.append(state)
        if state and state["done"]:
            break
        time.sleep(0.03)
    partial = [s["text"] for s in seen if not s["done"] and s["text"].strip()]
    assert seen and seen[-1]["done"], f"no finished answer; saw {seen[-3:]}"
    # the answer grew in the page before it was final: streamed, not delivered at once
    assert len(partial) >= 2 and len(partial[-1]) > len(partial[0]), partial
    sources = page.locator("#tt-chat .message.bot .tt-sources").last
    assert re.search(r"\[1\] .+ · topic \d+: ", sources.inner_text())
    assert sources.locator("details").count() >= 1  # the full abstract folds out
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#tt-chat .message.user").last.scroll_into_view_if_needed()  # the question, then its answer
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)


def test_topic_table_lists_the_topics_and_a_click_asks_about_one(page, arxiv_index):
    from topictalk.indexing import store

    reader = store.open_reader(store.Location(path=arxiv_index))
    real = [t for t in reader.topics() if not t.is_outlier]
    page.get_by_role("tab", name="Topics").click()
    table = page.locator("#tt-topics")
    table.get_by_role("gridcell").first.wait_for()
    text = table.inner_text()
    for t in real:
        assert t.label in text, f"topic {t.id} ({t.label}) missing from the table"
    # no column menu: its sort would move the theme headings among the topics (issue 27)
    header = table.locator("th").first
    header.hover()
    assert table.locator("th").count() > 3 and not table.locator(".cell-menu-button").first.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "topics.png"), full_page=True)

    target = real[-1]  # the smallest: a click far from the first row
    word = max(re.findall(r"\w+", target.label), key=len)
    search = page.locator("#tt-topic-search textarea, #tt-topic-search input").first
    search.fill(word)
    from topictalk.ui import render

    row_text = {row[0]: " ".join(str(cell) for cell in row) for row in render.topic_rows(real, reader.themes())}
    keep = [t.id for t in real if word.lower() in row_text[t.id].lower()]
    # labels that must vanish (unless the same words also show in a row that stays)
    hidden = [t.label for t in real if t.id not in keep and not any(t.label in row_text[k] for k in keep)]
    deadline = time.monotonic() + 30
    while any(label in table.inner_text() for label in hidden) and time.monotonic() < deadline:
        time.sleep(0.1)
    text = table.inner_text()
    assert target.label in text and not [label for label in hidden if label in text]

    before = finished_answers(page)
    table.get_by_role("gridcell", name=target.label, exact=True).first.click()
    page.locator("#tt-chat .message.user", has_text=f"Tell me about topic {target.id}").wait_for(timeout=30_000)
    assert page.get_by_role("tab", name="Chat", selected=True).count() == 1  # switched to the chat
    wait_for_answers(page, before + 1)


def test_a_question_sent_with_enter_while_another_runs_is_answered_after_it(page):
    # gradio's default trigger mode dropped the second Enter while the first answer ran: the box
    # cleared and the question was never shown nor answered (issue 33, item 1)
    before = finished_answers(page)
    asked = page.locator("#tt-chat .message.user").count()
    ask(page, "Which papers study graph neural networks?")
    # the second question is typed once the first has left the box and reached the chat: typed
    # sooner, the first step's reply (which empties the box) would wipe it on a slow host
    page.wait_for_function(f"document.querySelectorAll('#tt-chat .message.user').length > {asked}", timeout=60_000)
    page.wait_for_function("document.querySelector('#tt-question textarea').value === ''", timeout=60_000)
    ask(page, "Which papers study time series forecasting?")
    wait_for_answers(page, before + 2)
    users = page.locator("#tt-chat .message.user").all_inner_texts()
    assert any("graph neural networks" in u for u in users) and any("time series forecasting" in u for u in users)
    assert page.locator("#tt-question textarea").input_value() == ""


def test_map_renders(page):
    page.get_by_role("tab", name="Map").click()
    plot = page.locator("#tt-map .js-plotly-plot")
    plot.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('#tt-map svg.main-svg').length > 0")
    assert "Documents and topics" in plot.inner_text()
    page.wait_for_timeout(1000)  # WebGL points are drawn a frame after the svg
    page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)
    page.get_by_role("tab", name="Chat").click()


def test_the_map_is_readable_on_a_phone(browser, app_url):
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(app_url)
    log_in(page)
    page.wait_for_selector("#tt-question textarea", timeout=60_000)
    page.get_by_role("tab", name="Map").click()
    page.wait_for_function("document.querySelectorAll('#tt-map .annotation').length > 0", timeout=30_000)
    page.wait_for_timeout(1000)
    boxes = page.evaluate("""() => {
        const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
        const q = (s) => [...document.querySelectorAll('#tt-map ' + s)].map(box);
        return {plot: q('.nsewdrag')[0], legend: q('.legend')[0], labels: q('.annotation-text-g'),
                title: q('.gtitle')[0], modebar: q('.modebar')[0] || null}; }""")
    plot, legend = boxes["plot"], boxes["legend"]
    assert plot[2] - plot[0] > 250 and plot[3] - plot[1] > 400, plot  # the points get the screen, not a strip
    assert legend[1] >= plot[3] - 1, (legend, plot)  # the legend under the points, not over them
    labels = boxes["labels"]
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)  # no two labels overlap
    if boxes["modebar"]:
        m, t = boxes["modebar"], boxes["title"]
        assert m[2] <= t[0] or t[2] <= m[0] or m[3] <= t[1] or t[3] <= m[1], (m, t)  # the toolbar off the title
    page.screenshot(path=str(ARTIFACTS / "map-phone.png"), full_page=True)
    page.context.close()


def test_two_users_at_once_keep_separate_histories(browser, app_url):
    first, second = logged_in(browser, app_url), logged_in(browser, app_url)
    questions = {first: "Tell me about topic 1", second: "Tell me about topic 2"}
    for p, question in questions.items():
        ask(p, question)
    queued = False  # one waits while the other is answered, and is told its place
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and not all(finished_answers(p) for p in questions):
        queued = queued or any("queue" in p.locator("#tt-chat").inner_text() for p in questions)
        time.sleep(0.2)
    for p, question in questions.items():
        assert finished_answers(p) == 1, chat_text(p)[-500:]
        users = p.locator("#tt-chat .message.user").all_inner_texts()
        assert [u.strip() for u in users] == [question]  # only its own question
    assert queued, "neither page showed its place in the queue"
    for p in questions:
        p.context.close()


# -- model and document text cannot make the browser load anything --------------------------------------------
class _Tracker:
    """A local 'image host': counts every request a browser sends it."""

    def __init__(self) -> None:
        import http.server

        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def speech_index(folder: Path, texts: list[tuple[str, str]]):
    """A real two-document index (one topic) with the bundled embedding model, opened for an app."""
    import numpy as np

    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import embedding, store
    from topictalk.indexing.schema import DocumentRecord, Topic

    embedder = embedding.load("bundled")
    vectors = embedder.encode([t for _, t in texts], normalize_embeddings=True).astype(np.float32)
    records = [DocumentRecord(f"d{i}", text, title, 0, 1.0, float(i), 0.0) for i, (title, text) in enumerate(texts)]
    centroid = vectors.mean(axis=0)
    location = store.Location(path=folder)
    writer = store.begin(store.connect(location))
    writer.write_documents(records, vectors)
    writer.write_topics([Topic(0, 2, "Speech", "llm", ["speech", "audio"], ["speech"], ["audio"], ["d0", "d1"],
                               (centroid / np.linalg.norm(centroid)).astype(np.float32))])
    writer.commit({"models": {"embedding_name": "bundled"}, "corpus": {"documents": 2}})
    return TopicIndex.open(location, embedder)


def serve_app(index, model):
    """The app over ``index`` and ``model``, in this process, behind a login; its URL, then closed."""
    from topictalk.ui import app

    demo = app.build(app.AppParts(index, model))
    demo.launch(**app.launch_options(app.ServeOptions(port=free_port(), auth=[(USER, PASSWORD)])))
    return demo


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """An app in this process over a two-document index whose document, and whose scripted model's
    answer, hold Markdown images, raw <img> tags and links to a tracker on this machine."""
    tracker = _Tracker()
    host = f"http://127.0.0.1:{tracker.port}"
    texts = [("Speech recognition with transformers", f"An ASR model maps audio to text. ![]({host}/doc.png?q=1) "
              f'<img src="{host}/doc-raw.png"> [more]({host}/doc-link)'),
             ("Speaker diarization", "Who spoke when in recorded meetings, from the audio alone.")]
    # a real answer (it says what [1] does, in its words, markup included), so the grounding check keeps it
    # rather than replacing it with quotes
    answer = (f"An ASR model maps audio to text ![x]({host}/doc.png?q=1) <img src=\"{host}/doc-raw.png\"> "
              f"[more]({host}/doc-link) [1].")
    demo = serve_app(speech_index(tmp_path_factory.mktemp("hostile-index"), texts), FakeLLM(answer))
    yield demo.local_url, tracker
    demo.close()
    tracker.server.shutdown()


def test_answers_and_sources_load_nothing_from_other_hosts(browser, hostile_app):
    url, tracker = hostile_app
    page = open_login(browser, url)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    log_in(page)
    page.wait_for_selector("#tt-question textarea", timeout=60_000)
    assert page.locator("#tt-question textarea").get_attribute("maxlength") == "4000"
    ask(page, "Tell me about speech recognition")
    wait_for_answers(page, 1)
    page.locator("#tt-chat details summary").first.click()  # unfold the full document text too
    page.wait_for_timeout(1500)  # time for any image the page would fetch
    chat = page.locator("#tt-chat")
    assert chat.locator("img").count() == 0
    assert "image not shown: x" in chat.inner_text() and "![]" in chat.inner_text()  # shown as text
    assert not [u for u in sent if f":{tracker.port}/" in u] and tracker.hits == []
    links = chat.locator(f'a[href^="http://127.0.0.1:{tracker.port}/"]')
    assert links.count() >= 1
    assert all(set(rel.split()) >= {"noopener", "noreferrer", "nofollow"}
               for rel in links.evaluate_all("(as) => as.map(a => a.rel)"))
    page.context.close()


# -- Stop, Retry and the per-login limit, with a model slow enough to press Stop in time ------------------------
class SlowLLM(FakeLLM):
    """A scripted model that "reads its prompt" for ``reading`` seconds, then writes a word every ``pace``
    seconds; it records how each call ended, and when, so a test can tell the model was freed."""

    def __init__(self, answer: str, reading: float = 3.0, pace: float = 0.2) -> None:
        super().__init__(answer)
        self.reading, self.pace = reading, pace
        self.ended: list[tuple[str, int]] = []  # (how, words written) per call

    @contextlib.contextmanager
    def quick(self):
        """Answers at once while the block runs: for the part of a test with nothing to press in time."""
        saved = self.reading, self.pace
        self.reading, self.pace = 0.3, 0.01
        try:
            yield
        finally:
            self.reading, self.pace = saved

    def _stream(self, messages, options, usage, stopping):
        deadline = time.monotonic() + self.reading
        while time.monotonic() < deadline:  # a runtime looks at Stop between steps of reading
            if stopping.is_set():
                self.ended.append(("stopped reading", 0))
                return
            time.sleep(0.05)
        words = 0
        try:
            for chunk in super()._stream(messages, options, usage, stopping):
                words += 1
                yield chunk
                time.sleep(self.pace)
            self.ended.append(("finished", words))
        except GeneratorExit:
            self.ended.append(("closed", words))
            raise


ANSWER = "An ASR model maps audio to text [1]. " + "It listens to speech and writes what was said [1]. " * 6


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory):
    texts = [("Speech recognition with transformers", "An ASR model maps audio to text, listening to speech."),
             ("Speaker diarization", "Who spoke when in recorded meetings, from the audio alone.")]
    model = SlowLLM(ANSWER)
    demo = serve_app(speech_index(tmp_path_factory.mktemp("slow-index"), texts), model)
    yield demo.local_url, model
    demo.close()


def no_error_shown(page) -> bool:
    return page.locator("#tt-chat .error, #tt-chat [class*='error']").count() == 0 and \
        "Error" not in page.locator("#tt-chat").inner_text()


def test_stop_while_writing_keeps_the_partial_answer_marked_stopped_and_frees_the_model(browser, slow_app):
    url, model = slow_app
    page = logged_in(browser, url)
    ask(page, "What does an ASR model do?")
    # words of the answer itself (its sources, shown while the model reads, say "audio to text" too)
    page.wait_for_function(f"(({LAST_BOT})() || {{text: ''}}).text.includes('writes what was said')", timeout=60_000)
    page.locator("#tt-stop").click()
    wait_for_answers(page, 1)  # the stopped answer ends as an answer does, with its footer
    last = page.evaluate(LAST_BOT)
    assert "(stopped)" in last["text"] and "writes what was said" in last["text"], last
    page.wait_for_timeout(1500)  # anything still running would add text or an error by now
    assert no_error_shown(page), chat_text(page)[-500:]
    how, words = model.ended[-1]
    assert how in ("closed", "finished") and words < len(ANSWER.split()) - 5  # it stopped writing early
    page.context.close()


def test_stop_while_the_model_reads_frees_it_and_retry_answers(browser, slow_app):
    url, model = slow_app
    page = logged_in(browser, url)
    calls = len(model.ended)
    ask(page, "What does an ASR model do?")
    page.locator("#tt-chat .message.user").wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # reading its prompt (3 s): nothing written yet
    page.locator("#tt-stop").click()
    wait_for_answers(page, 1)
    assert model.ended[calls:] == [("stopped reading", 0)]  # the model was freed, not left reading
    assert "(stopped)" in page.evaluate(LAST_BOT)["text"]
    with model.quick():
        page.locator("#tt-retry").click()  # Retry after a Stop asks the same question again, and is answered
        wait_for_answers(page, 2)
    last = page.evaluate(LAST_BOT)
    assert "(stopped)" not in last["text"] and "audio to text" in last["text"]
    users = page.locator("#tt-chat .message.user").all_inner_texts()
    assert [u.strip() for u in users] == ["What does an ASR model do?"] * 2
    assert no_error_shown(page), chat_text(page)[-500:]
    page.context.close()


def test_a_question_over_the_per_login_limit_stays_in_the_box_with_the_reason(browser, slow_app):
    # one login may have two answers running or waiting; a third was refused with a 429 that showed "Error"
    # on the chat and erased the typed question (issue 31, issue 33 item 8)
    url, model = slow_app
    model.pace = 0.08  # three whole answers: about 7 s each, still long enough to ask two more during the first
    try:
        page = logged_in(browser, url)
        ask(page, "What does an ASR model do?")
        page.locator("#tt-chat .message.user").wait_for(timeout=60_000)  # the first is being answered
        ask(page, "How do ASR models turn speech into text?")
        page.wait_for_function("document.querySelector('#tt-question textarea').value === ''", timeout=30_000)
        page.wait_for_timeout(1500)  # the second joins the queue behind the first (which takes ~7 s)
        third = "Which models recognise speech?"
        ask(page, third)
        notice = page.locator("#tt-notice")
        notice.get_by_text("already being answered or waiting").wait_for(timeout=30_000)
        assert page.locator("#tt-question textarea").input_value() == third  # kept, not erased
        assert no_error_shown(page), chat_text(page)[-500:]
        with model.quick():
            wait_for_answers(page, 2)
            users = [u.strip() for u in page.locator("#tt-chat .message.user").all_inner_texts()]
            assert users == ["What does an ASR model do?", "How do ASR models turn speech into text?"]  # each its own
            page.locator("#tt-send").click()  # once an answer is done, the kept question goes
            page.wait_for_function("document.querySelector('#tt-question textarea').value === ''", timeout=30_000)
            assert notice.inner_text().strip() == ""
            wait_for_answers(page, 3)
        assert no_error_shown(page)
        page.context.close()
    finally:
        model.pace = 0.2


# -- the first view, citations, a cut paste and contrast (issue 33, items 9 and 11) ----------------------------
PHONE = {"width": 390, "height": 844}


def test_the_first_view_says_what_the_collection_holds_with_three_questions_in_sight(browser, app_url, arxiv_index):
    from topictalk.indexing import store
    from topictalk.indexing.schema import Brief

    brief = Brief.from_dict(store.open_reader(store.Location(path=arxiv_index)).manifest.get("brief"))
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        page = browser.new_context(viewport=viewport).new_page()
        page.goto(app_url)
        log_in(page)
        page.wait_for_selector("#tt-question textarea", timeout=60_000)
        chat = page.locator("#tt-chat")
        assert "What this collection holds" in chat.inner_text()
        if brief is not None:
            assert brief.text.split(". ")[0] in chat.inner_text()  # the index's own words about itself
        header = page.locator("body").inner_text()
        assert "outliers" not in header and "the bundled model" not in header
        examples = chat.get_by_role("button", name="What is this corpus about?")
        examples.wait_for()
        box = examples.bounding_box()
        assert box is not None and box["y"] + box["height"] <= viewport["height"], box  # in sight, no scrolling
        # and drawn there, not clipped by the chat's own scrolling: the button is what is under its centre
        assert examples.evaluate("""(b) => { const r = b.getBoundingClientRect();
            return b.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }""")
        page.screenshot(path=str(ARTIFACTS / f"first-view-{viewport['width']}.png"))
        if viewport is PHONE:
            examples.click()  # an example in the chat asks it
            page.locator("#tt-chat .message.user", has_text="What is this corpus about?").wait_for(timeout=60_000)
            wait_for_answers(page, 1)
        page.context.close()


@pytest.fixture(scope="module")
def quick_app(tmp_path_factory):
    texts = [("Speech recognition with transformers", "An ASR model maps audio to text, listening to speech."),
             ("Speaker diarization", "Who spoke when in recorded meetings, from the audio alone.")]
    def reply(messages):  # a question asking for a long answer gets one taller than the chat
        long = "long" in messages[-1]["content"].split("Question:")[-1]
        return "An ASR model maps audio to text [1].\n\n" * (30 if long else 1)

    demo = serve_app(speech_index(tmp_path_factory.mktemp("quick-index"), texts), FakeLLM(reply))
    yield demo.local_url
    demo.close()


def test_a_citation_opens_its_source_card(browser, quick_app):
    page = logged_in(browser, quick_app)
    ask(page, "What does an ASR model do?")
    wait_for_answers(page, 1)
    card = page.locator("#tt-chat .tt-source.tt-src-1")
    assert card.locator("details").get_attribute("open") is None
    page.locator("#tt-chat a.tt-cite.tt-n-1").click()
    page.wait_for_function("document.querySelector('#tt-chat .tt-source.tt-src-1').classList.contains('tt-cited')")
    assert card.locator("details").get_attribute("open") is not None  # its full text unfolded
    assert len(page.context.pages) == 1  # no new tab
    page.context.close()


def test_a_paste_over_the_limit_says_it_was_cut(browser, quick_app):
    page = logged_in(browser, quick_app)
    page.locator("#tt-question textarea").evaluate("""(box) => {
        const data = new DataTransfer();
        data.setData("text/plain", "x".repeat(5000));
        box.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
    }""")
    notice = page.locator("#tt-notice")
    notice.get_by_text("5,000 characters").wait_for(timeout=10_000)
    assert "limited to 4,000" in notice.inner_text()
    page.context.close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_text_and_links_meet_wcag_aa_contrast(browser, quick_app, viewport):
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_context(viewport=viewport).new_page()
    page.goto(quick_app)
    log_in(page)
    page.wait_for_selector("#tt-question textarea", timeout=60_000)
    ask(page, "What does an ASR model do?")
    wait_for_answers(page, 1)
    page.locator("#tt-chat details summary").first.click()  # the folded full text too
    # once the answer's event is over: while it runs gradio dims the chat (a passing state, not its colours)
    page.wait_for_function("document.querySelector('#tt-chat [data-testid=status-tracker]').classList.contains('hide')")
    for tab in ("Chat", "Topics"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
        found = Axe().run(page, options={"runOnly": ["color-contrast"]}).response["violations"]
        failures = [(n["target"], n["any"][0]["message"][:120]) for v in found for n in v["nodes"]]
        assert not failures, f"{tab}: {failures}"
    page.context.close()


def test_a_long_answer_is_read_from_its_start(browser, quick_app):
    # the chat kept its bottom in view: the sources, with the answer scrolled away above (issue 33, item 4)
    page = logged_in(browser, quick_app)
    for question in ("What does an ASR model do?", "Give a long answer: what does an ASR model do?"):
        ask(page, question)
        wait_for_answers(page, 1 if "long" not in question else 2)
    page.wait_for_timeout(500)
    shown = page.evaluate("""() => {
        const view = document.querySelector("#tt-chat .bubble-wrap").getBoundingClientRect();
        const rows = document.querySelectorAll("#tt-chat .message-row");
        const question = rows[rows.length - 2].getBoundingClientRect();
        const answer = rows[rows.length - 1].getBoundingClientRect();
        return {question_top: question.top - view.top, answer_top: answer.top - view.top,
                answer_bottom: answer.bottom - view.top, view_height: view.height}; }""")
    assert shown["answer_bottom"] > shown["view_height"], shown  # taller than the chat: a real test of scrolling
    assert 0 <= shown["question_top"] and shown["answer_top"] < shown["view_height"] / 2, shown  # its start in view
    page.context.close()


# -- the Trends view and the map filtered to a period (issue 29) ------------------------------------------------
# topic -> (label, theme, [(title, month)]): two themes, three months, a document in each topic's every month
DATED = {0: ("Speech recognition", 0, [("ASR with transformers", "2025-01"), ("Streaming ASR", "2025-01"),
                                        ("Noisy speech recognition", "2025-02")]),
         1: ("Speaker diarization", 0, [("Who spoke when", "2025-02"), ("Diarization of meetings", "2025-03")]),
         2: ("Image segmentation", 1, [("Segmenting cells", "2025-01"), ("Panoptic segmentation", "2025-03"),
                                       ("Segment anything", "2025-03")])}
MONTHS = ["2025-01", "2025-02", "2025-03"]


def dated_index(folder: Path):
    """A real eight-document index with months and a facet, its trends counted from the same table."""
    import numpy as np

    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import embedding, store
    from topictalk.indexing.schema import DocumentRecord, Theme, Topic
    from topictalk.indexing.trends import FacetCounts, Trends

    rows = [(t, theme, title, month) for t, (_, theme, docs) in DATED.items() for title, month in docs]
    embedder = embedding.load("bundled")
    vectors = embedder.encode([r[2] for r in rows], normalize_embeddings=True).astype(np.float32)
    venue = lambda t: "speech" if t < 2 else "vision"  # noqa: E731 - the facet: one value per document
    records = [DocumentRecord(f"d{i}", f"{title}. A study.", title, t, 1.0, float(i), float(t), theme=theme,
                              date=f"{month}-15", period=month, fields={"venue": venue(t)})
               for i, (t, theme, title, month) in enumerate(rows)]
    writer = store.begin(store.connect(store.Location(path=folder)))
    writer.write_documents(records, vectors)

    def unit(v):
        return (v / np.linalg.norm(v)).astype(np.float32)

    members = {t: [i for i, r in enumerate(rows) if r[0] == t] for t in DATED}
    writer.write_topics([Topic(t, len(members[t]), label, "llm", label.lower().split(), theme=theme,
                               representative_ids=[f"d{i}" for i in members[t]],
                               embedding=unit(vectors[members[t]].mean(axis=0)))
                         for t, (label, theme, _) in DATED.items()])
    writer.write_themes([Theme(0, 5, "Audio", "llm", [0, 1], embedding=unit(vectors[:5].mean(axis=0))),
                         Theme(1, 3, "Vision", "llm", [2], embedding=unit(vectors[5:].mean(axis=0)))])
    counts = {t: [sum(r[0] == t and r[3] == m for r in rows) for m in MONTHS] for t in DATED}
    venues = FacetCounts("venue", ["speech", "vision"], {t: [len(members[t]) * (venue(t) == v)
                                                             for v in ("speech", "vision")] for t in DATED})
    trends = Trends("published", "month", MONTHS, counts, facets={"venue": venues})
    writer.commit({"models": {"embedding_name": "bundled"}, "corpus": {"documents": len(rows)},
                   "trends": trends.as_dict()})
    return TopicIndex.open(store.Location(path=folder), embedder)


@pytest.fixture(scope="module")
def dated_app(tmp_path_factory):
    demo = serve_app(dated_index(tmp_path_factory.mktemp("dated-index")), FakeLLM("Speech becomes text [1]."))
    yield demo.local_url
    demo.close()


# plotly.js's own view of the traces (_fullData): numpy arrays arrive base64-coded in data and are decoded there
PLOT_DATA = "(sel) => { const p = document.querySelector(sel + ' .js-plotly-plot'); return p && p._fullData ? " \
            "p._fullData.map(t => ({name: t.name, n: (t.x || []).length, custom: t.customdata ? " \
            "Array.from(t.customdata, r => Array.from(r)) : null})) : null; }"


def plot_data(page, selector: str) -> list[dict]:
    page.wait_for_function(f"({PLOT_DATA})('{selector}') !== null", timeout=30_000)
    return page.evaluate(PLOT_DATA, selector)


def choose(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_the_trends_tab_charts_theme_shares_and_a_themes_topics(browser, dated_app):
    page = logged_in(browser, dated_app)
    page.get_by_role("tab", name="Trends").click()
    page.wait_for_function("document.querySelectorAll('#tt-trends-chart svg.main-svg').length > 0", timeout=30_000)
    traces = plot_data(page, "#tt-trends-chart")
    assert [t["name"] for t in traces] == ["Audio", "Vision"]
    # the numbers on hover are the counts the index stored: Audio is topics 0 and 1, summed per month
    assert [c[0] for c in traces[0]["custom"]] == [2, 2, 1] and [c[0] for c in traces[1]["custom"]] == [1, 0, 2]
    assert "8 documents dated by" in page.locator("#tt-trends-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "trends.png"), full_page=True)
    choose(page, "#tt-trends-theme", "Audio")  # a theme's own topics
    page.wait_for_function(f"({PLOT_DATA})('#tt-trends-chart')[0].name.startsWith('0: ')", timeout=30_000)
    assert [t["name"] for t in plot_data(page, "#tt-trends-chart")] == ["0: Speech recognition",
                                                                         "1: Speaker diarization"]
    page.context.close()


def test_choosing_a_period_or_a_facet_value_filters_the_map(browser, dated_app):
    page = logged_in(browser, dated_app)
    page.get_by_role("tab", name="Map").click()
    page.wait_for_function("document.querySelectorAll('#tt-map svg.main-svg').length > 0", timeout=30_000)

    def shown() -> tuple[int, int]:  # (colored points, grey backdrop points)
        data = plot_data(page, "#tt-map")
        return (sum(t["n"] for t in data if t["name"] != "other documents"),
                sum(t["n"] for t in data if t["name"] == "other documents"))

    assert shown() == (8, 0)
    for option, expected in (("month 2025-03", (3, 5)), ("venue: vision", (3, 5)), ("month 2025-02", (2, 6)),
                             ("Every document", (8, 0))):
        choose(page, "#tt-map-filter", option)
        deadline = time.monotonic() + 30
        while shown() != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert shown() == expected, option
        if option == "month 2025-03":
            assert "in month 2025-03 (of 8)" in page.locator("#tt-map .gtitle").text_content()
            page.screenshot(path=str(ARTIFACTS / "map-period.png"), full_page=True)
    page.context.close()


@pytest.fixture(scope="module")
def editable_app(tmp_path_factory, arxiv_index):
    """The app over a copy of the 300-abstract index (the shared one must not change), with two logins:
    USER may change the topics (--editors user), "guest" may only read them."""
    import shutil

    from topictalk.agent.retrieval import TopicIndex
    from topictalk.indexing import store
    from topictalk.ui import app, topic_edits

    folder = tmp_path_factory.mktemp("editable") / "index"
    shutil.copytree(arxiv_index, folder)
    logins = [(USER, PASSWORD), ("guest", "guest-password")]
    demo = app.build(app.AppParts(TopicIndex.open(store.Location(path=folder)), FakeLLM("A label")),
                     editing=topic_edits.editing_for([USER], False, logins), newer_look_s=1.0)
    demo.launch(**app.launch_options(app.ServeOptions(port=free_port(), auth=logins)))
    yield demo.local_url, folder
    demo.close()


SETTLED = """(before) => { const t = document.querySelector('#tt-edit-outcome').innerText.trim();
    return t !== before && !t.includes('Changing the topics') && !/(processing|^[\\d.]+s)/.test(t); }"""


def _edit(page, ids: str, label: str, action: str) -> str:
    page.get_by_role("tab", name="Topics").click()
    box = page.locator("#tt-edit-ids textarea, #tt-edit-ids input").first
    if not box.is_visible():
        page.locator("#tt-edit").get_by_text("Change the topics").click()
    box.fill(ids)
    page.locator("#tt-edit-label textarea, #tt-edit-label input").first.fill(label)
    page.wait_for_function(SETTLED, arg=None, timeout=60_000)  # no earlier change still showing its progress
    before = page.locator("#tt-edit-outcome").inner_text().strip()
    page.locator(f"#tt-edit-{action}").click()
    page.wait_for_function(SETTLED, arg=before, timeout=120_000)  # the line says what this change did
    return page.locator("#tt-edit-outcome").inner_text()


def test_an_editor_renames_a_topic_in_the_table_and_a_reader_cannot(browser, editable_app):
    from topictalk.indexing import store
    from topictalk.ui import render

    url, folder = editable_app
    first = store.open_reader(store.Location(path=folder)).topics()[0]
    topic = first.id
    page = logged_in(browser, url)
    page.get_by_role("tab", name="Topics").click()  # its subtopics opened first: they belong to the old generation
    row = page.locator("#tt-topics").get_by_role("row").filter(
        has=page.get_by_role("gridcell", name=first.label, exact=True))
    row.get_by_role("gridcell", name=render.SHOW_SUBTOPICS).first.click()
    heading = page.locator("#tt-subtopics-heading")
    heading.get_by_text(f"topic {topic}: {first.label}").wait_for(timeout=60_000)
    said = _edit(page, str(topic), "Hand-picked name", "rename")
    assert "Hand-picked name" in said
    assert first.label not in heading.inner_text()  # closed with the change, not left showing the old name
    page.locator("#tt-topics").get_by_text("Hand-picked name").first.wait_for(timeout=30_000)  # the table, at once
    assert {t.label for t in store.open_reader(store.Location(path=folder)).topics()} >= {"Hand-picked name"}
    said = _edit(page, f"99999 {topic}", "x", "merge")  # bad input: one line, nothing changed
    assert said.startswith("Not changed:") and "no topic 99999" in said
    page.context.close()

    guest = open_login(browser, url)
    guest.get_by_label("username").fill("guest")
    guest.get_by_label("password").fill("guest-password")
    guest.get_by_role("button", name="Login").click()
    guest.wait_for_selector("#tt-question textarea", timeout=60_000)
    said = _edit(guest, str(topic), "Guest's name", "rename")
    assert "may read the topics, not change them" in said
    assert "Guest's name" not in {t.label for t in store.open_reader(store.Location(path=folder)).topics()}
    guest.context.close()


def test_a_page_opened_after_a_newer_generation_shows_its_labels_in_the_table_and_the_map(browser, editable_app):
    # `topictalk demo` on a CPU opens the chat with keyword labels and commits the model's later, from
    # another thread: a page loaded then shows them, though the app was built with the first ones
    from topictalk.indexing import refine, store

    url, folder = editable_app
    topic = [t for t in store.open_reader(store.Location(path=folder)).topics() if not t.is_outlier][-1]
    refine.rename(store.Location(path=folder), topic.id, "Named Later")
    page = logged_in(browser, url)
    page.get_by_role("tab", name="Topics").click()
    page.locator("#tt-topics").get_by_text("Named Later").first.wait_for(timeout=30_000)
    page.get_by_role("tab", name="Map").click()
    page.wait_for_function("() => document.querySelector('#tt-map') && "
                           "document.querySelector('#tt-map').textContent.includes('Named Later')",
                           timeout=30_000)
    page.context.close()


def test_an_open_page_shows_a_newer_generations_labels_without_a_reload_and_keeps_its_search(browser, editable_app):
    # `topictalk demo` on a CPU commits the model's labels minutes after the page opened: the page that is
    # already open shows them (table, map, example questions) without being reloaded, filtered as its
    # search box says, and its conversation stays
    import json

    from topictalk.indexing import refine, store
    from topictalk.indexing.schema import biggest_first

    url, folder = editable_app
    real = biggest_first(t for t in store.open_reader(store.Location(path=folder)).topics() if not t.is_outlier)
    topic, other = real[0], real[-1]  # the biggest is named in an example question
    renamed = f"{topic.label} Renamed While Open"
    page = logged_in(browser, url)
    ask(page, "What is this corpus about?")
    page.wait_for_function("() => document.querySelectorAll('#tt-chat .tt-footer').length === 1", timeout=60_000)
    page.get_by_role("tab", name="Topics").click()
    page.locator("#tt-topic-search textarea, #tt-topic-search input").first.fill(topic.label)
    shows = "(s) => document.querySelector('#tt-topics').textContent.includes(s)"
    page.wait_for_function(f"() => !({shows})({json.dumps(other.label)})", timeout=30_000)  # searched away
    assert page.evaluate(shows, topic.label)
    refine.rename(store.Location(path=folder), topic.id, renamed)
    page.wait_for_function(f"() => ({shows})({json.dumps(renamed)})", timeout=30_000)
    assert not page.evaluate(shows, other.label)  # the search still filters the new table
    page.get_by_role("tab", name="Map").click()
    # plotly keeps every label of the figure on its element, those of the zooms not drawn yet too
    page.wait_for_function("() => { const plot = document.querySelector('#tt-map .js-plotly-plot'); return plot && "
                           f"plot.layout.annotations.some(a => a.text.includes({json.dumps(renamed[:30])})); }}",
                           timeout=30_000)
    page.get_by_role("tab", name="Chat").click()
    assert page.locator(".tt-example").filter(has_text=renamed).count() == 1  # the question about it asks its new name
    assert finished_answers(page) == 1  # the conversation was not touched
    page.context.close()
