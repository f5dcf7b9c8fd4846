"""The exceptions hindsight raises. Each one's message is the CLI's own
(what failed, and what to do about it)."""


class Error(Exception):
    """Base class of every error hindsight raises."""


class RecordingError(Error):
    """A recording cannot be opened or read: no such file, a directory, not
    a recording, or damaged."""


class StepError(Error, IndexError):
    """A step the recording does not hold (out of range)."""


class QueryError(Error, LookupError):
    """A query with no answer: a name no step binds, a file no step ran in,
    an expression that does not parse or has no value where it needs one."""


class RecordError(Error):
    """Recording failed: the command ran no CPython, the interpreter has no
    debug information, the process cannot be traced, the output cannot be
    written..."""
