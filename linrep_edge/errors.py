"""The one exception type for user errors.

Anything the user can cause (a bad file, a bad option, a model the tool cannot handle) raises
`LinRepError`, a `ValueError`, with a message that names what is wrong and where. The CLI turns it into
one line on stderr and exit code 2; everything else is a bug and keeps its traceback.
"""


class LinRepError(ValueError):
    """A user-facing error: bad input, bad option, unsupported model or corrupt file."""


class Interrupted(KeyboardInterrupt):
    """A run stopped on SIGINT/SIGTERM after writing what it had (the CLI exits with 128 + signal). A
    KeyboardInterrupt, so that no `except Exception` on the way swallows it."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
