"""Counts the steps a recorder should see in a workload, in-process: the
`sys.settrace` events (call, line, return, exception) of code in files under
the script's directory, which is what `hindsight record` records by default.

Usage: python count_steps.py SCRIPT [ARGS...]; prints `steps N` on stderr.
"""
import os
import sys


def main():
    script = os.path.abspath(sys.argv[1])
    base = os.path.dirname(script) + os.sep
    sys.argv = [script] + sys.argv[2:]
    sys.path.insert(0, os.path.dirname(script))
    with open(script) as f:
        code = compile(f.read(), script, "exec")
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if not frame.f_code.co_filename.startswith(base):
            return None
        count += 1
        return trace

    scope = {"__name__": "__main__", "__file__": script}
    sys.settrace(trace)
    try:
        exec(code, scope)
    finally:
        sys.settrace(None)
        # The exec'd module body itself is a frame of `script`: its call and
        # return events are counted like hindsight's <module> steps.
        print(f"steps {count}", file=sys.stderr)


if __name__ == "__main__":
    main()
