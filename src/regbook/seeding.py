"""Seed every random number generator a chapter uses, in one call."""

import random

import numpy

from regbook import compat as _compat  # noqa: F401


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and MXNet (``mx.random``) with ``seed``."""
    import mxnet as mx

    random.seed(seed)
    numpy.random.seed(seed)
    mx.random.seed(seed)

