"""Tests of the weight-decay chapter's code (regbook.chapters.weight_decay) and its two experiments."""

import json
import statistics

import numpy as onp
import pytest
from mxnet import autograd, np, npx

from regbook.chapters import weight_decay as wd  # conftest has imported regbook (its MXNet shims) first

npx.set_np()


def test_soft_threshold_matches_its_formula_and_hits_exact_zero():
    rng = onp.random.default_rng(0)
    v = rng.normal(size=(7, 3))
    t = onp.array([0.0, 0.5, 10.0])
    got = wd.soft_threshold(np.array(v), np.array(t)).asnumpy()
    assert onp.allclose(got, onp.sign(v) * onp.maximum(onp.abs(v) - t, 0), atol=1e-6)
    assert onp.allclose(got[:, 0], v[:, 0], atol=1e-6)  # t = 0 changes nothing
    assert onp.all(got[:, 2] == 0)  # everything below the threshold becomes exactly zero
    assert onp.all(got * v >= 0)  # never flips a sign


def test_weight_decay_step_equals_gradient_step_on_the_penalised_cost():
    rng = onp.random.default_rng(1)
    W = np.array(rng.normal(size=(4, 3)))
    target = np.array(rng.normal(size=(4, 3)))
    lam, m, lr = 3.0, 5, 0.1
    W.attach_grad()
    with autograd.record():
        data_cost = ((W - target) ** 2).sum()
    data_cost.backward()
    data_grad = W.grad.copy()
    with autograd.record():
        penalised = wd.l2_penalised_cost(((W - target) ** 2).sum(), [W], lam, m)
    penalised.backward()
    by_decay = wd.weight_decay_step(W, data_grad, lr, lam, m)
    by_gradient = W - lr * W.grad
    assert float(np.abs(by_decay - by_gradient).max()) < 1e-5
    # without data gradient the weights shrink by exactly (1 - lr * lam / m)
    assert float(np.abs(wd.weight_decay_step(W, 0 * W, lr, lam, m) - 0.94 * W).max()) < 1e-6


def test_l2_penalised_cost_value():
    W1, W2 = np.array([[1.0, 2.0]]), np.array([3.0])
    assert abs(float(wd.l2_penalised_cost(0.5, [W1, W2], 2.0, 4)) - (0.5 + 0.25 * 14)) < 1e-5


def test_breast_cancer_split_standardises_with_training_statistics_only():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    split = wd.breast_cancer_split(seed=3)
    assert split.X_train.shape == (398, 30) and split.X_test.shape == (171, 30)
    assert float(np.abs(split.X_train.mean(axis=0)).max()) < 1e-5
    assert float(np.abs(split.X_train.std(axis=0) - 1).max()) < 1e-4
    data = load_breast_cancer()
    raw_train, raw_test, _, _ = train_test_split(data.data, data.target, test_size=0.3, stratify=data.target,
                                                 random_state=3)
    expected = (raw_test - raw_train.mean(axis=0)) / raw_train.std(axis=0)
    assert onp.allclose(split.X_test.asnumpy(), expected, atol=1e-4)
    assert onp.abs(expected.mean(axis=0)).max() > 0.01  # so test statistics were not used
    with pytest.raises(ValueError, match="test_fraction"):
        wd.breast_cancer_split(test_fraction=1.5)


def test_l1_with_proximal_step_zeroes_weights_and_the_others_do_not():
    split = wd.breast_cancer_split(seed=0)
    zeros = {}
    for penalty in ("l1", "l2", "l1-subgradient"):
        W, b = wd.fit_logistic(split.X_train, split.y_train, [10.0, 100.0], penalty, steps=150)
        zeros[penalty] = (W == 0).sum(axis=0).asnumpy()
        assert wd.accuracy_per_column(W, b, split.X_test, split.y_test).min() > 0.8
    assert onp.all(zeros["l1"] > 0) and zeros["l1"][1] > zeros["l1"][0]
    assert onp.all(zeros["l2"] == 0) and onp.all(zeros["l1-subgradient"] == 0)


def test_fit_logistic_weight_decay_equals_autograd_on_the_penalised_cost():
    split = wd.breast_cancer_split(seed=1)
    X, y, lam, lr, m = split.X_train, split.y_train, 20.0, 0.3, split.X_train.shape[0]
    w, b = np.zeros((30, 1)), np.zeros((1,))
    for _ in range(30):
        w.attach_grad()
        b.attach_grad()
        with autograd.record():
            cost = wd.l2_penalised_cost(wd.logistic_loss(np.dot(X, w) + b, y).sum(), [w], lam, m)
        cost.backward()
        w, b = w - lr * w.grad, b - lr * b.grad
    W_decay, b_decay = wd.fit_logistic(X, y, [lam], "l2", steps=30, lr=lr, momentum=False)
    assert float(np.abs(W_decay - w).max()) < 1e-5 and float(np.abs(b_decay - b).max()) < 1e-5


