# Fixture for tracer/tests/decode_values.rs: builds values, prints what
# docs/spec/values.md says each one must render as (computed here, in-process),
# then prints READY and blocks on stdin inside a function.
import dis, json, sys, types

ATOMS = (type(None), bool, int, float, complex, str, bytes, bytearray, range)
MAXS = 1_000_000
MAXI = 10_000

def tname(x):
    t = type(x)
    m = t.__module__
    return t.__qualname__ if m == "builtins" else f"{m}.{t.__qualname__}"

def rrepr(x, path=()):
    t = type(x)
    if t is str and len(x) > MAXS:
        r = repr(x[:MAXS]); return r[:-1] + "..." + r[-1]
    if t in (bytes, bytearray) and len(x) > MAXS:
        r = repr(x[:MAXS]); return r[:-2] + "...')" if t is bytearray else r[:-1] + "..." + r[-1]
    if t in ATOMS:
        return repr(x)
    if t in (list, tuple, dict, set, frozenset):
        if id(x) in path:
            return {list: "[...]", tuple: "(...)", dict: "{...}", set: "set(...)", frozenset: "frozenset(...)"}[t]
        p = path + (id(x),)
        if t is dict:
            body = ", ".join(f"{rrepr(k, p)}: {rrepr(v, p)}" for k, v in list(x.items())[:MAXI])
            if len(x) > MAXI: body += ", ..."
            return "{" + body + "}"
        items = list(x)[:MAXI]
        body = ", ".join(rrepr(e, p) for e in items)
        if len(x) > MAXI: body += ", ..."
        if t is list: return "[" + body + "]"
        if t is tuple: return "(" + body + ("," if len(x) == 1 else "") + ")"
        if not x: return f"{t.__name__}()"
        return "{" + body + "}" if t is set else "frozenset({" + body + "})"
    return object.__repr__(x)

def attrs(x):
    out = {}
    d = getattr(x, "__dict__", None)
    if isinstance(d, dict):
        for k, v in d.items():
            if type(k) is str:
                out[k] = v
    for cls in type(x).__mro__:
        for name, desc in cls.__dict__.items():
            if type(desc) is types.MemberDescriptorType and name not in ("__dict__", "__weakref__") \
                    and cls.__flags__ & (1 << 9):
                try:
                    out[name] = desc.__get__(x)
                except AttributeError:
                    pass
    return out

def value(x, depth=1):
    v = {"type": tname(x), "id": hex(id(x)), "repr": rrepr(x)}
    if type(x).__flags__ & (1 << 9) and depth <= 3:
        v["attrs"] = {k: value(a, depth + 1) for k, a in attrs(x).items()}
    t = type(x)
    if (t in (str, bytes, bytearray) and len(x) > MAXS) or \
       (t in (list, tuple, dict, set, frozenset) and len(x) > MAXI):
        v["truncated"] = True
    return v

def items_ids(x):
    t = type(x)
    if t is dict:
        return [hex(id(e)) for kv in x.items() for e in kv]
    if t in (list, tuple, set, frozenset):
        return [hex(id(e)) for e in x]
    return None

class Plain:
    def __init__(self):
        self.x = 1
        self.name = "plain"

class Slotted:
    __slots__ = ("b", "a", "unset")
    def __init__(self):
        self.a = 1.5
        self.b = [1]

class Both(Slotted):
    def __init__(self):
        super().__init__()
        self.extra = (1,)

class MyList(list):
    pass

class MyInt(int):
    pass

class Chain:
    def __init__(self, nxt):
        self.nxt = nxt

class WithRepr:
    def __repr__(self):
        return "never"

class MyError(ValueError):
    pass

class Deleted:
    def __init__(self):
        self.a = 1
        self.b = 2
        self.c = 3
        del self.b
        self.d = 4

