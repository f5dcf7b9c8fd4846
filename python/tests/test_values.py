"""Values rebuilt as Python objects: equal to what the program itself
held (the same code run in this process), names that share an object
sharing one, cycles kept; other objects as hindsight.Object with the
CLI's type and repr."""

import builtins
import itertools
import math

import hindsight
from conftest import cli

VALUES = r"""
none = None
yes, no = True, False
small, neg, big, huge_neg = 7, -12, 10**30, -(2**200)
floats = [0.1, -0.0, 1e300, 1.5e-300, float('inf'), -float('inf'), 2.0]
texts = ['', 'plain', "it's", 'say "hi"', 'both \' and "', 'tab\there\nnew\\slash', 'é ü ∑ 𝄞', '\x00\x7f\x85\xa0', '\u200b\U0001f600']
blobs = [b'', b'abc', bytes(range(256)), b"'\"\\"]
nested = {'a': (1, 2, (3,)), (1, 'k'): [None, {1, 2}], 2.5: frozenset({4})}
empty = ([], (), {}, set())
"""

SHARING = r"""
a = [1, 2]
b = a
c = [a, a, (a,)]
d = {'x': a, 'y': c}
cyc = [0]
cyc.append(cyc)
t = ([],)
t[0].append(t)
selfdict = {}
selfdict['me'] = selfdict
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
p = Point(1, [2])
q = p
p.me = p
p.other = a
"""


def final_state(code):
    r = hindsight.exec(code)
    assert r.error is None
    return r.state(len(r) - 1)


def in_process(code):
    ns = {}
    builtins.exec(compile(code, "<test>", "exec"), ns)
    ns.pop("__builtins__", None)
    return ns


def test_atoms_and_containers_are_the_values_themselves():
    s = final_state(VALUES)
    ns = in_process(VALUES)
    for name in ("none", "yes", "no", "small", "neg", "big", "huge_neg", "texts", "blobs", "nested", "empty"):
        assert s[name] == ns[name], name
        assert type(s[name]) is type(ns[name]), name
    # Floats by repr: -0.0 and the infinities exactly.
    assert [repr(f) for f in s["floats"]] == [repr(f) for f in ns["floats"]]
    assert all(type(f) is float for f in s["floats"])


def test_a_lone_surrogate_and_nan_come_back():
    s = final_state("s = 'a\\ud800b'\nn = float('nan')\n")
    assert s["s"] == "a\ud800b"
    assert math.isnan(s["n"])


def test_names_that_share_an_object_share_one_and_cycles_are_kept():
    s = final_state(SHARING)
    ns = in_process(SHARING)
    names = ["a", "b", "c", "d", "cyc", "t", "selfdict", "p", "q"]
    # Every pair of names shares an object here exactly when it did there.
    for x, y in itertools.combinations(names, 2):
        assert (s[x] is s[y]) == (ns[x] is ns[y]), (x, y)
    assert s["c"][0] is s["a"] and s["c"][2][0] is s["a"] and s["d"]["y"] is s["c"]
    assert s["cyc"][1] is s["cyc"] and repr(s["cyc"]) == repr(ns["cyc"])
    assert s["t"][0][0] is s["t"]
    assert s["selfdict"]["me"] is s["selfdict"]
    p = s["p"]
    assert isinstance(p, hindsight.Object)
    assert p.type == "__main__.Point"
    assert p.id > 0 and p.repr == "<__main__.Point object at %#x>" % p.id
    assert p.me is p and p.other is s["a"] and p.attrs["y"] == [2]
    assert set(p.attrs) == set(vars(ns["p"]))


def test_objects_are_read_only():
    p = final_state(SHARING)["p"]
    for attempt in (lambda: setattr(p, "x", 2), lambda: p.attrs.__setitem__("x", 2)):
        try:
            attempt()
        except (AttributeError, TypeError):
            pass
        else:
            raise AssertionError("an Object was changed")


def test_state_is_a_mapping_of_locals_over_globals(tmp):
    code = "x = 'global'\ny = 1\ndef f():\n    x = 'local'\n    return x\nf()\n"
    r = hindsight.exec(code)
    inside = [n for n in range(len(r)) if r.state(n).function == "f" and "x" in r.state(n).locals]
    assert inside
    s = r.state(inside[-1])
    assert s["x"] == "local" and s.globals["x"] == "global" and s["y"] == 1
    assert dict(s) == {"x": "local", "f": s.globals["f"], "y": 1}
    assert [f.function for f in s.stack] == ["<module>", "f"]
    ret = [n for n in range(len(r)) if r.state(n).event == "return" and r.state(n).function == "f"]
    assert r.state(ret[0]).value == "local"


def test_values_match_the_cli_json_of_a_cli_recording(tmp):
    script = tmp / "prog.py"
    script.write_text(VALUES + SHARING + "z = complex(1, 2)\nrr = range(3)\n")
    hsr = tmp / "prog.hsr"
    import sys

    cli("record", "-o", hsr, "--", sys.executable, script)
    r = hindsight.open(hsr)
    assert r.path == str(hsr)
    import json

    for n in range(0, len(r), max(1, len(r) // 15)):
        want = json.loads(cli("state", hsr, n, "--json").stdout)
        got = r.state(n)
        assert (got.step, got.event, got.file, got.function, got.line) == (
            want["step"], want["event"], want["file"], want["function"], want["line"]
        )
        assert [f.function for f in got.stack] == [f["function"] for f in want["stack"]]
        for scope in ("locals", "globals"):
            mine = getattr(got, scope)
            assert list(mine) == list(want[scope]), (n, scope)
            for name, v in want[scope].items():
                value = mine[name]
                if v["type"] == "float" and "nan" in v["repr"]:
                    continue
                assert repr(value) == v["repr"], (n, name)
                shown = value.type if isinstance(value, hindsight.Object) else type(value).__name__
                assert shown == v["type"], (n, name)


def test_a_container_cut_at_the_recorder_s_limit_is_an_object():
    s = final_state("big = list(range(10001))\nsmall = list(range(10000))\n")
    big = s["big"]
    assert isinstance(big, hindsight.Object) and big.truncated
    assert big.type == "list" and big.repr.endswith(", ...]")
    assert big.repr.startswith(repr(list(range(10000)))[:-1])
    assert s["small"] == list(range(10000))
