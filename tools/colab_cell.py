"""Put the same "install on Colab" cell first in every chapter notebook (idempotent), or check it is there.

    python tools/colab_cell.py                    # insert or update the cell in every notebooks/*.ipynb
    python tools/colab_cell.py notebooks/dropout.ipynb
    python tools/colab_cell.py --check            # exit 1 if a notebook lacks the current cell

On Google Colab (Python 3.13 with NumPy 2, no MXNet) the cell clones the book's repository and installs what is
missing, keeping Colab's own packages as they are: MXNet 1.9.1 and d2l 1.0.3 without their dependencies (they
declare NumPy < 2 and pin NumPy 1.23.5; ``regbook.compat`` puts back the NumPy names MXNet reads, so Colab's NumPy 2
stays), myst-nb (only its ``glue``) and the book's ``regbook`` package, also without dependencies, then what these
need that Colab may lack (setuptools for ``distutils``, docutils for ``glue``). It
fetches Fashion-MNIST and moves into the clone's ``notebooks/`` folder so relative paths work as they do locally.
No restart is needed: NumPy is not replaced. Anywhere else the cell does nothing and prints nothing, so nbval's
comparison of its (empty) output holds. `make py313` runs every notebook on that stack (requirements-py313.txt).

The cell is tagged ``remove-cell`` (the site does not show it; the downloaded .ipynb has it) and marked
``metadata.regbook.colab_install`` so this tool finds it again. It touches nothing else in the notebook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from regbook.data import write_atomically

ROOT = Path(__file__).resolve().parents[1]
MARKER = "colab_install"
CELL_ID = "colab-install"
REPOSITORY = "https://github.com/regbook/regularization-hands-on"

SOURCE = f'''\
# On Google Colab, install what this book needs (about a minute, once per session). Elsewhere this cell does
# nothing: set up your machine with `make book` (see the "Running the notebooks yourself" page).
import sys

if "google.colab" in sys.modules:
    import importlib.util, os, subprocess  # noqa: E401

    REPO, HOME = "{REPOSITORY}", "/content/regularization-hands-on"
    if not os.path.isdir(HOME):
        subprocess.run(["git", "clone", "--depth", "1", REPO, HOME], check=True)
    if importlib.util.find_spec("regbook") is None or importlib.util.find_spec("mxnet") is None:
        pip = [sys.executable, "-m", "pip", "install", "--quiet"]
        # MXNet 1.9.1 and d2l pin NumPy 1; keep Colab's NumPy 2 (`import regbook` makes MXNet work with it).
        subprocess.run(pip + ["--no-deps", "mxnet==1.9.1", "d2l==1.0.3", "myst-nb==1.4.0", "-e", HOME], check=True)
        subprocess.run(pip + ["setuptools", "docutils"], check=True)  # distutils for MXNet, docutils for glue
        subprocess.run([sys.executable, "-m", "regbook", "data", "--download"], check=True, cwd=HOME)
        importlib.invalidate_caches()
    sys.path.insert(0, HOME + "/src")
    os.chdir(HOME + "/notebooks")
'''


def make_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(SOURCE.rstrip("\n"))
    cell.id = CELL_ID
    cell.metadata = {"tags": ["remove-cell"], "regbook": {MARKER: True}}
    return cell


def is_colab_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("regbook", {}).get(MARKER))


def is_current(notebook: nbformat.NotebookNode) -> bool:
    """Whether the notebook's first cell is exactly the current Colab cell (and there is no other)."""
    cells = notebook.cells
    if not cells or not is_colab_cell(cells[0]) or any(is_colab_cell(c) for c in cells[1:]):
        return False
    first, wanted = cells[0], make_cell()
    return (first.cell_type == "code" and first.source == wanted.source and not first.get("outputs")
            and first.metadata.get("tags") == wanted.metadata["tags"])


def update(notebook: nbformat.NotebookNode) -> bool:
    """Make the Colab cell the notebook's first cell; return whether anything changed."""
    if is_current(notebook):
        return False
    previous = next((c for c in notebook.cells if is_colab_cell(c)), None)
    cell = make_cell()
    # The cell prints nothing off Colab, so a recorded notebook stays recorded: keep the old cell's run number.
    cell.execution_count = previous.get("execution_count") if previous is not None else None
    notebook.cells = [cell] + [c for c in notebook.cells if not is_colab_cell(c)]
    ids = [c.get("id") for c in notebook.cells]
    if ids.count(CELL_ID) > 1:
        raise ValueError(f"another cell already has the id {CELL_ID!r}; rename it and run again")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not current")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = []
    for path in paths:
        if not path.is_file():
            parser.error(f"{path} does not exist; give paths to .ipynb files")
        notebook = nbformat.read(path, as_version=4)
        if args.check:
            if not is_current(notebook):
                stale.append(path)
        elif update(notebook):
            write_atomically(path, nbformat.writes(notebook) + "\n")
            print(f"updated  {path}")
    if stale:
        print("notebooks without the current Colab cell (run `python tools/colab_cell.py`): "
              + ", ".join(str(p) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
