"""The Cutout block (regbook.layers.Cutout): regbook.augment's cutout, applied only while training."""

import numpy
import pytest
from mxnet import autograd, npx
from mxnet import np as mnp

from regbook import augment, layers

npx.set_np()


def as_numpy(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else numpy.asarray(x)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4"])
def test_cutout_block_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="size"):
        layers.Cutout(bad)


def test_cutout_block_only_acts_while_training():
    block = layers.Cutout(6)
    X = mnp.ones((4, 1, 8, 8))
    assert (as_numpy(block(X)) == as_numpy(X)).all()
    with autograd.record():
        Y = block(X)
    assert (as_numpy(Y) == 0).sum() > 0
    with autograd.record(train_mode=False):
        assert (as_numpy(block(X)) == as_numpy(X)).all()


def test_cutout_block_hides_one_clipped_square_per_image_in_every_channel():
    block = layers.Cutout(3)
    X = mnp.ones((50, 2, 7, 7))
    with autograd.record():
        Y = as_numpy(block(X))
    zeros = (Y == 0).sum(axis=(2, 3))
    assert (zeros[:, 0] == zeros[:, 1]).all() and (zeros >= 1).all() and (zeros <= 9).all()
    assert (zeros[:, 0] == 9).any() and (zeros[:, 0] < 9).any()  # whole and clipped squares both occur
    assert repr(block) == "Cutout(size=3)"


def test_cutout_block_uses_the_augment_function():
    assert layers.cutout is augment.cutout
