"""Unit tests of compare.py: it must pass equal streams and FAIL on every kind of difference.

Run: python3 -m unittest discover -s tests/oracle -p 'test_*.py'
"""

import copy
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import hindsight_render as render  # noqa: E402


def value(type_, id_, repr_, **extra):
    v = {"type": type_, "id": id_, "repr": repr_}
    v.update(extra)
    return v


def state(step, **over):
    s = {
        "step": step,
        "event": "line",
        "thread": 1,
        "file": "/x/a.py",
        "function": "f",
        "line": 3 + step,
        "position": {"line": 3 + step, "end_line": 3 + step, "col": 0, "end_col": 5},
        "stack": [{"function": "<module>", "file": "/x/a.py", "line": 9},
                  {"function": "f", "file": "/x/a.py", "line": 3 + step}],
        "locals": {
            "a": value("list", "0x10", "[1, 2]"),
            "b": value("list", "0x10", "[1, 2]"),
            "c": value("list", "0x20", "[1, 2]"),
            "o": value("__main__.C", "0x30", "<__main__.C object at 0x30>",
                       attrs={"me": value("__main__.C", "0x30", "<__main__.C object at 0x30>")}),
        },
        "globals": {"g": value("int", "0x40", "7")},
    }
    s.update(over)
    return s


def shifted(s, delta=0x1000, thread=2):
    """The same state as another run would write it: other addresses, other thread."""
    text = json.dumps(s)
    for old in ("0x10", "0x20", "0x30", "0x40"):
        text = text.replace(old, hex(int(old, 16) + delta))
    out = json.loads(text)
    out["thread"] = thread
    return out


