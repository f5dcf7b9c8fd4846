"""record(..., ring=N): a flight recording keeps the last steps of the run,
numbered as in the run, each state the one a recording of every step has."""

import sys

import pytest

import hindsight

LOOP = """
total = 0
for i in range(3000):
    total += i
"""


def test_a_ring_keeps_the_last_steps(tmp):
    script = tmp / "loop.py"
    script.write_text(LOOP)
    ring = hindsight.record([sys.executable, str(script)], ring=20)
    full = hindsight.record([sys.executable, str(script)])
    assert full.first == 0
    assert len(ring) == len(full)
    assert ring.first > 0 and len(ring) - ring.first >= 20
    assert [s.step for s in ring.steps()] == list(range(ring.first, len(ring)))
    for n in range(ring.first, len(ring)):
        assert ring.state(n).get("total", None) == full.state(n).get("total", None), n
    assert ring.find("total > 0") == ring.first
    with pytest.raises(hindsight.StepError, match="holds steps %d to" % ring.first):
        ring.state(ring.first - 1)
    with pytest.raises(ValueError):
        hindsight.record([sys.executable, str(script)], ring=0)
