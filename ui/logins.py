"""Who may log in to the app, and how fast anyone may guess.

``resolve_auth`` turns the command line into the logins to require, refusing a
public app that anyone could use by accident. ``LoginThrottle`` is gradio's
login check with a delay after failures, built so that strangers cannot turn
it against the app's own users (issues 18 and 31), as OWASP's authentication
guidance has it:

- failures are counted per client and per (client, user name), never per user
  name alone: a stranger guessing "ann" from elsewhere delays only himself;
- a slow global cap per user name (``user_burst`` failures, then one more per
  ``user_refill`` seconds) holds guesses at one name from clients that have
  failed before; a client with no failures is never held by it, so the right
  password from ann's own browser is answered at once;
- known and unknown user names are counted alike: the answers (400, 429) do
  not tell which names exist;
- the delay after n failures is ``base * 2**(n-1)`` with a bounded exponent,
  at most ``cap``, counted from the *last* failure: guesses do not book
  waits behind each other, so 100 abandoned guesses cost one delay, not 100;
- a guess that comes before its wait is over is refused at once
  (:class:`Throttled`, which the app answers with HTTP 429 and Retry-After):
  it is not checked, not counted and holds no sleeping task;
- the tables are bounded (least recently failed forgotten first).
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import sys
import time
from collections import OrderedDict
from pathlib import Path

from topictalk.indexing.errors import TopictalkError

MIN_PUBLIC_PASSWORD = 8  # characters, for a login on a public link or a non-loopback address


def parse_credential(text: str, where: str = "--auth") -> tuple[str, str]:
    """``user:password`` (the password may itself hold colons). A bad one is never echoed: it may be a password."""
    user, sep, password = text.strip().partition(":")
    if not sep or not user.strip() or not password:
        raise TopictalkError(f"{where}: expected USER:PASSWORD (not shown here, as it may hold a password)")
    return user.strip(), password


def read_auth_file(path: str | Path) -> list[tuple[str, str]]:
    """One ``user:password`` per line; blank lines and ``#`` comments are skipped."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or ("not UTF-8 text" if isinstance(err, UnicodeDecodeError) else err)
        raise TopictalkError(f"cannot read --auth-file {path}: {reason}") from err
    mode = path.stat().st_mode & 0o777
    if mode & 0o022:  # another user of this machine could add a login of their own
        raise TopictalkError(f"--auth-file {path} may be changed by other users of this machine (mode {mode:o}): "
                             f"run chmod 600 {path}")
    if mode & 0o044:  # ... or read every password
        print(f"topictalk: warning: --auth-file {path} may be read by other users of this machine (mode {mode:o}): "
              f"run chmod 600 {path}", file=sys.stderr)
    pairs, lines_of = [], {}
    for n, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            pairs.append(parse_credential(line, f"--auth-file {path} line {n}"))
            user = pairs[-1][0]
            if user in lines_of:  # else either password would log in
                raise TopictalkError(f"--auth-file {path} lists {user!r} twice (lines {lines_of[user]} and {n}): "
                                     f"keep one line per user")
            lines_of[user] = n
    if not pairs:
        raise TopictalkError(f"--auth-file {path} holds no user:password line")
    return pairs


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach an app listening on ``host``."""
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[] "))
        return (getattr(address, "ipv4_mapped", None) or address).is_loopback  # ::ffff:127.0.0.1 too
    except ValueError:  # a host name: it may resolve to any interface
        return False


def resolve_auth(*, share: bool, auth: str | None, auth_file: str | None, no_auth: bool,
                 host: str = "127.0.0.1", logins: list[tuple[str, str]] | None = None) -> list[tuple[str, str]] | None:
    """The logins to require, or None; refuses a public app that anyone could use by accident.

    Public means a share link or an address other machines can reach; such an
    app needs a login (unless --no-auth says otherwise) with passwords of at
    least MIN_PUBLIC_PASSWORD characters, since anyone may try them. ``logins``:
    (user, password) pairs given in Python rather than as --auth text.
    """
    if sum(map(bool, (auth, auth_file, logins))) > 1:
        raise TopictalkError("give --auth or --auth-file, not both")
    if no_auth and (auth or auth_file or logins):
        raise TopictalkError("--no-auth contradicts --auth/--auth-file: drop one")
    public = "--share" if share else None if is_loopback(host) else f"--host {host}"
    if public and not (auth or auth_file or logins or no_auth):
        reach = "the public internet" if share else "every machine that can reach this one"
        raise TopictalkError(f"{public} puts the corpus and the model on {reach}: add --auth USER:PASS "
                             f"or --auth-file FILE (or --no-auth to serve without a login on purpose)")
    given = [parse_credential(auth)] if auth else read_auth_file(auth_file) if auth_file else logins or None
    for user, password in (given or []) if public else []:
        if len(password) < MIN_PUBLIC_PASSWORD:
            raise TopictalkError(f"the password of {user!r} has {len(password)} characters; with {public} it needs "
                                 f"at least {MIN_PUBLIC_PASSWORD}: choose a longer one")
    return given


class Throttled(Exception):
    """A login attempt that came before its wait was over; it was not checked."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins: try again in {math.ceil(retry_after)} s")
        self.retry_after = retry_after


