"""Every bad input to ``python -m regbook`` ends with one clear line on stderr and the right exit status,
without a traceback and without leaving a file behind. Each case runs the real CLI in a subprocess."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD, FAILED, INTERRUPTED = 2, 1, 130

# (case id, arguments, exit status, a phrase the one line must contain)
CASES = [
    ("unknown experiment", ["reproduce", "no-such-thing"], BAD, "unknown experiment"),
    ("unknown command", ["frobnicate"], BAD, "invalid choice"),
    ("no command", [], BAD, "required"),
    ("seeds zero", ["reproduce", "dropout-mlp", "--seeds", "0"], BAD, "--seeds must be between 1 and 100"),
    ("seeds negative", ["reproduce", "dropout-mlp", "--seeds", "-3"], BAD, "--seeds must be"),
    ("seeds huge", ["reproduce", "dropout-mlp", "--seeds", "1000000000000"], BAD, "--seeds must be"),
    ("seeds not a number", ["reproduce", "dropout-mlp", "--seeds", "abc"], BAD, "whole number"),
    ("epochs zero", ["reproduce", "dropout-mlp", "--epochs", "0"], BAD, "--epochs must be"),
    ("epochs huge", ["reproduce", "dropout-mlp", "--epochs", "5000"], BAD, "--epochs must be"),
    ("epochs on an experiment without epochs", ["reproduce", "bias-variance", "--epochs", "3"], BAD,
     "takes no --epochs"),
    ("unknown option", ["reproduce", "dropout-mlp", "--no-such-option", "1"], BAD, "unrecognized arguments"),
    ("extra words after --list", ["reproduce", "--list", "extra"], BAD, "unrecognized arguments"),
    ("data: unknown option", ["data", "--bogus"], BAD, "unrecognized arguments"),
    ("noise std nan", ["reproduce", "bias-variance", "--noise-std", "nan"], BAD, "finite number"),
    ("noise std infinite", ["reproduce", "bias-variance", "--noise-std", "inf"], BAD, "finite number"),
    ("noise std negative", ["reproduce", "bias-variance", "--noise-std", "-1"], BAD, "--noise-std must be"),
    ("max degree too small", ["reproduce", "bias-variance", "--max-degree", "2"], BAD, "--max-degree"),
    ("limit beyond the data set", ["reproduce", "dropout-variants", "--limit-train", "100000"], BAD,
     "--limit-train must be between 1 and 60000"),
    ("limit zero", ["reproduce", "dropout-variants", "--limit-train", "0"], BAD, "--limit-train must be"),
    ("negative epochs option", ["reproduce", "dropout-variants", "--mlp-epochs", "-1"], BAD, "--mlp-epochs"),
    ("unknown variant", ["reproduce", "dropout-variants", "--variants", "nosuch", "--quiet"], BAD, "nosuch"),
    ("train size too small", ["reproduce", "augmentation", "--train-size", "5"], BAD, "--train-size"),
    ("per class zero", ["reproduce", "orientation-shortcut", "--per-class", "0"], BAD, "--per-class"),
    ("goalkeeper data not a .mat", ["reproduce", "goalkeeper", "--data", "/etc/passwd"], BAD, ".mat"),
    ("goalkeeper data missing", ["reproduce", "football", "--data", "/no/such/data.mat"], BAD, "no such file"),
    ("goalkeeper iterations zero", ["reproduce", "goalkeeper", "--iterations", "0"], BAD, "--iterations"),
    ("mc samples zero", ["reproduce", "mc-dropout", "--num-samples", "0"], BAD, "--num-samples"),
    ("sparse-vd beyond the data", ["reproduce", "sparse-vd", "--num-train", "70000"], BAD, "--num-train"),
    ("rnn rate one", ["reproduce", "rnn-dropout", "--rate", "1.5"], BAD, "--rate"),
    ("rnn rate nan", ["reproduce", "rnn-dropout", "--rate", "nan"], BAD, "finite number"),
    ("early-stopping noise above one", ["reproduce", "early-stopping", "--noise", "1.5"], BAD, "--noise"),
    ("early-stopping negative rate", ["reproduce", "early-stopping", "--lr", "-0.1"], BAD, "--lr"),
    ("weight decay steps zero", ["reproduce", "weight-decay", "--steps", "0"], BAD, "--steps"),
    ("l1 sparsity too many seeds", ["reproduce", "l1-sparsity", "--seeds", "101"], BAD, "--seeds must be"),
    ("wobble epochs zero", ["reproduce", "dropout-mlp-wobble", "--epochs", "0"], BAD, "--epochs must be"),
    ("record into a missing folder", ["reproduce", "dropout-mlp", "--record", "/no/such/folder/runs.json"], BAD,
     "does not exist"),
    ("record onto a folder", ["reproduce", "dropout-mlp", "--record", "."], BAD, "folder"),
    ("record where nothing can be written", ["reproduce", "dropout-mlp", "--record", "/proc/runs.json"], BAD,
     "cannot write there"),
]


def run_cli(args: list[str], cwd: Path, env: dict | None = None, stdout=subprocess.PIPE, timeout: int = 180):
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "regbook", *args], cwd=cwd, env=environment, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def assert_one_line(stderr: str, phrase: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    assert phrase.lower() in lines[0].lower(), lines[0]


@pytest.mark.parametrize(("args", "status", "phrase"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_line(args, status, phrase, tmp_path):
    started = time.monotonic()
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
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # importing MXNet and the chapters, then training
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED
    assert_one_line(stderr, "interrupted")
    assert not record.exists() and list(tmp_path.iterdir()) == []
