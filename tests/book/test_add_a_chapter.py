"""CONTRIBUTING.md's "Add a chapter" walked through on a temporary copy of the book.

A tiny chapter (one notebook with a ``#@save`` cell that registers an experiment) is added the documented
way: the notebook, one line in ``_toc.yml``, ``tools/nbexport.py``. Then the generated module exists and is
in sync, the CLI finds and runs the experiment, the import contracts hold, and the table of contents has it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from book_sources import toc_files

ROOT = Path(__file__).resolve().parents[2]
CELL = '''#@save
from regbook.runs import add_mean_std, experiment


@experiment("tiny-demo", "A tiny chapter's experiment", seeds=3)
def tiny_demo(seeds=3, progress=True):
    """The mean of 0, 1, ... seeds-1, as the chapter computes it."""
    row = add_mean_std({"variant": "tiny"}, "value", [float(s) for s in range(seeds)])
    return {"experiment": "tiny-demo", "results": [row]}
'''


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(cwd / "src"))
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_new_chapter_is_exported_found_by_the_cli_and_listed(tmp_path):
    book = tmp_path / "book"
    for name in ("src", "tools", "notebooks", "book"):
        shutil.copytree(ROOT / name, book / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "_toc.yml"):
        shutil.copy(ROOT / name, book / name)

    # 1. the notebook, 2. its line in the table of contents (the documented steps)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A tiny chapter"), nbformat.v4.new_code_cell(CELL),
                      nbformat.v4.new_code_cell("tiny_demo(seeds=2)")]
    nbformat.write(notebook, book / "notebooks" / "tiny.ipynb")
    toc = (book / "_toc.yml").read_text(encoding="utf-8")
    (book / "_toc.yml").write_text(toc.replace("      - file: notebooks/augmentation\n",
                                               "      - file: notebooks/augmentation\n"
                                               "      - file: notebooks/tiny\n"), encoding="utf-8")

    # before the export, the check says the chapter's module is missing
    stale = run([sys.executable, "tools/nbexport.py", "--check"], book)
    assert stale.returncode == 1 and "chapters/tiny.py" in stale.stderr

    # 3. the export
    assert run([sys.executable, "tools/nbexport.py"], book).returncode == 0
    module = book / "src" / "regbook" / "chapters" / "tiny.py"
    assert "def tiny_demo" in module.read_text(encoding="utf-8")
    assert run([sys.executable, "tools/nbexport.py", "--check"], book).returncode == 0

    listed = run([sys.executable, "-m", "regbook", "reproduce", "--list"], book)
    assert listed.returncode == 0 and "tiny-demo" in listed.stdout, listed.stderr
    result = run([sys.executable, "-m", "regbook", "reproduce", "tiny-demo", "--seeds", "4", "--json"], book)
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)["results"][0]
    assert row["value_mean"] == 1.5 and abs(row["value_std"] - 1.2909944) < 1e-6

    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    contracts = run([lint, "--config", "pyproject.toml"], book)
    assert contracts.returncode == 0, contracts.stdout[-2000:]

    assert book / "notebooks" / "tiny.ipynb" in toc_files(book / "_toc.yml")


def test_every_notebook_is_in_the_table_of_contents_and_has_its_module():
    in_toc = set(toc_files())
    exported = {p.stem for p in (ROOT / "src" / "regbook" / "chapters").glob("*.py")} - {"__init__"}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert notebook in in_toc, f"{notebook.name} is not in _toc.yml"
        saves = any(cell.cell_type == "code" and cell.source.lstrip().startswith("#@save")
                    for cell in nbformat.read(notebook, as_version=4).cells)
        assert saves == (notebook.stem in exported), notebook.name
