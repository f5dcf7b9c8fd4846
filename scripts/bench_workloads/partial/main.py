"""Only part of the program matters: this driver is the recorded file (the
default records the main script's directory, here partial/), while the sort it
calls lives in ../bubble.py, outside the recorded files. Its lines must cost
no trap.

Usage: python3 partial/main.py [N] (default 1,000).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bubble  # noqa: E402


def run(n):
    total = 0
    for rep in range(3):
        total += rep
    bubble.main(n)
    return total


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