class LoginThrottle:
    """The login check, with a delay after failures per client and per (client, user name).

    ``check(user, password, client)`` raises :class:`Throttled` while a wait is
    on, else checks the password. After n failures of a key its next check
    waits ``delay(n)`` from its last failure; a success clears the client's
    keys. Each user name also has a bucket of ``user_burst`` failures, refilled
    one per ``user_refill`` seconds: while it is empty, clients that have
    failed before wait for it (clients with no failures never do). Each table
    keeps at most ``max_keys`` keys.
    """

    def __init__(self, logins: list[tuple[str, str]], base: float = 1.0, cap: float = 30.0,
                 clock=time.monotonic, max_keys: int = 4096, user_burst: int = 100,
                 user_refill: float = 36.0) -> None:
        self._logins = logins
        self.base, self.cap, self.max_keys, self._clock = base, cap, max_keys, clock
        self.user_burst, self.user_refill = user_burst, user_refill
        # past this exponent the delay is the cap anyway; bounded, so no count can overflow a float
        self._max_exponent = max(0, math.ceil(math.log2(cap / base))) if cap > base > 0 else 0
        self._failures: OrderedDict[tuple, tuple[int, float]] = OrderedDict()  # key: (count, last)
        self._spent: OrderedDict[str, tuple[float, float]] = OrderedDict()  # user name: (failures in bucket, when)

    def __len__(self) -> int:
        return len(self._failures) + len(self._spent)

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.cap, self.base * 2 ** min(failures - 1, self._max_exponent))

    @staticmethod
    def _keys(username: str, client: str) -> list[tuple]:
        return [("client", client), ("client+user", client, username)]

    def _bucket(self, username: str, now: float) -> float:
        """Failures of ``username`` in its bucket now (refilled since the last one)."""
        spent, when = self._spent.get(username, (0.0, now))
        return max(0.0, spent - (now - when) / self.user_refill)

    def wait(self, username: str, client: str = "?") -> float:
        """Seconds until an attempt of ``username`` from ``client`` is checked (0: now)."""
        now = self._clock()
        waits = [last + self.delay(count) - now
                 for count, last in (self._failures.get(k, (0, now)) for k in self._keys(username, client))]
        if ("client", client) in self._failures:  # a client that failed before is held by the global cap
            waits.append((self._bucket(username, now) - (self.user_burst - 1)) * self.user_refill)
        return max(0.0, *waits)

    def check(self, username: str, password: str, client: str = "?") -> bool:
        wait = self.wait(username, client)
        if wait > 0:
            raise Throttled(wait)
        ok = any(user == username and hmac.compare_digest(secret.encode(), password.encode())
                 for user, secret in self._logins)
        now = self._clock()
        for key in self._keys(username, client):
            if ok:
                self._failures.pop(key, None)
                continue
            count, _ = self._failures.pop(key, (0, 0.0))
            self._failures[key] = (min(count + 1, self._max_exponent + 1), now)  # now the most recent
        if not ok:
            spent = self._bucket(username, now)
            self._spent.pop(username, None)
            self._spent[username] = (min(spent + 1, float(self.user_burst)), now)
        for table in (self._failures, self._spent):
            while len(table) > self.max_keys:
                table.popitem(last=False)
        return ok
