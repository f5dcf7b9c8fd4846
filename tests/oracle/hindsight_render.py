"""Render Python values exactly as docs/spec/values.md says, without running user code.

This is the oracle's half of the contract that hindsight's renderer implements
too. Nothing here calls a method that a class defined in Python could
override: types are inspected through the descriptors of `type` itself, reprs
of the exact built-in types are built here (or by the built-in repr of a type
whose repr cannot reach user code), and everything else is `object.__repr__`.

Rules beyond values.md that both sides share (keep in sync with the renderer):
  * a container (list/tuple/dict/set/frozenset, exact types) at nesting depth
    > MAX_DEPTH (the top-level value is depth 1) prints '...'; that check comes
    before the empty check and before the recursion check;
  * a recursive container prints CPython's marker: '[...]', '{...}', '(...)',
    'set(...)', 'frozenset(...)';
  * str/bytes over MAX_STR: repr of the first MAX_STR, '...' before the closing
    quote (bytearray: before the closing "')");
  * containers over MAX_ITEMS elements: the first MAX_ITEMS, then ', ...'
    before the closing bracket;
  * "attrs" for instances of heap types at attr-depth <= MAX_ATTR_DEPTH (a
    local/global/return value is depth 1): the instance's __dict__ entries,
    then the set member descriptors (__slots__) of every *heap* class of the
    MRO (a name already present is not overwritten).

Not applied here: the reader's bound on the reprs of one state together
(16 MiB, values.md "Reading bounds"); no fixture comes near it.
"""

import types

MAX_STR = 1_000_000
MAX_ITEMS = 10_000
MAX_DEPTH = 64
MAX_ATTR_DEPTH = 3
HEAPTYPE = 1 << 9

