"""open() of a CLI recording, steps(), line(), visits(), the omniscient
queries (history, last_write, find, diff) and the errors, compared with the
CLI's own answers and messages, and the values with the states'."""

import json
import sys

import pytest

import hindsight
from conftest import cli, cli_error

PROG = """
total = 0
for i in range(6):
    total += i
    if i % 2:
        total -= 1
def g(n):
    k = n * 2
    return k
g(4)
xs = [total]
xs.append(2)
xs[0] = 7
"""


@pytest.fixture
def recorded(tmp):
    script = tmp / "prog.py"
    script.write_text(PROG)
    hsr = tmp / "prog.hsr"
    cli("record", "-o", hsr, "--", sys.executable, script)
    return hsr, script


def test_steps_line_and_visits_are_the_cli_s(recorded):
    hsr, script = recorded
    r = hindsight.open(hsr)
    want = [json.loads(l) for l in cli("steps", hsr, "--json").stdout.splitlines()]
    got = list(r.steps())
    assert len(got) == len(r) == len(want)
    for g, w in zip(got, want):
        assert (g.step, g.event, g.thread, g.file, g.function, g.line) == (
            w["step"], w["event"], w["thread"], w["file"], w["function"], w["line"]
        )
        p = w["position"]
        assert g.position == (None if p is None else (p["line"], p["end_line"], p["col"], p["end_col"]))
        assert r.line(g.step) == w["line"]
    assert [s.step for s in r.steps(3, 7)] == [3, 4, 5, 6]
    for line in (3, 4, 5, 8):
        out = cli("visits", hsr, "prog.py:%d" % line).stdout.split()
        steps = [int(l.split()[0]) for l in cli("visits", hsr, "prog.py:%d" % line).stdout.splitlines()]
        assert r.visits("prog.py", line) == steps and steps, line
        assert r.visits(str(script), line) == steps


def test_history_changes_are_the_cli_s(recorded):
    hsr, _ = recorded
    r = hindsight.open(hsr)
    lines = cli("history", hsr, "total").stdout.splitlines()
    want = [(int(l.split()[0]), int(l.rsplit("= ", 1)[1])) for l in lines]
    assert r.history("total") == want
    with pytest.raises(hindsight.QueryError):
        r.history("no_such_name")


def jsonl(*args):
    return [json.loads(l) for l in cli(*args).stdout.splitlines()]


def test_history_of_an_expression_is_the_cli_s_with_the_states_values(recorded):
    hsr, _ = recorded
    r = hindsight.open(hsr)
    expr = "total * 2 + i"
    want = jsonl("history", hsr, expr, "--json")
    got = r.history(expr)
    assert [s for s, _ in got] == [w["step"] for w in want] and want
    for (s, v), w in zip(got, want):
        st = r.state(s)
        assert v == st["total"] * 2 + st["i"]
        assert repr(v) == w["value"]["repr"]
    want = jsonl("history", hsr, "k", "--function", "g", "--json")
    assert [s for s, _ in r.history("k", function="g")] == [w["step"] for w in want] and want
    with pytest.raises(hindsight.QueryError) as e:
        r.history("total +")
    assert str(e.value) == cli_error("history", hsr, "total +")


