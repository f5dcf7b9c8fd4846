"""hindsight.exec: Execorder's README example, bounds, callbacks, and the
program's own exception, checked against the in-process oracle and the
recording file itself."""

import ast
import sys

import pytest

import hindsight
from conftest import oracle_states

# Execorder's README example, with its random numbers seeded so that two
# runs (recorded, and under the oracle) draw the same ones.
EXECORDER = """
import random
random.seed(20)
X = []
for i in range(10):
    X += [random.randint(1, 100)]
    random.shuffle(X)
"""


def test_execorder_example_matches_the_in_process_tracer(tmp):
    recording = hindsight.exec(EXECORDER)
    script = tmp / "code.py"
    script.write_text(EXECORDER)
    expected = []
    for s in oracle_states(script):
        x = s["globals"].get("X")
        expected.append(None if x is None else ast.literal_eval(x["repr"]))
    assert len(recording) == len(expected)
    assert recording.error is None
    assert recording.outcome.how == "exited" and recording.outcome.code == 0
    for n in range(40):
        if n < len(recording):
            X = recording.state(n).get("X", None)
            assert X == expected[n], n
            assert X is None or type(X) is list
        else:
            with pytest.raises(hindsight.StepError):
                recording.state(n)
    # The lists change as the program changed them: not all the same.
    assert len({repr(x) for x in expected}) > 10


LOOP = """
X = []
for i in range(1000):
    X.append(i)
"""


def test_max_steps_bounds_the_recording():
    full = hindsight.exec(LOOP)
    r = hindsight.exec(LOOP, max_steps=50)
    assert len(full) > 1000
    assert "max-steps" in r.outcome.bound
    assert 50 <= len(r) <= 51
    # The steps it holds are those of the full run.
    assert [r.state(n).get("X") for n in range(len(r))] == [
        full.state(n).get("X") for n in range(len(r))
    ]


def test_max_time_bounds_the_recording():
    r = hindsight.exec("import time\nn = 0\nwhile True:\n    n += 1\n    time.sleep(0.01)\n", max_time=0.5)
    assert "max-time" in r.outcome.bound
    assert len(r) > 3
    assert r.state(len(r) - 1).get("n") >= 1


def test_callback_sees_each_step_in_order_with_its_state():
    seen = []

    def follow(state):
        seen.append((state.step, state.event, state.line, state.get("X")))

    r = hindsight.exec(EXECORDER, callback=follow)
    assert [s[0] for s in seen] == list(range(len(r)))
    for step, event, line, x in seen:
        s = r.state(step)
        assert (event, line, x) == (s.event, s.line, s.get("X"))


def test_a_callback_returning_false_stops_the_recording():
    seen = []

    def until_seven(state):
        seen.append(state.step)
        return state.step < 7

    r = hindsight.exec(LOOP, callback=until_seven)
    assert seen == list(range(8))
    assert len(r) == 8
    assert r.outcome.bound == hindsight._native.STOPPED_BY_CALLBACK


def test_an_exception_in_the_callback_is_raised_and_stops():
    class Stop(Exception):
        pass

    def fails(state):
        if state.step == 3:
            raise Stop("at 3")

    with pytest.raises(Stop):
        hindsight.exec(LOOP, callback=fails)


def test_an_exception_in_the_code_comes_back_as_the_recording_error():
    r = hindsight.exec("def f(x):\n    raise ValueError('boom %d' % x)\nf(3)\n")
    assert r.outcome.how == "exited" and r.outcome.code == 1
    assert r.error is not None
    assert r.error.type == "ValueError"
    assert r.error.repr == "ValueError('boom 3')"
    # A caught exception is not the program's error.
    r = hindsight.exec("try:\n    1 / 0\nexcept ZeroDivisionError:\n    pass\nx = 1\n")
    assert r.error is None


def test_exec_with_another_interpreter():
    r = hindsight.exec("import sys\nv = sys.version_info[:2]\n", python=sys.executable)
    assert r.state(len(r) - 1)["v"] == tuple(sys.version_info[:2])
    assert r.header["interpreter"].startswith("CPython %d.%d" % sys.version_info[:2])
