"""The one exception type users see: a problem stated together with its fix."""


class BenchToolkitError(ValueError):
    """Bad input or a bad file. The message names the problem and how to fix it.

    The CLI prints it as one line on stderr and exits non-zero; library callers can catch it
    (it is a ``ValueError``, so generic input-validation handlers keep working).
    """
