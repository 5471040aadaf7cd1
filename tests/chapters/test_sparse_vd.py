"""Sparse variational dropout (notebooks/sparse_vd.ipynb, exported to regbook.chapters.sparse_vd)."""

import json

import numpy
import pytest
from mxnet import autograd, init, np

from regbook import cli, runs
from regbook.chapters.sparse_vd import (
    K1,
    K2,
    K3,
    LAYER_KEYS,
    SparseVDDense,
    SparseVDWeightTerms,
    dense_mlp,
    kl_approx,
    lrt_moments,
    sparse_from_dense,
    sparse_vd,
    sparsity,
    svd_objective,
)
from regbook.seeding import set_seed


def reference_kl(log_alpha):
    return K1 - K1 / (1 + numpy.exp(-(K2 + K3 * log_alpha))) + 0.5 * numpy.log1p(numpy.exp(-log_alpha))


def test_kl_is_monotone_decreasing_positive_and_vanishes_for_large_alpha():
    grid = numpy.linspace(-15, 15, 121)
    kl = kl_approx(np.array(grid)).asnumpy()
    assert (numpy.diff(kl) < 0).all()
    assert kl.min() > -1e-6 and kl[-1] < 1e-3 and kl[0] > 5
    numpy.testing.assert_allclose(kl, reference_kl(grid), rtol=1e-4, atol=1e-5)


def test_lrt_moments_match_explicit_weight_sampling():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(2, 5)).astype("float32")
    theta = rng.normal(size=(3, 5)).astype("float32")
    log_sigma2 = rng.uniform(-2, 0, size=(3, 5)).astype("float32")
    weights = theta + numpy.exp(0.5 * log_sigma2) * rng.normal(size=(40000, 3, 5))
    outputs = numpy.einsum("sok,bk->sbo", weights, x)
    mean, var = (a.asnumpy() for a in lrt_moments(np.array(x), np.array(theta), np.array(log_sigma2)))
    numpy.testing.assert_allclose(outputs.mean(0), mean, atol=0.03)
    numpy.testing.assert_allclose(outputs.var(0), var, rtol=0.05)


def make_layer(theta, log_sigma2, bias=None, activation=None):
    layer = SparseVDDense(theta.shape[0], theta.shape[1], activation)
    layer.initialize()
    layer.weight.set_data(np.array(theta))
    layer.log_sigma2.set_data(np.array(log_sigma2))
    if bias is not None:
        layer.bias.set_data(np.array(bias))
    return layer


def test_training_mode_samples_have_the_local_reparameterisation_moments():
    rng = numpy.random.default_rng(1)
    theta = rng.normal(size=(2, 3)).astype("float32")
    log_sigma2 = numpy.full((2, 3), -1.0, dtype="float32")
    layer = make_layer(theta, log_sigma2, bias=numpy.array([0.5, -0.5], dtype="float32"))
    x = numpy.tile(rng.normal(size=(1, 3)).astype("float32"), (20000, 1))
    set_seed(0)
    with autograd.train_mode():
        out = layer(np.array(x)).asnumpy()
    numpy.testing.assert_allclose(out.mean(0), x[0] @ theta.T + [0.5, -0.5], atol=0.03)
    numpy.testing.assert_allclose(out.var(0), (x[0] ** 2) @ numpy.exp(log_sigma2).T, rtol=0.05)


def test_prediction_mode_prunes_exactly_the_weights_above_the_threshold():
    theta = numpy.array([[1.0, 0.1, -2.0], [0.5, 1.0, 0.05]], dtype="float32")
    log_alpha = numpy.array([[0.0, 4.0, 2.9], [3.1, -5.0, 0.0]], dtype="float32")
    layer = make_layer(theta, log_alpha + numpy.log(theta**2))
    numpy.testing.assert_allclose(layer.log_alpha().asnumpy(), log_alpha, atol=1e-3)
    keep = numpy.array([[1, 0, 1], [0, 1, 1]])
    numpy.testing.assert_array_equal(layer.mask().asnumpy(), keep)
    x = numpy.array([[1.0, 2.0, 3.0]], dtype="float32")
    numpy.testing.assert_allclose(layer(np.array(x)).asnumpy(), x @ (theta * keep).T, atol=1e-5)
    assert sparsity([layer]) == pytest.approx(2 / 6)


def test_log_alpha_is_clipped():
    layer = make_layer(numpy.array([[0.0, 1.0]], dtype="float32"), numpy.array([[0.0, -30.0]], dtype="float32"))
    numpy.testing.assert_allclose(layer.log_alpha().asnumpy(), [[10.0, -10.0]])


def test_sparse_from_dense_copies_the_dense_net():
    dense = dense_mlp((6, 5, 3))
    dense.initialize(init.Uniform(1.0))
    dense(np.ones((1, 6)))
    for layer in dense:  # keep every weight far from zero so nothing starts pruned
        w = layer.weight.data()
        layer.weight.set_data(np.where(np.abs(w) < 0.1, 0.5, w))
    sparse = sparse_from_dense(dense)
    X = np.array(numpy.random.default_rng(3).normal(size=(4, 6)).astype("float32"))
    numpy.testing.assert_allclose(sparse(X).asnumpy(), dense(X).asnumpy(), atol=1e-5)
    assert sparsity(sparse) == 0


