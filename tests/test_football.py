"""The goalkeeper chapter: its dataset, its .mat loader, and the NumPy network with L2 and dropout."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import tempfile
from pathlib import Path

import numpy
import pytest

from regbook import football
from regbook.nb import goalkeeper


@pytest.fixture(scope="module")
def data():
    return football.load_football()


@pytest.fixture(scope="module")
def trained(data):
    """Parameters after 300 iterations (so gradients are checked away from the initial point too)."""
    return football.model(data[0], data[1], num_iterations=300, seed=4)


# --- the dataset ---------------------------------------------------------------------------------

def test_book_dataset_shapes_and_labels(data):
    train_X, train_Y, test_X, test_Y = data
    assert train_X.shape == (2, 200) and train_Y.shape == (1, 200)
    assert test_X.shape == (2, 200) and test_Y.shape == (1, 200)
    for Y in (train_Y, test_Y):
        assert set(numpy.unique(Y)) == {0, 1}
        assert 0.3 < Y.mean() < 0.7
    assert numpy.all(numpy.abs(train_X[0] + 0.2) <= 0.6) and numpy.all(numpy.abs(train_X[1]) <= 0.6)


def test_dataset_files_match_their_checksums_and_script(data):
    readme = (football.DATA_DIR / "README.md").read_text(encoding="utf-8")
    for name in ("train.csv", "test.csv"):
        digest = hashlib.sha256((football.DATA_DIR / name).read_bytes()).hexdigest()
        assert re.search(rf"{digest}\s+{name}", readme), f"README.md does not list the SHA-256 of {name}"
    spec = importlib.util.spec_from_file_location("make_dataset", football.DATA_DIR / "make_dataset.py")
    make_dataset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_dataset)
    rng = numpy.random.default_rng(make_dataset.SEED)
    for X, Y, n in ((data[0], data[1], make_dataset.N_TRAIN), (data[2], data[3], make_dataset.N_TEST)):
        points, labels = make_dataset.sample(n, rng)
        numpy.testing.assert_array_equal(points.T, X)
        numpy.testing.assert_array_equal(labels[None, :], Y)


def _write_mat(path, m=30, m_val=20, seed=0, **override):
    import scipy.io

    rng = numpy.random.default_rng(seed)
    content = {"X": rng.normal(size=(m, 2)), "y": rng.integers(0, 2, size=(m, 1)).astype(numpy.uint8),
               "Xval": rng.normal(size=(m_val, 2)), "yval": rng.integers(0, 2, size=(m_val, 1))}
    content.update(override)
    content = {key: value for key, value in content.items() if value is not None}
    scipy.io.savemat(path, content)
    return content


def test_load_football_round_trips_a_mat_file(tmp_path):
    path = tmp_path / "data.mat"
    content = _write_mat(path)
    train_X, train_Y, test_X, test_Y = football.load_football(path)
    assert train_X.shape == (2, 30) and train_Y.shape == (1, 30)
    assert test_X.shape == (2, 20) and test_Y.shape == (1, 20)
    numpy.testing.assert_array_equal(train_X, content["X"].T)
    numpy.testing.assert_array_equal(train_Y, content["y"].T)
    numpy.testing.assert_array_equal(test_X, content["Xval"].T)
    numpy.testing.assert_array_equal(test_Y, content["yval"].T)
    assert train_Y.dtype.kind == "i"  # uint8 labels would wrap around in A - Y
    football.load_football(str(path))  # a str works too


@pytest.mark.parametrize("override, message", [
    ({"yval": None}, "missing yval"),
    ({"X": None, "y": None}, "missing X, y"),
    ({"X": numpy.zeros((30, 3))}, r"X must be \(m, 2\)"),
    ({"y": numpy.zeros((29, 1))}, "y must hold one label per row of X"),
    ({"yval": numpy.zeros((20, 2))}, "yval must hold one label per row"),
    ({"y": numpy.full((30, 1), 2)}, "only 0/1 labels"),
    ({"Xval": numpy.full((20, 2), numpy.nan)}, "must be finite"),
])
def test_bad_mat_files_give_clear_errors(tmp_path, override, message):
    path = tmp_path / "bad.mat"
    _write_mat(path, **override)
    with pytest.raises(ValueError, match=message):
        football.load_football(path)


def test_wrong_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        football.load_football(tmp_path / "absent.mat")
    (tmp_path / "data.csv").write_text("x1,x2,label\n")
    with pytest.raises(ValueError, match="expected a MATLAB .mat file"):
        football.load_football(tmp_path / "data.csv")
    (tmp_path / "junk.mat").write_bytes(b"not a matlab file at all" * 10)
    with pytest.raises(ValueError, match="cannot read it as a MATLAB .mat file"):
        football.load_football(tmp_path / "junk.mat")


# --- the network ---------------------------------------------------------------------------------

def test_initialize_parameters_is_the_courses():
    parameters = football.initialize_parameters([2, 20, 3, 1], seed=3)
    assert [parameters[k].shape for k in ("W1", "b1", "W2", "b2", "W3", "b3")] == [
        (20, 2), (20, 1), (3, 20), (3, 1), (1, 3), (1, 1)]
    assert all(not parameters[f"b{layer}"].any() for layer in (1, 2, 3))
    assert parameters["W1"][0, 0] == pytest.approx(1.78862847 / numpy.sqrt(2))  # np.random.seed(3); randn()
    again = football.initialize_parameters([2, 20, 3, 1], seed=3)
    other = football.initialize_parameters([2, 20, 3, 1], seed=4)
    assert numpy.array_equal(parameters["W2"], again["W2"]) and not numpy.allclose(parameters["W2"], other["W2"])
    assert football.initialize_parameters([2, 400, 1], seed=0)["W1"].std() == pytest.approx(1 / 2 ** 0.5, rel=0.1)


@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.86), (0.7, 0.86)])
@pytest.mark.parametrize("at", ["initial", "trained"])
def test_gradient_check(data, trained, lambd, keep_prob, at):
    X, Y = data[0], data[1]
    parameters = football.initialize_parameters([2, 20, 3, 1], seed=3) if at == "initial" else trained
    masks = None
    if keep_prob < 1:
        _, cache = football.forward_propagation(X, parameters, keep_prob, numpy.random.default_rng(0))
        masks = cache["masks"]
    assert football.gradient_check(X, Y, parameters, lambd=lambd, masks=masks) < 1e-7


def test_gradient_check_detects_a_wrong_gradient(data, monkeypatch):
    X, Y = data[0], data[1]
    parameters = football.initialize_parameters([2, 20, 3, 1], seed=3)
    right = goalkeeper.backward_propagation
    monkeypatch.setattr(goalkeeper, "backward_propagation",
                        lambda Y, parameters, cache, lambd=0.0: right(Y, parameters, cache, 0.0))
    assert goalkeeper.gradient_check(X, Y, parameters, lambd=0.7) > 1e-3  # forgot the L2 term
    monkeypatch.setattr(goalkeeper, "backward_propagation", right)
    _, cache = football.forward_propagation(X, parameters, 0.5, numpy.random.default_rng(1))
    backward_no_masks = dict(cache, masks=None)
    grads = right(Y, parameters, backward_no_masks)
    grads_masked = right(Y, parameters, cache)
    assert not numpy.allclose(grads["dW1"], grads_masked["dW1"])


def test_l2_penalty_value_and_gradient():
    parameters = {"W1": numpy.array([[1.0, -2.0]]), "b1": numpy.array([[5.0]]), "W2": numpy.array([[3.0]]),
                  "b2": numpy.array([[7.0]])}
    cost, grads = football.l2_penalty(parameters, lambd=0.5, m=10)
    assert cost == pytest.approx(0.5 / 20 * (1 + 4 + 9))  # biases are not penalised
    numpy.testing.assert_allclose(grads["dW1"], [[0.05, -0.1]])
    assert set(grads) == {"dW1", "dW2"}


def test_dropout_mask_keeps_the_expectation():
    rng = numpy.random.default_rng(0)
    mask = football.dropout_mask((200, 500), 0.8, rng)
    assert set(numpy.unique(mask)) == {0.0, 1 / 0.8}
    assert mask.mean() == pytest.approx(1.0, abs=0.01)
    assert (mask > 0).mean() == pytest.approx(0.8, abs=0.01)
    assert not numpy.array_equal(mask, football.dropout_mask((200, 500), 0.8, rng))  # fresh draws
    assert numpy.all(football.dropout_mask((3, 4), 1.0, rng) == 1)


def test_dropout_only_at_training_time(data):
    X = data[0]
    parameters = football.initialize_parameters([2, 20, 3, 1], seed=3)
    plain, _ = football.forward_propagation(X, parameters)
    dropped, cache = football.forward_propagation(X, parameters, 0.5, numpy.random.default_rng(0))
    assert cache["masks"] is not None and not numpy.allclose(plain, dropped)
    trained_with_dropout = football.model(X, data[1], num_iterations=20, keep_prob=0.5, seed=3)
    first = football.predict(X, trained_with_dropout)
    assert numpy.array_equal(first, football.predict(X, trained_with_dropout))  # deterministic
    assert first.shape == (1, X.shape[1]) and set(numpy.unique(first)) <= {0, 1}


def test_fresh_masks_unless_reseeded(data):
    X, Y = data[0], data[1]
    kwargs = {"num_iterations": 50, "keep_prob": 0.86, "seed": 3}
    fresh = football.model(X, Y, **kwargs)
    again = football.model(X, Y, **kwargs)
    reseeded = football.model(X, Y, reseed_every_iteration=True, **kwargs)
    assert numpy.array_equal(fresh["W1"], again["W1"])  # reproducible
    assert not numpy.allclose(fresh["W1"], reseeded["W1"])
    parameters = football.initialize_parameters([2, 20, 3, 1], seed=3)
    rng = numpy.random.default_rng(1)
    first = football.forward_propagation(X, parameters, 0.86, rng)[1]["masks"]
    second = football.forward_propagation(X, parameters, 0.86, rng)[1]["masks"]
    assert 0.15 < (first[0] != second[0]).mean() < 0.35  # 2 p (1 - p) = 0.24 of the entries change


def test_model_learns_and_records_costs(data):
    X, Y = data[0], data[1]
    parameters, costs = football.model(X, Y, num_iterations=2000, return_costs=True, record_every=500)
    assert len(costs) == 4 and costs[-1] < costs[0] - 0.2
    assert football.accuracy(X, Y, parameters) > 0.85


def test_model_prints_the_cost(data, capsys):
    football.model(data[0], data[1], num_iterations=1, print_cost=True)
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
        football.model(data[0], data[1], **kwargs)


def test_bad_shapes_and_labels_are_rejected(data):
    X, Y = data[0], data[1]
    with pytest.raises(ValueError, match="transpose"):
        football.model(X.T, Y.T)
    with pytest.raises(ValueError, match="same m"):
        football.accuracy(X[:, :10], Y, football.initialize_parameters([2, 20, 3, 1]))
    with pytest.raises(ValueError, match="0/1 labels"):
        football.model(X, Y * 2)
    with pytest.raises(ValueError, match="layer_dims"):
        football.initialize_parameters([2])
    with pytest.raises(ValueError, match="keep_prob must be in"):
        football.dropout_mask((2, 2), 0.0, numpy.random.default_rng(0))
    with pytest.raises(ValueError, match="needs a generator"):
        football.forward_propagation(X, football.initialize_parameters([2, 20, 3, 1]), keep_prob=0.5)
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        football.l2_penalty(football.initialize_parameters([2, 3, 1]), -1.0, 10)


# --- the chapter's claim ---------------------------------------------------------------------------

GAP_ITERATIONS = 20000  # the gaps separate from 20 000 iterations on (the chapter trains 30 000)


@pytest.fixture(scope="module")
def comparison(data):
    """The four settings x seeds 3, 4, 5 on the book's data, as ``summarize`` returns them.

    Training takes a while, so the result is cached in the temp directory under a key made of the
    network's code, the data and the settings: any change to them recomputes it.
    """
    key = hashlib.sha256()
    for path in (Path(goalkeeper.__file__), football.DATA_DIR / "train.csv", football.DATA_DIR / "test.csv"):
        key.update(path.read_bytes())
    key.update(repr((football.SETTINGS, GAP_ITERATIONS)).encode())
    cache = Path(tempfile.gettempdir()) / "regbook-test-cache" / f"football-{key.hexdigest()[:16]}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    rows = football.run_settings(data, seeds=(3, 4, 5), progress=False, num_iterations=GAP_ITERATIONS)
    table = football.summarize(rows)
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
    assert main(["reproduce", "football", "--data", str(path), "--iterations", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {row["setting"]: row for row in result["results"]}
    assert list(rows) == ["none", "l2", "dropout", "l2+dropout"]
    for row in rows.values():
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1 and row["seeds"] == 3
    assert rows["l2"]["lambd"] == 0.7 and rows["dropout"]["keep_prob"] == 0.86


def test_a_stack_trains_the_same_networks_as_separate_runs(data):
    X, Y = data[0], data[1]
    kwargs = {"num_iterations": 60, "keep_prob": 0.86}
    stacked, costs = football.model(X, Y, seed=[3, 4], lambd=[0.0, 0.7], return_costs=True, record_every=20, **kwargs)
    assert costs.shape == (2, 3)
    for k, (seed, lambd) in enumerate(((3, 0.0), (4, 0.7))):
        alone, alone_costs = football.model(X, Y, seed=seed, lambd=lambd, return_costs=True, record_every=20, **kwargs)
        for name in alone:
            numpy.testing.assert_allclose(stacked[k][name], alone[name], rtol=0, atol=1e-12)
        numpy.testing.assert_allclose(costs[k], alone_costs, rtol=1e-12)
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        football.model(X, Y, seed=[3, 4], lambd=[0.1, -0.1], num_iterations=1)


def test_run_settings_snapshots_are_the_shorter_runs(data):
    settings = {"a": {"lambd": 0.0}, "b": {"lambd": 0.7}}
    rows = football.run_settings(data, settings, seeds=(3, 4, 5), progress=False, num_iterations=40,
                                 snapshot_at=(20,))
    assert [(row["setting"], row["seed"]) for row in rows] == [(n, s) for n in "ab" for s in (3, 4, 5)]
    early = goalkeeper.rows_at(rows, 20, data, record_every=10)
    short = football.model(data[0], data[1], num_iterations=20, lambd=0.7, seed=4)
    for name in short:
        numpy.testing.assert_array_equal(early[4]["parameters"][name], short[name])
    assert early[4]["test_acc"] == football.accuracy(data[2], data[3], short)
