"""Spins until the file named by its argument appears; says READY once it
has run a while, and how many rounds it ran when it stops."""
import os
import sys

stop = sys.argv[1]
n = 0
while not os.path.exists(stop):
    n += 1
    if n == 2000:
        print("READY", flush=True)
print("stopped after", n, flush=True)
