"""The dropout chapter's ``dropout_layer`` (exported from notebooks/dropout.ipynb)."""

import numpy
import pytest
from mxnet import np

from regbook.nb.dropout import dropout_layer, init_mlp_params, mlp_gluon, mlp_scratch
from regbook.seeding import set_seed


@pytest.fixture(autouse=True)
def _seed():
    set_seed(0)


def test_p0_is_identity_and_p1_is_zero():
    X = np.random.normal(0, 1, (4, 7))
    assert dropout_layer(X, 0) is X
    assert (dropout_layer(X, 1) == 0).all()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mean_kept_and_kept_fraction(p):
    n = 10**6
    out = dropout_layer(np.ones(n), p).asnumpy()
    # mean of h' has std sqrt(p/((1-p)n)); the kept fraction has std sqrt(p(1-p)/n): allow 5 of each
    assert abs(out.mean() - 1) < 5 * (p / ((1 - p) * n)) ** 0.5
    assert abs((out != 0).mean() - (1 - p)) < 5 * (p * (1 - p) / n) ** 0.5
    kept_values = numpy.unique(out[out != 0])
    numpy.testing.assert_allclose(kept_values, 1 / (1 - p), rtol=1e-6)


def test_fresh_mask_each_call():
    a, b = dropout_layer(np.ones(1000), 0.5), dropout_layer(np.ones(1000), 0.5)
    assert (a != b).mean() > 0.3


@pytest.mark.parametrize("p", [-0.01, 1.01, 2])
def test_invalid_p_rejected(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout_layer(np.ones(3), p)


def test_scratch_and_gluon_mlps_drop_only_while_training():
    from mxnet import autograd

    X = np.random.uniform(size=(8, 784))
    params = init_mlp_params()
    assert (mlp_scratch(X, params) == mlp_scratch(X, params)).all(), "inference is deterministic"
    with autograd.record():
        a, b = mlp_scratch(X, params), mlp_scratch(X, params)
    assert not (a == b).all(), "training draws masks"
    net = mlp_gluon()
    assert net(X).shape == (8, 10) and (net(X) == net(X)).all()
