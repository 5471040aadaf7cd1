"""The dropout chapter (notebooks/dropout.ipynb, exported to ``regbook.chapters.dropout``): ``dropout_layer``,
the MLPs, the headline experiments ``dropout-mlp`` and ``dropout-mlp-wobble`` and the records the chapter
shows."""

import inspect
import json
import os

import numpy
import pytest
from mxnet import np

from regbook import cli, runs, training
from regbook.chapters import dropout as chapter
from regbook.chapters.dropout import dropout_layer, init_mlp_params, mlp_gluon, mlp_scratch
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
    record = chapter.load_record()
    assert {row["variant"] for row in record["results"]} == {"scratch", "gluon", "no-dropout"}
    for row in record["results"]:
        runs_ = record["runs"][row["variant"]]
        assert row["seeds"] == len(runs_) >= 3 and sorted(r["seed"] for r in runs_) == list(range(len(runs_)))
        final = numpy.array([r["test_acc"][-1] for r in runs_])
        gaps = numpy.array([r["train_acc_off"] for r in runs_]) - final
        assert row["test_acc_mean"] == pytest.approx(final.mean())
        assert row["test_acc_std"] == pytest.approx(final.std(ddof=1))  # an independent check of regbook.runs
        assert row["gap_mean"] == pytest.approx(gaps.mean())
        assert all(len(r["test_acc"]) == row["epochs"] == len(r["loss"]) for r in runs_)


def test_wobble_record_pairs_the_two_conventions():
    record = chapter.load_record(chapter.WOBBLE_RECORD)
    by_mode = {mode: {r["seed"]: r for r in record["runs"] if r["step_batch"] == mode} for mode in ("len", 256)}
    assert set(by_mode["len"]) == set(by_mode[256]) and len(by_mode["len"]) >= 3
    for run in record["runs"]:
        assert len(run["last_steps"]) == 40 and run["last_steps"][-1] == run["test_acc"][-1]


def test_records_live_at_the_repository_root():
    from regbook.data import REPO_ROOT

    assert chapter.RECORD == REPO_ROOT / "records" / "dropout_mlp_runs.json" and chapter.RECORD.is_file()
    assert chapter.WOBBLE_RECORD == REPO_ROOT / "records" / "dropout_mlp_wobble.json"
    assert chapter.WOBBLE_RECORD.is_file()


def test_the_cli_defaults_are_the_budget_of_the_chapters_records():
    """``reproduce dropout-mlp`` with its defaults re-runs what the chapter shows (3 seeds x 5 epochs)."""
    mlp, wobble = runs.REGISTRY["dropout-mlp"], runs.REGISTRY["dropout-mlp-wobble"]
    assert mlp.run is chapter.dropout_mlp and wobble.run is chapter.dropout_mlp_wobble
    assert (mlp.seeds, mlp.epochs) == (3, 5) and "dropout" in mlp.aliases
    help_text = cli._experiment_parser(mlp).format_help()  # --record is the CLI's, common to all experiments
    assert "--record FILE" in help_text and "record" not in mlp.options and "record" not in wobble.options
    for row in chapter.load_record()["results"]:
        assert (row["seeds"], row["epochs"]) == (mlp.seeds, mlp.epochs)
    record = chapter.load_record(chapter.WOBBLE_RECORD)
    for row in record["results"]:
        assert (row["seeds"], row["epochs"]) == (wobble.seeds, wobble.epochs)


class _FakeNet:
    pass


