"""tools/homework.py: a right solution scores the maximum, a blank release 0, a wrong solution fails the check."""

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))  # as when the tool runs as a script (it imports its siblings)
spec = importlib.util.spec_from_file_location("homework", ROOT / "tools" / "homework.py")
homework = importlib.util.module_from_spec(spec)
sys.modules["homework"] = homework  # dataclasses look their module up
spec.loader.exec_module(homework)

SOLUTION = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
TESTS = "assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\nassert add(-4, 10) == 6\n### END HIDDEN TESTS"


def make_notebook(path: Path, solution: str = SOLUTION, setup: str = "import math") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    meta = {"schema_version": 3, "task": False}
    nb.cells = [
        nbformat.v4.new_markdown_cell("```{exercise}\n:label: hw-add\n\nAdd.\n```\n\n```{solution} hw-add\n"
                                      ":class: dropdown\n\nThe secret answer.\n```"),
        nbformat.v4.new_code_cell(setup),
        nbformat.v4.new_code_cell(solution, metadata={"nbgrader": dict(meta, grade=False, solution=True,
                                                                          locked=False, grade_id="add")}),
        nbformat.v4.new_code_cell(TESTS, metadata={"nbgrader": dict(meta, grade=True, solution=False, locked=True,
                                                                       points=2, grade_id="add-tests")}),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hw")
    notebook = make_notebook(tmp / "tiny.ipynb")

    def wrong(nb):
        for cell in nb["cells"]:
            if "### BEGIN SOLUTION" in "".join(cell["source"]):
                cell["source"] = "def add(a, b):\n    return 3  # passes the visible test only"
        return nb

    return homework.grade([notebook], tmp / "course", extra_students={"hardcoder": wrong}), tmp


def test_solution_scores_max_and_blank_scores_zero(graded):
    (result,), _ = graded
    assert result.max_score == 2
    assert result.scores["solution"] == 2 and result.scores["blank"] == 0
    assert result.errors["blank"][0] == "NotImplementedError"
    assert homework.problems(result) == []


def test_hidden_tests_catch_hard_coding(graded):
    (result,), _ = graded
    assert result.scores["hardcoder"] < result.max_score


def test_release_strips_solutions_and_prose_answers(graded):
    _, tmp = graded
    release = json.loads((tmp / "course" / "release" / "tiny" / "tiny.ipynb").read_text())
    text = json.dumps(release)
    assert "return a + b" not in text and "raise NotImplementedError()" in text
    assert "The secret answer" not in text and "{exercise}" in text
    assert "add(-4, 10)" not in text, "hidden tests are removed from the release"


def test_wrong_instructor_solution_fails_the_check(tmp_path, capsys):
    notebook = make_notebook(tmp_path / "broken.ipynb", solution=SOLUTION.replace("a + b", "a * b"))
    assert homework.main([str(notebook), "--course", str(tmp_path / "course")]) == 1
    assert "the solution scores 0.0 of 2.0" in capsys.readouterr().err


def test_release_needing_a_missing_module_fails_the_check(tmp_path, capsys):
    notebook = make_notebook(tmp_path / "imports.ipynb", setup="import no_such_module_anywhere")
    assert homework.main([str(notebook), "--course", str(tmp_path / "course")]) == 1
    assert "ModuleNotFoundError" in capsys.readouterr().err


def test_glue_summary_reports_the_largest_difference():
    rows = homework.compare_glue({"acc": "0.850", "gap": "0.10", "name": "'mlp'"},
                                 {"acc": "0.850", "gap": "0.12", "name": "'mlp'"})
    result = homework.Grade("dropout", glue=rows)
    summary = homework.glue_summary(result)
    assert summary.startswith("dropout: 2 of 3 glued values identical")
    assert "gap: 0.10 -> 0.12" in summary and "1.7e-01" in summary
    assert homework.glue_summary(homework.Grade("empty")) == "empty: no glued numbers"
