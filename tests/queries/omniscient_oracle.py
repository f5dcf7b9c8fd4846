"""The answers of the omniscient queries computed from `hindsight dump`
alone (one full JSON state per step, docs/spec/values.md), by Python's own
evaluation of the expressions over the values the states show: the
independent side of tests/omniscient_test.rs.

Usage: python3 omniscient_oracle.py DUMP.jsonl QUERIES.json
QUERIES is a list of {"kind": ..., ...}; prints a JSON list of answers.

Values: a local or global is the JSON value of the state (type, id, repr,
attrs). Attributes come from `attrs`; anything else (an item, len(), a
comparison) from the repr read back with ast.literal_eval. A value whose
repr is not a literal is an Opaque carrying its id.
"""
import ast
import json
import sys


class Opaque:
    def __init__(self, v):
        self.v = v

    def __eq__(self, other):
        return isinstance(other, Opaque) and other.v.get("id") == self.v.get("id")

    def __hash__(self):
        return hash(self.v.get("id"))


class NoValue(Exception):
    pass


def plain(v):
    """A JSON value as a Python value."""
    if not isinstance(v, dict) or "repr" not in v:
        return v
    if v.get("truncated"):
        raise NoValue("truncated")
    try:
        return ast.literal_eval(v["repr"])
    except Exception:
        return Opaque(v)


def lookup(state, name):
    if name in state["locals"]:
        return state["locals"][name], True
    if name in state["globals"]:
        return state["globals"][name], False
    raise NoValue("unbound " + name)


class Eval:
    def __init__(self, state):
        self.state = state
        self.local = False

    def ev(self, node):
        m = getattr(self, "e_" + type(node).__name__, None)
        if m is None:
            raise NoValue("unsupported " + type(node).__name__)
        return m(node)

    def e_Expression(self, n):
        return self.ev(n.body)

    def e_Name(self, n):
        v, local = lookup(self.state, n.id)
        self.local |= local
        return v

    def e_Constant(self, n):
        return n.value

    def e_Attribute(self, n):
        base = self.ev(n.value)
        if not isinstance(base, dict) or n.attr not in base.get("attrs", {}):
            raise NoValue("no attribute")
        return base["attrs"][n.attr]

    def e_Subscript(self, n):
        base = plain(self.ev(n.value))
        key = plain(self.ev(n.slice))
        try:
            return base[key]
        except Exception as e:
            raise NoValue(str(e))

    def e_Index(self, n):  # Python 3.8
        return self.ev(n.value)

    def e_Call(self, n):
        if not (isinstance(n.func, ast.Name) and n.func.id == "len"):
            raise NoValue("call")
        try:
            return len(plain(self.ev(n.args[0])))
        except TypeError as e:
            raise NoValue(str(e))

    def e_UnaryOp(self, n):
        v = plain(self.ev(n.operand))
        if isinstance(n.op, ast.Not):
            return not v
        if isinstance(n.op, ast.USub):
            return -v
        raise NoValue("unary")

    def e_BinOp(self, n):
        a, b = plain(self.ev(n.left)), plain(self.ev(n.right))
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
               ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b, ast.Div: lambda: a / b}
        try:
            return ops[type(n.op)]()
        except Exception as e:
            raise NoValue(str(e))

    def e_BoolOp(self, n):
        last = None
        for e in n.values:
            last = self.ev(e)
            t = bool(plain(last)) if not isinstance(plain(last), Opaque) else True
            if t == isinstance(n.op, ast.Or):
                return last
        return last

    def e_Compare(self, n):
        left = self.ev(n.left)
        for op, r in zip(n.ops, n.comparators):
            right = self.ev(r)
            if not self.cmp(op, left, right):
                return False
            left = right
        return True

    def cmp(self, op, a, b):
        if isinstance(op, (ast.Is, ast.IsNot)):
            if isinstance(a, dict) and isinstance(b, dict):
                same = a["id"] == b["id"]
            else:
                same = plain(a) is plain(b)
            return same if isinstance(op, ast.Is) else not same
        x, y = plain(a), plain(b)
        try:
            return {ast.Eq: lambda: x == y, ast.NotEq: lambda: x != y,
                    ast.Lt: lambda: x < y, ast.LtE: lambda: x <= y,
                    ast.Gt: lambda: x > y, ast.GtE: lambda: x >= y,
                    ast.In: lambda: x in y, ast.NotIn: lambda: x not in y}[type(op)]()
        except TypeError as e:
            raise NoValue(str(e))


def evaluate(state, src):
    e = Eval(state)
    v = e.ev(ast.parse(src, mode="eval"))
    return v, e.local


def key(v):
    """What must differ for a value to have changed: identity of the
    object and everything shown of it, or a computed value's type and repr."""
    if isinstance(v, dict):
        return (v.get("id"), v.get("type"), v.get("repr"), json.dumps(v.get("attrs"), sort_keys=True))
    return ("plain", type(v).__name__, repr(v))


def value_of(state, src):
    try:
        v, local = evaluate(state, src)
        return key(v), local
    except NoValue:
        return None, False


def truth(state, src):
    try:
        v, _ = evaluate(state, src)
        p = plain(v)
        return True if isinstance(p, Opaque) else bool(p)
    except NoValue:
        return False


