"""The bias-variance chapter's code (regbook.chapters.bias_variance): confidence intervals, the measured
decomposition, the diagnosis, and its experiment (``python -m regbook reproduce bias-variance``)."""

import json
import statistics

import numpy
import pytest

from regbook import compat as _compat  # noqa: F401
from regbook.chapters.bias_variance import (
    SineTask,
    bias_variance,
    bias_variance_curve,
    bias_variance_decomposition,
    ci_half_width,
    diagnose,
    fit_least_squares,
    legendre_features,
    train_dev_errors,
)


def test_ci_half_width_matches_the_formula_and_a_simulation():
    assert ci_half_width(0.9, 100) == pytest.approx(1.959964 * 0.03, rel=1e-5)
    assert ci_half_width(0.5, 10_000, confidence=0.99) == pytest.approx(2.575829 * 0.005, rel=1e-5)
    rng = numpy.random.default_rng(0)
    measured = rng.binomial(400, 0.8, size=20_000) / 400
    low, high = numpy.quantile(measured, [0.025, 0.975])
    assert (high - low) / 2 == pytest.approx(ci_half_width(0.8, 400), rel=0.1)


def test_ci_half_width_depends_on_the_count_only():
    widths = ci_half_width(0.9, numpy.array([100, 400, 1600]))
    assert widths[0] / widths[1] == pytest.approx(2.0) and widths[1] / widths[2] == pytest.approx(2.0)


@pytest.mark.parametrize("args", [(1.2, 100), (-0.1, 100), (0.9, 0), (0.9, 100, 1.0)])
def test_ci_half_width_rejects_bad_input(args):
    with pytest.raises(ValueError):
        ci_half_width(*args)


def test_least_squares_recovers_a_polynomial_exactly():
    rng = numpy.random.default_rng(1)
    x = rng.uniform(size=40)
    true_weights = numpy.array([0.5, -1.0, 2.0, 0.3])
    y = legendre_features(x, 3) @ true_weights
    numpy.testing.assert_allclose(fit_least_squares(legendre_features(x, 3), y), true_weights, atol=1e-10)
    stacked = fit_least_squares(numpy.stack([legendre_features(x, 3)] * 2), numpy.stack([y, 2 * y]))
    numpy.testing.assert_allclose(stacked, [true_weights, 2 * true_weights], atol=1e-10)


def test_ridge_shrinks_the_weights_but_not_the_intercept():
    rng = numpy.random.default_rng(2)
    x, y = SineTask().sample(30, rng)
    features = legendre_features(x, 9)
    plain, ridge = fit_least_squares(features, y), fit_least_squares(features, y, ridge=10.0)
    assert numpy.linalg.norm(ridge[1:]) < 0.5 * numpy.linalg.norm(plain[1:])
    huge = fit_least_squares(features, y, ridge=1e9)
    assert numpy.allclose(huge[1:], 0, atol=1e-6) and huge[0] == pytest.approx(y.mean(), abs=1e-6)
    with pytest.raises(ValueError):
        fit_least_squares(features, y, ridge=-1.0)


def test_stratified_inputs_put_one_point_in_each_interval():
    x = SineTask.inputs(20, numpy.random.default_rng(3), size=(5,))
    assert x.shape == (5, 20)
    numpy.testing.assert_array_equal(numpy.floor(x * 20), numpy.broadcast_to(numpy.arange(20), (5, 20)))
    with pytest.raises(ValueError):
        SineTask.inputs(0, numpy.random.default_rng(0))
    with pytest.raises(ValueError):
        SineTask(noise_std=-1)


def test_decomposition_adds_up_to_the_measured_test_error():
    for degree in (1, 3, 9):
        row = bias_variance_decomposition(SineTask(), degree, rng=0)
        total = row["bias2"] + row["variance"] + row["noise"]
        assert total == pytest.approx(row["test_mse"], rel=0.05)


def test_decomposition_separates_bias_and_variance():
    low, high = bias_variance_decomposition(SineTask(), 1, rng=4), bias_variance_decomposition(SineTask(), 13, rng=4)
    assert low["bias2"] > 0.15 and low["bias2"] > 10 * high["bias2"]  # a line cannot follow a sine
    assert high["variance"] > 5 * low["variance"]
    noisy = bias_variance_decomposition(SineTask(), 5, rng=5)
    noiseless = bias_variance_decomposition(SineTask(noise_std=0.0), 5, rng=5)
    assert noiseless["noise"] == 0.0
    assert noiseless["variance"] < 1e-3 * noisy["variance"]  # without noise the fits (nearly) agree


