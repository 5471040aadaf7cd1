"""Every bad input to ``python -m regbook`` ends with one clear line on stderr and the right exit status,
without a traceback and without leaving a file behind. Each case runs the real CLI in a subprocess."""

from __future__ import annotations

import gzip
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BAD, FAILED, INTERRUPTED = 2, 1, 130

# (case id, arguments, exit status, a phrase the one line must contain)
CASES = yaml.safe_load((Path(__file__).with_name("cli_bad_inputs.yaml")).read_text(encoding="utf-8"))
"""One bad command line a row: ``case``, ``args`` (split like a shell would), the exit ``status`` and a phrase
that the one error line ``says``."""


def run_cli(args: list[str], cwd: Path, env: dict | None = None, stdout=subprocess.PIPE, timeout: int = 180):
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "regbook", *args], cwd=cwd, env=environment, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def assert_one_line(stderr: str, phrase: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    assert phrase.lower() in lines[0].lower(), lines[0]


@pytest.mark.parametrize("case", CASES, ids=[case["case"] for case in CASES])
def test_bad_input_gets_one_clear_line(case, tmp_path):
    started = time.monotonic()
    args, status, phrase = shlex.split(case["args"]), case["status"], case["says"]
    result = run_cli(args, tmp_path)
    assert result.returncode == status, (result.returncode, result.stderr)
    assert_one_line(result.stderr, phrase)
    assert list(tmp_path.iterdir()) == [], "nothing is written on a failure"
    assert time.monotonic() - started < 60, "a bad argument is refused before any training"


def test_a_corrupt_data_file_is_a_failure_with_advice(tmp_path):
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"x" * 100))
    result = run_cli(["reproduce", "dropout-mlp", "--seeds", "1", "--epochs", "1", "--quiet"], tmp_path,
                     env={"REGBOOK_DATA": str(tmp_path / "data")})
    assert result.returncode == FAILED
    assert_one_line(result.stderr, "train-images-idx3-ubyte.gz")


def test_output_to_a_full_disk_is_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        result = run_cli(["reproduce", "--list"], tmp_path, stdout=full)
    assert result.returncode == FAILED
    assert_one_line(result.stderr, "disk is full")


def test_debug_shows_the_traceback_instead(tmp_path):
    result = run_cli(["--debug", "reproduce", "no-such-thing"], tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_ctrl_c_stops_with_status_130_and_one_line(tmp_path):
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    record = tmp_path / "runs.json"
    process = subprocess.Popen([sys.executable, "-m", "regbook", "reproduce", "dropout-mlp", "--quiet",
                                "--record", str(record)], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               # a shell's background job ignores SIGINT, and Python keeps that: not here
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(8)  # importing MXNet and the chapters, then training
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED
    assert_one_line(stderr, "interrupted")
    assert not record.exists() and list(tmp_path.iterdir()) == []
