"""The early-stopping chapter's own code (regbook.chapters.early_stopping, exported from its notebook)."""

import json

import numpy
import pytest

from regbook import runs
from regbook.chapters import early_stopping as chapter


def test_flip_labels_changes_exactly_the_fraction_and_always_to_another_class():
    labels = numpy.arange(1000) % 10
    noisy = chapter.flip_labels(labels, 0.3, seed=0)
    changed = noisy != labels
    assert changed.sum() == 300
    assert set(numpy.unique(noisy)) <= set(range(10))
    assert numpy.array_equal(chapter.flip_labels(labels, 0.3, seed=0), noisy)  # reproducible
    assert not numpy.array_equal(chapter.flip_labels(labels, 0.3, seed=1), noisy)
    counts = numpy.bincount((noisy[changed] - labels[changed]) % 10, minlength=10)
    assert counts[0] == 0 and counts[1:].min() > 10  # every other class is reachable, none is the same
    assert numpy.array_equal(chapter.flip_labels(labels, 0.0), labels)
    with pytest.raises(ValueError):
        chapter.flip_labels(labels, 1.5)


def test_the_experiment_is_registered_with_the_chapters_budget_and_the_old_options():
    exp = runs.REGISTRY["early-stopping"]
    assert exp.run is chapter.early_stopping
    assert (exp.seeds, exp.epochs) == (3, 30)
    assert {name: default for name, (_, default, *_) in exp.options.items()} == {
        "noise": 0.3, "lr": 0.1, "patience": 10, "wd": "0.01,0.03"}


def test_reproduce_early_stopping_reports_best_and_last():
    exp = runs.REGISTRY["early-stopping"]
    keep = {}
    result = exp.run(seeds=1, epochs=2, progress=False, wd="", keep=keep)
    json.dumps(result)  # what the CLI prints
    assert {"best_epoch", "test_acc_best", "test_acc_last"} <= result.keys()
    assert 1 <= result["best_epoch"] <= 2
    assert 0.1 < result["test_acc_best"] <= 1 and 0.1 < result["test_acc_last"] <= 1
    assert [row["variant"] for row in result["results"]] == ["no penalty"]
    assert result["l2_chosen_on_validation"] is None
    (run,) = keep[0.0]  # the full run behind the row: its history, as the notebook uses it
    assert run["history"].epochs == 2 and len(run["history"].weight_norm) == 2
    assert result["results"][0]["test_acc_best"] == round(run["test_acc_best"], 4)
    with pytest.raises(ValueError, match="--wd"):
        exp.run(seeds=1, epochs=1, progress=False, wd="a,b")
    with pytest.raises(ValueError, match="--noise"):
        exp.run(seeds=1, epochs=1, progress=False, noise=0.95)


def test_watched_stopping_freezes_its_choice_and_lets_training_go_on():
    class Net:  # evaluate_accuracy needs a callable; a constant classifier will do
        def __call__(self, X):
            from mxnet import np

            return np.zeros((X.shape[0], 10))

        def collect_params(self):
            return {}

    from mxnet import np

    test = [(np.zeros((4, 3)), np.array([0, 0, 1, 2]))]
    stopper = chapter.WatchedStopping(test, patience=2)
    scores = [0.5, 0.6, 0.55, 0.58, 0.9, 0.95]
    assert [stopper.step(s, Net()) for s in scores] == [False] * 6  # never asks fit() to stop
    assert stopper.would_stop == 4 and stopper.best_epoch == 2  # frozen: 0.9 later is ignored
    assert stopper.stopped_epoch is None
    assert stopper.test_acc == [0.5] * 6  # measured after every epoch, also after the stop


def test_random_labels_is_registered_and_a_short_run_reports_curves():
    exp = runs.REGISTRY["random-labels"]
    assert exp.run is chapter.random_labels
    assert (exp.seeds, exp.epochs) == (3, 50)
    result = exp.run(seeds=1, epochs=2, progress=False)
    json.dumps(result)
    assert [row["labels"] for row in result["results"]] == ["shuffled", "true"]
    for run in result["curves"]:
        assert len(run["train_acc"]) == len(run["val_acc"]) == len(run["test_acc"]) == 2
    shuffled, true = result["curves"]
    assert true["test_acc"][-1] > shuffled["test_acc"][-1] + 0.2  # true labels carry a signal
    assert abs(shuffled["test_acc"][-1] - 0.1) < 0.08  # shuffled ones do not