class CompareTest(unittest.TestCase):
    def run_compare(self, a, b):
        out = io.StringIO()
        status = compare.compare_streams(a, b, out=out)
        return status, out.getvalue()

    def assert_fails(self, a, b, field):
        status, text = self.run_compare(a, b)
        self.assertEqual(status, 1, text)
        self.assertIn(field, text)
        return text

    def setUp(self):
        self.a = [state(0), state(1), state(2, event="return", **{"return": value("int", "0x40", "7")})]
        self.b = [shifted(s) for s in self.a]

    def test_equal_streams_with_other_addresses_pass(self):
        status, text = self.run_compare(self.a, self.b)
        self.assertEqual(status, 0, text)
        self.assertIn("3 steps equal", text)

    def test_changed_repr_fails(self):
        self.b[1]["locals"]["c"]["repr"] = "[1, 3]"
        text = self.assert_fails(self.a, self.b, "step 1: locals.c.repr differs")
        self.assertIn("[1, 3]", text)

    def test_changed_type_fails(self):
        self.b[0]["globals"]["g"]["type"] = "bool"
        self.assert_fails(self.a, self.b, "globals.g.type")

    def test_broken_bijection_fails_when_b_merges(self):
        self.b[1]["locals"]["c"]["id"] = self.b[1]["locals"]["a"]["id"]
        self.assert_fails(self.a, self.b, "(identity)")

    def test_broken_bijection_fails_when_b_splits(self):
        self.b[2]["locals"]["b"]["id"] = "0x999"
        self.assert_fails(self.a, self.b, "locals.b.id (identity)")

    def test_address_inside_repr_joins_the_bijection(self):
        self.b[0]["locals"]["o"]["attrs"]["me"]["repr"] = "<__main__.C object at 0x1020>"
        self.assert_fails(self.a, self.b, "(identity)")

    def test_return_value_identity_is_checked(self):
        self.b[2]["return"]["id"] = "0x1010"  # in B it is now the list a/b, in A the int g
        self.assert_fails(self.a, self.b, "(identity)")

    def test_missing_step_fails(self):
        status, text = self.run_compare(self.a, self.b[:2])
        self.assertEqual(status, 1)
        self.assertIn("step count differs", text)

    def test_missing_name_fails(self):
        del self.b[1]["locals"]["c"]
        self.assert_fails(self.a, self.b, "locals (names)")

    def test_missing_attrs_fails(self):
        del self.b[0]["locals"]["o"]["attrs"]
        self.assert_fails(self.a, self.b, "locals.o.attrs")

    def test_truncated_flag_is_compared(self):
        self.b[0]["globals"]["g"]["truncated"] = True
        self.assert_fails(self.a, self.b, "globals.g.truncated")

    def test_event_line_and_stack_are_compared(self):
        for key, new in (("event", "call"), ("line", 99), ("function", "g"), ("file", "/y.py")):
            b = copy.deepcopy(self.b)
            b[1][key] = new
            self.assert_fails(self.a, b, "step 1: %s differs" % key)
        b = copy.deepcopy(self.b)
        b[1]["stack"][0]["function"] = "main"
        self.assert_fails(self.a, b, "step 1: stack differs")

    def test_position_compared_only_where_both_have_one(self):
        self.b[0]["position"] = None
        self.assertEqual(self.run_compare(self.a, self.b)[0], 0)
        self.b[1]["position"]["col"] = 1
        self.assert_fails(self.a, self.b, "step 1: position differs")

    def test_exception_is_compared(self):
        exc = {"type": "ValueError", "repr": "ValueError('x')"}
        self.a[1].update(event="exception", exception=exc)
        self.b[1].update(event="exception", exception=dict(exc, repr="ValueError('y')"))
        self.assert_fails(self.a, self.b, "exception.repr")

    def test_command_line_exit_status(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for name, states in (("a", self.a), ("b", self.b), ("c", self.b[:1])):
                path = os.path.join(tmp, name + ".jsonl")
                with open(path, "w") as f:
                    f.writelines(json.dumps(s) + "\n" for s in states)
                paths.append(path)
            script = os.path.join(here, "compare.py")
            ok = subprocess.run([sys.executable, script, paths[0], paths[1]], capture_output=True, text=True)
            self.assertEqual(ok.returncode, 0, ok.stdout)
            bad = subprocess.run([sys.executable, script, paths[0], paths[2]], capture_output=True, text=True)
            self.assertEqual(bad.returncode, 1, bad.stdout)


class RenderTest(unittest.TestCase):
    """The oracle's own rendering against CPython's repr where values.md says they are equal."""

    def test_exact_containers_match_cpython_repr(self):
        cycle = [1]
        cycle.append(cycle)
        d = {"a": 1}
        d["me"] = d
        inner = []
        t = (inner, 1)
        inner.append(t)
        for x in ([1, "a"], (1,), (), {1: 2}, {}, {1, 2}, set(), frozenset({1}), frozenset(),
                  cycle, d, t, [[[]]], {"k": (1.5, None, b"x", bytearray(b"y"), range(3), 3j)}, 2 ** 5000):
            self.assertEqual(render.render_repr(x), (repr(x), False))

    def test_other_objects_use_object_repr(self):
        class Shouty:
            def __repr__(self):
                raise AssertionError("user code ran")

        class MyList(list):
            pass

        s = Shouty()
        self.assertEqual(render.render_repr([s])[0], "[" + object.__repr__(s) + "]")
        mine = MyList([1])
        self.assertEqual(render.render_repr(mine)[0], object.__repr__(mine))
        self.assertIn("MyList object at 0x", render.render_repr(mine)[0])
        self.assertTrue(render.render_repr(len)[0].startswith("<builtin_function_or_method object at 0x"))

    def test_limits(self):
        self.assertEqual(render.render_repr("a" * 1_000_001), ("'" + "a" * 1_000_000 + "...'", True))
        self.assertEqual(render.render_repr(bytearray(1_000_001))[0][-7:], "00...')")
        r, cut = render.render_repr(list(range(10_001)))
        self.assertTrue(cut)
        self.assertTrue(r.endswith("9999, ...]"))
        deep = []
        for _ in range(64):
            deep = [deep]
        self.assertEqual(render.render_repr(deep)[0], "[" * 64 + "..." + "]" * 64)
        self.assertEqual(render.render_repr(deep[0])[0], "[" * 64 + "]" * 64)

    def test_attrs_and_slots(self):
        class S:
            __slots__ = ("x", "__p", "unset")

            def __init__(self):
                self.x = 1
                self.__p = 2

        class D(S):
            def __init__(self):
                super().__init__()
                self.y = [3]

        v = render.render_value(D())
        self.assertEqual(set(v["attrs"]), {"x", "_S__p", "y"})
        self.assertEqual(v["attrs"]["y"]["repr"], "[3]")
        self.assertNotIn("attrs", render.render_value([1]))

    def test_exception_repr(self):
        self.assertEqual(render.render_exception(ValueError, ValueError("x")), {"type": "ValueError", "repr": "ValueError('x')"})
        self.assertEqual(render.render_exception(KeyError, KeyError())["repr"], "KeyError()")
        self.assertEqual(render.render_exception(KeyError, KeyError(2, "no"))["repr"], "KeyError(2, 'no')")


if __name__ == "__main__":
    unittest.main()