def test_find_last_write_and_diff_are_the_cli_s(recorded):
    hsr, _ = recorded
    r = hindsight.open(hsr)
    cond = "total > 3 and i % 2 == 0"
    want = [w["step"] for w in jsonl("find", hsr, cond, "--all", "--json")]
    assert r.find_all(cond) == want and want
    for s in want:
        st = r.state(s)
        assert st["total"] > 3 and st["i"] % 2 == 0
    assert r.find(cond) == want[0]
    assert r.find(cond, start=want[0] + 1) == (want[1] if len(want) > 1 else None)
    assert r.find_all(cond, stop=want[0]) == []
    assert r.find("total > 1000000") is None

    n = want[-1]
    j = json.loads(cli("last-write", hsr, n, "total", "--json").stdout)
    lw = r.last_write(n, "total")
    assert lw.writer == (j["writer"] or {}).get("step")
    assert (lw.shown_from, lw.before_step) == (j["shown_from"], j["before_step"])
    assert lw.value == r.state(n)["total"]
    assert repr(lw.before) == (j["before"] or {}).get("repr", "None")
    if lw.before_step is not None:
        assert lw.before == r.state(lw.before_step)["total"]
    with pytest.raises(hindsight.QueryError) as e:
        r.last_write(n, "nope")
    assert str(e.value) == cli_error("last-write", hsr, n, "nope")

    j = json.loads(cli("diff", hsr, 1, n, "--json").stdout)
    d = r.diff(1, n)
    side = lambda v: "ABSENT" if v is hindsight.ABSENT else repr(v)
    cli_side = lambda v: "ABSENT" if v is None else v["repr"]
    for mine, theirs in ((d.locals, j["locals"]), (d.globals, j["globals"])):
        if theirs is None:
            assert mine is None
            continue
        assert [(c.name, side(c.before), side(c.after)) for c in mine] == [
            (c["name"], cli_side(c["before"]), cli_side(c["after"])) for c in theirs
        ]
    assert any(c.name == "total" for c in d.globals)

    a, b = r.find("len(xs) == 1"), r.find("xs[0] == 7")
    j = json.loads(cli("diff", hsr, a, b, "--json").stdout)
    d = r.diff(a, b)
    got = [(hex(c.id), c.path, c.type, side(c.before), side(c.after)) for c in d.objects]
    assert got == [
        (c["id"], c["path"], c["type"], cli_side(c["before"]), cli_side(c["after"])) for c in j["objects"]
    ]
    assert {(c.path, c.part, side(c.before), side(c.after)) for c in d.objects} == {
        ("xs", ("item", 0), repr(r.state(a)["xs"][0]), "7"),
        ("xs", ("item", 1), "ABSENT", "2"),
    }
    with pytest.raises(hindsight.StepError):
        r.diff(0, len(r))


def test_errors_carry_the_cli_s_messages(recorded, tmp):
    hsr, _ = recorded
    missing = tmp / "missing.hsr"
    with pytest.raises(hindsight.RecordingError) as e:
        hindsight.open(missing)
    assert str(e.value) == cli_error("info", missing)
    with pytest.raises(hindsight.RecordingError) as e:
        hindsight.open(tmp)
    assert str(e.value) == cli_error("info", tmp)
    junk = tmp / "junk.hsr"
    junk.write_bytes(b"not a recording at all" * 10)
    with pytest.raises(hindsight.RecordingError) as e:
        hindsight.open(junk)
    assert str(e.value) == cli_error("info", junk)
    r = hindsight.open(hsr)
    with pytest.raises(hindsight.StepError) as e:
        r.state(len(r))
    assert str(e.value) == cli_error("state", hsr, len(r))
    assert isinstance(e.value, IndexError) and isinstance(e.value, hindsight.Error)
    with pytest.raises(hindsight.StepError):
        r.state(-1)
    with pytest.raises(hindsight.StepError):
        r.line(10**6)
    with pytest.raises(hindsight.QueryError):
        r.visits("nowhere.py", 1)


def test_record_writes_the_file_it_is_given(tmp):
    script = tmp / "app.py"
    script.write_text("a = 1\nb = a + 1\n")
    out = tmp / "app.hsr"
    r = hindsight.record([sys.executable, str(script)], output=out)
    assert out.exists() and r.path == str(out)
    assert r.header["program"] == [sys.executable, str(script)]
    assert r.state(len(r) - 1)["b"] == 2
    # The CLI reads the same file the same way.
    assert json.loads(cli("state", out, len(r) - 1, "--json").stdout)["globals"]["b"]["repr"] == "2"
    with pytest.raises(hindsight.RecordError):
        hindsight.record(["/bin/true"])


def test_attach_records_a_running_process(tmp):
    import subprocess

    script = tmp / "loop.py"
    script.write_text("import time\nn = 0\nwhile True:\n    n += 1\n    time.sleep(0.001)\n")
    p = subprocess.Popen([sys.executable, str(script)])
    try:
        import time

        time.sleep(0.5)
        r = hindsight.attach(p.pid, max_steps=30)
        assert 30 <= len(r) <= 31
        assert {s.file for s in r.steps()} == {str(script)}
        assert r.state(len(r) - 1)["n"] > 0
        assert p.poll() is None  # detached, running on
    finally:
        p.kill()
        p.wait()
