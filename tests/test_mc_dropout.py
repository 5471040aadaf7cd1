"""Monte Carlo dropout (notebooks/mc_dropout.ipynb, exported to regbook.nb.mc_dropout)."""

import numpy
import pytest
from mxnet import autograd, init, np, npx
from mxnet.gluon import nn

from regbook.nb.mc_dropout import (
    AlwaysDropout,
    dropout_mlp,
    group_entropies,
    mc_predict,
    noise_images,
    predictive_entropy,
    rotate_images,
)
from regbook.seeding import set_seed


def small_net(dropout=None):
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation="relu"), dropout if dropout is not None else nn.Dropout(0.5), nn.Dense(3))
    net.initialize(init.Normal(1.0))
    return net


def test_mc_predict_is_the_mean_and_variance_of_seeded_passes():
    net, X = small_net(), np.array(numpy.random.default_rng(0).normal(size=(5, 4)).astype("float32"))
    set_seed(11)
    mean, var = mc_predict(net, X, 6, transform=npx.softmax)
    set_seed(11)
    with autograd.train_mode():
        passes = numpy.stack([npx.softmax(net(X)).asnumpy() for _ in range(6)])
    numpy.testing.assert_allclose(mean.asnumpy(), passes.mean(0), atol=1e-6)
    numpy.testing.assert_allclose(var.asnumpy(), passes.var(0), atol=1e-6)
    assert var.asnumpy().max() > 0


def test_dropout_on_at_test_time_changes_outputs_plain_predict_does_not():
    net, X = small_net(), np.ones((1, 4))
    plain = {round(float(net(X)[0, 0]), 5) for _ in range(5)}
    with autograd.train_mode():
        stochastic = {round(float(net(X)[0, 0]), 5) for _ in range(5)}
    assert len(plain) == 1 and len(stochastic) > 1


def test_mc_predict_of_a_net_without_dropout_has_zero_variance():
    net = nn.Dense(2)
    net.initialize()
    X = np.ones((3, 4))
    mean, var = mc_predict(net, X, 3)
    numpy.testing.assert_allclose(mean.asnumpy(), net(X).asnumpy(), atol=1e-6)
    assert float(abs(var).max()) < 1e-10


def test_mc_predict_rejects_zero_passes():
    with pytest.raises(ValueError, match="num_samples"):
        mc_predict(small_net(), np.ones((1, 4)), 0)


def test_always_dropout_is_stochastic_in_predict_mode_even_hybridized():
    net = small_net(AlwaysDropout(0.5))
    net.hybridize()
    X = np.ones((1, 4))
    assert len({round(float(net(X)[0, 0]), 5) for _ in range(6)}) > 1
    identity = AlwaysDropout(0.0)
    numpy.testing.assert_array_equal(identity(X).asnumpy(), X.asnumpy())
    with pytest.raises(ValueError, match="rate"):
        AlwaysDropout(1.0)


def test_always_dropout_keeps_the_expectation():
    set_seed(0)
    out = AlwaysDropout(0.3)(np.ones((200, 500))).asnumpy()
    values = numpy.unique(out)
    assert abs(out.mean() - 1) < 0.01 and len(values) == 2
    numpy.testing.assert_allclose(values, [0.0, 1 / 0.7], rtol=1e-6)


def test_predictive_entropy_bounds_and_reference():
    numpy.testing.assert_allclose(predictive_entropy(np.ones((2, 10)) / 10).asnumpy(), numpy.log(10), atol=1e-5)
    numpy.testing.assert_allclose(predictive_entropy(np.array(numpy.eye(3, dtype="float32"))).asnumpy(), 0,
                                  atol=1e-6)
    p = numpy.random.default_rng(1).dirichlet(numpy.ones(5), size=4).astype("float32")
    numpy.testing.assert_allclose(predictive_entropy(np.array(p)).asnumpy(), -(p * numpy.log(p)).sum(1), atol=1e-5)


def test_rotation_four_times_is_identity_and_noise_is_seeded():
    X = np.array(numpy.random.default_rng(2).uniform(size=(3, 784)).astype("float32"))
    once = rotate_images(X)
    assert not numpy.allclose(once.asnumpy(), X.asnumpy())
    back = rotate_images(rotate_images(rotate_images(once)))
    numpy.testing.assert_array_equal(back.asnumpy(), X.asnumpy())
    a, b = noise_images(4, seed=3).asnumpy(), noise_images(4, seed=3).asnumpy()
    assert a.shape == (4, 784) and (a == b).all() and 0 <= a.min() and a.max() <= 1


def test_group_entropies_splits_by_correctness():
    net = nn.Dense(2, use_bias=False)
    net.initialize()
    net.weight.set_data(np.array([[5.0, 0.0], [0.0, 5.0]]))  # predicts the larger coordinate
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 1], dtype="int32")
    groups = group_entropies(net, X, y, {"flat": np.array([[1.0, 1.0]])})
    assert len(groups["in-dist. correct"]) == 2 and len(groups["in-dist. wrong"]) == 1
    numpy.testing.assert_allclose(groups["flat"], numpy.log(2), atol=1e-5)


def test_dropout_mlp_needs_one_rate_per_layer():
    with pytest.raises(ValueError, match="one dropout rate"):
        dropout_mlp(hidden=(8, 8), rates=(0.5,))