_type_flags = type.__dict__["__flags__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__
_type_module = type.__dict__["__module__"].__get__
_type_name = type.__dict__["__name__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_object_repr = object.__repr__
_exc_args = BaseException.__dict__["args"].__get__

# Exact types whose built-in repr cannot run user code.
_SCALARS = (type(None), bool, int, float, complex, range)
_STRINGS = (str, bytes, bytearray)

try:  # 3.11+: hindsight prints every digit of an int.
    import sys as _sys

    _sys.set_int_max_str_digits(0)
except (AttributeError, ImportError):
    pass


def type_name(t):
    """The TYPE rule: qualname, prefixed with the module unless it is builtins."""
    try:
        qual = _type_qualname(t)
    except Exception:  # a malformed heap type; fall back to tp_name
        qual = _type_name(t)
    try:
        mod = _type_module(t)
    except Exception:
        mod = None
    if type(mod) is not str or mod == "builtins":
        return qual
    return mod + "." + qual


def _cut_string(x):
    """Repr of a str/bytes/bytearray, cut at MAX_STR; returns (repr, truncated)."""
    if len(x) <= MAX_STR:
        return repr(x), False
    r = repr(x[:MAX_STR])
    tail = 2 if type(x) is bytearray else 1
    return r[:-tail] + "..." + r[-tail:], True


def render_repr(x):
    """The repr of a value per values.md; returns (text, truncated-at-top)."""
    return _repr(x, 1, set())


def _repr(x, depth, active):
    t = type(x)
    if t in _SCALARS:
        return repr(x), False
    if t in _STRINGS:
        return _cut_string(x)
    if t is list or t is tuple or t is dict or t is set or t is frozenset:
        return _container(x, t, depth, active)
    return _object_repr(x), False


_OPEN = {list: "[", tuple: "(", dict: "{", set: "{", frozenset: "frozenset({"}
_CLOSE = {list: "]", tuple: ")", dict: "}", set: "}", frozenset: "})"}
_EMPTY = {list: "[]", tuple: "()", dict: "{}", set: "set()", frozenset: "frozenset()"}
_RECURSIVE = {list: "[...]", tuple: "(...)", dict: "{...}", set: "set(...)", frozenset: "frozenset(...)"}


def _container(x, t, depth, active):
    if depth > MAX_DEPTH:
        return "...", False
    if len(x) == 0:
        return _EMPTY[t], False
    key = id(x)
    if key in active:
        return _RECURSIVE[t], False
    active.add(key)
    try:
        parts = []
        truncated = False
        if t is dict:
            for i, (k, v) in enumerate(x.items()):
                if i >= MAX_ITEMS:
                    truncated = True
                    break
                parts.append(_repr(k, depth + 1, active)[0] + ": " + _repr(v, depth + 1, active)[0])
        else:
            for i, v in enumerate(x):
                if i >= MAX_ITEMS:
                    truncated = True
                    break
                parts.append(_repr(v, depth + 1, active)[0])
        if truncated:
            parts.append("...")
        body = ", ".join(parts)
        if t is tuple and len(x) == 1:
            body += ","
        return _OPEN[t] + body + _CLOSE[t], truncated
    finally:
        active.discard(key)


def _is_heap_instance(x):
    try:
        return bool(_type_flags(type(x)) & HEAPTYPE)
    except Exception:
        return False


def _instance_dict(x):
    """The instance __dict__ through the C getset descriptor, never a property."""
    for cls in _type_mro(type(x)):
        d = _type_dict(cls)
        if "__dict__" in d:
            desc = d["__dict__"]
            if type(desc) is not types.GetSetDescriptorType:
                return None
            try:
                value = desc.__get__(x, type(x))
            except Exception:
                return None
            return value if type(value) is dict else None
    return _dict_at_offset(x)


# Py_TPFLAGS_MANAGED_DICT (3.11+).
_MANAGED_DICT = 1 << 4


def _dict_at_offset(x):
    """The dict at the type's tp_dictoffset, for types (often C bases such as
    _asyncio.Future) that keep an instance dict but expose no __dict__
    descriptor: attribute lookup still uses it, so it is part of the state."""
    try:
        off = type(x).__dictoffset__
    except Exception:
        return None
    if off == -1 and _type_flags(type(x)) & _MANAGED_DICT:
        # 3.12+: a managed dict (3.13: maybe still inline values) of a class
        # whose C base hides __dict__ (asyncio's _GatheringFuture on 3.13).
        import ctypes

        get = ctypes.pythonapi.PyObject_GenericGetDict
        get.restype = ctypes.py_object
        get.argtypes = [ctypes.py_object, ctypes.c_void_p]
        try:
            value = get(x, None)
        except Exception:
            return None
        return value if type(value) is dict else None
    if off <= 0:
        # Negative offsets belong to variable-sized objects (int, tuple
        # subclasses), which always get a __dict__ descriptor.
        return None
    import ctypes

    ptr = ctypes.c_void_p.from_address(id(x) + off).value
    if not ptr:
        return None
    value = ctypes.cast(ptr, ctypes.py_object).value
    return value if type(value) is dict else None


def _declared_slots(cls):
    """The names `cls` declared in `__slots__`, mangled as the class statement
    mangles them (`__x` in class `_C` is `_C__x`)."""
    slots = _type_dict(cls).get("__slots__", ())
    if type(slots) is str:
        slots = (slots,)
    try:
        slots = tuple(slots)
    except Exception:
        return frozenset()
    owner = _type_name(cls).lstrip("_")
    out = set()
    for s in slots:
        if type(s) is not str:
            continue
        if s.startswith("__") and not s.endswith("__") and owner:
            s = "_" + owner + s
        out.add(s)
    return frozenset(out)


def attributes(x):
    """(name, value) pairs of the instance's __dict__ and set heap-type slots."""
    out = {}
    dct = _instance_dict(x)
    if dct is not None:
        for k, v in dct.items():
            if type(k) is str:
                out[k] = v
    for cls in _type_mro(type(x)):
        try:
            if not _type_flags(cls) & HEAPTYPE:
                continue
        except Exception:
            continue
        declared = _declared_slots(cls)
        for name, desc in _type_dict(cls).items():
            if type(desc) is not types.MemberDescriptorType:
                continue
            slot = desc.__name__
            if slot not in declared:
                # A C struct member of an extension heap type (re.Pattern's
                # `flags`), not a __slots__ entry.
                continue
            if slot in ("__dict__", "__weakref__") or slot in out:
                continue
            try:
                out[slot] = desc.__get__(x, type(x))
            except AttributeError:  # an unset slot is not shown
                pass
    return out


def render_value(x, depth=1):
    """A VALUE object: type, id, repr (+ truncated, + attrs for heap instances)."""
    text, truncated = render_repr(x)
    value = {"type": type_name(type(x)), "id": hex(id(x)), "repr": text}
    if truncated:
        value["truncated"] = True
    if depth <= MAX_ATTR_DEPTH and _is_heap_instance(x):
        value["attrs"] = {k: render_value(v, depth + 1) for k, v in attributes(x).items()}
    return value


def render_exception(exc_type, exc):
    """The "exception" object of an exception step."""
    if not isinstance(exc, BaseException):
        return {"type": type_name(exc_type), "repr": _type_name(exc_type) + "()"}
    t = type(exc)
    try:
        args = _exc_args(exc)
    except Exception:
        args = ()
    if type(args) is tuple and len(args) == 1:
        inner = "(" + render_repr(args[0])[0] + ")"
    else:
        inner = render_repr(args)[0]
    return {"type": type_name(t), "repr": _type_name(t) + inner}


def render_mapping(mapping, skip_dunder):
    """Render a namespace dict: {name: VALUE}; non-str keys are left out."""
    out = {}
    if type(mapping) is not dict:
        return out
    for k, v in mapping.items():
        if type(k) is not str:
            continue
        if skip_dunder and k.startswith("__") and k.endswith("__"):
            continue
        out[k] = render_value(v)
    return out
