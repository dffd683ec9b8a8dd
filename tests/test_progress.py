"""Progress bars of `topictalk index` and `demo`: every stage shows an ETA on stderr."""

from __future__ import annotations

import io
import re
import time

from topictalk.ui.progress import bars as _progress


def test_counted_stage_shows_its_eta():
    out = io.StringIO()
    advance = _progress(False, file=out)("embedding", 40)
    for _ in range(4):
        time.sleep(0.15)
        advance(10)
    text = out.getvalue()
    assert "embedding" in text and "40/40" in text
    assert re.search(r"<\d\d:\d\d", text)  # tqdm's [elapsed<remaining]


class _Clock:
    """A clock the test moves: the bar's ETA then depends on no sleep racing a busy machine."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stage_without_steps_shows_an_estimated_eta_and_ends_full():
    out, clock = io.StringIO(), _Clock()
    done = _progress(False, file=out, clock=clock, tick_s=None)("topics", 1, seconds=4)
    clock.now += 1.3
    done.redraw()
    during = out.getvalue()
    assert re.search(r"topics\s*:\s+\d+%.*~00:0[1-3] left \(estimate\)", during), during
    done(1)
    assert "100%" in out.getvalue().splitlines()[-1] or "100%" in out.getvalue().split("\r")[-1]


def test_quiet_prints_nothing():
    out = io.StringIO()
    stage = _progress(True, file=out)
    stage("embedding", 5)(5)
    stage("topics", 1, seconds=2)(1)
    assert out.getvalue() == ""


def test_stage_longer_than_its_estimate_says_so():
    out, clock = io.StringIO(), _Clock()
    done = _progress(False, file=out, clock=clock, tick_s=None)("topics", 1, seconds=0.4)
    clock.now += 0.9
    done.redraw()
    assert "longer than estimated" not in out.getvalue()
    clock.now += 1.3
    done.redraw()
    done(1)
    assert "longer than estimated" in out.getvalue()


def test_the_estimated_bar_redraws_by_itself_on_its_clock():
    out, clock = io.StringIO(), _Clock()
    done = _progress(False, file=out, clock=clock, tick_s=0.01)("topics", 1, seconds=600)
    clock.now += 300
    for _ in range(1000):  # waits for the ticker's redraw, however busy the machine (no fixed sleep)
        if "50%" in out.getvalue():
            break
        time.sleep(0.01)
    done(1)
    assert "50%" in out.getvalue() and "~05:00 left" in out.getvalue()