def _fake_training(monkeypatch, calls):
    """Replace the expensive training by deterministic fake runs (test accuracy depends on variant and seed)."""
    offset = {"scratch": 0.0, "gluon": 0.01, "no-dropout": 0.02}

    def train(variant, seed, num_epochs=5, **kwargs):
        calls.append((variant, seed, num_epochs))
        acc = [0.7 + offset[variant] + 0.01 * seed + 0.001 * e for e in range(num_epochs)]
        history = training.History(loss=[1.0 / (e + 1) for e in range(num_epochs)],
                                   train_acc=[a - 0.02 for a in acc], test_acc=acc,
                                   seconds=[0.5] * num_epochs)
        net = _FakeNet()
        net.train_acc_off = acc[-1] + 0.03 + 0.002 * seed
        return history, net

    monkeypatch.setattr(chapter, "train_dropout_mlp", train)
    monkeypatch.setattr(chapter, "train_accuracy_dropout_off", lambda net: net.train_acc_off)


def test_dropout_mlp_summarises_every_run_and_records_them(tmp_path, monkeypatch):
    calls = []
    _fake_training(monkeypatch, calls)
    target = tmp_path / "runs.json"
    result = chapter.dropout_mlp(seeds=3, epochs=2, progress=False, record=str(target))
    assert sorted(calls) == sorted((v, s, 2) for v in chapter.VARIANTS for s in range(3))
    assert [row["variant"] for row in result["results"]] == list(chapter.VARIANTS)
    for row in result["results"]:
        mine = result["runs"][row["variant"]]
        final = numpy.array([r["test_acc"][-1] for r in mine])
        gaps = numpy.array([r["train_acc_off"] for r in mine]) - final
        assert (row["seeds"], row["epochs"]) == (3, 2) and [r["seed"] for r in mine] == [0, 1, 2]
        assert row["test_acc_mean"] == pytest.approx(final.mean())
        assert row["test_acc_std"] == pytest.approx(final.std(ddof=1))
        assert row["gap_mean"] == pytest.approx(gaps.mean()) and row["gap_std"] == pytest.approx(gaps.std(ddof=1))
        assert row["train_acc_off_mean"] == pytest.approx(numpy.mean([r["train_acc_off"] for r in mine]))
        assert row["sec_per_epoch"] == pytest.approx(0.5)
    # the record is the result, runs included, as JSON; nothing else is left in the folder
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(json.dumps(result))
    assert os.listdir(tmp_path) == ["runs.json"]
    # the same keys as the record the chapter shows, in the same order
    assert [list(row) for row in result["results"]] == [list(row) for row in chapter.load_record()["results"]]


def test_a_record_that_cannot_be_written_fails_before_training(tmp_path, monkeypatch):
    calls = []
    _fake_training(monkeypatch, calls)
    with pytest.raises(Exception, match="does not exist"):
        chapter.dropout_mlp(seeds=1, epochs=1, progress=False, record=str(tmp_path / "missing" / "r.json"))
    assert calls == []


def test_an_interrupted_record_write_leaves_the_old_record_alone(tmp_path, monkeypatch):
    calls = []
    _fake_training(monkeypatch, calls)
    target = tmp_path / "runs.json"
    target.write_text('{"old": true}\n', encoding="utf-8")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        chapter.dropout_mlp(seeds=1, epochs=1, progress=False, record=str(target))
    assert target.read_text(encoding="utf-8") == '{"old": true}\n'
    assert os.listdir(tmp_path) == ["runs.json"], "the temporary file is removed"


def test_dropout_mlp_wobble_pairs_the_conventions_seed_by_seed(tmp_path, monkeypatch):
    calls = []

    def fake(seed, last_step_batch=None, num_epochs=5, steps=40):
        calls.append((seed, last_step_batch, num_epochs))
        base = 0.85 if last_step_batch == 256 else 0.82
        last = [base + 0.001 * seed + 0.01 * ((i % 2) - 0.5) for i in range(steps)]
        return {"seed": seed, "step_batch": last_step_batch or "len",
                "test_acc": [0.8] * (num_epochs - 1) + [last[-1]], "last_steps": last}

    monkeypatch.setattr(chapter, "last_epoch_steps", fake)
    target = tmp_path / "wobble.json"
    result = chapter.dropout_mlp_wobble(seeds=3, epochs=2, progress=False, record=str(target))
    assert calls == [(s, m, 2) for s in range(3) for m in (None, 256)]
    rows = {row["step_batch"]: row for row in result["results"]}
    assert set(rows) == {"len", 256}
    for mode, base in (("len", 0.82), (256, 0.85)):
        final = numpy.array([base + 0.001 * s + 0.005 for s in range(3)])
        assert rows[mode]["seeds"] == 3 and rows[mode]["epochs"] == 2
        assert rows[mode]["test_acc_mean"] == pytest.approx(final.mean())
        assert rows[mode]["test_acc_std"] == pytest.approx(final.std(ddof=1))
        assert rows[mode]["step_std_mean"] == pytest.approx(0.005)
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(json.dumps(result))
    assert len(result["runs"]) == 6


