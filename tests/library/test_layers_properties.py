"""Property-based tests (hypothesis) of the dropout blocks in regbook.layers: for any rate and any input,
the shape and dtype are kept, the edge rates behave, the kept fraction is 1 - p and the expectation of the
training output is the inference output."""

from __future__ import annotations

import math

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mxnet import autograd, np, npx

from regbook import layers
from regbook.seeding import set_seed

npx.set_np()

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
rates = st.floats(min_value=0.0, max_value=0.95, allow_nan=False)
shapes = st.lists(st.integers(1, 6), min_size=4, max_size=4).map(tuple)
hybridize = st.booleans()


def run(block, x, training: bool):
    if training:
        with autograd.train_mode():
            return block(x)
    with autograd.predict_mode():
        return block(x)


def make(kind: str, p: float, hybrid: bool):
    block = {"standard": layers.StandardDropout, "spatial": layers.SpatialDropout,
             "gaussian": layers.GaussianDropout}[kind](p)
    if hybrid:
        block.hybridize()
    return block


@SETTINGS
@given(kind=st.sampled_from(["standard", "spatial", "gaussian"]), p=rates, shape=shapes, hybrid=hybridize,
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_shape_and_dtype_are_kept_and_prediction_is_deterministic(kind, p, shape, hybrid, dtype, seed):
    set_seed(seed)
    x = np.array(numpy.random.default_rng(seed).normal(size=shape), dtype=dtype)
    block = make(kind, p, hybrid)
    trained, predicted = run(block, x, True), run(block, x, False)
    assert trained.shape == predicted.shape == x.shape
    assert trained.dtype == predicted.dtype == x.dtype
    expected = x.asnumpy() if kind == "gaussian" else (1 - p) * x.asnumpy()
    numpy.testing.assert_allclose(predicted.asnumpy(), expected, rtol=1e-5, atol=1e-6)


@SETTINGS
@given(kind=st.sampled_from(["standard", "spatial"]), shape=shapes, hybrid=hybridize)
def test_edge_rates_keep_everything_or_nothing(kind, shape, hybrid):
    x = np.array(numpy.random.default_rng(0).normal(size=shape), dtype="float32")
    assert numpy.array_equal(run(make(kind, 0.0, hybrid), x, True).asnumpy(), x.asnumpy())
    assert not run(make(kind, 1.0, hybrid), x, True).asnumpy().any()


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["standard", "spatial"]), p=st.floats(0.05, 0.95), hybrid=hybridize,
       seed=st.integers(0, 2**16))
def test_kept_fraction_is_one_minus_p(kind, p, hybrid, seed):
    set_seed(seed)
    n = 40_000
    x = np.ones((n // 100, 100, 1, 1))  # spatial dropout: one mask value per (example, channel)
    kept = float((run(make(kind, p, hybrid), x, True) != 0).mean())
    se = math.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * se, (kept, 1 - p, se)


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["standard", "spatial", "gaussian"]), p=st.floats(0.05, 0.9), hybrid=hybridize,
       seed=st.integers(0, 2**16))
def test_expectation_of_the_training_output_is_the_prediction(kind, p, hybrid, seed):
    set_seed(seed)
    n = 40_000
    value = 1.7
    x = np.full((n // 100, 100, 1, 1), value)
    trained = run(make(kind, p, hybrid), x, True).asnumpy().ravel()
    predicted = float(run(make(kind, p, hybrid), x, False).asnumpy().ravel()[0])
    se = trained.std() / math.sqrt(n)
    assert abs(trained.mean() - predicted) < 5 * se + 1e-6, (trained.mean(), predicted, se)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5", None, True])
def test_a_bad_rate_is_refused_with_its_name(bad):
    with pytest.raises(ValueError, match="drop probability"):
        layers.check_rate(bad, "p")
