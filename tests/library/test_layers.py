"""regbook.layers: each dropout block's defining property, in training and in inference mode, eager and
hybridized. (``InvertedDropout`` is the dropout-family chapter's: tests/chapters/test_dropout_family.py.)"""

from __future__ import annotations

import itertools
import math

import numpy
import pytest
from blocks import positive, predict, seed_all, train  # tests/blocks.py
from mxnet import init, np, npx

import regbook  # noqa: F401
from regbook import augment
from regbook import layers as D

npx.set_np()


@pytest.fixture(autouse=True)
def _seed():
    seed_all(42)


# ---------------------------------------------------------------------------------------------------- rates


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.5", None])
@pytest.mark.parametrize("make", [
    D.StandardDropout, D.GaussianDropout, D.SpatialDropout, D.MaxPoolDropout, D.MaxDrop,
    lambda p: D.DropConnectDense(4, 3, p),
])
def test_invalid_rates_raise(make, bad):
    with pytest.raises(ValueError, match="drop probability"):
        make(bad)


def test_gaussian_dropout_rejects_p_one_and_other_bad_options():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        D.GaussianDropout(1.0)
    with pytest.raises(ValueError, match="inference"):
        D.DropConnectDense(4, 3, 0.5, inference="median")
    with pytest.raises(ValueError, match="mode"):
        D.MaxDrop(0.5, mode="pixel")
    with pytest.raises(ValueError, match="activation"):
        D.Standout(4, 3, activation="gelu")
    with pytest.raises(ValueError, match="units"):
        D.Standout(0, 3)
    assert D.check_rate(0) == 0.0 and D.check_rate(1) == 1.0


# ---------------------------------------------------------------------------------------------------- standard


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_standard_dropout_zeroes_without_rescaling_and_scales_at_test_time(p):
    block = D.StandardDropout(p)
    x = positive((200, 100))
    y, xs = train(block, x), x.asnumpy()
    kept = y != 0
    numpy.testing.assert_allclose(y[kept], xs[kept], rtol=1e-6)  # survivors are not rescaled
    assert abs((~kept).mean() - p) < 0.02
    numpy.testing.assert_allclose(predict(block, x), (1 - p) * xs, rtol=1e-6)
    assert abs(y.mean() / ((1 - p) * xs.mean()) - 1) < 0.02  # E[train] = test output


def test_standard_dropout_extreme_rates():
    x = positive((4, 5))
    assert numpy.array_equal(train(D.StandardDropout(0), x), x.asnumpy())
    assert not train(D.StandardDropout(1), x).any() and not predict(D.StandardDropout(1), x).any()




# ---------------------------------------------------------------------------------------------------- Gaussian


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_gaussian_dropout_noise_has_mean_one_and_variance_p_over_1_minus_p(p):
    block = D.GaussianDropout(p)
    x = positive((400, 250))
    noise = train(block, x) / x.asnumpy()
    assert abs(noise.mean() - 1) < 0.01
    assert abs(noise.var() / (p / (1 - p)) - 1) < 0.03
    assert numpy.array_equal(predict(block, x), x.asnumpy())



# ---------------------------------------------------------------------------------------------------- spatial


def test_spatial_dropout_zeroes_whole_channels():
    p = 0.5
    block = D.SpatialDropout(p)
    x = positive((64, 16, 5, 5))
    y, xs = train(block, x), x.asnumpy()
    zero_maps = (y == 0).all(axis=(2, 3))
    kept_maps = (y == xs).all(axis=(2, 3))
    assert (zero_maps | kept_maps).all()  # every map is either all gone or untouched
    assert abs(zero_maps.mean() - p) < 0.08
    assert 0 < zero_maps.sum(axis=1).min() or zero_maps.sum(axis=1).max() < 16  # masks differ between examples
    assert len({tuple(row) for row in zero_maps}) > 50
    numpy.testing.assert_allclose(predict(block, x), (1 - p) * xs, rtol=1e-6)


def test_spatial_dropout_needs_feature_maps():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        train(D.SpatialDropout(0.2), positive((4, 5)))


# ---------------------------------------------------------------------------------------------------- DropConnect


def dropconnect(per_example, activation=None, inference="mean", units=6, in_units=50, p=0.5):
    block = D.DropConnectDense(units, in_units, p, activation=activation, per_example=per_example,
                               inference=inference, num_samples=2000)
    block.initialize(init.Normal(0.3))
    return block


