"""regbook: the helper package of the book *Regularization, hands-on*.

One module per concern:

- :mod:`regbook.compat`   -- makes MXNet 1.9.1 import on Python 3.11-3.13, NumPy 1.23-2.x; imported first.
- :mod:`regbook.seeding`  -- one call that seeds ``random``, NumPy and MXNet.
- :mod:`regbook.notebook` -- the setup call of every chapter's first cell.
- :mod:`regbook.data`     -- Fashion-MNIST, offline first, checksummed, atomic downloads.
- :mod:`regbook.training` -- accuracy, the epoch loop and ``train_ch3`` (removed from d2l 1.0).
- :mod:`regbook.plotting` -- live training curves and error-bar plots.
- :mod:`regbook.dropout`  -- dropout and its family, as taught in the chapters.
- :mod:`regbook.experiments` -- the headline experiment of each chapter, for ``python -m regbook reproduce``.
"""

from regbook import compat as _compat  # noqa: F401  (must run before MXNet is imported)

__version__ = "0.1.0"
