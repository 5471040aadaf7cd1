"""Seed every random number generator a chapter uses, in one call."""

import os
import random

import numpy

from regbook import compat as _compat  # noqa: F401


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and MXNet (``mx.random``) with ``seed``."""
    import mxnet as mx

    random.seed(seed)
    numpy.random.seed(seed)
    mx.random.seed(seed)


def threads() -> int:
    """The number of OpenMP threads MXNet uses (``OMP_NUM_THREADS``; outputs are recorded with 2)."""
    return int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