def test_objective_pushes_log_sigma2_up_through_the_kl():
    layer = make_layer(numpy.ones((2, 3), dtype="float32"), numpy.full((2, 3), -10.0, dtype="float32"))
    layer.log_sigma2.grad()[:] = 0
    net = [layer]

    class Seq(list):
        def __call__(self, x):
            return self[0](x)

    with autograd.record():
        objective, _, kl = svd_objective(Seq(net), np.ones((4, 3)), np.array([0, 1, 0, 1]), num_train=1)
    objective.backward()
    assert float(kl) > 0 and (layer.log_sigma2.grad().asnumpy() < 0).all()


def test_invalid_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        SparseVDDense(2, 3, activation="tanh")


def test_hand_written_weight_terms_match_autograd():
    rng = numpy.random.default_rng(5)
    weight = np.array(rng.normal(0, 0.3, size=(7, 9)).astype("float32"))
    log_sigma2 = np.array(rng.uniform(-14, 2, size=(7, 9)).astype("float32"))  # some log alphas clipped
    coef = np.array(rng.normal(size=(7, 9)).astype("float32"))
    results = []
    for hand_written in (True, False):
        weight.attach_grad()
        log_sigma2.attach_grad()
        with autograd.record():
            if hand_written:
                sigma2, kl = SparseVDWeightTerms()(weight, log_sigma2)
            else:
                log_alpha = np.clip(log_sigma2 - np.log(weight * weight + 1e-8), -10, 10)
                sigma2, kl = np.exp(log_sigma2), kl_approx(log_alpha).sum()
            total = (coef * sigma2).sum() - 1.3 * kl
        total.backward()
        results.append((sigma2.asnumpy(), float(kl), weight.grad.asnumpy(), log_sigma2.grad.asnumpy()))
    (s_hand, kl_hand, dw_hand, ds_hand), (s_auto, kl_auto, dw_auto, ds_auto) = results
    numpy.testing.assert_allclose(s_hand, s_auto, rtol=1e-5)
    assert kl_hand == pytest.approx(kl_auto, rel=1e-5)
    numpy.testing.assert_allclose(dw_hand, dw_auto, rtol=1e-3, atol=1e-4)
    numpy.testing.assert_allclose(ds_hand, ds_auto, rtol=1e-3, atol=1e-5)


def test_training_forward_stores_the_layer_kl():
    rng = numpy.random.default_rng(2)
    layer = make_layer(rng.normal(size=(4, 6)).astype("float32"), rng.uniform(-6, 0, size=(4, 6)).astype("float32"))
    with autograd.record():
        layer(np.ones((3, 6)))
    assert float(layer.last_kl) == pytest.approx(float(layer.kl()), rel=1e-5)


# --- the headline experiment: one function for the notebook and `python -m regbook reproduce` ---


def test_the_cli_runs_the_chapter_function_with_the_chapter_budget():
    exp = cli.experiments()["sparse-vd"]
    assert exp.run is sparse_vd
    assert (exp.seeds, exp.epochs) == (3, 3)  # the notebook's SEEDS and SVD_EPOCHS
    defaults = {name: default for name, (_, default, *_) in exp.options.items()}
    assert defaults == {"dense_epochs": 4, "num_train": 20000}  # DENSE_EPOCHS, NUM_TRAIN


def test_a_tiny_run_reports_every_seed_and_the_mean_and_std_from_regbook_runs():
    kept = {}
    result = sparse_vd(seeds=2, epochs=1, dense_epochs=1, num_train=256, progress=False, keep=kept)
    json.dumps(result)  # JSON-serialisable
    assert (result["seeds"], result["epochs"], result["dense_epochs"], result["num_train"]) == (2, 1, 1, 256)
    rows = result["results"]
    assert [row["seed"] for row in rows] == [0, 1] and len(kept["nets"]) == len(kept["curves"]) == 2
    for key in ("pruned_fraction", "test_acc_dense", "test_acc_unpruned", "test_acc_sparse", *LAYER_KEYS):
        assert (result[key], result[key + "_std"]) == runs.mean_std([row[key] for row in rows])
    for row, net in zip(rows, kept["nets"].values(), strict=True):
        assert row["pruned_fraction"] == sparsity(net)
        assert row["drop_points"] == 100 * (row["test_acc_dense"] - row["test_acc_sparse"])
        assert all(0 <= row[key] <= 1 for key in LAYER_KEYS)
    assert result["drop_points_mean"] == runs.mean_std([row["drop_points"] for row in rows])[0]
    assert LAYER_KEYS == ("pruned_784_300", "pruned_300_100", "pruned_100_10")


def test_cli_old_options_still_work(capsys):
    assert cli.main(["reproduce", "sparse-vd", "--seeds", "1", "--epochs", "1", "--dense-epochs", "1",
                     "--num-train", "128", "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["seeds"], result["epochs"], result["dense_epochs"], result["num_train"]) == (1, 1, 1, 128)
    assert len(result["results"]) == 1


@pytest.mark.parametrize("bad", [{"num_train": 0}, {"num_train": 60001}, {"dense_epochs": 0}])
def test_bad_budgets_are_rejected(bad):
    with pytest.raises(ValueError, match="--num-train must be between 1 and 60000"):
        sparse_vd(**{"seeds": 1, "epochs": 1, "progress": False, **bad})
