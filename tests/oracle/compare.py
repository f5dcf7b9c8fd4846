#!/usr/bin/env python3
"""Compare two step streams (JSON lines) under docs/spec/values.md "Comparing two states".

    compare.py A.jsonl B.jsonl

Per step: event, file, function, line, instruction (an opcode step's name and
offset; absent elsewhere), position (where both have one), the
function names of the stack frames, and for every local and global (and the
return value / exception) type, repr, truncated and attrs recursively. Ids are
compared as a bijection per step: names sharing an id in A share one in B and
vice versa; the addresses inside reprs ('<... at 0x...>') join the same
bijection. Thread ids and absolute addresses are never compared directly.

Exit 0 printing "N steps equal"; exit 1 at the first mismatch, printing the
step, the field, both values and the steps before it; exit 2 on unreadable input.
"""

import json
import re
import sys

# An address inside an object.__repr__: "<mod.Name object at 0x7f...>".
_ADDRESS = re.compile(r"(<[^<>]* at )(0x[0-9a-fA-F]+)(>)")
_CONTEXT = 3


class Mismatch(Exception):
    """The first difference: where, and the two values."""

    def __init__(self, field, a, b):
        super().__init__(field)
        self.field = field
        self.a = a
        self.b = b


class Bijection:
    """Ids of one step: A-id <-> B-id, one to one."""

    def __init__(self):
        self.fwd = {}
        self.bwd = {}

    def pair(self, field, a, b):
        if a in self.fwd and self.fwd[a] != b:
            raise Mismatch(field + " (identity)", "%s, which elsewhere in this step pairs with %s" % (a, self.fwd[a]), b)
        if b in self.bwd and self.bwd[b] != a:
            raise Mismatch(field + " (identity)", a, "%s, which elsewhere in this step pairs with %s" % (b, self.bwd[b]))
        self.fwd[a] = b
        self.bwd[b] = a


def _split_addresses(text):
    """The repr with every address replaced by a marker, and the addresses in order."""
    addresses = []

    def take(m):
        addresses.append(m.group(2).lower())
        return m.group(1) + "0x?" + m.group(3)

    return _ADDRESS.sub(take, text), addresses


def compare_repr(field, a, b, ids):
    if type(a) is not str or type(b) is not str:
        if a != b:
            raise Mismatch(field, a, b)
        return
    shape_a, addr_a = _split_addresses(a)
    shape_b, addr_b = _split_addresses(b)
    if shape_a != shape_b or len(addr_a) != len(addr_b):
        raise Mismatch(field, a, b)
    for x, y in zip(addr_a, addr_b):
        ids.pair(field, x, y)


def compare_value(field, a, b, ids):
    if not isinstance(a, dict) or not isinstance(b, dict):
        if a != b:
            raise Mismatch(field, a, b)
        return
    for key in ("type", "truncated"):
        if a.get(key) != b.get(key):
            raise Mismatch(field + "." + key, a.get(key), b.get(key))
    compare_repr(field + ".repr", a.get("repr"), b.get("repr"), ids)
    if ("id" in a) != ("id" in b):
        raise Mismatch(field + ".id", a.get("id"), b.get("id"))
    if "id" in a:
        ids.pair(field + ".id", str(a["id"]).lower(), str(b["id"]).lower())
    if ("attrs" in a) != ("attrs" in b):
        raise Mismatch(field + ".attrs", a.get("attrs"), b.get("attrs"))
    if "attrs" in a:
        compare_names(field + ".attrs", a["attrs"], b["attrs"], ids)


def compare_names(field, a, b, ids):
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise Mismatch(field, a, b)
    if set(a) != set(b):
        only_a = sorted(set(a) - set(b))
        only_b = sorted(set(b) - set(a))
        raise Mismatch(field + " (names)", "only here: %s" % only_a, "only here: %s" % only_b)
    for name in a:
        compare_value(field + "." + name, a[name], b[name], ids)


def compare_state(a, b):
    """Raise Mismatch at the first difference between two states of one step."""
    for key in ("event", "file", "function", "line", "instruction"):
        if a.get(key) != b.get(key):
            raise Mismatch(key, a.get(key), b.get(key))
    pa, pb = a.get("position"), b.get("position")
    if pa is not None and pb is not None and pa != pb:
        raise Mismatch("position", pa, pb)
    sa = [f.get("function") for f in a.get("stack") or []]
    sb = [f.get("function") for f in b.get("stack") or []]
    if sa != sb:
        raise Mismatch("stack", sa, sb)
    ids = Bijection()
    compare_names("locals", a.get("locals", {}), b.get("locals", {}), ids)
    compare_names("globals", a.get("globals", {}), b.get("globals", {}), ids)
    if ("return" in a) != ("return" in b):
        raise Mismatch("return", a.get("return"), b.get("return"))
    if "return" in a:
        compare_value("return", a["return"], b["return"], ids)
    ea, eb = a.get("exception"), b.get("exception")
    if (ea is None) != (eb is None):
        raise Mismatch("exception", ea, eb)
    if ea is not None:
        if not isinstance(ea, dict) or not isinstance(eb, dict) or ea.get("type") != eb.get("type"):
            raise Mismatch("exception.type", ea, eb)
        compare_repr("exception.repr", ea.get("repr"), eb.get("repr"), ids)


def load(path):
    states = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                states.append(json.loads(line))
            except ValueError as e:
                raise SystemExit("compare.py: %s line %d is not JSON (%s)" % (path, number, e)) from None
    return states


def _brief(state):
    if not isinstance(state, dict):
        return repr(state)
    return "%s %s %s:%s %s" % (
        state.get("step"), state.get("event"), state.get("file"), state.get("line"), state.get("function"))


def _show(value):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 2000 else text[:2000] + "... (%d chars)" % len(text)


def compare_streams(a_states, b_states, a_name="A", b_name="B", out=sys.stdout):
    """Compare two lists of states; print the verdict; return the exit status."""
    for n in range(min(len(a_states), len(b_states))):
        try:
            compare_state(a_states[n], b_states[n])
        except Mismatch as m:
            print("step %d: %s differs" % (n, m.field), file=out)
            print("  %s: %s" % (a_name, _show(m.a)), file=out)
            print("  %s: %s" % (b_name, _show(m.b)), file=out)
            print("context (%s | %s):" % (a_name, b_name), file=out)
            for k in range(max(0, n - _CONTEXT), n + 1):
                print("  %s | %s" % (_brief(a_states[k]), _brief(b_states[k])), file=out)
            return 1
    if len(a_states) != len(b_states):
        n = min(len(a_states), len(b_states))
        print("step %d: step count differs: %s has %d steps, %s has %d" % (
            n, a_name, len(a_states), b_name, len(b_states)), file=out)
        longer = a_states if len(a_states) > len(b_states) else b_states
        print("  first extra step: %s" % _brief(longer[n]), file=out)
        if n > 0:
            print("  last common step: %s | %s" % (_brief(a_states[n - 1]), _brief(b_states[n - 1])), file=out)
        return 1
    print("%d steps equal" % len(a_states), file=out)
    return 0


def main(argv):
    if len(argv) != 3:
        print("usage: compare.py A.jsonl B.jsonl", file=sys.stderr)
        return 2
    try:
        a, b = load(argv[1]), load(argv[2])
    except OSError as e:
        print("compare.py: cannot read %s" % e, file=sys.stderr)
        return 2
    return compare_streams(a, b, argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