def test_u_curve_has_an_interior_minimum():
    curve = bias_variance_curve(0, range(1, 16), n_datasets=100)
    test_mse = [row["test_mse"] for row in curve]
    assert 0 < int(numpy.argmin(test_mse)) < 14
    assert test_mse[-1] > 2 * min(test_mse) and test_mse[0] > 2 * min(test_mse)


@pytest.mark.parametrize(("train", "dev", "expected"), [
    (0.10, 0.11, "neither"), (0.30, 0.31, "high bias"), (0.02, 0.50, "high variance"),
    (0.25, 0.40, "high bias and high variance"),
])
def test_diagnose_each_cell(train, dev, expected):
    assert diagnose(train, dev, base_error=0.09, tolerance=0.05) == expected


def test_diagnose_measures_bias_against_the_noise_floor():
    assert diagnose(0.30, 0.31, base_error=0.0) == "high bias"
    assert diagnose(0.30, 0.31, base_error=0.29) == "neither"
    with pytest.raises(ValueError):
        diagnose(0.1, 0.2, tolerance=0)
    with pytest.raises(ValueError):
        diagnose(-0.1, 0.2)


def test_train_dev_errors_longer_training_lowers_the_training_error():
    short = train_dev_errors(9, 200, seed=0, gd_steps=3)
    long = train_dev_errors(9, 200, seed=0, gd_steps=1000)
    exact = train_dev_errors(9, 200, seed=0)
    assert long[0] < short[0]
    assert long[0] == pytest.approx(exact[0], rel=0.05)


def test_reproduce_bias_variance_reports_the_chapter_checks():
    from regbook.cli import experiments

    result = experiments()["bias-variance"].run(seeds=2, progress=False, max_degree=12, datasets=100)
    assert [row["degree"] for row in result["results"]] == list(range(1, 13))
    for row in result["results"]:
        assert {"bias2", "variance", "noise", "test_mse"} <= row.keys()
        assert row["max_relative_gap"] < 0.05
    assert result["decomposition_holds"] and result["interior_minimum"]
    with pytest.raises(ValueError, match="max-degree"):
        experiments()["bias-variance"].run(seeds=1, progress=False, max_degree=2)
    with pytest.raises(ValueError, match="datasets"):
        experiments()["bias-variance"].run(seeds=1, progress=False, datasets=1)


def test_the_experiment_is_the_chapters_with_its_budget():
    from regbook.cli import experiments

    exp = experiments()["bias-variance"]
    assert exp.run is bias_variance and exp.run.__module__ == "regbook.chapters.bias_variance"
    assert exp.seeds == 5 and exp.epochs is None  # the chapter's five seeds 0, ..., 4
    assert {name: option[:2] for name, option in exp.options.items()} == {
        "max_degree": (int, 15), "datasets": (int, 200), "n_train": (int, 30), "noise_std": (float, 0.3)}


@pytest.mark.parametrize("option", [["--max-degree", "2"], ["--datasets", "1"], ["--noise-std", "-0.1"]])
def test_the_cli_rejects_what_the_experiment_cannot_run(option, capsys):
    from regbook.cli import main

    assert main(["reproduce", "bias-variance", "--quiet", *option]) == 2
    assert option[0] in capsys.readouterr().err


def test_the_experiment_rows_are_mean_and_std_of_its_curves():
    result = bias_variance(seeds=3, progress=False, max_degree=5, datasets=20, n_train=25, noise_std=0.2)
    assert json.loads(json.dumps(result)) == result
    assert len(result["curves"]) == 3
    for seed, curve in enumerate(result["curves"]):  # seed s is bias_variance_curve(s, ...)
        assert curve == bias_variance_curve(seed, range(1, 6), task=SineTask(0.2), n_datasets=20, n_train=25)
    for i, row in enumerate(result["results"]):
        values = {key: [curve[i][key] for curve in result["curves"]] for key in ("bias2", "variance", "test_mse")}
        for key in ("bias2", "variance", "test_mse"):
            assert row[key] == pytest.approx(statistics.mean(values[key]), rel=1e-12)
        assert row["test_mse_std"] == pytest.approx(statistics.stdev(values["test_mse"]), rel=1e-9)
        assert row["noise"] == pytest.approx(0.04)
    best = min(result["results"], key=lambda row: row["test_mse"])["degree"]
    assert result["best_degree"] == best and result["tolerance"] == 0.05
    single = bias_variance(seeds=1, progress=False, max_degree=3, datasets=5)
    assert all(row["test_mse_std"] == 0.0 for row in single["results"])