def test_fit_logistic_rejects_bad_input():
    split = wd.breast_cancer_split(seed=0)
    with pytest.raises(ValueError, match="penalty"):
        wd.fit_logistic(split.X_train, split.y_train, [1.0], "l3", steps=1)
    with pytest.raises(ValueError, match="lambda"):
        wd.fit_logistic(split.X_train, split.y_train, [-1.0], "l2", steps=1)
    with pytest.raises(ValueError, match="rows"):
        wd.fit_logistic(split.X_train, split.y_test, [1.0], "l2", steps=1)


def test_gluon_wd_with_undecayed_bias_reproduces_the_scratch_update():
    sets, w_init = wd.high_dim_data(seed=4)
    X, y = sets["train"]
    W, b = wd.fit_linear_wd(X, y, [0.0, 20.0], w_init, steps=40)
    for k, lam in enumerate([0.0, 20.0]):
        net = wd.fit_linear_gluon(X, y, lam, w_init, steps=40)
        assert float(np.abs(net.weight.data()[0] - W[:, k]).max()) < 1e-4
        assert abs(float(net.bias.data()[0]) - float(b[k])) < 1e-5
    decayed = wd.fit_linear_gluon(X, y, 20.0, w_init, steps=40, decay_bias=True)
    assert abs(float(decayed.bias.data()[0]) - float(b[1])) > 1e-3  # decaying the bias changes it


def test_fit_linear_wd_shrinks_w_and_rejects_negative_lambda():
    sets, w_init = wd.high_dim_data(seed=5)
    W, _ = wd.fit_linear_wd(*sets["train"], [0.0, 2.0, 20.0], w_init, steps=60)
    norms = onp.sqrt((W ** 2).sum(axis=0).asnumpy())
    assert norms[0] > norms[1] > norms[2]
    with pytest.raises(ValueError, match=">= 0"):
        wd.fit_linear_wd(*sets["train"], [-0.1], w_init, steps=1)


def test_tanh_linear_threshold():
    z = wd.tanh_linear_threshold(0.05)
    assert abs(onp.tanh(z) / z - 0.95) < 1e-9
    assert wd.tanh_linear_threshold(0.01) < z  # a stricter tolerance gives a narrower region
    with pytest.raises(ValueError, match="rel_tol"):
        wd.tanh_linear_threshold(0.0)


def test_experiments_are_registered_and_hold_their_claims_on_a_short_run():
    from regbook.cli import experiments as registry

    experiments = registry()
    assert {"weight-decay", "l1-sparsity"} <= set(experiments)
    result = experiments["l1-sparsity"].run(seeds=1, progress=False, steps=120)
    rows = {(r["penalty"], r["lambda"]): r for r in result["results"]}
    assert result["l1_sparser_than_l2_at_every_lambda_and_seed"]
    for lam in wd.LAMS_LOGISTIC:
        assert rows[("l1", lam)]["zero_fraction"] > rows[("l2", lam)]["zero_fraction"] == 0
        assert 0.5 < rows[("l2", lam)]["test_acc"] <= 1
    result = experiments["weight-decay"].run(seeds=1, progress=False, steps=60)
    norms = [r["w_norm"] for r in result["results"]]
    assert len(norms) == len(wd.LAMS_LINEAR) and all(a > b for a, b in zip(norms, norms[1:]))
    assert {"train_loss", "test_loss", "w_norm"} <= set(result["results"][0])
    with pytest.raises(ValueError, match="steps"):
        experiments["weight-decay"].run(seeds=1, progress=False, steps=0)
    with pytest.raises(ValueError, match="steps"):
        experiments["l1-sparsity"].run(seeds=1, progress=False, steps=0)


def test_the_experiments_are_the_chapters_with_its_budget():
    from regbook.cli import experiments

    found = experiments()
    for name, run, steps in (("weight-decay", wd.weight_decay, 300), ("l1-sparsity", wd.l1_sparsity, 800)):
        exp = found[name]
        assert exp.run is run and exp.run.__module__ == "regbook.chapters.weight_decay"
        assert exp.seeds == 3 and exp.epochs is None  # the chapter's seeds 0, 1, 2
        assert list(exp.options) == ["steps"] and exp.options["steps"][:2] == (int, steps)


