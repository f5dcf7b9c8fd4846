"""Runs scripts/bench_workloads/profile_calls.py with its `handle` wrapped
the way Recompyle's shallow call profiler wraps a function: Recompyle's
`wrap_calls` (from PyPI: its release there, 0.4.1, has `wrap_calls` but not
the `flat_profile` decorator of its README, which is built on it) rewrites
`handle` so every call inside it goes through a wrapper that times it; the
times are summed by call, and the calls of a `handle` call longer than the
limit are logged, longest first, as `flat_profile(time_limit=...)` does.

Usage: python run_recompyle.py LIMIT N (scripts/bench_profile.py runs it in
its venv).
"""
import importlib.util
import logging
import os
import sys
import time
from collections import defaultdict

from recompyle import wrap_calls

log = logging.getLogger("recompyle-bench")


def flat_profile(time_limit):
    """The decorator: the calls inside the function timed and summed."""

    def decorate(func):
        times = defaultdict(float)

        def wrapper(__call, __extras, *args, **kwargs):
            start = time.perf_counter()
            try:
                return __call(*args, **kwargs)
            finally:
                times[__extras["source"]] += time.perf_counter() - start

        rewritten = wrap_calls(wrapper=wrapper)(func)

        def profiled(*args, **kwargs):
            times.clear()
            start = time.perf_counter()
            try:
                return rewritten(*args, **kwargs)
            finally:
                total = time.perf_counter() - start
                if total > time_limit:
                    calls = sorted(times.items(), key=lambda kv: -kv[1])
                    log.warning("%s took %.6f s: %s", func.__name__, total, calls)

        return profiled

    return decorate


def main():
    limit, n = float(sys.argv[1]), int(sys.argv[2])
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_calls.py")
    spec = importlib.util.spec_from_file_location("profile_calls", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.handle = flat_profile(limit)(mod.handle)
    mod.main(n)


if __name__ == "__main__":
    main()
