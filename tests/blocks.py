"""Helpers shared by the tests of dropout blocks (library and chapters): run a block in training or
prediction mode, positive random inputs, one seed for every generator."""

import mxnet as mx
import numpy
from mxnet import autograd, np


def seed_all(seed: int = 42) -> None:
    mx.random.seed(seed)
    numpy.random.seed(seed)


def train(block, x):
    """``block(x)`` in training mode, as a NumPy array."""
    with autograd.train_mode():
        return block(x).asnumpy()


def predict(block, x):
    """``block(x)`` in prediction mode, as a NumPy array."""
    with autograd.predict_mode():
        return block(x).asnumpy()


def positive(shape, low=0.5):
    """Uniform values in [low, 2) (no zeros, so a dropped unit is visible)."""
    return np.random.uniform(low, 2.0, size=shape)
