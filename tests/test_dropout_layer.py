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


def test_recorded_runs_match_their_summary():
    """The record the chapter shows (``reproduce dropout-mlp --record``): rows are the statistics of its runs."""
    from regbook.experiments import dropout as experiment

    record = experiment.load_record()
    assert {row["variant"] for row in record["results"]} == {"scratch", "gluon", "no-dropout"}
    for row in record["results"]:
        runs = record["runs"][row["variant"]]
        assert row["seeds"] == len(runs) >= 3 and sorted(r["seed"] for r in runs) == list(range(len(runs)))
        final = numpy.array([r["test_acc"][-1] for r in runs])
        gaps = numpy.array([r["train_acc_off"] for r in runs]) - final
        assert row["test_acc_mean"] == pytest.approx(final.mean())
        assert row["test_acc_std"] == pytest.approx(final.std(ddof=1))
        assert row["gap_mean"] == pytest.approx(gaps.mean())
        assert all(len(r["test_acc"]) == row["epochs"] == len(r["loss"]) for r in runs)


def test_wobble_record_pairs_the_two_conventions():
    from regbook.experiments import dropout as experiment

    record = experiment.load_record(experiment.WOBBLE_RECORD)
    by_mode = {mode: {r["seed"]: r for r in record["runs"] if r["step_batch"] == mode} for mode in ("len", 256)}
    assert set(by_mode["len"]) == set(by_mode[256]) and len(by_mode["len"]) >= 3
    for run in record["runs"]:
        assert len(run["last_steps"]) == 40 and run["last_steps"][-1] == run["test_acc"][-1]
