"""The one error type a user sees: a single line naming the problem and the fix."""


class TopictalkError(Exception):
    """Bad input or environment. The command line prints ``str(err)`` alone, no traceback."""
