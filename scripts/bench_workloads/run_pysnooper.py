"""Runs a workload under PySnooper, the way a user would wrap a whole program:
`with pysnooper.snoop(LOG, depth=...)` around the script's code, so every line
of the workload's functions is logged with the repr of every changed local.

Usage: python run_pysnooper.py LOG SCRIPT [ARGS...] (scripts/bench runs it in
its venv).
"""
import os
import sys

import pysnooper

# Deep enough for recursive fib of the benchmark's sizes; PySnooper walks up
# this many frames on every event to find out whether a frame is traced.
DEPTH = 40


def main():
    log, script = sys.argv[1], os.path.abspath(sys.argv[2])
    sys.argv = [script] + sys.argv[3:]
    sys.path.insert(0, os.path.dirname(script))
    with open(script) as f:
        code = compile(f.read(), script, "exec")
    scope = {"__name__": "__main__", "__file__": script}
    with pysnooper.snoop(log, depth=DEPTH):
        exec(code, scope)


if __name__ == "__main__":
    main()
