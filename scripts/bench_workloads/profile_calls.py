"""A function called often, each call making a few calls of its own: the
workload of the shallow call profiler's benchmark (scripts/bench_profile.py,
docs/benchmarks.md). `handle` is the function profiled."""
import sys


def parse(i):
    return i * 2


def check(v):
    return v % 7 == 0


def store(acc, v):
    acc.append(v)


def handle(i, acc):
    v = parse(i)
    if check(v):
        store(acc, v)
    return v


def main(n):
    acc = []
    for i in range(n):
        handle(i, acc)
    print(len(acc))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
