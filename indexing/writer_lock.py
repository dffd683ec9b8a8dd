"""One writer per index, excluded where the data is; readers never wait.

On a Chroma server writers may run on other hosts, so the lock is a lease
kept in the store itself (per index name, :class:`Lease`). An embedded
database is a local folder whose files take one writing process, so a file
lock on the folder does. :func:`writer_lock` takes whichever the location needs.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.store.layout import Location, collection_names, missing

LEASE_S = 60.0  # a writer that stops renewing for this long (crashed host) no longer blocks others


@contextmanager
def writer_lock(location: Location, client) -> Iterator[Lease | None]:
    """Hold the writer lock of ``location`` (``client``: connected to it); yields the server's
    :class:`Lease`, None for the file lock of an embedded store's folder."""
    if location.host:
        with Lease(client, location) as lease:
            yield lease
        return
    folder = location.path
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TopictalkError(f"another `topictalk index` is writing {folder}; wait for it to finish") from None
        yield None


class Lease:
    """The writer lock of one index, kept in the store itself (a Chroma server has no other).

    Chroma has no compare-and-swap, but creating a collection whose name
    exists fails, atomically, on the server. So the lock is a collection
    ``<prefix>lock_<epoch>`` whose metadata names its owner (id, host, pid)
    and when the lease expires; the holder is the highest epoch while its
    lease is alive. A writer takes it by creating epoch top+1 (of two writers
    racing for the same epoch one wins), then removes lower epochs. The
    holder renews the expiry every ``ttl/3`` seconds from a thread; a writer
    whose host crashed stops renewing and is taken over after ``ttl``, and
    one on this host whose process is gone at once. Release marks the lease
    expired (epochs only grow, so a stale view can never win an old epoch).
    """

    def __init__(self, client, location: Location, ttl: float = LEASE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        # wall-clock seconds, shared by every host's writers; tests pass their own clock
        self.clock = clock
        self.location = location
        self.names = location.names
        self.ttl = ttl
        self.owner = uuid.uuid4().hex
        self.epoch = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _metadata(self, expires: float) -> dict:
        return {"owner": self.owner, "host": _host_id(), "pid": os.getpid(), "expires": expires, "ttl": self.ttl}

    def _epochs(self) -> list[int]:
        return sorted(e for n in collection_names(self.client) if (e := self.names.lock_epoch(n)) is not None)

    def _holder(self, epoch: int) -> dict | None:
        try:
            return dict(self.client.get_collection(self.names.lock(epoch)).metadata or {})
        except Exception as err:
            if missing(err):
                return None
            raise

    def acquire(self) -> Lease:
        for _ in range(5):
            epochs = self._epochs()
            top = epochs[-1] if epochs else 0
            holder = self._holder(top) if top else None
            if holder and _alive(holder, self.clock()) and holder.get("owner") != self.owner:
                raise TopictalkError(_busy(self.location, holder, self.clock()))
            try:
                self.client.create_collection(self.names.lock(top + 1), embedding_function=None,
                                              metadata=self._metadata(self.clock() + self.ttl))
            except Exception as err:  # another writer created this epoch first: look again
                if "exist" not in str(err).lower():
                    raise
                continue
            self.epoch = top + 1
            later = [e for e in self._epochs() if e > self.epoch]
            if later:  # a writer that saw an older view won a higher epoch meanwhile: it holds the lock
                self._drop(self.epoch)
                holder = self._holder(later[-1]) or {}
                raise TopictalkError(_busy(self.location, holder, self.clock()))
            for e in epochs:
                self._drop(e)
            self._thread = threading.Thread(target=self._heartbeat, name="topictalk-lease", daemon=True)
            self._thread.start()
            return self
        raise TopictalkError(f"could not take the writer lock of {self.location}: other writers keep taking it; "
                             "try again")

    def _drop(self, epoch: int) -> None:
        try:
            self.client.delete_collection(self.names.lock(epoch))
        except Exception as err:
            if not missing(err):
                raise

    def _renew(self, expires: float) -> None:
        self.client.get_collection(self.names.lock(self.epoch)).modify(metadata=self._metadata(expires))

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._renew(self.clock() + self.ttl)
            except Exception:  # a server hiccup: try again next beat; check() decides at commit
                continue

    def check(self) -> None:
        """Raise unless this writer still holds the lease (called before switching generations)."""
        holder = self._holder(self.epoch) if self.epoch else None
        epochs = self._epochs()
        if not holder or holder.get("owner") != self.owner or not epochs or epochs[-1] != self.epoch \
                or float(holder.get("expires", 0)) < self.clock():
            raise TopictalkError(f"this run lost the writer lock of {self.location} (no heartbeat for "
                                 f"{self.ttl:.0f} s, and another writer may have taken over); the index was not "
                                 "switched: run `topictalk index` again")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.epoch:
            try:
                self._renew(0.0)  # expired, but kept: the top epoch must never go back down
            except Exception:
                pass  # it expires by itself after ttl

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _host_id() -> str:
    """This machine, for telling whether a lease holder's pid can be checked here: the hostname
    alone can repeat across machines, the kernel's boot id does not."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}" if boot else socket.gethostname()


def _alive(holder: dict, now: float) -> bool:
    if float(holder.get("expires", 0)) <= now:
        return False
    if holder.get("host") == _host_id():
        try:
            os.kill(int(holder.get("pid", 0)), 0)  # a writer on this host that was killed holds nothing
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError, OverflowError):
            pass
    return True


def _busy(location: Location, holder: dict, now: float) -> str:
    left = max(0, round(float(holder.get("expires", 0)) - now))
    host = str(holder.get("host")).split("/")[0]
    return (f"another `topictalk index` is writing {location} (pid {holder.get('pid')} on {host}, its lease runs "
            f"{left} s more unless renewed); wait for it to finish, or use another --index-name")
