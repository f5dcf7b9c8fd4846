"""String building: concatenation, f-strings, slicing, join.

Usage: python3 strings.py [N] (default 50,000 pieces).
"""
import sys


def build(n):
    out = ""
    parts = []
    for i in range(n):
        word = f"w{i % 97}"
        if i % 3 == 0:
            word = word.upper()
        out += word[:2]
        parts.append(word)
        if len(out) > 200:
            out = out[-50:]
    return out, "-".join(parts)


if __name__ == "__main__":
    tail, joined = build(int(sys.argv[1]) if len(sys.argv) > 1 else 50000)
    print(len(tail), len(joined), joined[-20:])
