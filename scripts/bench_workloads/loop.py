"""An endless loop over two locals, to be recorded with a bound: the long
recording of the query timings in docs/benchmarks.md ("Queries on a long
recording"). Not one of scripts/bench's workloads.

Usage: hindsight record --max-steps 1000000 -o loop.hsr -- python3 loop.py
"""


def main():
    total = 0
    i = 0
    while True:
        total += i
        i += 1


main()