def test_dropconnect_masks_weights_not_units():
    block = dropconnect(True, units=3, in_units=40)
    block.weight.set_data(np.ones((3, 40)))
    block.bias.set_data(np.zeros(3))
    y = train(block, np.ones((200, 40)))
    # each output counts its surviving weights: partial sums, not the all-or-nothing of unit dropout
    assert ((y > 0) & (y < 40)).mean() > 0.99
    assert numpy.array_equal(y, numpy.round(y))
    assert abs(y.mean() - 20) < 0.5


@pytest.mark.parametrize("per_example", [True, False])
def test_dropconnect_mask_is_per_example_or_per_batch_as_documented(per_example):
    block = dropconnect(per_example)
    x = np.ones((32, 1)) * positive((1, 50))  # 32 copies of one example
    first, second = train(block, x), train(block, x)
    rows_identical = numpy.allclose(first, first[:1])
    assert rows_identical != per_example
    assert not numpy.allclose(first, second)  # a new mask every forward pass either way


@pytest.mark.parametrize("per_example", [True, False])
def test_dropconnect_training_expectation_equals_mean_inference(per_example):
    block = dropconnect(per_example)
    x = positive((1, 50))
    xs = np.ones((400, 1)) * x
    average = numpy.mean([train(block, xs).mean(axis=0) for _ in range(5 if per_example else 400)], axis=0)
    mean_net = predict(block, x)[0]
    numpy.testing.assert_allclose(average, mean_net, atol=0.08 * numpy.abs(mean_net).max())


def test_dropconnect_gaussian_inference_matches_the_average_over_masks():
    block = dropconnect(True, activation="relu", inference="gaussian")
    x = positive((1, 50))
    average = numpy.mean([train(block, np.ones((2000, 1)) * x).mean(axis=0) for _ in range(2)], axis=0)
    gaussian = predict(block, x)[0]
    block.inference = "mean"
    mean_rule = predict(block, x)[0]
    scale = numpy.abs(average).max()
    assert numpy.abs(gaussian - average).max() < 0.05 * scale
    assert numpy.abs(mean_rule - average).max() > numpy.abs(gaussian - average).max()  # Jensen gap of the mean rule


# ---------------------------------------------------------------------------------------------------- Standout


def test_standout_inference_is_keep_probability_times_activation_and_the_training_expectation():
    block = D.Standout(8, 20, alpha=1.5, beta=-0.5)
    block.initialize(init.Normal(0.5))
    x = positive((1, 20), low=-1.0)
    s = (x @ block.weight.data().T + block.bias.data()).asnumpy()[0]
    keep = 1 / (1 + numpy.exp(-(1.5 * s - 0.5)))
    numpy.testing.assert_allclose(predict(block, x)[0], keep * numpy.maximum(s, 0), rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(block.keep_probability(x).asnumpy()[0], keep, rtol=1e-5)
    samples = train(block, np.ones((5000, 1)) * x)
    active = s > 0
    numpy.testing.assert_allclose(samples.mean(axis=0)[active], (keep * s)[active], rtol=0.05)
    assert set(numpy.unique(numpy.round(samples[:, active] / s[active], 5))) <= {0.0, 1.0}


def test_standout_keeps_strongly_driven_units_more_often_when_alpha_is_positive():
    block = D.Standout(64, 30, alpha=1.0, beta=0.0)
    block.initialize(init.Normal(0.3))
    x = positive((50, 30), low=-1.0)
    s = (x @ block.weight.data().T + block.bias.data()).asnumpy().ravel()
    keep = block.keep_probability(x).asnumpy().ravel()
    assert numpy.corrcoef(s, keep)[0, 1] > 0.9
    flat = D.Standout(64, 30, alpha=0.0, beta=0.0)
    flat.initialize()
    numpy.testing.assert_allclose(flat.keep_probability(x).asnumpy(), 0.5)


# ------------------------------------------------------------------------------------------ max-pooling dropout


def test_weighted_pooling_is_the_exact_expectation_over_all_masks():
    p = 0.3
    block = D.MaxPoolDropout(p)
    x = positive((2, 3, 4, 4), low=0.0)
    xs = x.asnumpy()
    expected = numpy.zeros((2, 3, 2, 2))
    for bits in itertools.product((0, 1), repeat=4):  # enumerate the 16 masks of a 2x2 window
        keep = numpy.array(bits).reshape(2, 2)
        prob = numpy.prod(numpy.where(keep == 1, 1 - p, p))
        tiled = numpy.tile(keep, (2, 2))
        masked = (xs * tiled).reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5))
        expected += prob * masked
    numpy.testing.assert_allclose(predict(block, x), expected, rtol=1e-5)
    samples = numpy.mean([train(block, x) for _ in range(3000)], axis=0)
    numpy.testing.assert_allclose(samples, expected, rtol=0.06)


