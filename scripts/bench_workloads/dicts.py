"""Dict-heavy counting: word frequencies, a nested index, the top words.

Usage: python3 dicts.py [N] (default 50,000 words).
"""
import sys


def words(n):
    seed = 12345
    for _ in range(n):
        seed = (seed * 1103515245 + 12345) % 2147483648
        yield "w" + str(seed % 500)


def count(n):
    counts = {}
    by_first = {}
    for w in words(n):
        counts[w] = counts.get(w, 0) + 1
        key = w[:2]
        if key not in by_first:
            by_first[key] = set()
        by_first[key].add(w)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return top, {k: len(v) for k, v in by_first.items()}


if __name__ == "__main__":
    top, index = count(int(sys.argv[1]) if len(sys.argv) > 1 else 50000)
    print(top, sorted(index.items())[:3])
