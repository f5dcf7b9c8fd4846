"""Waits for a line on stdin (an `attach` comes meanwhile), then works for
about 100,000 steps and dies of an exception nothing catches."""
import sys

print("READY", flush=True)
sys.stdin.readline()


def grow(acc, i):
    acc.append(i * i)
    return len(acc)


acc = []
total = 0
for i in range(16700):
    total += grow(acc, i)
raise RuntimeError("gave up after 16700 rounds")
