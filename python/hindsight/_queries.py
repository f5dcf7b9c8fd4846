"""What the omniscient queries of a `Recording` return (`last_write`,
`diff`): named tuples of steps and rebuilt values, as the CLI's
`last-write` and `diff` print them (docs/spec/cli.md)."""

from typing import Any, List, NamedTuple, Optional, Tuple


class _Absent:
    """The type of `ABSENT`."""

    _instance: Optional["_Absent"] = None

    def __new__(cls) -> "_Absent":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "hindsight.ABSENT"

    def __bool__(self) -> bool:
        return False


#: A side of a `diff` change where there was nothing (a name not bound,
#: an item or key or attribute not there).
ABSENT = _Absent()


class LastWrite(NamedTuple):
    """What `Recording.last_write` found."""

    #: The step that wrote the value (None: no recorded step did).
    writer: Optional[int]
    #: The first step of the run of steps that show this value.
    shown_from: int
    #: The value at the step asked about.
    value: Any
    #: The step the value before the write is read from (None: it had none).
    before_step: Optional[int]
    #: The value before the write (None when `before_step` is None).
    before: Any


class BindingChange(NamedTuple):
    """A name bound, unbound or rebound between the two steps of a diff."""

    name: str
    #: Its value at the first step, or `ABSENT`.
    before: Any
    #: Its value at the second step, or `ABSENT`.
    after: Any


class ObjectChange(NamedTuple):
    """A part of one object that changed between the two steps of a diff."""

    #: The object's address in the program (`id()` there).
    id: int
    #: How it is reached: `data`, `p.items`, `d['k'][0]`.
    path: str
    #: Its type.
    type: str
    #: Which part: ("item", i), ("key", repr), ("attr", name), ("element", None), ("replaced", None).
    part: Tuple[str, Any]
    #: The part's value at the first step, or `ABSENT`.
    before: Any
    #: The part's value at the second step, or `ABSENT`.
    after: Any


class Diff(NamedTuple):
    """What `Recording.diff` found."""

    #: Locals changed (None when the two steps do not run in one frame).
    locals: Optional[List[BindingChange]]
    #: Globals changed (None when the two steps do not run in one module).
    globals: Optional[List[BindingChange]]
    #: Objects changed, by identity.
    objects: List[ObjectChange]
