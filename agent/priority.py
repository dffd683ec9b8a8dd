"""Who the model serves first: a person waiting for an answer, then work done in the background.

`topictalk demo` opens the chat as soon as the topics exist and lets the model write their labels
meanwhile. One in-process model answers one call at a time, so a label asked while someone waits would
hold their answer back by its whole length (~7 s a label with AVX2 only). Here a person's answer stops
the background call at once (between two tokens, or two steps of its prompt), and the background asks
again, from the start, once nobody has asked for :data:`QUIET_S` seconds: a reader of the answer is
likely to ask the next question soon, and a label started meanwhile would be stopped again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from topictalk.indexing.errors import TopictalkError

T = TypeVar("T")

QUIET_S = 5.0  # seconds without a person's call before background work goes on


class Priority:
    """People's calls before background calls, for one model (see the module docstring)."""

    def __init__(self, quiet_s: float = QUIET_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet_s = quiet_s
        self._clock = clock
        self._changed = threading.Condition()
        self._people = 0  # people's calls running now
        self._last = -math.inf  # when the last one ended, or a person last arrived
        self._running: set[threading.Event] = set()  # the stop events of background calls running now
        self._closed = False
        self.stopped = 0  # background calls stopped for a person (and asked again)

    @contextmanager
    def person(self) -> Iterator[None]:
        """Around a person's call: a background call running now stops, none starts until it ends."""
        with self._changed:
            self._people += 1
            self._stop_running()
        try:
            yield
        finally:
            with self._changed:
                self._people -= 1
                self._last = self._clock()
                self._changed.notify_all()

    def arrived(self) -> None:
        """A person asked something: a background call running now stops, and none starts for ``quiet_s``
        seconds, while their answer is prepared (routing, retrieval) before its model call, a
        :meth:`person`'s. CPU work beside a label on 2 cores ran at a third of its speed."""
        with self._changed:
            self._last = self._clock()
            self._stop_running()

    def background(self, call: Callable[[threading.Event], T]) -> T:
        """``call(stopping)`` once nobody has asked for ``quiet_s`` seconds; asked again from the start while a
        person's call set ``stopping`` (its partial answer is not an answer)."""
        while True:
            with self._changed:
                while True:
                    if self._closed:
                        raise TopictalkError("the model was closed before its background work was done")
                    wait = self.quiet_s - (self._clock() - self._last)
                    if not self._people and wait <= 0:
                        break
                    self._changed.wait(timeout=None if self._people else min(wait, 0.5))  # looks at the clock again
                stopping = threading.Event()
                self._running.add(stopping)
            try:
                result = call(stopping)
            finally:
                with self._changed:
                    self._running.discard(stopping)
            if not stopping.is_set():
                return result
            with self._changed:
                self.stopped += 1

    def close(self) -> None:
        """Stop background calls now and refuse new ones (the app is closing)."""
        with self._changed:
            self._closed = True
            self._stop_running()
            self._changed.notify_all()

    def _stop_running(self) -> None:
        """Set the stop event of every background call running now (under ``_changed``)."""
        for stopping in self._running:
            stopping.set()
