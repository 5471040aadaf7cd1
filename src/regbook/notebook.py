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
    """Display the source code of a function or class from the package, highlighted, in a notebook."""
    import inspect

    from IPython.display import Markdown, display

    display(Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```"))
