"""hindsight: record an unmodified CPython program from outside the process
(ptrace), then ask what its state was at any step.

    import hindsight

    recording = hindsight.exec("X = []\\nfor i in range(3):\\n    X += [i]\\n")
    for n in range(len(recording)):
        print(n, recording.state(n).get("X"))

The program runs in its own interpreter (the caller's by default), recorded
from outside by the same recorder as `hindsight record`; recordings are
read by the same reader as the CLI. See docs/python.md.
"""

import builtins
import os
import shutil
import signal
import sys
import tempfile
import threading
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _native
from ._errors import Error, QueryError, RecordError, RecordingError, StepError
from ._queries import ABSENT, BindingChange, Diff, LastWrite, ObjectChange
from ._native import Object, StepInfo

__all__ = [
    "ABSENT",
    "BindingChange",
    "Diff",
    "Error",
    "LastWrite",
    "ObjectChange",
    "Frame",
    "Object",
    "Outcome",
    "QueryError",
    "RecordError",
    "Recording",
    "RecordingError",
    "State",
    "StepError",
    "StepInfo",
    "attach",
    "exec",
    "open",
    "record",
]

PathLike = Union[str, "os.PathLike[str]"]
Callback = Callable[["State"], Any]

_STEPS_CHUNK = 65536


class Frame(NamedTuple):
    """One frame of a state's stack."""

    function: str
    file: str
    line: int


