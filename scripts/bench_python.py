"""Times the Python package's reading against the CLI's in-process query
(tracer/examples/state_bench.rs, on the same steps): `state(n)` at Q
pseudo-random steps (the same fixed-seed xorshift), and `steps()` over the
whole recording. Prints one JSON object.

    python scripts/bench_python.py FILE [Q]
"""

import json
import sys
import time

import hindsight

MASK = (1 << 64) - 1


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) * p // 100, len(xs) - 1)]


def main():
    path = sys.argv[1]
    queries = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    t = time.perf_counter()
    r = hindsight.open(path)
    open_ms = (time.perf_counter() - t) * 1e3
    steps = len(r)
    x = 0x9E3779B97F4A7C15
    lat = []
    for _ in range(queries):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        t = time.perf_counter()
        r.state(x % steps)
        lat.append((time.perf_counter() - t) * 1e6)
    t = time.perf_counter()
    n = 0
    for _ in r.steps():
        n += 1
    steps_s = time.perf_counter() - t
    assert n == steps
    print(
        json.dumps(
            {
                "file": path,
                "python": sys.version.split()[0],
                "steps": steps,
                "queries": queries,
                "open_ms": round(open_ms, 2),
                "state_p50_us": round(percentile(lat, 50), 1),
                "state_p99_us": round(percentile(lat, 99), 1),
                "steps_iter_s": round(steps_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
