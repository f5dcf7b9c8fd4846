"""A small recorded file driving a large unrecorded library: each turn of the
loop runs the standard library's json, argparse, textwrap, re and difflib
(their code is outside the recorded files: the default records this file's
directory, stdlib/). What recording costs here is what code that is not
recorded costs.

Usage: python3 stdlib/main.py [N] (default 2,000 turns). Prints a checksum.
"""
import argparse
import difflib
import json
import re
import sys
import textwrap

TEXT = (
    "Record the execution of an unmodified CPython program from outside the "
    "process, then ask what its state was at any step: the stack, every local "
    "and global, and which names share an object."
)


def turn(i, parser):
    doc = json.loads(json.dumps({"i": i, "words": TEXT.split()[: 5 + i % 10]}))
    args = parser.parse_args(["--n", str(i), "-v"])
    wrapped = textwrap.fill(TEXT, width=30 + i % 40)
    words = re.findall(r"\w+", wrapped)
    ratio = difflib.SequenceMatcher(None, words[:12], doc["words"]).ratio()
    return len(words) + args.n + int(ratio * 100)


def main(n):
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--n", type=int)
    parser.add_argument("-v", action="store_true")
    total = 0
    for i in range(n):
        total += turn(i, parser)
    print(total)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
