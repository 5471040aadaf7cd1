"""Monte Carlo dropout (notebooks/mc_dropout.ipynb, exported to regbook.chapters.mc_dropout)."""

import json

import numpy
import pytest
from mxnet import autograd, init, np, npx
from mxnet.gluon import nn

from regbook import cli, runs
from regbook.chapters.mc_dropout import (
    GROUPS,
    AlwaysDropout,
    dropout_mlp,
    group_entropies,
    mc_dropout,
    mc_passes,
    mc_predict,
    noise_images,
    predictive_entropy,
    rotate_images,
    vote_share,
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
    with pytest.raises(ValueError, match=r"rate is a drop probability and must be a number in \[0, 1\), got 1\.0"):
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


def test_vote_share_counts_the_passes_that_vote_for_the_most_voted_class():
    one_hot = numpy.eye(3, dtype="float32")
    # 4 passes, 2 inputs: input 0 gets votes 0, 0, 1, 0; input 1 gets 2, 1, 0, 1
    passes = numpy.stack([one_hot[[0, 2]], one_hot[[0, 1]], one_hot[[1, 0]], one_hot[[0, 1]]])
    numpy.testing.assert_allclose(vote_share(np.array(passes)), [0.75, 0.5])
    unanimous = np.array(numpy.tile(one_hot[[2]], (5, 1, 1)))
    numpy.testing.assert_allclose(vote_share(unanimous), [1.0])


def test_mc_passes_are_the_seeded_softmax_passes_and_average_to_mc_predict():
    net, X = small_net(), np.array(numpy.random.default_rng(4).normal(size=(6, 4)).astype("float32"))
    set_seed(5)
    passes = mc_passes(net, X, 7)
    set_seed(5)
    mean, _ = mc_predict(net, X, 7, transform=npx.softmax)
    assert passes.shape == (7, 6, 3)
    numpy.testing.assert_allclose(passes.asnumpy().mean(0), mean.asnumpy(), atol=1e-6)
    numpy.testing.assert_allclose(passes.asnumpy().sum(-1), 1, atol=1e-5)


def test_group_entropies_records_the_vote_share_of_the_same_passes():
    net = small_net()
    rng = numpy.random.default_rng(6)
    X = np.array(rng.normal(size=(40, 4)).astype("float32"))
    y = np.array(rng.integers(0, 3, 40).astype("int32"))
    ood = {"far": np.array(rng.normal(size=(10, 4)).astype("float32") * 5)}
    shares = {}
    set_seed(9)
    groups = group_entropies(net, X, y, ood, num_samples=8, agreement=shares)
    assert set(shares) == set(groups)
    for name, entropy in groups.items():
        assert len(shares[name]) == len(entropy)
        assert ((shares[name] >= 1 / 3 - 1e-9) & (shares[name] <= 1)).all()
    set_seed(9)
    passes = mc_passes(net, X, 8)
    predicted = passes.mean(axis=0).argmax(axis=1).asnumpy() == y.asnumpy()
    all_shares = vote_share(passes)
    numpy.testing.assert_allclose(shares["in-dist. correct"], all_shares[predicted])
    numpy.testing.assert_allclose(shares["in-dist. wrong"], all_shares[~predicted])


def test_dropout_mlp_needs_one_rate_per_layer():
    with pytest.raises(ValueError, match="one dropout rate"):
        dropout_mlp(hidden=(8, 8), rates=(0.5,))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "0.5", True, None])
def test_always_dropout_rejects_what_is_not_a_rate_below_one(rate):
    with pytest.raises(ValueError, match=r"rate is a drop probability .* \[0, 1\)"):
        AlwaysDropout(rate)


def test_always_dropout_stores_the_rate_as_a_float():
    assert AlwaysDropout(0).rate == 0.0 and isinstance(AlwaysDropout(0).rate, float)
    assert AlwaysDropout(0.25).rate == 0.25


# --- the headline experiment: one function for the notebook and `python -m regbook reproduce` ---


def test_the_cli_runs_the_chapter_function_with_the_chapter_budget():
    exp = cli.experiments()["mc-dropout"]
    assert exp.run is mc_dropout
    assert (exp.seeds, exp.epochs) == (3, 3)  # the notebook's SEEDS and EPOCHS
    defaults = {name: default for name, (_, default, *_) in exp.options.items()}
    assert defaults == {"num_samples": 30, "test_size": 2000, "num_train": 12000}  # T_MC, X_eval, TRAIN_SIZE


def test_a_tiny_run_summarises_over_seeds_with_regbook_runs():
    kept = {}
    result = mc_dropout(seeds=2, epochs=1, num_samples=2, test_size=60, num_train=300, progress=False,
                        keep=kept)
    json.dumps(result)  # JSON-serialisable
    assert result["experiment"] == "mc-dropout" and result["seeds"] == 2 and result["num_train"] == 300
    assert [row["group"] for row in result["results"]] == list(GROUPS)
    assert len(kept["nets"]) == 2 and len(kept["entropy_mc"]) == len(kept["entropy_det"]) == 2
    assert len(kept["entropy_mc"][0]["uniform noise"]) == 30  # half as many noise images as test images
    assert len(kept["vote_share"]) == 2
    assert len(kept["vote_share"][0]["uniform noise"]) == 30
    for row in result["results"]:
        mc = [float(run[row["group"]].mean()) for run in kept["entropy_mc"]]
        off = [float(run[row["group"]].mean()) for run in kept["entropy_det"]]
        assert (row["mean_entropy"], row["std_over_seeds"]) == runs.mean_std(mc)
        assert (row["dropout_off_mean"], row["dropout_off_std"]) == runs.mean_std(off)
        votes = [float(run[row["group"]].mean()) for run in kept["vote_share"]]
        assert (row["vote_share_mean"], row["vote_share_std"]) == runs.mean_std(votes)
    assert (result["test_acc_mean"], result["test_acc_std"]) == runs.mean_std(result["test_acc_per_seed"])
    assert result["entropy_in_dist_correct"] == result["results"][0]["mean_entropy"]


def test_the_same_seed_gives_the_same_numbers():
    kwargs = dict(seeds=1, epochs=1, num_samples=2, test_size=40, num_train=200, progress=False)
    assert mc_dropout(**kwargs) == mc_dropout(**kwargs)


def test_cli_old_options_still_work(capsys):
    assert cli.main(["reproduce", "mc-dropout", "--seeds", "1", "--epochs", "1", "--num-samples", "2",
                     "--test-size", "20", "--num-train", "200", "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["seeds"], result["epochs"], result["num_samples"], result["test_size"]) == (1, 1, 2, 20)


@pytest.mark.parametrize("bad", [{"num_samples": 0}, {"test_size": 0}, {"test_size": 10001},
                                 {"num_train": 0}, {"num_train": 60001}])
def test_bad_budgets_are_rejected(bad):
    with pytest.raises(ValueError, match="--num-samples must be >= 1"):
        mc_dropout(**{"seeds": 1, "epochs": 1, "progress": False, **bad})
