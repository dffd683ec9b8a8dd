"""Keep numba's compiled UMAP code on disk, so that only the first ``topictalk index`` pays for it.

umap-learn and pynndescent compile their numba functions afresh in every new process (about
40 s on two cores, against ~5 s for the UMAP fit itself). numba keeps compiled code on disk
only for functions declared ``cache=True``: few of umap's are, and pynndescent declares its
``parallel=True`` functions ``cache=False`` (against a thread-count crash numba fixed in 0.56)
as well as those taking a distance function (numba keys such a compilation on the function
object, so it never matches in another process and piles up on disk).

:func:`enable` imports both packages while ``numba.njit`` and ``numba.jit`` cache every one of
their functions, except compilations that take a jitted function argument, and puts the cache
in a folder of topictalk's. The decorators are restored right after, so nothing else changes.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import os
import sys
import tempfile
import threading
import types
import warnings
from pathlib import Path

from topictalk.indexing import fingerprint
from topictalk.indexing.errors import TopictalkError
from topictalk.indexing.paths import cache_dir

# Packages whose functions get cached, in import order (umap imports pynndescent), and the
# distributions whose versions name the cache folder: numba checks a cached function against
# its own source file only, not against the code it calls in other files.
PACKAGES = ("pynndescent", "umap")
_DISTRIBUTIONS = ("numba", "pynndescent", "umap-learn")

# numba's warning when it cannot write a function to disk (it reads a ctypes pointer, such as
# numba.get_num_threads() in pynndescent's nn_descent): the function still runs, uncached.
_UNCACHEABLE = r"Cannot cache compiled function"

_lock = threading.Lock()


def enable(cache: Path | None = None) -> Path:
    """Keep numba's compiled code under ``cache`` (default ``cache_dir() / "numba"``).

    Returns the folder numba writes to: a subfolder named after the installed numba,
    pynndescent and umap-learn versions, so an upgrade starts afresh. Call it before anything
    imports umap or pynndescent (bertopic does; hdbscan does not use numba): it imports them
    itself, with their numba functions cached. Functions numba cannot cache still compile and
    run; its warning about them is silenced. Calling it again is harmless.

    If umap or pynndescent is already imported, their functions are already built: this can
    then only set the folder, which serves the few functions they declare ``cache=True``, and
    the rest keeps compiling in every process.
    """
    path = folder(cache)
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as err:
        raise TopictalkError(
            f"cannot write numba's cache in {path} ({err.strerror or err}): "
            "set TOPICTALK_CACHE to a writable folder"
        ) from None

    with _lock:
        # numba.config reads NUMBA_CACHE_DIR when numba is imported, and again whenever it
        # reloads its config from the environment: set both.
        os.environ["NUMBA_CACHE_DIR"] = str(path)
        import numba
        from numba.core.errors import NumbaWarning

        numba.config.CACHE_DIR = str(path)
        warnings.filterwarnings("ignore", message=_UNCACHEABLE, category=NumbaWarning)

        missing = [name for name in PACKAGES if name not in sys.modules]
        if missing:
            saved = numba.njit, numba.jit
            seen: dict[types.CodeType, str] = {}
            numba.njit = _caching(saved[0], "njit", seen)
            numba.jit = _caching(saved[1], "jit", seen)
            try:
                for name in missing:
                    importlib.import_module(name)
            finally:
                numba.njit, numba.jit = saved
    return path


def folder(cache: Path | None = None) -> Path:
    """Where :func:`enable` keeps the compiled code for the installed versions."""
    root = Path(cache) if cache is not None else cache_dir() / "numba"
    return root / "-".join(f"{dist}{fingerprint.version(dist)}" for dist in _DISTRIBUTIONS)


def compiled(cache: Path | None = None) -> bool:
    """Whether an earlier process already left compiled code for these versions (a faster start)."""
    return any(folder(cache).glob("*.nbi"))


def _caching(decorator, name: str, seen: dict[types.CodeType, str]):
    """``decorator``, caching the functions of :data:`PACKAGES` whatever their ``cache=``."""

    def decorate(func, args: tuple, kws: dict):
        if not (
            inspect.isfunction(func)
            and func.__module__.split(".")[0] in PACKAGES
            and func.__closure__ is None  # numba pickles a closure's cells into its key
        ):
            return decorator(*args, **kws)(func)
        options = {key: value for key, value in kws.items() if key != "cache"}
        func = _distinct(func, f"{name}{sorted(options.items())!r}", seen)
        dispatcher = decorator(*args, **options, cache=True)(func)
        if hasattr(dispatcher, "_cache"):  # not a plain function (NUMBA_DISABLE_JIT)
            dispatcher._cache = _function_cache()(dispatcher.py_func)
        return dispatcher

    @functools.wraps(decorator)
    def patched(*args, **kws):
        if args and inspect.isfunction(args[0]):  # @njit, njit(func, ...)
            return decorate(args[0], args[1:], kws)
        return lambda func: decorate(func, args, kws)  # @njit(...), @njit("sig", ...)

    return patched


def _distinct(func: types.FunctionType, options: str, seen: dict[types.CodeType, str]):
    """``func``, or a copy with its own cache files if its code was compiled with other options.

    numba names a cache after the function's file, qualified name and line, and keys its
    entries on signature and bytecode, not on options: umap compiles one function both serial
    and ``parallel=True``, and the two would otherwise load each other's machine code.
    """
    if seen.setdefault(func.__code__, options) == options:
        return func
    clone = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    clone.__kwdefaults__ = func.__kwdefaults__
    clone.__dict__.update(func.__dict__)
    clone.__module__ = func.__module__
    clone.__doc__ = func.__doc__
    clone.__qualname__ = f"{func.__qualname__}__{hashlib.sha256(options.encode()).hexdigest()[:12]}"
    return clone


@functools.cache
def _function_cache() -> type:
    """numba's ``FunctionCache``, minus what would never be found again, and never failing.

    A compilation that takes a jitted function argument (pynndescent's distance functions) is
    keyed on that function object, so it is neither looked up nor written. A cache file that
    cannot be read or written counts as a miss: the function is compiled as without a cache.
    """
    from numba.core import types as nb_types
    from numba.core.caching import FunctionCache

    def takes_function(sig) -> bool:
        pending = [] if isinstance(sig, str) else list(getattr(sig, "args", sig))
        while pending:
            item = pending.pop()
            if isinstance(item, nb_types.Dispatcher):
                return True
            if isinstance(item, nb_types.BaseTuple):
                pending.extend(item.types)
        return False

    class Cache(FunctionCache):
        def load_overload(self, sig, target_context):
            if takes_function(sig):
                return None
            try:
                return super().load_overload(sig, target_context)
            except Exception:  # a truncated or foreign file: compile instead
                return None

        def save_overload(self, sig, data):
            if takes_function(sig):
                return
            try:
                super().save_overload(sig, data)
            except Exception:  # unpicklable constants, full disk: stay uncached
                pass

    return Cache
