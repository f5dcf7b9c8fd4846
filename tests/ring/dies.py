"""Works for about 100,000 steps, then dies of an exception nothing catches."""
import sys


def grow(acc, i):
    acc.append(i * i)
    return len(acc)


acc = []
total = 0
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 16700
for i in range(rounds):
    total += grow(acc, i)
last = {"total": total, "size": len(acc)}
raise RuntimeError("gave up after %d rounds" % rounds)