class State(Mapping[str, Any]):
    """The state at one step: a read-only mapping of the names visible there
    (the frame's locals over its module's globals), values rebuilt as Python
    objects (two names that shared an object share one here, cycles
    included; see `hindsight.Object` for the others), plus the step's
    metadata.

    Attributes: `step`, `event` ("call", "line", "return", "exception", or
    "opcode" in a recording made with granularity "opcode"),
    `thread`, `file`, `function`, `line`, `position` ((line, end_line, col,
    end_col) or None), `stack` (list of `Frame`, outermost first), `locals`,
    `globals` (dicts; globals without the `__dunder__` names), `value` (the
    returned value at a return step, the exception at an exception step).
    """

    __slots__ = (
        "step",
        "event",
        "thread",
        "file",
        "function",
        "line",
        "position",
        "stack",
        "locals",
        "globals",
        "value",
    )

    step: int
    event: str
    thread: int
    file: str
    function: str
    line: int
    position: Optional[Tuple[int, int, int, int]]
    stack: List[Frame]
    locals: Dict[str, Any]
    globals: Dict[str, Any]
    value: Any

    def __init__(self, parts: tuple) -> None:
        (
            self.step,
            self.event,
            self.thread,
            self.file,
            self.function,
            self.line,
            self.position,
            stack,
            self.locals,
            self.globals,
            self.value,
        ) = parts
        self.stack = [Frame(*f) for f in stack]

    def __getitem__(self, name: str) -> Any:
        if name in self.locals:
            return self.locals[name]
        return self.globals[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.locals
        for name in self.globals:
            if name not in self.locals:
                yield name

    def __len__(self) -> int:
        return len(self.locals) + sum(1 for n in self.globals if n not in self.locals)

    def __repr__(self) -> str:
        return "<hindsight.State step %d %s %s:%d %s>" % (
            self.step,
            self.event,
            self.file,
            self.line,
            self.function,
        )


class Outcome(NamedTuple):
    """How a recording made from Python ended."""

    #: "exited", "signaled", "detached" or "running".
    how: str
    #: The exit status ("exited") or signal number ("signaled").
    code: Optional[int]
    #: Steps recorded.
    steps: int
    #: Bytes of the recording file.
    bytes: int
    #: The bound that ended the recording (max_steps, max_time, the callback), if any.
    bound: Optional[str]
    #: Why no step was recorded, when none was.
    note: Optional[str]


class Recording:
    """A recording: `len(recording)` steps, `state(n)` at any of them, and
    queries over its steps. Made by `open`, `record`, `exec` and `attach`."""

    def __init__(
        self, reader: "_native.Reader", outcome: Optional[Outcome] = None, path: Optional[str] = None
    ) -> None:
        self._reader = reader
        #: How the recording made by this call ended (None for `open`).
        self.outcome = outcome
        #: The recording file (None for a temporary one, already removed).
        self.path = path

    def __len__(self) -> int:
        return len(self._reader)

    @property
    def first(self) -> int:
        """The first step the recording holds: 0, or for a flight recording
        (`ring=N`) the first step of its ring; steps keep their numbers in
        the run, so it holds steps `first` to `len(recording) - 1`."""
        return self._reader.first

    def __repr__(self) -> str:
        return "<hindsight.Recording of %d steps%s>" % (
            len(self),
            "" if self.path is None else " at %s" % self.path,
        )

    @property
    def header(self) -> Dict[str, Any]:
        """What was recorded: program, cwd, pid, interpreter, mode, complete..."""
        return self._reader.header()

    @property
    def end(self) -> Optional[Tuple[str, Optional[int], str, int]]:
        """The end record: (how, code, reason, duration_ms), how being
        "exited", "signaled", "detached" or "running"; None for a recording
        still being written or cut short."""
        return self._reader.end()

    def state(self, n: int) -> State:
        """The state at step `n` (from 0). Raises `StepError` out of range."""
        return State(self._reader.state(n))

    def steps(self, start: int = 0, stop: Optional[int] = None) -> Iterator[StepInfo]:
        """The metadata of steps `start` to `stop` (exclusive; default: all),
        read without rebuilding any state."""
        end = len(self) if stop is None else min(stop, len(self))
        for first in range(max(start, self.first), end, _STEPS_CHUNK):
            yield from self._reader.metas(first, min(first + _STEPS_CHUNK, end) - 1)

    def line(self, n: int) -> int:
        """The source line step `n` is at."""
        return self._reader.line(n)

    def visits(self, file: str, line: int) -> List[int]:
        """The steps at which `line` of `file` ran (`file` absolute, or the
        last components of the recorded path, as `hindsight visits`)."""
        return self._reader.visits(os.fspath(file), line)

    def history(
        self, expr: str, function: Optional[str] = None, thread: Optional[int] = None
    ) -> List[Tuple[int, Any]]:
        """[(step, value), ...]: each step at which `expr` (a name, or an
        expression: `p.items[0]`, `len(xs)`) got a value or its value
        changed, with the value then, as `hindsight history` lists them;
        `function` and `thread` keep the steps of one function or thread.
        Raises `QueryError` when no step binds one of its names, or it
        does not parse."""
        return _native.history(self._reader, expr, function, thread)

    def last_write(self, step: int, expr: str) -> "LastWrite":
        """The step that wrote the value `expr` has at `step`, as
        `hindsight last-write` finds it. Raises `QueryError` when `expr`
        has no value at `step`."""
        return LastWrite(*_native.last_write(self._reader, step, expr))

    def find(self, condition: str, start: int = 0, stop: Optional[int] = None) -> Optional[int]:
        """The first step from `start` to `stop` (exclusive; default: the
        end) at which `condition` holds (`len(X) > 5 and X[0] < 10`), or
        None, as `hindsight find`."""
        found = self._find(condition, start, stop, False)
        return found[0] if found else None

    def find_all(self, condition: str, start: int = 0, stop: Optional[int] = None) -> List[int]:
        """Every step from `start` to `stop` (exclusive) at which
        `condition` holds, as `hindsight find --all`."""
        return self._find(condition, start, stop, True)

    def _find(self, condition: str, start: int, stop: Optional[int], all: bool) -> List[int]:
        end = len(self) if stop is None else min(stop, len(self))
        if max(start, 0) >= end:
            return []
        return _native.find(self._reader, condition, max(start, self.first), end - 1, all)

    def diff(self, a: int, b: int) -> "Diff":
        """What changed from step `a` to step `b`, as `hindsight diff`:
        bindings (locals when both steps run in one frame, globals when in
        one module) and objects (items, keys, attributes, elements)."""
        locals_, globals_, objects = _native.diff(self._reader, a, b)

        def side(s: Tuple[bool, Any]) -> Any:
            return s[1] if s[0] else ABSENT

        def bindings(changes: Optional[list]) -> Optional[List[BindingChange]]:
            if changes is None:
                return None
            return [BindingChange(n, side(x), side(y)) for n, x, y in changes]

        return Diff(
            bindings(locals_),
            bindings(globals_),
            [ObjectChange(i, p, t, part, side(x), side(y)) for i, p, t, part, x, y in objects],
        )

    @property
    def error(self) -> Optional[Object]:
        """The exception the program ended with (its `type` and `repr`,
        `ValueError('x')`), or None when it ended without one."""
        how, code = None, None
        if self.outcome is not None:
            how, code = self.outcome.how, self.outcome.code
        elif self.end is not None:
            how, code = self.end[0], self.end[1]
        if how == "exited" and code == 0:
            return None
        step = self._reader.uncaught_exception()
        if step is None:
            return None
        return self.state(step).value


def open(path: PathLike) -> Recording:
    """Open a recording made by `hindsight record` (or `record` here):
    complete, still being written, or cut short by a crash."""
    p = os.fspath(path)
    return Recording(_native.open(p), path=p)


class _Signals:
    """While recording, the tracer ignores SIGINT and SIGQUIT in this
    process (they are the recorded program's, which shares the terminal);
    put back what was there after."""

    def __enter__(self) -> "_Signals":
        self.saved = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGQUIT):
                self.saved.append((sig, signal.getsignal(sig)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.saved:
            if handler is not None:
                signal.signal(sig, handler)


def _output(output: Optional[PathLike]) -> Tuple[str, bool]:
    """The file to record into, and whether it is a temporary one."""
    if output is not None:
        return os.fspath(output), False
    fd, path = tempfile.mkstemp(prefix="hindsight-", suffix=".hsr")
    os.close(fd)
    return path, True


def _finish(path: str, temporary: bool, summary: tuple) -> Recording:
    outcome = Outcome(*summary)
    try:
        reader = _native.open(path)
    finally:
        if temporary:
            # The reader holds the file open: it stays readable.
            try:
                os.unlink(path)
            except OSError:
                pass
    return Recording(reader, outcome, None if temporary else path)


def record(
    argv: Sequence[PathLike],
    *,
    output: Optional[PathLike] = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    all: bool = False,
    granularity: str = "line",
    max_steps: Optional[int] = None,
    max_time: Optional[float] = None,
    at_bound: str = "stop",
    callback: Optional[Callback] = None,
    debug_file: Optional[PathLike] = None,
    ring: Optional[int] = None,
) -> Recording:
    """Launch `argv` (`[python, script, args...]`, or a command that runs
    CPython) and record it, as `hindsight record`. The interpreter needs
    its debug information (DWARF). Returns when the program ends or a
    bound is reached.

    output: the recording file (default: a temporary file, removed once
    opened). include/exclude/all: which source files are recorded (default:
    the program's own). granularity: "line", "call" or
    "opcode". max_steps, max_time
    (seconds): bounds; at_bound: "stop" (SIGTERM the program) or "detach".
    callback(state): called in this process with each step's `State` as it
    is recorded, in order; returning False ends the recording there (as a
    bound). An exception it raises ends the recording and is raised here.
    ring: a flight recording of the last `ring` steps at least (as
    `hindsight record --ring N`): `recording.first` is its first step.
    """
    path, temporary = _output(output)
    try:
        with _Signals():
            summary = _native.record(
                [os.fspath(a) for a in argv],
                path,
                list(include),
                list(exclude),
                bool(all),
                granularity,
                max_steps,
                max_time,
                at_bound,
                callback,
                State,
                None if debug_file is None else os.fspath(debug_file),
                temporary,
                ring,
            )
    except BaseException:
        if temporary:
            _remove(path)
        raise
    return _finish(path, temporary, summary)


def exec(
    code: str,
    *,
    max_steps: Optional[int] = None,
    max_time: Optional[float] = None,
    callback: Optional[Callback] = None,
    python: Optional[PathLike] = None,
) -> Recording:
    """Execorder's `exec`, out of process: run `code` in a fresh interpreter
    (`python`, default this one: `sys.executable`), recorded from outside,
    and return the recording when it ends or a bound is reached. Its steps
    are those of the code itself. An exception in the code ends the program
    and comes back as `recording.error`; it is not raised here."""
    folder = tempfile.mkdtemp(prefix="hindsight-exec-")
    try:
        script = os.path.join(folder, "code.py")
        with builtins.open(script, "w", encoding="utf-8") as f:
            f.write(code)
        interpreter = os.fspath(python) if python is not None else sys.executable
        return record(
            [interpreter, script],
            max_steps=max_steps,
            max_time=max_time,
            callback=callback,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def attach(
    pid: int,
    *,
    output: Optional[PathLike] = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    all: bool = False,
    granularity: str = "line",
    max_steps: Optional[int] = None,
    max_time: Optional[float] = None,
    callback: Optional[Callback] = None,
    debug_file: Optional[PathLike] = None,
    ring: Optional[int] = None,
) -> Recording:
    """Record the running CPython process `pid` (3.8-3.13) until it ends, a
    bound is reached, the callback returns False, or Ctrl-C here (then
    KeyboardInterrupt is raised once it detached), as `hindsight attach`.
    ring: a flight recording of the last `ring` steps at least."""
    path, temporary = _output(output)
    try:
        summary = _native.attach(
            pid,
            path,
            list(include),
            list(exclude),
            bool(all),
            granularity,
            max_steps,
            max_time,
            callback,
            State,
            None if debug_file is None else os.fspath(debug_file),
            temporary,
            ring,
        )
    except BaseException:
        if temporary:
            _remove(path)
        raise
    return _finish(path, temporary, summary)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
