"""The one error type a user sees: a single line naming the problem and the fix."""


class TopictalkError(Exception):
    """Bad input or environment. The command line prints ``str(err)`` alone, no traceback."""


def disk_full(err: BaseException) -> bool:
    """An out-of-space error, as the OS (ENOSPC) or Chroma's sqlite and HNSW writers (InternalError) say it."""
    import errno

    while err is not None:
        if getattr(err, "errno", None) == errno.ENOSPC or any(
                words in str(err).lower() for words in ("disk is full", "no space left on device")):
            return True
        err = err.__cause__ or err.__context__
    return False
