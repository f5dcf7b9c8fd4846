"""Bubble sort of N pseudo-random ints (default 1,000): Execorder's benchmark.

Usage: python3 bubble.py [N]. Prints a checksum so that a recorded run can be
checked against a plain one.
"""
import random
import sys


def bubble_sort(arr):
    n = len(arr)
    for i in range(n):
        for j in range(0, n - i - 1):
            if arr[j] > arr[j + 1]:
                temp = arr[j]
                arr[j] = arr[j + 1]
                arr[j + 1] = temp
    return arr


def main(n):
    random.seed(1)
    data = [random.randint(0, 1_000_000) for _ in range(n)]
    result = bubble_sort(data)
    print(sum(i * v for i, v in enumerate(result)) % 1_000_003)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
