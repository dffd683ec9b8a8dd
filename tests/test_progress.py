"""Progress bars of `topictalk index` and `demo`: every stage shows an ETA on stderr."""

from __future__ import annotations

import io
import re
import time

from ui.cli import _progress


def test_counted_stage_shows_its_eta():
    out = io.StringIO()
    advance = _progress(False, file=out)("embedding", 40)
    for _ in range(4):
        time.sleep(0.15)
        advance(10)
    text = out.getvalue()
    assert "embedding" in text and "40/40" in text
    assert re.search(r"<\d\d:\d\d", text)  # tqdm's [elapsed<remaining]


def test_stage_without_steps_shows_an_estimated_eta_and_ends_full():
    out = io.StringIO()
    done = _progress(False, file=out)("topics", 1, seconds=4)
    time.sleep(1.3)
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
    out = io.StringIO()
    done = _progress(False, file=out)("topics", 1, seconds=0.4)
    time.sleep(2.2)
    done(1)
    assert "longer than estimated" in out.getvalue()
