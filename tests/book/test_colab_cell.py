"""tools/colab_cell.py: the Colab cell is inserted once, kept current, and does the right thing where it runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("colab_cell", ROOT / "tools" / "colab_cell.py")
colab_cell = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab_cell)


def chapter(tmp_path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A chapter"),
                      nbformat.v4.new_code_cell("import regbook.notebook\nregbook.notebook.setup(seed=0)")]
    notebook.metadata["regbook"] = {"execution_seconds": 12.5}
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    return path


def test_insert_is_idempotent_and_touches_nothing_else(tmp_path):
    path = chapter(tmp_path)
    before = nbformat.read(path, as_version=4)
    assert colab_cell.main(["--check", str(path)]) == 1
    assert colab_cell.main([str(path)]) == 0
    once = path.read_bytes()
    assert colab_cell.main([str(path)]) == 0
    assert path.read_bytes() == once, "a second run changed the notebook"
    assert colab_cell.main(["--check", str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    first = after.cells[0]
    assert first.cell_type == "code" and first.outputs == [] and first.execution_count is None
    assert first.metadata["tags"] == ["remove-cell"]
    assert after.cells[1:] == before.cells and after.metadata == before.metadata


def test_stale_or_misplaced_cell_is_replaced_at_the_top(tmp_path):
    path = chapter(tmp_path)
    notebook = nbformat.read(path, as_version=4)
    old = colab_cell.make_cell()
    old.source = "# an older version of the cell"
    notebook.cells.append(old)
    nbformat.write(notebook, path)
    assert colab_cell.main(["--check", str(path)]) == 1
    colab_cell.main([str(path)])
    cells = nbformat.read(path, as_version=4).cells
    assert sum(colab_cell.is_colab_cell(c) for c in cells) == 1
    assert colab_cell.is_colab_cell(cells[0]) and cells[0].source == colab_cell.make_cell().source


def test_missing_notebook_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        colab_cell.main([str(tmp_path / "nope.ipynb")])
    assert "does not exist" in capsys.readouterr().err


def run_cell(monkeypatch, on_colab: bool, installed: bool, numpy_version: str = "1.26.4") -> list:
    """Execute the cell's source with subprocess/os/importlib replaced by recorders; return what it did."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(("run", cmd)))
    monkeypatch.setattr("os.path.isdir", lambda p: False)
    monkeypatch.setattr("os.chdir", lambda p: calls.append(("chdir", p)))
    monkeypatch.setattr("os.kill", lambda pid, sig: calls.append(("kill", sig)))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if installed else None)
    monkeypatch.setattr(sys, "path", list(sys.path))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setitem(sys.modules, "numpy", types.SimpleNamespace(__version__=numpy_version))
    exec(compile(colab_cell.SOURCE, "colab-cell", "exec"), {})
    return calls


def test_cell_does_nothing_outside_colab(monkeypatch, capsys):
    assert run_cell(monkeypatch, on_colab=False, installed=False) == []
    assert capsys.readouterr().out == ""


def test_cell_on_colab_clones_installs_and_moves_into_notebooks(monkeypatch):
    calls = run_cell(monkeypatch, on_colab=True, installed=False, numpy_version="2.5.5")
    commands = [" ".join(cmd) for kind, cmd in calls if kind == "run"]
    assert commands[0].startswith("git clone --depth 1 https://github.com/")
    assert "--no-deps mxnet==1.9.1 d2l==1.0.3 myst-nb==1.4.0 -e /content/regularization-hands-on" in commands[1]
    assert commands[2].endswith("install --quiet setuptools docutils")
    assert commands[3].endswith("-m regbook data --download")
    assert ("chdir", "/content/regularization-hands-on/notebooks") in calls


def test_cell_keeps_colabs_numpy_and_never_restarts(monkeypatch, capsys):
    """Colab's NumPy 2 stays: nothing installs another NumPy (MXNet and d2l come without their NumPy pins), and
    the runtime is not restarted, whatever NumPy was loaded."""
    for numpy_version in ("2.0.2", "2.5.5", "1.26.4"):
        calls = run_cell(monkeypatch, on_colab=True, installed=False, numpy_version=numpy_version)
        pip_commands = [cmd for kind, cmd in calls if kind == "run" and "pip" in cmd]
        assert pip_commands and all("--no-deps" in cmd or not any(a.startswith("mxnet") for a in cmd)
                                    for cmd in pip_commands)
        assert not [arg for cmd in pip_commands for arg in cmd if arg.lower().startswith("numpy")]
        assert not [c for c in calls if c[0] == "kill"]
    assert capsys.readouterr().out == ""
    again = run_cell(monkeypatch, on_colab=True, installed=True)
    assert [kind for kind, _ in again] == ["run", "chdir"]  # only the clone (the folder is mocked as absent)