def test_the_experiment_rows_are_mean_and_std_over_the_seeds_of_its_arrays():
    result = wd.weight_decay(seeds=2, progress=False, steps=30, arrays=True)
    arrays = result.pop("arrays")
    assert json.loads(json.dumps(result)) == result
    assert set(arrays) == {"train_loss", "valid_loss", "test_loss", "w_norm"}
    assert arrays["test_loss"].shape == (2, len(wd.LAMS_LINEAR))
    chosen = arrays["valid_loss"].argmin(axis=1)
    assert result["chosen_lambda_per_seed"] == [wd.LAMS_LINEAR[k] for k in chosen]
    for k, row in enumerate(result["results"]):
        assert row["lambda"] == wd.LAMS_LINEAR[k] and row["wd"] == pytest.approx(wd.LAMS_LINEAR[k] / 20)
        for key in ("train_loss", "valid_loss", "test_loss", "w_norm"):
            values = [float(v) for v in arrays[key][:, k]]
            assert row[key] == pytest.approx(statistics.mean(values), abs=1e-6)
            assert row[f"{key}_std"] == pytest.approx(statistics.stdev(values), abs=1e-6)
        assert row["seeds_choosing_it"] == int((chosen == k).sum())
    assert "arrays" not in wd.weight_decay(seeds=1, progress=False, steps=5)

    result = wd.l1_sparsity(seeds=2, progress=False, steps=40, arrays=True)
    arrays = result.pop("arrays")
    assert json.loads(json.dumps(result)) == result
    assert [(row["penalty"], row["lambda"]) for row in result["results"]] == [
        (penalty, lam) for penalty in ("l1", "l2") for lam in wd.LAMS_LOGISTIC]
    for row in result["results"]:
        k = wd.LAMS_LOGISTIC.index(row["lambda"])
        for key in ("zero_fraction", "test_acc"):
            values = [float(v) for v in arrays[row["penalty"]][key][:, k]]
            assert row[key] == pytest.approx(statistics.mean(values), abs=1e-6)
            assert row[f"{key}_std"] == pytest.approx(statistics.stdev(values), abs=1e-6)
    sparser = bool((arrays["l1"]["zero_fraction"] > arrays["l2"]["zero_fraction"]).all())
    assert result["l1_sparser_than_l2_at_every_lambda_and_seed"] == sparser


def test_tanh_mlp_fit_trains_independent_networks_and_the_penalty_shrinks_them():
    forward, (X, y) = wd.tanh_mlp_fit([0, 1], lams=(0.0, 1.0), steps=150, progress=False)
    assert X.shape == (4, 20, 1) and y.shape == (4, 20, 1)  # seed-major: (seed 0, λ 0), (seed 0, λ 1), ...
    assert onp.array_equal(X[0].asnumpy(), X[1].asnumpy()) and not onp.array_equal(X[0].asnumpy(), X[2].asnumpy())
    result = wd.tanh_mlp_measure(forward, wd.tanh_linear_threshold(), n_seeds=2, grid_points=51)
    assert result["fits"].shape == (2, 2, 51) and result["linear_fraction"].shape == (2, 2)
    assert onp.all(result["linear_fraction"][:, 1] > result["linear_fraction"][:, 0])
    assert onp.all(result["mean_abs_z"][:, 1] < result["mean_abs_z"][:, 0])


def test_gaussian_posterior_mean_is_the_ridge_solution_with_lambda_sigma2_over_tau2():
    rng = onp.random.default_rng(5)
    X = rng.normal(size=(8, 12))  # more features than examples: least squares is not unique
    y = rng.normal(size=8)
    for sigma, tau in [(0.5, 0.3), (2.0, 1.0), (0.1, 10.0)]:
        mean, cov = wd.gaussian_posterior(X, y, sigma, tau)
        assert onp.abs(mean - wd.ridge_solution(X, y, sigma**2 / tau**2)).max() < 1e-9
        assert onp.allclose(cov, cov.T) and onp.all(onp.linalg.eigvalsh(cov) > 0)
        assert onp.all(onp.diag(cov) < tau**2)  # the data only ever narrow the prior
        # the gradient of the log posterior vanishes at the mean
        grad = X.T @ (X @ mean - y) / sigma**2 + mean / tau**2
        assert onp.abs(grad).max() < 1e-8
    narrow, _ = wd.gaussian_posterior(X, y, 1.0, 1e-3)
    assert onp.abs(narrow).max() < 1e-4  # a narrow prior pins w to 0
    with pytest.raises(ValueError):
        wd.gaussian_posterior(X, y, 0.0, 1.0)
    with pytest.raises(ValueError):
        wd.gaussian_posterior(X, y, 1.0, -1.0)
