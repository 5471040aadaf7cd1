"""Homework from the chapter notebooks, with nbgrader: release, autograde, and check (``make homework``).

    python tools/homework.py                    # every chapter notebook that has graded cells
    python tools/homework.py notebooks/dropout.ipynb

For each chapter notebook with graded cells (nbgrader ``grade`` cells worth points) it

1. copies the notebook into a generated nbgrader course under ``_build/homework/source/<chapter>/``;
2. generates the student release (``nbgrader generate_assignment``: solutions and hidden tests stripped),
   and removes from it the site's folded prose solutions (sphinx-exercise ``{solution}`` blocks);
3. submits two students: ``solution`` hands in the instructor notebook, ``blank`` the untouched release;
4. autogrades both (``nbgrader autograde``) and reads the scores from the gradebook;

then prints a table and exits 1 unless every solution scores the maximum, every blank release scores 0, the
instructor notebook ran without errors, and the blank release failed only with ``NotImplementedError`` (never an
import error or a missing dataset). ``nbgrader validate`` is not used: it exits 0 even when tests fail.
Set ``REGBOOK_HOMEWORK_KERNEL`` to grade with another Jupyter kernel (CI grades with Python 3.13 + NumPy 2).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from execute_notebooks import compare_glue, glued_values  # tools/ is on sys.path when run as a script

from regbook.data import write_atomically

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COURSE = ROOT / "_build" / "homework"
FORBIDDEN_ERRORS = {"ModuleNotFoundError", "ImportError", "FileNotFoundError", "DataError"}
SOLUTION_BLOCK = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}.*?^(?P=fence)[ \t]*$\n?", re.S | re.M)
GATE_LINE = re.compile(r"^(`{3,}|:{3,})\{solution-(start|end)\}.*?^\1[ \t]*$\n?", re.S | re.M)


@dataclass
class Grade:
    chapter: str
    scores: dict[str, float] = field(default_factory=dict)
    max_score: float = 0.0
    errors: dict[str, list[str]] = field(default_factory=dict)
    graded_cells: int = 0
    glue: list[dict] = field(default_factory=list)  # glued numbers: committed outputs vs the graded solution


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def save(notebook: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def graded_cells(notebook: dict) -> list[dict]:
    """The nbgrader test cells worth points."""
    return [cell for cell in notebook["cells"]
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and
            cell["metadata"]["nbgrader"].get("points", 0) > 0]


def strip_site_solutions(notebook: dict) -> dict:
    """Remove the folded prose solutions and the solution gates of the site from markdown cells."""
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown" and not cell.get("metadata", {}).get("nbgrader"):
            text = "".join(cell["source"])
            text = GATE_LINE.sub("", SOLUTION_BLOCK.sub("", text)).strip("\n")
            if not text.strip():
                continue
            cell = dict(cell, source=text)
        cells.append(cell)
    return dict(notebook, cells=cells)


def nbgrader(*args: str, course: Path) -> None:
    executable = Path(sys.executable).with_name("nbgrader")
    env = dict(os.environ, REGBOOK_HOMEWORK_ROOT=str(course),
               PATH=f"{executable.parent}{os.pathsep}{os.environ.get('PATH', '')}")  # nbgrader runs alembic
    result = subprocess.run([str(executable), *args, "--force"], cwd=ROOT, env=env, text=True,
                            capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def error_names(notebook: dict) -> list[str]:
    return [output["ename"] for cell in notebook["cells"] if cell["cell_type"] == "code"
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def grade(notebooks: list[Path], course: Path = DEFAULT_COURSE,
          extra_students: dict[str, Callable[[dict], dict]] | None = None) -> list[Grade]:
    """Release and autograde ``notebooks``; ``extra_students`` maps a name to a function that turns the
    instructor notebook into that student's submission (the tests use it to hand in wrong solutions)."""
    from nbgrader.api import Gradebook

    if course.exists():
        shutil.rmtree(course)
    grades = []
    for path in notebooks:
        chapter = path.stem
        instructor = load(path)
        source = course / "source" / chapter / path.name
        save(instructor, source)
        nbgrader("generate_assignment", chapter, course=course)
        release_path = course / "release" / chapter / path.name
        release = strip_site_solutions(load(release_path))
        save(release, release_path)
        submissions = {"solution": instructor, "blank": release}
        for name, make in (extra_students or {}).items():
            submissions[name] = make(json.loads(json.dumps(instructor)))
        for student, notebook in submissions.items():
            save(notebook, course / "submitted" / student / chapter / path.name)
        nbgrader("autograde", chapter, course=course)
        result = Grade(chapter, graded_cells=len(graded_cells(instructor)))
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            for student in submissions:
                submission = gradebook.find_submission(chapter, student)
                result.scores[student] = float(submission.score)
                result.max_score = float(submission.max_score)
                autograded = load(course / "autograded" / student / chapter / path.name)
                result.errors[student] = error_names(autograded)
                if student == "solution":
                    result.glue = compare_glue(glued_values(nbformat.from_dict(instructor)),
                                               glued_values(nbformat.from_dict(autograded)))
        grades.append(result)
    return grades


