"""sortedcontainers (pure Python, by Grant Jenks): a sorted list and dict under inserts and removals."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pkgs"))

from sortedcontainers import SortedDict, SortedList  # noqa: E402

sl = SortedList([5, 1, 4])
for x in [3, 9, 2, 7]:
    sl.add(x)
sl.discard(4)
mid = sl.bisect_left(5)
sd = SortedDict({"b": 2, "a": 1})
sd["c"] = 3
del sd["a"]
print(list(sl), mid, list(sd.items()))
