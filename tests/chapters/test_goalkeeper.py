"""The goalkeeper chapter (regbook.chapters.goalkeeper): the NumPy network with L2 and dropout, its table
and its experiment (``python -m regbook reproduce goalkeeper``, alias ``football``).

The dataset and its .mat loader (regbook.data.load_football) are tested in tests/library/test_data_football.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
import tempfile
from pathlib import Path

import numpy
import pytest

from regbook import data as regbook_data
from regbook.chapters import goalkeeper


@pytest.fixture(scope="module")
def data():
    return regbook_data.load_football()


@pytest.fixture(scope="module")
def trained(data):
    """Parameters after 300 iterations (so gradients are checked away from the initial point too)."""
    return goalkeeper.model(data[0], data[1], num_iterations=300, seed=4)


def _write_mat(path, m=30, m_val=20, seed=0):
    import scipy.io

    rng = numpy.random.default_rng(seed)
    scipy.io.savemat(path, {"X": rng.normal(size=(m, 2)), "y": rng.integers(0, 2, size=(m, 1)).astype(numpy.uint8),
                            "Xval": rng.normal(size=(m_val, 2)), "yval": rng.integers(0, 2, size=(m_val, 1))})


# --- the network ---------------------------------------------------------------------------------

def test_initialize_parameters_is_the_courses():
    parameters = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=3)
    assert [parameters[k].shape for k in ("W1", "b1", "W2", "b2", "W3", "b3")] == [
        (20, 2), (20, 1), (3, 20), (3, 1), (1, 3), (1, 1)]
    assert all(not parameters[f"b{layer}"].any() for layer in (1, 2, 3))
    assert parameters["W1"][0, 0] == pytest.approx(1.78862847 / numpy.sqrt(2))  # np.random.seed(3); randn()
    again = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=3)
    other = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=4)
    assert numpy.array_equal(parameters["W2"], again["W2"]) and not numpy.allclose(parameters["W2"], other["W2"])
    assert goalkeeper.initialize_parameters([2, 400, 1], seed=0)["W1"].std() == pytest.approx(1 / 2 ** 0.5, rel=0.1)


@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.86), (0.7, 0.86)])
@pytest.mark.parametrize("at", ["initial", "trained"])
def test_gradient_check(data, trained, lambd, keep_prob, at):
    X, Y = data[0], data[1]
    parameters = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=3) if at == "initial" else trained
    masks = None
    if keep_prob < 1:
        _, cache = goalkeeper.forward_propagation(X, parameters, keep_prob, numpy.random.default_rng(0))
        masks = cache["masks"]
    assert goalkeeper.gradient_check(X, Y, parameters, lambd=lambd, masks=masks) < 1e-7


def test_gradient_check_detects_a_wrong_gradient(data, monkeypatch):
    X, Y = data[0], data[1]
    parameters = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=3)
    right = goalkeeper.backward_propagation
    monkeypatch.setattr(goalkeeper, "backward_propagation",
                        lambda Y, parameters, cache, lambd=0.0: right(Y, parameters, cache, 0.0))
    assert goalkeeper.gradient_check(X, Y, parameters, lambd=0.7) > 1e-3  # forgot the L2 term
    monkeypatch.setattr(goalkeeper, "backward_propagation", right)
    _, cache = goalkeeper.forward_propagation(X, parameters, 0.5, numpy.random.default_rng(1))
    backward_no_masks = dict(cache, masks=None)
    grads = right(Y, parameters, backward_no_masks)
    grads_masked = right(Y, parameters, cache)
    assert not numpy.allclose(grads["dW1"], grads_masked["dW1"])


def test_l2_penalty_value_and_gradient():
    parameters = {"W1": numpy.array([[1.0, -2.0]]), "b1": numpy.array([[5.0]]), "W2": numpy.array([[3.0]]),
                  "b2": numpy.array([[7.0]])}
    cost, grads = goalkeeper.l2_penalty(parameters, lambd=0.5, m=10)
    assert cost == pytest.approx(0.5 / 20 * (1 + 4 + 9))  # biases are not penalised
    numpy.testing.assert_allclose(grads["dW1"], [[0.05, -0.1]])
    assert set(grads) == {"dW1", "dW2"}


def test_dropout_mask_keeps_the_expectation():
    rng = numpy.random.default_rng(0)
    mask = goalkeeper.dropout_mask((200, 500), 0.8, rng)
    assert set(numpy.unique(mask)) == {0.0, 1 / 0.8}
    assert mask.mean() == pytest.approx(1.0, abs=0.01)
    assert (mask > 0).mean() == pytest.approx(0.8, abs=0.01)
    assert not numpy.array_equal(mask, goalkeeper.dropout_mask((200, 500), 0.8, rng))  # fresh draws
    assert numpy.all(goalkeeper.dropout_mask((3, 4), 1.0, rng) == 1)


def test_dropout_only_at_training_time(data):
    X = data[0]
    parameters = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=3)
    plain, _ = goalkeeper.forward_propagation(X, parameters)
    dropped, cache = goalkeeper.forward_propagation(X, parameters, 0.5, numpy.random.default_rng(0))
    assert cache["masks"] is not None and not numpy.allclose(plain, dropped)
    trained_with_dropout = goalkeeper.model(X, data[1], num_iterations=20, keep_prob=0.5, seed=3)
    first = goalkeeper.predict(X, trained_with_dropout)
    assert numpy.array_equal(first, goalkeeper.predict(X, trained_with_dropout))  # deterministic
    assert first.shape == (1, X.shape[1]) and set(numpy.unique(first)) <= {0, 1}


def test_keep_prob_per_hidden_layer(data):
    """keep_prob=(0.86, 1.0) drops units of the first hidden layer only, with the masks of keep_prob=0.86 there."""
    X, Y = data[0], data[1]
    parameters = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=3)
    both = goalkeeper.forward_propagation(X, parameters, 0.86, numpy.random.default_rng(0))[1]["masks"]
    first = goalkeeper.forward_propagation(X, parameters, (0.86, 1.0), numpy.random.default_rng(0))[1]["masks"]
    assert numpy.array_equal(both[0], first[0]) and (first[0] == 0).any()
    assert numpy.all(first[1] == 1.0) and not numpy.all(both[1] == 1.0)
    plain, cache = goalkeeper.forward_propagation(X, parameters, (1.0, 1.0))  # no dropout: no generator needed
    assert cache["masks"] is None
    numpy.testing.assert_array_equal(plain, goalkeeper.forward_propagation(X, parameters)[0])
    with pytest.raises(ValueError, match="one per hidden layer"):
        goalkeeper.forward_propagation(X, parameters, (0.86, 0.5, 1.0), numpy.random.default_rng(0))
    with pytest.raises(ValueError, match="keep_prob must be in"):
        goalkeeper.model(X, Y, keep_prob=(0.86, 0.0))
    kwargs = {"num_iterations": 30, "seed": [3, 4]}
    only_first = goalkeeper.model(X, Y, keep_prob=(0.86, 1.0), **kwargs)
    assert not numpy.allclose(only_first[0]["W2"], goalkeeper.model(X, Y, keep_prob=0.86, **kwargs)[0]["W2"])
    alone = goalkeeper.model(X, Y, keep_prob=(0.86, 1.0), num_iterations=30, seed=4)
    for name in alone:  # a stack draws the same masks as a separate run, per layer too
        numpy.testing.assert_allclose(only_first[1][name], alone[name], rtol=0, atol=1e-12)


def test_fresh_masks_unless_reseeded(data):
    X, Y = data[0], data[1]
    kwargs = {"num_iterations": 50, "keep_prob": 0.86, "seed": 3}
    fresh = goalkeeper.model(X, Y, **kwargs)
    again = goalkeeper.model(X, Y, **kwargs)
    reseeded = goalkeeper.model(X, Y, reseed_every_iteration=True, **kwargs)
    assert numpy.array_equal(fresh["W1"], again["W1"])  # reproducible
    assert not numpy.allclose(fresh["W1"], reseeded["W1"])
    parameters = goalkeeper.initialize_parameters([2, 20, 3, 1], seed=3)
    rng = numpy.random.default_rng(1)
    first = goalkeeper.forward_propagation(X, parameters, 0.86, rng)[1]["masks"]
    second = goalkeeper.forward_propagation(X, parameters, 0.86, rng)[1]["masks"]
    assert 0.15 < (first[0] != second[0]).mean() < 0.35  # 2 p (1 - p) = 0.24 of the entries change


def test_model_learns_and_records_costs(data):
    X, Y = data[0], data[1]
    parameters, costs = goalkeeper.model(X, Y, num_iterations=2000, return_costs=True, record_every=500)
    assert len(costs) == 4 and costs[-1] < costs[0] - 0.2
    assert goalkeeper.accuracy(X, Y, parameters) > 0.85


def test_model_prints_the_cost(data, capsys):
    goalkeeper.model(data[0], data[1], num_iterations=1, print_cost=True)
    assert re.fullmatch(r"cost after iteration 0: \d\.\d{4}\n", capsys.readouterr().out)


@pytest.mark.parametrize("kwargs, message", [
    ({"keep_prob": 0.0}, "keep_prob must be in"),
    ({"keep_prob": 1.5}, "keep_prob must be in"),
    ({"lambd": -0.1}, "lambd must be >= 0"),
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"num_iterations": 0}, "num_iterations must be a whole number"),
    ({"num_iterations": 2.5}, "num_iterations must be a whole number"),
    ({"record_every": 0}, "record_every must be a whole number"),
])
def test_model_rejects_bad_arguments(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        goalkeeper.model(data[0], data[1], **kwargs)


def test_bad_shapes_and_labels_are_rejected(data):
    X, Y = data[0], data[1]
    with pytest.raises(ValueError, match="transpose"):
        goalkeeper.model(X.T, Y.T)
    with pytest.raises(ValueError, match="same m"):
        goalkeeper.accuracy(X[:, :10], Y, goalkeeper.initialize_parameters([2, 20, 3, 1]))
    with pytest.raises(ValueError, match="0/1 labels"):
        goalkeeper.model(X, Y * 2)
    with pytest.raises(ValueError, match="layer_dims"):
        goalkeeper.initialize_parameters([2])
    with pytest.raises(ValueError, match="keep_prob must be in"):
        goalkeeper.dropout_mask((2, 2), 0.0, numpy.random.default_rng(0))
    with pytest.raises(ValueError, match="needs a generator"):
        goalkeeper.forward_propagation(X, goalkeeper.initialize_parameters([2, 20, 3, 1]), keep_prob=0.5)
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        goalkeeper.l2_penalty(goalkeeper.initialize_parameters([2, 3, 1]), -1.0, 10)


# --- the chapter's claim ---------------------------------------------------------------------------

GAP_ITERATIONS = 20000  # the gaps separate from 20 000 iterations on (the chapter trains 30 000)


@pytest.fixture(scope="module")
def comparison(data):
    """The four settings x seeds 3, 4, 5 on the book's data, as ``summarize`` returns them.

    Training takes a while, so the result is cached in the temp directory under a key made of the
    network's code, the data and the settings: any change to them recomputes it.
    """
    key = hashlib.sha256()
    for path in (Path(goalkeeper.__file__), regbook_data.FOOTBALL_DIR / "train.csv",
                 regbook_data.FOOTBALL_DIR / "test.csv"):
        key.update(path.read_bytes())
    key.update(repr((goalkeeper.SETTINGS, GAP_ITERATIONS)).encode())
    cache = Path(tempfile.gettempdir()) / "regbook-test-cache" / f"goalkeeper-{key.hexdigest()[:16]}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    rows = goalkeeper.run_settings(data, seeds=(3, 4, 5), progress=False, num_iterations=GAP_ITERATIONS)
    table = goalkeeper.summarize(rows)
    cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(table))
    temporary.replace(cache)
    return table


def test_regularization_shrinks_the_train_test_gap(comparison):
    none = comparison["none"]
    assert none["gap"] > 0.05
    for name in ("l2", "dropout", "l2+dropout"):
        assert comparison[name]["gap"] < none["gap"] - 0.01, name
        assert comparison[name]["train_acc"] < none["train_acc"], name


def test_reproduce_cli_prints_json(tmp_path, capsys):
    from regbook.cli import main

    path = tmp_path / "data.mat"
    _write_mat(path, m=40, m_val=30)
    assert main(["reproduce", "football", "--data", str(path), "--iterations", "20", "--json"]) == 0  # old name
    result = json.loads(capsys.readouterr().out)
    rows = {row["setting"]: row for row in result["results"]}
    assert list(rows) == ["none", "l2", "dropout", "l2+dropout"]
    for row in rows.values():
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1 and row["seeds"] == 3
    assert rows["l2"]["lambd"] == 0.7 and rows["dropout"]["keep_prob"] == 0.86
    assert result["experiment"] == "goalkeeper" and result["iterations"] == 20 and result["data"] == str(path)
    record = tmp_path / "runs.json"
    assert main(["reproduce", "goalkeeper", "--data", str(path), "--iterations", "20", "--json",
                 "--record", str(record)]) == 0
    assert json.loads(capsys.readouterr().out) == result
    recorded = json.loads(record.read_text())
    assert {key: value for key, value in recorded.items() if key != "runs"} == result
    assert [(run["setting"], run["seed"]) for run in recorded["runs"]] == [
        (name, seed) for name in rows for seed in (3, 4, 5)]


def test_the_experiment_is_registered_with_the_chapters_budget():
    from regbook import cli

    found = cli.experiments()
    exp = found["goalkeeper"]
    assert found["football"] is exp and exp.aliases == ("football",)
    assert exp.run is goalkeeper.goalkeeper and exp.run.__module__ == "regbook.chapters.goalkeeper"
    assert exp.seeds is None and exp.epochs is None  # seeds 3, 4, 5 and iterations, as before
    assert exp.options["iterations"][:2] == (int, 30000) and exp.options["data"][:2] == (str, None)
    assert goalkeeper.SEEDS == (3, 4, 5)


def test_the_chapters_runs_give_the_table_the_cli_trains_afresh(data):
    """The chapter trains its settings in two calls and passes its runs; the CLI trains them in one."""
    iterations, settings = 300, goalkeeper.SETTINGS
    pieces = (goalkeeper.run_settings(data, {name: settings[name] for name in ("none", "l2")}, progress=False,
                                      num_iterations=iterations)
              + goalkeeper.run_settings(data, {name: settings[name] for name in ("dropout", "l2+dropout")},
                                        progress=False, num_iterations=iterations))
    given = goalkeeper.goalkeeper(iterations=iterations, rows=pieces)
    assert given == goalkeeper.goalkeeper(progress=False, iterations=iterations)
    assert json.loads(json.dumps(given)) == given
    with pytest.raises(ValueError, match="one run per setting"):
        goalkeeper.goalkeeper(iterations=iterations, rows=pieces[:9])
    with pytest.raises(ValueError, match="trained for 1000 iterations"):
        goalkeeper.goalkeeper(iterations=1000, rows=pieces)


def test_summarize_gives_mean_and_sample_std_over_seeds():
    accuracies = {"a": [(0.9, 0.8), (0.95, 0.82), (1.0, 0.9)], "b": [(0.7, 0.6)]}
    rows = [{"setting": name, "seed": seed, "train_acc": train, "test_acc": test}
            for name, runs in accuracies.items() for seed, (train, test) in enumerate(runs)]
    table = goalkeeper.summarize(rows)
    assert list(table) == ["a", "b"] and table["a"]["seeds"] == 3 and table["b"]["seeds"] == 1
    for name, runs in accuracies.items():
        for key, values in (("train_acc", [t for t, _ in runs]), ("test_acc", [s for _, s in runs]),
                            ("gap", [t - s for t, s in runs])):
            assert table[name][key] == pytest.approx(statistics.mean(values), abs=1e-15)
            expected_std = statistics.stdev(values) if len(values) > 1 else 0.0
            assert table[name][f"{key}_std"] == pytest.approx(expected_std, abs=1e-15)
            assert type(table[name][key]) is float and type(table[name][f"{key}_std"]) is float


def test_a_stack_trains_the_same_networks_as_separate_runs(data):
    X, Y = data[0], data[1]
    kwargs = {"num_iterations": 60, "keep_prob": 0.86}
    stacked, costs = goalkeeper.model(X, Y, seed=[3, 4], lambd=[0.0, 0.7], return_costs=True, record_every=20,
                                      **kwargs)
    assert costs.shape == (2, 3)
    for k, (seed, lambd) in enumerate(((3, 0.0), (4, 0.7))):
        alone, alone_costs = goalkeeper.model(X, Y, seed=seed, lambd=lambd, return_costs=True, record_every=20,
                                              **kwargs)
        for name in alone:
            numpy.testing.assert_allclose(stacked[k][name], alone[name], rtol=0, atol=1e-12)
        numpy.testing.assert_allclose(costs[k], alone_costs, rtol=1e-12)
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        goalkeeper.model(X, Y, seed=[3, 4], lambd=[0.1, -0.1], num_iterations=1)


def test_run_settings_snapshots_are_the_shorter_runs(data):
    settings = {"a": {"lambd": 0.0}, "b": {"lambd": 0.7}}
    rows = goalkeeper.run_settings(data, settings, seeds=(3, 4, 5), progress=False, num_iterations=40,
                                   snapshot_at=(20,))
    assert [(row["setting"], row["seed"]) for row in rows] == [(n, s) for n in "ab" for s in (3, 4, 5)]
    early = goalkeeper.rows_at(rows, 20, data, record_every=10)
    short = goalkeeper.model(data[0], data[1], num_iterations=20, lambd=0.7, seed=4)
    for name in short:
        numpy.testing.assert_array_equal(early[4]["parameters"][name], short[name])
    assert early[4]["test_acc"] == goalkeeper.accuracy(data[2], data[3], short)
