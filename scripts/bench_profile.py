#!/usr/bin/env python3
"""The shallow call profiler's overhead (docs/benchmarks.md): a function
called often (scripts/bench_workloads/profile_calls.py, `handle`, making
three calls of its own each time), run plain, under Recompyle's call
wrapping (scripts/bench_workloads/run_recompyle.py, Recompyle from PyPI in
a venv of its own under the target directory), and recorded with
`hindsight record --profile handle --threshold S`; best of a few runs each,
wall time. Prints a markdown table.

Usage: scripts/bench_profile.py [--python PATH] [--calls N] [--runs R]
(hindsight built with `cargo build --release` first).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "scripts", "bench_workloads")


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def venv_with_recompyle(python):
    """A venv with Recompyle from PyPI; its python and Recompyle's version,
    or (None, why)."""
    venv = os.path.join(target_dir(), "bench-venv-recompyle")
    vpy = os.path.join(venv, "bin", "python")
    try:
        if not os.path.exists(vpy):
            subprocess.run([python, "-m", "venv", venv], check=True)
        if subprocess.run([vpy, "-c", "import recompyle"], capture_output=True).returncode:
            subprocess.run([vpy, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "recompyle"], check=True)
        ver = subprocess.run([vpy, "-c", "import importlib.metadata as m; "
                              "print(m.version('recompyle'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return vpy, ver
    except (subprocess.CalledProcessError, OSError) as e:
        return None, str(e)


def best(cmd, runs):
    """The shortest wall time of `runs` runs of cmd (stdout and stderr kept
    out of the way), and the last run's stderr lines."""
    times, err = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if p.returncode:
            sys.exit(f"{cmd} failed: {p.stderr}")
        err = p.stderr
    return min(times), err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python"))
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threshold", default="0.01")
    a = ap.parse_args()
    hindsight = os.path.join(target_dir(), "release", "hindsight")
    workload = os.path.join(WORK, "profile_calls.py")
    n = str(a.calls)
    rows = []
    plain, _ = best([a.python, workload, n], a.runs)
    rows.append(("plain", plain, ""))
    vpy, ver = venv_with_recompyle(a.python)
    if vpy:
        t, _ = best([vpy, os.path.join(WORK, "run_recompyle.py"), a.threshold, n], a.runs)
        rows.append((f"Recompyle {ver} call wrapping (in process)", t, ""))
    else:
        rows.append(("Recompyle", None, f"not installable: {ver}"))
    with tempfile.TemporaryDirectory() as d:
        hsr = os.path.join(d, "p.hsr")
        t, err = best([hindsight, "record", "--force", "-o", hsr, "--profile", "handle",
                       "--threshold", a.threshold, "--", a.python, workload, n], a.runs)
        steps = next((l for l in err.splitlines() if "steps" in l), "")
        rows.append(("hindsight record --profile handle", t, steps.strip()))
        t, _ = best([hindsight, "record", "--force", "-o", hsr, "--", a.python, workload, n],
                    a.runs)
        rows.append(("hindsight record (every line, for scale)", t, ""))
    print(f"{a.calls} calls of `handle` ({os.path.basename(a.python)} {a.python}), "
          f"best of {a.runs}, threshold {a.threshold} s\n")
    print("| run | seconds | slowdown | µs per call of handle added | note |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, t, note in rows:
        if t is None:
            print(f"| {name} | | | | {note} |")
            continue
        added = (t - plain) / a.calls * 1e6
        print(f"| {name} | {t:.3f} | {t / plain:.1f}x | {added:.1f} | {note} |")


if __name__ == "__main__":
    main()
