"""Recursive Fibonacci: call-heavy, few locals.

Usage: python3 fib.py [N] (default 25).
"""
import sys


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


if __name__ == "__main__":
    print(fib(int(sys.argv[1]) if len(sys.argv) > 1 else 25))
