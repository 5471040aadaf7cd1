"""Execute chapter notebooks in place and save their outputs (the outputs the site shows and nbval checks).

    python tools/run_notebooks.py                       # every notebook
    python tools/run_notebooks.py notebooks/dropout.ipynb

Runs each notebook top to bottom in its own kernel with ``OMP_NUM_THREADS=1`` (the setting CI uses for
nbval), stores the wall time and that setting in the notebook's metadata (``regbook.execution_seconds``,
``regbook.omp_num_threads``) and prints a table. A notebook that raises is not saved, and the command exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from execute_notebooks import ENV, execute  # tools/ is on sys.path when run as a script
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from regbook.data import write_atomically

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def run(path: Path, timeout: int) -> float:
    seconds, notebook = execute(path, timeout)
    for cell in notebook.cells:
        for key in ("execution", "lines_to_next_cell"):
            cell.metadata.pop(key, None)
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata.setdefault("regbook", {})["execution_seconds"] = round(seconds, 1)
    notebook.metadata["regbook"]["omp_num_threads"] = int(ENV["OMP_NUM_THREADS"])
    write_atomically(path, nbformat.writes(notebook) + "\n")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--threads", default=ENV["OMP_NUM_THREADS"],
                        help="OMP_NUM_THREADS for the kernel (record the committed outputs with the default, 1)")
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    failed = False
    ENV["OMP_NUM_THREADS"] = str(args.threads)
    for path in paths:
        try:
            seconds = run(path, args.timeout)
            print(f"{seconds:7.1f} s  {path}")
        except (CellExecutionError, CellTimeoutError) as exc:
            failed = True
            print(f"FAILED   {path}\n{exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
