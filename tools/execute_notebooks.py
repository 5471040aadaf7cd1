"""Execute every chapter notebook without saving it; report seconds per notebook and the total.

    python tools/execute_notebooks.py                      # every notebook in notebooks/ (make bench)
    python tools/execute_notebooks.py notebooks/dropout.ipynb
    python tools/execute_notebooks.py --budget 480         # exit 1 when the total is over 8 minutes
    .venv-py313/bin/python tools/execute_notebooks.py --compare-glue   # make py313 (make py312 likewise)

Each notebook runs top to bottom in a fresh kernel of the Python that runs this script (so the same command
under ``.venv-py313/bin/python`` runs the book on Python 3.13), with ``OMP_NUM_THREADS=1``. A cell that
raises — a failing ``assert`` on a headline number included — fails the run (exit 1). The notebooks on disk
are never modified.

``--compare-glue`` also compares every number the notebook glues into the prose (``myst_nb.glue``) with the
value in the committed outputs (recorded on Python 3.11) and prints both with their relative difference:
the evidence that another Python/NumPy gives the same headline numbers. The notebooks' own asserts enforce
the stated tolerances; ``--rtol`` additionally fails the run when a glued number differs by more.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ROOT = Path(__file__).resolve().parents[1]
ENV = {"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
GLUE_MIME = "application/papermill.record/text/plain"


def glued_values(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The text of every value glued in a notebook's outputs, by glue name."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            data = output.get("data", {})
            if name is not None:
                values[name] = data.get(GLUE_MIME, data.get("text/plain", ""))
    return values


def warning_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """The lines of the notebook's stderr outputs that name a warning (``FutureWarning: ...`` and the like)."""
    lines = set()
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines |= {line.strip() for line in output.get("text", "").splitlines() if "Warning" in line}
    return lines


def as_number(text: str) -> float | None:
    """``text`` as a float when it is one number (NumPy/MXNet scalar reprs included), else None."""
    text = text.strip()
    for prefix, suffix in (("array(", ")"), ("np.float64(", ")"), ("np.float32(", ")")):
        if text.startswith(prefix) and text.endswith(suffix):
            text = text[len(prefix):-len(suffix)]
    try:
        return float(text)
    except ValueError:
        return None


def compare_glue(committed: dict[str, str], fresh: dict[str, str]) -> list[dict]:
    """One row per glued name: committed and fresh text, and the relative difference when both are numbers."""
    rows = []
    for name in sorted(set(committed) | set(fresh)):
        old, new = committed.get(name), fresh.get(name)
        row = {"name": name, "committed": old, "fresh": new, "rel_diff": None}
        if old is not None and new is not None:
            a, b = as_number(old), as_number(new)
            if a is not None and b is not None:
                scale = max(abs(a), abs(b))
                row["rel_diff"] = 0.0 if scale == 0 else abs(a - b) / scale
            elif old.strip() == new.strip():
                row["rel_diff"] = 0.0
        rows.append(row)
    return rows


def execute(path: Path, timeout: int) -> tuple[float, nbformat.NotebookNode]:
    """Run ``path`` in a fresh kernel of this interpreter; return wall seconds and the executed notebook.

    The kernel's CPU seconds (user + system, all its threads) are stored in the returned notebook's metadata
    as ``regbook.cpu_seconds``: unlike wall time, they hardly change when other programs share the cores.
    """
    notebook = nbformat.read(path, as_version=4)
    os.environ.update(ENV)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    client.execute()  # shuts the kernel down and reaps it, so its CPU time is in RUSAGE_CHILDREN
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    notebook.metadata.setdefault("regbook", {})["cpu_seconds"] = round(cpu, 1)
    return seconds, notebook