def scenario(class_frame):
    captured = ["cell"]
    unbound_later = 1
    del unbound_later
    def inner():
        return captured
    ints = [0, 1, -1, 7, 2**30, 2**30 - 1, -2**31, 2**62, 2**64 + 5, -(10**50), 10**300, True, False, None]
    floats = [0.0, -0.0, 0.1, 1.5, 1e16, 1e15, 1e-5, 1e-4, 123.456, float("inf"), float("-inf"), float("nan"),
              5e-324, 1.7976931348623157e308, 2.5e-7, -3.0]
    cplx = [1j, 1 + 2j, -1.5 - 0j, complex(0.0, -0.0), complex(-0.0, 0.0), complex(float("inf"), float("nan")), 1e16j]
    strs = ["", "abc", "it's", 'say "hi"', "both ' and \"", "tab\tnl\nret\r", "back\\slash", "\x00\x1f\x7f",
            "caf\u00e9", "\u00a0nbsp", "\u0085", "\u4e2d\u6587", "emoji \U0001F600", "\ud800", "\U000e0001",
            "\u2028", "a" * 300, "\xff\u0100"]
    bs = [b"", b"abc", b"it's", b"\x00\xff\t\n\r\\", bytes(range(256))]
    ba = [bytearray(), bytearray(b"x'y"), bytearray(b"\x80abc")]
    ranges = [range(10), range(1, 10, 2), range(-5, -50, -3), range(0), range(2**70, 2**71, 2**65)]
    rec_list = [1]
    rec_list.append(rec_list)
    rec_dict = {"k": 1}
    rec_dict["self"] = rec_dict
    rec_tuple = ([],)
    rec_tuple[0].append(rec_tuple)
    nested = {"a": [1, (2, 3.0), {"b": None}], (1, "t"): frozenset({1}), 3: {4, 5}}
    empty = [[], (), {}, set(), frozenset(), (1,)]
    a_set = {1, "two", 3.0, (4,)}
    a_frozen = frozenset(["x", "y"])
    plain = Plain()
    plain_dict = Plain()
    plain_dict.__dict__["late"] = 2
    slotted = Slotted()
    both = Both()
    mylist = MyList([1, 2])
    mylist.tag = "t"
    myint = MyInt(5)
    myint.note = "n"
    chain = Chain(Chain(Chain(Chain(Chain(None)))))
    withrepr = WithRepr()
    deleted = Deleted()
    try:
        raise MyError("bad", 2)
    except MyError as e:
        err = e
    err.info = "extra"
    verr = ValueError("x")
    exc_arg = (MyError, err, None)
    in_list = [plain, slotted]
    shared = [1, 2]
    alias = shared
    big_list = list(range(10_005))
    big_str = "z" * 1_000_003
    big_dict = {i: i for i in range(10_002)}
    deep = []
    cur = deep
    for _ in range(200):
        nxt = []
        cur.append(nxt)
        cur = nxt
    big_set = set(range(50))
    func = inner
    _h_frame = sys._getframe()
    _h_names = [n for n in _h_frame.f_locals if not n.startswith("_h")]
    _h_locals = _h_frame.f_locals
    _h_out = {
        "frame": hex(id(_h_frame)),
        "class_frame": hex(id(class_frame)),
        "module_frame": hex(id(class_frame.f_back)),
        "exc_arg": hex(id(exc_arg)),
        "err": hex(id(err)),
        "locals": {n: value(_h_locals[n]) for n in _h_names if n not in ("deep",)},
        "local_ids": {n: hex(id(_h_locals[n])) for n in _h_names},
        "items": {n: items_ids(_h_locals[n]) for n in _h_names},
        "elements": {},
        "class_locals": {k: hex(id(v)) for k, v in class_frame.f_locals.items()},
        "globals": {k: hex(id(v)) for k, v in globals().items() if not (k.startswith("__") and k.endswith("__"))},
        "stack": [],
        "position": None,
        "line": _h_frame.f_lineno,
    }
    for _h_n in ("ints", "floats", "cplx", "strs", "bs", "ba", "ranges"):
        _h_out["elements"][_h_n] = [{"id": hex(id(e)), "type": tname(e), "repr": repr(e)} for e in _h_locals[_h_n]]
    _h_f = _h_frame
    while _h_f is not None:
        _h_out["stack"].append({"function": _h_f.f_code.co_qualname, "file": _h_f.f_code.co_filename,
                                "line": _h_f.f_lineno})
        _h_f = _h_f.f_back
    _h_out["stack"].reverse()
    # Where the frame will be while blocked: at the CALL of readline below.
    _h_block = next(i for i, l in enumerate(open(__file__).read().split("\n"), 1) if l.endswith("# BLOCK"))
    _h_call = [i for i in dis.get_instructions(_h_frame.f_code)
               if i.opname == "CALL" and i.positions.lineno == _h_block][0]
    _h_out["lasti"] = _h_call.offset // 2
    _h_out["line"] = _h_block
    _h_out["stack"][-1]["line"] = _h_block
    _h_out["positions"] = [list(p) for p in _h_frame.f_code.co_positions()]
    print(json.dumps(_h_out), flush=True)
    print("READY", flush=True)
    sys.stdin.readline()  # BLOCK
    return captured

GLOBAL_INT = 42
_private = "p"
__dunder__ = "hidden"

class Body:
    x = 1
    y = [2]
    scenario(sys._getframe())