def find(states, q):
    out = [s["step"] for s in states if q["from"] <= s["step"] <= q["to"] and truth(s, q["cond"])]
    return out if q["all"] else out[:1]


def history(states, q):
    """For an expression of globals in a one-file program: the steps whose
    value differs from the step before that had one."""
    out, prev = [], None
    for s in states:
        v, _ = value_of(s, q["expr"])
        if v is not None and v != prev:
            out.append(s["step"])
        prev = v
    return out


def names_of(src):
    return [n.id for n in ast.walk(ast.parse(src, mode="eval")) if isinstance(n, ast.Name) and n.id != "len"]


def find_by_id(state, ident):
    """The value of id `ident` anywhere the state shows it (a local, a
    global, or an attribute down to depth 3)."""
    todo = list(state["locals"].values()) + list(state["globals"].values())
    while todo:
        v = todo.pop()
        if v.get("id") == ident:
            return v
        todo.extend(v.get("attrs", {}).values())
    return None


def last_write(states, q):
    """docs/spec/cli.md, `last-write`: the showing steps of STEP's frame or
    module; between them the expression evaluated with the names bound as
    last shown, their objects looked up by id where the state shows them."""
    at = states[q["step"]]
    _, local = value_of(at, q["expr"])
    top = at["stack"][-1]
    place = (at["thread"], len(at["stack"]), top["function"], top["file"])

    def shows(s):
        t = s["stack"][-1]
        if local:
            return (s["thread"], len(s["stack"]), t["function"], t["file"]) == place
        return t["file"] == top["file"]

    names = names_of(q["expr"])
    prev, gap, start, writer, before = None, None, 0, None, None
    for s in states[: q["step"] + 1]:
        t = s["step"]
        if local and s["event"] == "call" and shows(s):
            prev, gap = None, None
        if shows(s):
            cur, _ = value_of(s, q["expr"])
            bound = {}
            for n in names:
                try:
                    bound[n] = lookup(s, n)
                except NoValue:
                    pass
            if prev is None or prev[0] != cur:
                if cur is not None:
                    start = t
                    w = gap[1] if gap is not None and gap[0] == cur and gap[1] < t else t
                    writer = w - 1 if w > 0 else None
                    before = max(w - 1, prev[2]) if prev is not None and prev[0] is not None else None
            prev, gap = (cur, bound, t), None
        elif prev is not None:
            fake = {"locals": {}, "globals": {}}
            for n, (v, is_local) in prev[1].items():
                now = find_by_id(s, v["id"])
                if now is not None:
                    fake["locals" if is_local else "globals"][n] = now
            v, _ = value_of(fake, q["expr"])
            if v is not None and (gap is None or gap[0] != v):
                gap = (v, t)
    return {"writer": writer, "shown_from": start, "before_step": before}


def bindings_diff(states, q):
    a, b = states[q["a"]], states[q["b"]]
    place = lambda s: (s["thread"], len(s["stack"]), s["stack"][-1]["function"], s["stack"][-1]["file"])
    out = {}
    for scope, compared in (("locals", place(a) == place(b)),
                            ("globals", a["stack"][-1]["file"] == b["stack"][-1]["file"])):
        if not compared:
            out[scope] = None
            continue
        x, y = a[scope], b[scope]
        atom = lambda v: v["type"] in ("int", "float", "str", "bytes", "bool", "NoneType", "complex")
        ch = [n for n in y if n not in x or x[n]["id"] != y[n]["id"]
              or (atom(y[n]) and (x[n]["type"], x[n]["repr"]) != (y[n]["type"], y[n]["repr"]))]
        ch += [n for n in x if n not in y]
        out[scope] = sorted(ch)
    return out


def item_changes(states, q):
    """(id, index) of the items that differ between A and B in every list
    of literal atoms that both bind to the same object."""
    a, b = states[q["a"]], states[q["b"]]
    out, ids = set(), set()
    for scope in ("locals", "globals"):
        for n, v in b[scope].items():
            w = a[scope].get(n)
            if w is None or w["id"] != v["id"] or v["type"] != "list":
                continue
            x, y = plain(w), plain(v)
            if not all(isinstance(i, (int, str)) for i in list(x) + list(y)):
                continue
            ids.add(v["id"])
            for i in range(max(len(x), len(y))):
                if (x[i:i + 1]) != (y[i:i + 1]):
                    out.add((v["id"], i))
    return {"ids": sorted(ids), "changes": sorted(out)}


def object_names(states, q):
    """The names bound to the object EXPR names at STEP, at each step."""
    v, _ = evaluate(states[q["step"]], q["expr"])
    ident = v["id"]
    return {str(s["step"]): sorted(n for sc in ("locals", "globals") for n, w in s[sc].items()
                                   if w["id"] == ident) for s in states}


def main():
    states = [json.loads(l) for l in open(sys.argv[1])]
    queries = json.load(open(sys.argv[2]))
    kinds = {"find": find, "history": history, "last_write": last_write,
             "bindings_diff": bindings_diff, "item_changes": item_changes,
             "object_names": object_names}
    print(json.dumps([kinds[q["kind"]](states, q) for q in queries]))


main()