def test_max_pooling_dropout_training_picks_a_window_member_or_zero_and_scaled_rule():
    block = D.MaxPoolDropout(0.5, inference="scaled")
    x = positive((2, 2, 4, 4))
    y = train(block, x)
    windows = x.asnumpy().reshape(2, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 2, 2, 2, 4)
    assert all(v == 0 or numpy.isclose(windows[idx], v).any() for idx, v in numpy.ndenumerate(y))
    numpy.testing.assert_allclose(predict(block, x), 0.5 * windows.max(axis=-1), rtol=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        train(block, positive((1, 1, 5, 4)))


# ---------------------------------------------------------------------------------------------------- Max-Drop


@pytest.mark.parametrize("mode, axes", [("feature", (2, 3)), ("channel", (1,))])
def test_max_drop_only_ever_drops_maxima(mode, axes):
    p = 0.5
    block = D.MaxDrop(p, mode=mode)
    x = positive((200, 6, 4, 4))
    xs = x.asnumpy()
    is_max = xs == xs.max(axis=axes, keepdims=True)
    y = train(block, x)
    assert numpy.array_equal(y[~is_max], xs[~is_max])  # everything else untouched
    dropped = (y[is_max] == 0).mean()
    assert abs(dropped - p) < 0.05
    numpy.testing.assert_allclose(predict(block, x), numpy.where(is_max, (1 - p) * xs, xs), rtol=1e-6)


# ---------------------------------------------------------------------------------------------------- hybridization


def dense_input():
    return positive((300, 20))


def conv_input():
    return positive((40, 4, 6, 6), low=0.0)


HYBRID_BLOCKS = [
    (lambda: D.StandardDropout(0.5), dense_input),
    (lambda: D.GaussianDropout(0.5), dense_input),
    (lambda: D.SpatialDropout(0.5), conv_input),
    (lambda: D.MaxPoolDropout(0.5), conv_input),
    (lambda: D.MaxDrop(0.5), conv_input),
    (lambda: D.DropConnectDense(5, 20, 0.5), dense_input),
    (lambda: D.DropConnectDense(5, 20, 0.5, per_example=False), dense_input),
    (lambda: D.Standout(5, 20), dense_input),
]


@pytest.mark.parametrize("make, data", HYBRID_BLOCKS)
def test_hybridized_blocks_switch_mode_at_run_time(make, data):
    block = make()
    block.initialize(init.Normal(0.3))
    x = data()
    eager_test, eager_train = predict(block, x), [train(block, x).mean() for _ in range(200)]
    block.hybridize()
    hybrid_test = predict(block, x)  # the graph is traced in inference mode first ...
    hybrid_train = [train(block, x) for _ in range(200)]  # ... and must still be random while training
    numpy.testing.assert_allclose(hybrid_test, eager_test, rtol=1e-5, atol=1e-6)
    assert not numpy.allclose(hybrid_train[0], hybrid_test)
    assert not numpy.allclose(hybrid_train[0], hybrid_train[1])
    hybrid_mean = numpy.mean([h.mean() for h in hybrid_train])
    assert abs(hybrid_mean / numpy.mean(eager_train) - 1) < 0.1
    numpy.testing.assert_allclose(predict(block, x), eager_test, rtol=1e-5, atol=1e-6)


def test_training_flag_reads_the_mode_inside_a_hybridized_graph():
    from mxnet.gluon import nn

    class Flag(nn.HybridBlock):
        def hybrid_forward(self, F, x):
            return x * 0 + D.training_flag(F)

    block = Flag()
    block.hybridize()
    x = np.zeros((2,))
    assert predict(block, x).tolist() == [0.0, 0.0]
    assert train(block, x).tolist() == [1.0, 1.0]
    assert predict(block, x).tolist() == [0.0, 0.0]


def test_cutout_block_applies_the_augmentation_modules_function():
    assert D.cutout is augment.cutout  # one implementation: regbook.augment's
    block = D.Cutout(3)
    x = positive((4, 1, 8, 8))
    y = train(block, x)
    assert ((y == 0).sum(axis=(1, 2, 3)) > 0).all()
    assert numpy.array_equal(predict(block, x), x.asnumpy())


def test_gaussian_dropout_sigma_is_reported():
    assert math.isclose(D.GaussianDropout(0.2).sigma, 0.5)
