"""Sphinx extension of the book's site (listed in ``_config.yml``; not needed to run the notebooks).

* ``{notebook-timings}``: a table of how long each chapter notebook takes to run, read at build time from the
  ``regbook.execution_seconds`` that ``tools/run_notebooks.py`` stores in each notebook, so it is never stale.
  A chapter notebook without that number is a build warning (an error under ``-W``).
* ``{experiment-list}``: the table of every chapter's headline experiment (``python -m regbook reproduce NAME``),
  read at build time from the registry (:func:`regbook.runs.all_experiments`), with its chapter, defaults and
  options.
* Exercises are numbered per chapter (Exercise 1, 2, ... on every page) instead of across the whole book.
* Two fixes of the theme stack that otherwise put errors in every reader's browser console: an inline script
  that sphinx-thebe registers twice per build (``Identifier 'THEBE_JS_URL' has already been declared``), and
  pydata-sphinx-theme's "invalid theme mode" for a first-time visitor (no stored light/dark choice).
"""

from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

# A first-time visitor has no stored light/dark mode; pydata-sphinx-theme then logs an error and falls back to
# "auto". Setting "auto" (the theme's own default) before its script runs gives the same page without the error.
DEFAULT_THEME_MODE = 'if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }'


def execution_seconds(path: Path) -> float | None:
    """The seconds ``tools/run_notebooks.py`` recorded in a notebook, or None when it was never run by it."""
    metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    seconds = metadata.get("regbook", {}).get("execution_seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def kernel_python(path: Path) -> str | None:
    """The Python version of the kernel that last executed a notebook (from its ``language_info``)."""
    metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return metadata.get("language_info", {}).get("version")


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


class timings_placeholder(nodes.General, nodes.Element):  # noqa: N801 - docutils node naming
    """Replaced by the table once every page has been read (titles and toc order are known then)."""


class NotebookTimings(SphinxDirective):
    """``{notebook-timings}``: the table of chapter run times."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        for docname in notebook_docs(self.env):
            self.env.note_dependency(str(self.env.doc2path(docname)))
        return [timings_placeholder()]


def notebook_docs(env) -> list[str]:
    """The documents that are notebooks, in the order of the table of contents."""
    order = toc_order(env)
    docs = [d for d in env.found_docs if str(env.doc2path(d)).endswith(".ipynb")]
    return sorted(docs, key=lambda d: (order.get(d, len(order)), d))


def toc_order(env) -> dict[str, int]:
    order: dict[str, int] = {}

    def walk(docname: str) -> None:
        if docname in order:
            return
        order[docname] = len(order)
        for child in env.toctree_includes.get(docname, []):
            walk(child)

    walk(env.config.root_doc)
    return order


def build_table(app: Sphinx, fromdocname: str) -> nodes.Node:
    env = app.env
    rows, total, pythons, threads = [], 0.0, set(), set()
    for docname in notebook_docs(env):
        path = Path(env.doc2path(docname))
        seconds = execution_seconds(path)
        if seconds is None:
            logger.warning(f"{path.name} has no regbook.execution_seconds: run `python tools/run_notebooks.py "
                           f"{path.relative_to(app.srcdir)}` to execute it and record its time",
                           location=fromdocname)
            continue
        total += seconds
        pythons.add(kernel_python(path) or "?")
        threads.add(str(json.loads(path.read_text(encoding="utf-8"))["metadata"].get("regbook", {})
                        .get("omp_num_threads", "?")))
        title = env.titles[docname].astext() if docname in env.titles else docname
        link = nodes.reference("", title, internal=True, refuri=app.builder.get_relative_uri(fromdocname, docname))
        rows.append(([nodes.paragraph("", "", link)], format_seconds(seconds), f"{seconds:.0f}"))
    rows.append(([nodes.paragraph("", "", nodes.strong("", "All chapters"))], format_seconds(total),
                 f"{total:.0f}"))

    table = nodes.table(classes=["notebook-timings"])
    group = nodes.tgroup(cols=3)
    table += group
    for width in (60, 20, 20):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    head += _row([nodes.paragraph("", "Chapter")], "Time to run", "Seconds")
    body = nodes.tbody()
    group += body
    for cells in rows:
        body += _row(*cells)
    caption = (f"Measured with Python {', '.join(sorted(pythons))}, OMP_NUM_THREADS="
               f"{'/'.join(sorted(threads)) or '?'}, on a 2-core CPU."
               if pythons else "No chapter has a recorded time yet.")
    return nodes.container("", table, nodes.paragraph("", caption, classes=["caption"]))


def _row(first: list[nodes.Node], *texts: str) -> nodes.row:
    row = nodes.row()
    entry = nodes.entry()
    entry.extend(first)
    row += entry
    for text in texts:
        row += nodes.entry("", nodes.paragraph("", text))
    return row


def replace_placeholders(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for placeholder in doctree.findall(timings_placeholder):
        placeholder.replace_self(build_table(app, docname))


class ExperimentList(SphinxDirective):
    """``{experiment-list}``: every registered experiment, its chapter, its defaults and its options."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from docutils.statemachine import StringList

        from regbook import runs

        lines = ["| Command | Chapter | What it runs (defaults: the chapter's budget) |", "| --- | --- | --- |"]
        for name, exp in runs.all_experiments().items():
            if name != exp.name:
                continue  # an alias: listed with its experiment
            stem = exp.run.__module__.rsplit(".", 1)[-1]
            self.env.note_dependency(str(Path(self.env.srcdir, "notebooks", f"{stem}.ipynb")))
            defaults = [f"`--{key} {value}`" for key, value in (("seeds", exp.seeds), ("epochs", exp.epochs))
                        if value is not None]
            defaults += [f"`--{key.replace('_', '-')}" + ("`" if spec[1] is None else f" {spec[1]}`")
                         for key, spec in exp.options.items()]
            aliases = f" (also `{'`, `'.join(exp.aliases)}`)" if exp.aliases else ""
            what = exp.description.replace("|", "/") + (f"; options {', '.join(defaults)}" if defaults else "")
            lines.append(f"| `reproduce {name}`{aliases} | {{doc}}`/notebooks/{stem}` | {what} |")
        container = nodes.container(classes=["experiment-list"])
        self.state.nested_parse(StringList(lines, source="experiment-list"), self.content_offset, container)
        return [container]


def number_exercises_per_chapter(app: Sphinx, env) -> list[str]:
    """Restart the exercise numbers on every page: Sphinx numbers them across the book when the table of
    contents has no section numbers (a reader of one chapter would meet Exercise 63 first)."""
    changed = []
    for docname, numbers in env.toc_fignumbers.items():
        exercises = numbers.get("exercise")
        if not exercises:
            continue
        renumbered = {key: (rank,) for rank, (key, _) in
                      enumerate(sorted(exercises.items(), key=lambda item: item[1]), start=1)}
        if renumbered != exercises:
            numbers["exercise"] = renumbered
            changed.append(docname)
    return changed


def dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Drop duplicates from the page's scripts (sphinx-thebe adds its inline config twice).

    Two scripts are the same when they have the same file and attributes (an inline script's ``body``); the
    file of an inline script is ``None`` or ``""`` depending on how it was registered.
    """
    if "script_files" not in context:
        return
    unique = {}
    for script in context["script_files"]:
        key = (getattr(script, "filename", str(script)) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        unique.setdefault(key, script)
    context["script_files"] = list(unique.values())


def setup(app: Sphinx) -> dict:
    # myst-nb draws "hide-input" cells only for the html builder; the single-page build behind `make pdf` needs
    # the same drawing (the PDF script then removes those cells: they hold the CLI's wrappers, not lessons).
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput, visit_HideCellInput

    app.registry.add_translation_handlers(HideCodeCellNode, singlehtml=(visit_HideCellInput, depart_HideCellInput))
    app.add_node(timings_placeholder)
    app.add_directive("notebook-timings", NotebookTimings)
    app.add_directive("experiment-list", ExperimentList)
    app.connect("env-get-updated", number_exercises_per_chapter, priority=900)
    app.connect("doctree-resolved", replace_placeholders)
    app.connect("html-page-context", dedupe_scripts)
    app.add_js_file(None, body=DEFAULT_THEME_MODE, priority=1)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
