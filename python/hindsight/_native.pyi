"""Type hints of the extension module (the Rust half of hindsight)."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

STOPPED_BY_CALLBACK: str

class Object:
    """A recorded object not rebuilt as itself (read-only)."""

    @property
    def type(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def repr(self) -> str: ...
    @property
    def attrs(self) -> Optional[Any]: ...
    @property
    def truncated(self) -> bool: ...
    def __getattr__(self, name: str) -> Any: ...

class StepInfo:
    """One step's metadata."""

    step: int
    event: str
    thread: int
    file: str
    function: str
    line: int
    position: Optional[Tuple[int, int, int, int]]

class Reader:
    path: str
    first: int
    def __len__(self) -> int: ...
    def header(self) -> Dict[str, Any]: ...
    def end(self) -> Optional[Tuple[str, Optional[int], str, int]]: ...
    def state(self, n: int) -> tuple: ...
    def metas(self, first: int, last: int) -> List[StepInfo]: ...
    def line(self, n: int) -> int: ...
    def visits(self, file: str, line: int) -> List[int]: ...
    def uncaught_exception(self) -> Optional[int]: ...

def open(path: str) -> Reader: ...
def history(
    reader: Reader, expr: str, function: Optional[str], thread: Optional[int]
) -> List[Tuple[int, Any]]: ...
def last_write(
    reader: Reader, step: int, expr: str
) -> Tuple[Optional[int], int, Any, Optional[int], Any]: ...
def find(reader: Reader, condition: str, first: int, last: int, all: bool) -> List[int]: ...
def diff(reader: Reader, a: int, b: int) -> Tuple[Optional[list], Optional[list], list]: ...
def record(
    argv: Sequence[str],
    output: str,
    include: List[str],
    exclude: List[str],
    all: bool,
    granularity: str,
    max_steps: Optional[int],
    max_time: Optional[float],
    at_bound: str,
    callback: Optional[Callable[[Any], Any]],
    make_state: Callable[[tuple], Any],
    debug_file: Optional[str],
    force: bool,
    ring: Optional[int] = None,
) -> Tuple[str, Optional[int], int, int, Optional[str], Optional[str]]: ...
def attach(
    pid: int,
    output: str,
    include: List[str],
    exclude: List[str],
    all: bool,
    granularity: str,
    max_steps: Optional[int],
    max_time: Optional[float],
    callback: Optional[Callable[[Any], Any]],
    make_state: Callable[[tuple], Any],
    debug_file: Optional[str],
    force: bool,
    ring: Optional[int] = None,
) -> Tuple[str, Optional[int], int, int, Optional[str], Optional[str]]: ...
