#!/usr/bin/env python3
"""Oracle self-consistency: run every fixture twice under the oracle and compare the runs.

    selfcheck.py [--python PYTHON] [--jobs N] [FIXTURE.py ...]

Addresses differ between the two runs, so this exercises compare.py's id
bijection; it also checks that the oracle leaves the program's stdout and exit
status alone (uncaught.py exits 1, every other fixture 0) and that every
fixture records a sane number of steps. Prints one line per fixture and exits 1
if any failed.
"""

import argparse
import concurrent.futures
import io
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
sys.path.insert(0, HERE)
import compare  # noqa: E402

EXPECTED_STATUS = {"uncaught.py": 1}
MIN_STEPS = 20
MAX_STEPS = 20_000
TIMEOUT = 120


def run_oracle(python, fixture, out_path):
    """Run FIXTURE under the oracle; return (exit status, stdout bytes)."""
    env = dict(os.environ)
    env.update({
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": HERE,
        "HINDSIGHT_ORACLE_OUT": out_path,
    })
    env.pop("HINDSIGHT_ORACLE_ALL", None)
    proc = subprocess.run([python, fixture], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def run_plain(python, fixture):
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    env.pop("HINDSIGHT_ORACLE_OUT", None)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([python, fixture], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT, check=False)
    return proc.returncode, proc.stdout


def check(python, fixture, tmp):
    """Return None if FIXTURE is self-consistent, else the reason."""
    name = os.path.basename(fixture)
    expected = EXPECTED_STATUS.get(name, 0)
    outs = []
    stdouts = []
    for run in (1, 2):
        out_path = os.path.join(tmp, "%s.%d.jsonl" % (name, run))
        status, stdout, stderr = run_oracle(python, fixture, out_path)
        if status != expected:
            return "run %d exited %d, expected %d; stderr:\n%s" % (run, status, expected, stderr.decode(errors="replace"))
        if not os.path.exists(out_path):
            return "run %d wrote no oracle output" % run
        outs.append(compare.load(out_path))
        stdouts.append(stdout)
    plain_status, plain_stdout = run_plain(python, fixture)
    if plain_status != expected or plain_stdout != stdouts[0]:
        return "the oracle changed the program: plain run exited %d with stdout %r, oracle run stdout %r" % (
            plain_status, plain_stdout[:300], stdouts[0][:300])
    if stdouts[0] != stdouts[1]:
        return "stdout differs between runs: not deterministic"
    steps = len(outs[0])
    if not MIN_STEPS <= steps <= MAX_STEPS:
        return "%d steps, outside the sane range %d..%d" % (steps, MIN_STEPS, MAX_STEPS)
    report = io.StringIO()
    if compare.compare_streams(outs[0], outs[1], "run1", "run2", out=report) != 0:
        return "the two oracle runs differ:\n" + report.getvalue()
    return None


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("fixtures", nargs="*")
    args = parser.parse_args(argv)
    fixtures = args.fixtures or sorted(
        os.path.join(FIXTURES, f) for f in os.listdir(FIXTURES) if f.endswith(".py"))
    failures = []
    with tempfile.TemporaryDirectory(prefix="hindsight-selfcheck-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(check, args.python, f, tmp): f for f in fixtures}
            for future in concurrent.futures.as_completed(futures):
                name = os.path.basename(futures[future])
                try:
                    reason = future.result()
                except Exception as e:  # a timeout or a crash of the harness itself
                    reason = "%s: %s" % (type(e).__name__, e)
                print("%s %s" % ("ok  " if reason is None else "FAIL", name), flush=True)
                if reason is not None:
                    failures.append((name, reason))
    for name, reason in sorted(failures):
        print("\n=== %s (%s)\n%s" % (name, args.python, reason))
    print("%d fixtures, %d failed" % (len(fixtures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