def slowest_cells(notebook: nbformat.NotebookNode, count: int = 3) -> list[dict]:
    """The ``count`` code cells that took longest (nbclient's timing metadata): index, seconds, first line."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            seconds = (datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z")))
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
            cells.append({"cell": index, "seconds": round(seconds.total_seconds(), 1), "source": first_line[:70]})
    return sorted(cells, key=lambda row: -row["seconds"])[:count]


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on Linux
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    parser.add_argument("--budget", type=float, help="exit 1 when the total exceeds this many seconds")
    parser.add_argument("--compare-glue", action="store_true",
                        help="compare glued numbers with the committed outputs")
    parser.add_argument("--rtol", type=float,
                        help="with --compare-glue: exit 1 when a glued number differs by more than this")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--threads", default=ENV["OMP_NUM_THREADS"],
                        help="OMP_NUM_THREADS for the kernels (default 1, as CI and the recorded outputs)")
    args = parser.parse_args(argv)
    ENV["OMP_NUM_THREADS"] = str(args.threads)
    if args.rtol is not None and not args.compare_glue:
        parser.error("--rtol needs --compare-glue")
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        parser.error("no notebooks found in notebooks/")
    for path in paths:
        if not path.is_file():
            parser.error(f"{path} does not exist; give paths to .ipynb files")

    python = f"Python {platform.python_version()} ({sys.executable})"
    print(f"Executing {len(paths)} notebook(s) with {python}, OMP_NUM_THREADS={args.threads}, "
          f"load average {load_average()}", flush=True)
    if args.threads != "1" and os.getloadavg()[0] > (os.cpu_count() or 2):
        print("note: the machine is busy. OpenMP threads that wait for each other burn CPU time when the cores "
              "are shared, so the CPU seconds below overstate the idle cost; --threads 1 measures it fairly.",
              flush=True)
    results, failures, glue_problems = [], [], []
    for path in paths:
        original = nbformat.read(path, as_version=4)
        committed = glued_values(original)
        try:
            seconds, executed = execute(path, args.timeout)
        except (CellExecutionError, CellTimeoutError) as exc:
            failures.append(str(path))
            print(f"FAILED   {path}\n{exc}", file=sys.stderr, flush=True)
            results.append({"notebook": str(path), "seconds": None, "error": str(exc)[-2000:]})
            continue
        kernel_version = executed.metadata.get("language_info", {}).get("version", "?")
        cpu = executed.metadata["regbook"]["cpu_seconds"]
        result = {"notebook": str(path), "seconds": round(seconds, 1), "cpu_seconds": cpu,
                  "kernel_python": kernel_version}
        result["slowest_cells"] = slowest_cells(executed)
        print(f"{seconds:7.1f} s  {path}  (kernel Python {kernel_version}, {cpu:.0f} CPU s)", flush=True)
        for row in result["slowest_cells"]:
            print(f"           cell {row['cell']:>3}: {row['seconds']:6.1f} s  {row['source']}", flush=True)
        new_warnings = sorted(warning_lines(executed) - warning_lines(original))
        if new_warnings:
            result["new_warnings"] = new_warnings
            print("           warnings not in the committed outputs: " + " | ".join(new_warnings))
        if args.compare_glue:
            rows = compare_glue(committed, glued_values(executed))
            result["glue"] = rows
            for row in rows:
                diff = row["rel_diff"]
                shown = "not a number" if diff is None else f"rel. diff {diff:.2e}"
                print(f"           {row['name']:<32} committed {row['committed']!s:<14} "
                      f"now {row['fresh']!s:<14} {shown}")
                if args.rtol is not None and (diff is None and row["committed"] != row["fresh"]
                                              or diff is not None and diff > args.rtol):
                    glue_problems.append(f"{path}: {row['name']}")
        results.append(result)

    total = sum(r["seconds"] for r in results if r["seconds"] is not None)
    print(f"{total:7.1f} s  total over {len(results) - len(failures)} notebook(s) "
          f"({total / 60:.1f} min; load average now {load_average()})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        from regbook.data import write_atomically

        write_atomically(args.json, json.dumps({"python": python, "total_seconds": round(total, 1),
                                                "notebooks": results}, indent=2) + "\n")
    status = 0
    if failures:
        print(f"{len(failures)} notebook(s) failed: {', '.join(failures)}", file=sys.stderr)
        status = 1
    if glue_problems:
        print(f"glued numbers differing by more than rtol={args.rtol}: {', '.join(glue_problems)}",
              file=sys.stderr)
        status = 1
    if args.budget is not None and total > args.budget:
        print(f"the total {total:.0f} s is over the budget of {args.budget:.0f} s", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
