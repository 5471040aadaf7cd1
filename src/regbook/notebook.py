"""The first cell of every chapter: ``import regbook; regbook.notebook.setup(seed=0)``."""

from __future__ import annotations

from regbook import compat as _compat  # noqa: F401
from regbook.seeding import set_seed

# Optional modules that the chapters never use but that would be imported on the way to something they do use.
# rfc3987_syntax (IRI formats for jsonschema) builds a grammar on import: about 2 CPU seconds in every chapter,
# because myst_nb's glue imports nbformat, which imports jsonschema, which imports every format checker it finds.
SLOW_OPTIONAL_IMPORTS = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    """Make the optional imports above fail fast in this process (the importers treat them as absent)."""
    import sys

    for name in SLOW_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  (None in sys.modules: ImportError)


def setup(seed: int = 0) -> None:
    """Seed every generator, switch MXNet to its NumPy interface and apply the book's figure style
    (:func:`regbook.plotting.use_book_style`)."""
    import numpy
    from mxnet import npx

    try:  # figures inline from the very first one (otherwise the first is saved only as "<Figure ...>")
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
    except ImportError:  # pragma: no cover - IPython is always there in a notebook
        pass
    skip_slow_optional_imports()
    npx.set_np()
    set_seed(seed)
    numpy.set_printoptions(precision=4, suppress=True)
    from regbook.plotting import use_book_style

    use_book_style()  # after %matplotlib inline, which would otherwise overwrite some of it


def show_source(obj) -> None:
    """Display the source code of a function or class from the package, highlighted, in a notebook,
    laid out for the page's 88 columns (:func:`for_the_page`)."""
    import inspect

    from IPython.display import Markdown, display

    display(Markdown(f"```python\n{for_the_page(inspect.getsource(obj)).rstrip()}\n```"))


def for_the_page(source: str, width: int = 88) -> str:
    """``source`` dedented and, where ruff is installed, formatted to ``width`` columns (the library itself is
    written to 120); unchanged if ruff is missing or cannot format it."""
    import subprocess
    import textwrap

    source = textwrap.dedent(source)
    try:
        from ruff.__main__ import find_ruff_bin

        done = subprocess.run([find_ruff_bin(), "format", f"--line-length={width}", "--stdin-filename=shown.py",
                               "-"], input=source, capture_output=True, text=True, timeout=30)
    except (ImportError, OSError, subprocess.SubprocessError):
        return source
    formatted = done.stdout if done.returncode == 0 and done.stdout.strip() else source
    return "\n".join(_fold_prose(formatted.splitlines(), width)) + "\n"


def _fold_prose(lines: list[str], width: int) -> list[str]:
    """Break docstring and comment lines longer than ``width`` (ruff leaves them) at spaces."""
    import textwrap

    folded, in_docstring = [], False
    for line in lines:
        text = line.lstrip()
        indent = line[: len(line) - len(text)]
        if len(line) > width and (in_docstring or text.startswith(('"""', "#"))):
            marker = "# " if text.startswith("#") else ""
            body = text[len(marker):] if marker else text
            pieces = textwrap.wrap(body, width - len(indent) - len(marker), break_long_words=False,
                                   break_on_hyphens=False)
            folded += [indent + marker + piece for piece in pieces]
        else:
            folded.append(line)
        if line.count('"""') % 2:
            in_docstring = not in_docstring
    return folded
