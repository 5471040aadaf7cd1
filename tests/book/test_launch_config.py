"""The launch set-ups the site's buttons will use: Binder (Python 3.11, binder/) and Colab (Python 3.13 + NumPy 2).

Both buttons stay switched off in _config.yml until the repository is published; these tests keep what they
would launch consistent with the pins the book is tested with.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def requirement_files(path: Path) -> list[Path]:
    """``path`` and every file it includes with ``-r``, resolved as pip does (relative to the including file)."""
    files = [path]
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(?:-r|--requirement)\s+(\S+)", line)
        if match:
            files += requirement_files((path.parent / match.group(1)).resolve())
    return files


def pins(path: Path) -> dict[str, str]:
    found = {}
    for file in requirement_files(path):
        for line in file.read_text(encoding="utf-8").splitlines():
            match = re.match(r"\s*([A-Za-z0-9_.-]+)==(\S+)", line)
            if match:
                found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_binder_builds_python_311_with_the_books_exact_pins():
    assert (BINDER / "runtime.txt").read_text(encoding="utf-8").strip() == "python-3.11"
    binder_pins = pins(BINDER / "requirements.txt")
    assert binder_pins == pins(ROOT / "requirements.txt"), "binder/requirements.txt must install requirements.txt"
    assert binder_pins["mxnet"] == "1.9.1" and binder_pins["numpy"] == "1.23.5"
    post_build = (BINDER / "postBuild").read_text(encoding="utf-8")
    assert post_build.startswith("#!") and (BINDER / "postBuild").stat().st_mode & 0o111
    assert "pip install --no-deps -e ." in post_build and "-m regbook data --download" in post_build


def test_requirement_includes_are_followed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.txt").write_text("numpy==1.0\n")
    (tmp_path / "sub" / "req.txt").write_text("# comment\n-r ../base.txt\nmxnet==2.0\n")
    assert pins(tmp_path / "sub" / "req.txt") == {"numpy": "1.0", "mxnet": "2.0"}

