"""The helpers behind `make bench`/`make py312` (tools/execute_notebooks.py) and the site's Sphinx extension."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

from regbook import sphinxext

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "tools" / "execute_notebooks.py")
execute_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute_notebooks)


def glued_notebook(values: dict[str, str], stderr: str = "") -> nbformat.NotebookNode:
    outputs = [nbformat.v4.new_output("display_data", data={execute_notebooks.GLUE_MIME: text},
                                      metadata={"scrapbook": {"name": name, "mime_prefix": "x"}})
               for name, text in values.items()]
    if stderr:
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=stderr))
    cell = nbformat.v4.new_code_cell("glue(...)", outputs=outputs)
    return nbformat.v4.new_notebook(cells=[cell])


def test_glued_numbers_are_compared_with_their_relative_difference():
    committed = execute_notebooks.glued_values(glued_notebook({"acc": "0.8", "name": "'mlp'", "gone": "1"}))
    fresh = execute_notebooks.glued_values(glued_notebook({"acc": "np.float64(0.84)", "name": "'mlp'",
                                                           "new": "2"}))
    rows = {row["name"]: row for row in execute_notebooks.compare_glue(committed, fresh)}
    assert rows["acc"]["rel_diff"] == pytest.approx(0.04 / 0.84)
    assert rows["name"]["rel_diff"] == 0.0
    assert rows["gone"]["fresh"] is None and rows["new"]["committed"] is None


def test_new_warnings_are_found_in_stderr():
    notebook = glued_notebook({}, stderr="x.py:3: FutureWarning: soon\n  code line\n")
    assert execute_notebooks.warning_lines(notebook) == {"x.py:3: FutureWarning: soon"}


def test_execute_rejects_missing_notebooks(tmp_path, capsys):
    with pytest.raises(SystemExit):
        execute_notebooks.main([str(tmp_path / "missing.ipynb")])
    assert "does not exist" in capsys.readouterr().err


def test_timings_come_from_the_notebook_metadata(tmp_path):
    path = tmp_path / "a.ipynb"
    notebook = nbformat.v4.new_notebook(metadata={"regbook": {"execution_seconds": 61.4},
                                                  "language_info": {"name": "python", "version": "3.11.7"}})
    nbformat.write(notebook, path)
    assert sphinxext.execution_seconds(path) == 61.4
    assert sphinxext.kernel_python(path) == "3.11.7"
    assert sphinxext.format_seconds(61.4) == "1 min 01 s" and sphinxext.format_seconds(7.2) == "7 s"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert sphinxext.execution_seconds(path) is None


def test_duplicate_scripts_are_dropped_once_each():
    from sphinx.builders.html._assets import _JavaScript

    body = {"body": "const X = 1"}
    scripts = [_JavaScript(None, **body), _JavaScript("a.js"), _JavaScript("", **body), _JavaScript("a.js")]
    context = {"script_files": scripts}
    sphinxext.dedupe_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] == [scripts[0], scripts[1]]