def problems(result: Grade) -> list[str]:
    """What is wrong with one chapter's homework (an empty list when it is right)."""
    found = []
    if result.max_score <= 0:
        found.append("no graded cells worth points")
    if result.scores.get("solution") != result.max_score:
        found.append(f"the solution scores {result.scores.get('solution')} of {result.max_score}")
    if result.errors.get("solution"):
        found.append(f"the instructor notebook raised {result.errors['solution']}")
    if result.scores.get("blank", 0) > 0:
        found.append(f"the blank release scores {result.scores['blank']} (must be 0)")
    blank_errors = result.errors.get("blank", [])
    if not blank_errors or blank_errors[0] != "NotImplementedError":
        found.append(f"the blank release should first fail with NotImplementedError, got {blank_errors[:3]}")
    if FORBIDDEN_ERRORS & set(blank_errors):
        missing = sorted(FORBIDDEN_ERRORS & set(blank_errors))
        found.append(f"the blank release cannot run on a student's machine: {missing}")
    return found


def glue_summary(result: Grade) -> str:
    """One line on how the numbers glued into the prose compare with the committed outputs."""
    numbers = [row for row in result.glue if row["rel_diff"] is not None]
    if not numbers:
        return f"{result.chapter}: no glued numbers"
    same = sum(row["rel_diff"] == 0 for row in numbers)
    worst = max(numbers, key=lambda row: row["rel_diff"])
    text = f"{result.chapter}: {same} of {len(numbers)} glued values identical to the committed outputs"
    if worst["rel_diff"] > 0:
        text += (f"; largest relative difference {worst['rel_diff']:.1e} ({worst['name']}: "
                 f"{worst['committed']} -> {worst['fresh']})")
    return text


def table(grades: list[Grade]) -> str:
    rows = [("chapter", "graded cells", "solution", "max", "blank release", "status")]
    for g in grades:
        rows.append((g.chapter, str(g.graded_cells), f"{g.scores.get('solution', 0):g}", f"{g.max_score:g}",
                     f"{g.scores.get('blank', 0):g}", "ok" if not problems(g) else "FAIL"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def chapter_notebooks() -> list[Path]:
    return [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if graded_cells(load(p))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="where to generate the course")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or chapter_notebooks()
    if not notebooks:
        print("no chapter notebook has graded cells", file=sys.stderr)
        return 1
    grades = grade([p.resolve() for p in notebooks], args.course.resolve())
    print(table(grades))
    kernel = os.environ.get("REGBOOK_HOMEWORK_KERNEL", "python3")
    print(f"Numbers in the prose, re-computed by the graded run (kernel {kernel}):")
    for g in grades:
        print("  " + glue_summary(g))
    failed = False
    for g in grades:
        for problem in problems(g):
            failed = True
            print(f"{g.chapter}: {problem}", file=sys.stderr)
    print(f"student releases: {args.course / 'release'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