def test_dropout_overfit_rows_have_one_entry_per_seed():
    """``reproduce dropout-overfit`` at a tiny budget: the schema of its rows, per-seed lists, the noisy labels."""
    exp = runs.REGISTRY["dropout-overfit"]
    assert exp.run is chapter.dropout_overfit and exp.seeds >= 5
    defaults = inspect.signature(chapter.dropout_overfit).parameters  # the chapter calls it with its defaults
    assert (defaults["seeds"].default, defaults["epochs"].default) == (exp.seeds, exp.epochs)
    result = chapter.dropout_overfit(seeds=2, epochs=1, progress=False, drop_probs=(0.0, 0.5))
    assert result["experiment"] == "dropout-overfit"
    rows = result["results"]
    assert [row["variant"] for row in rows] == ["no dropout", "dropout 0.5"]
    for row in rows:
        assert row["seeds"] == 2 and row["epochs"] == 1
        assert len(row["test_acc"]) == len(row["memorised"]) == 2
        assert all(0 <= a <= 1 for a in row["test_acc"] + row["memorised"])
        assert row["test_acc_mean"] == pytest.approx(numpy.mean(row["test_acc"]))
        assert row["test_acc_std"] == pytest.approx(numpy.std(row["test_acc"], ddof=1))
        assert 0 <= row["train_acc_off_mean"] <= 1
        assert [len(run["test_acc"]) for run in result["runs"][row["variant"]]] == [1, 1]
    json.dumps({key: value for key, value in result.items() if key != "runs"}, allow_nan=False)


def test_noisy_labels_change_the_given_fraction_to_a_wrong_class():
    y = numpy.arange(10_000) % 10
    noisy, wrong = chapter.noisy_labels(y, 0.3)
    assert (noisy[wrong] != y[wrong]).all() and (noisy[~wrong] == y[~wrong]).all()
    assert abs(wrong.mean() - 0.3) < 0.02 and noisy.min() >= 0 and noisy.max() <= 9
    again, _ = chapter.noisy_labels(y, 0.3)
    assert (again == noisy).all(), "the same noisy labels every time"


def test_cnn_record_matches_its_summary_and_the_cli_defaults():
    """The record the CNN section shows (``reproduce dropout-overfit-cnn --record``): rows are its runs' statistics."""
    exp = runs.REGISTRY["dropout-overfit-cnn"]
    assert exp.run is chapter.dropout_overfit_cnn
    record = chapter.load_record(chapter.CNN_RECORD)
    assert chapter.CNN_RECORD.parent == chapter.RECORD.parent and record["experiment"] == "dropout-overfit-cnn"
    assert [row["variant"] for row in record["results"]] == ["no dropout", "dropout 0.5"]
    for row in record["results"]:
        finals = [run["test_acc"][-1] for run in record["runs"][row["variant"]]]
        assert (row["seeds"], row["epochs"]) == (exp.seeds, exp.epochs) == (len(finals), len(record["runs"][
            row["variant"]][0]["test_acc"]))
        assert row["test_acc"] == finals and row["test_acc_mean"] == pytest.approx(numpy.mean(finals))
        assert row["memorised_mean"] == pytest.approx(numpy.mean(row["memorised"]))
