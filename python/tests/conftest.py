"""Shared helpers of the hindsight package's tests: the repository, the
CLI binary (the other reader and recorder the package is checked
against), and the in-process oracle (tests/oracle, sys.settrace)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def hindsight_bin() -> str:
    """The CLI: $HINDSIGHT_BIN, else the release build of this checkout."""
    env = os.environ.get("HINDSIGHT_BIN")
    if env:
        return env
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    return str(Path(target) / "release" / "hindsight")


def cli(*args, check=True):
    """Run `hindsight ARGS`; its CompletedProcess (text)."""
    p = subprocess.run(
        [hindsight_bin(), *map(str, args)], capture_output=True, text=True, timeout=120
    )
    if check and p.returncode != 0:
        raise AssertionError("hindsight %s failed: %s" % (args, p.stderr))
    return p


def cli_error(*args):
    """The message of a failing CLI command, without its `hindsight: `."""
    p = cli(*args, check=False)
    assert p.returncode == 2, p
    line = p.stderr.strip()
    assert line.startswith("hindsight: "), line
    return line[len("hindsight: ") :]


def oracle_states(script: Path):
    """Every step of `script` run under the oracle in this interpreter:
    the states of docs/spec/values.md, as dicts."""
    out = script.with_suffix(".oracle.jsonl")
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO / "tests" / "oracle"),
        HINDSIGHT_ORACLE_OUT=str(out),
        PYTHONHASHSEED="0",
    )
    subprocess.run([sys.executable, str(script)], env=env, check=True, timeout=120)
    with open(out) as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
