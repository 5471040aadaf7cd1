"""The augmentation chapter (notebooks/augmentation.ipynb, exported to ``regbook.chapters.augmentation``):
the small CNN, its augmentation and training helper, the shortcut data, and the headline experiments
``augmentation`` and ``orientation-shortcut`` that the notebook and ``python -m regbook reproduce`` run."""

import inspect
import json

import numpy
import pytest
from mxnet import np as mnp

from regbook import augment, runs, training
from regbook.chapters import augmentation as chapter
from regbook.chapters.augmentation import (
    Timed,
    final_scores,
    orientation_shortcut_data,
    pad_crop,
    random_flip,
    small_cnn,
    train_cnn,
)


def images(n=32, seed=0, size=28):
    rng = numpy.random.default_rng(seed)
    return mnp.array(rng.random((n, 1, size, size)).astype("float32"))


def labels(n=32, classes=10, seed=0):
    return mnp.array(numpy.random.default_rng(seed).integers(0, classes, n).astype("int32"))


def test_small_cnn_has_the_chapters_size_and_output_shape():
    net = small_cnn()
    assert net(images(3)).shape == (3, 10)
    assert sum(p.data().size for p in net.collect_params().values()) == 106122  # glued as cnn_weights
    assert small_cnn(num_classes=2, width=4)(images(2)).shape == (2, 2)


def test_pad_crop_shifts_each_image_by_at_most_two_pixels():
    X = images(20)
    Y = pad_crop(X, numpy.random.default_rng(0)).asnumpy()
    padded = numpy.pad(X.asnumpy(), ((0, 0), (0, 0), (2, 2), (2, 2)))
    windows = {(top, left) for top in range(5) for left in range(5)}
    for i in range(len(Y)):
        matches = [w for w in windows if (padded[i, :, w[0]:w[0] + 28, w[1]:w[1] + 28] == Y[i]).all()]
        assert matches, f"image {i} is not a pad-2 crop of its input"
    assert not (Y == X.asnumpy()).all()


def test_train_cnn_augments_the_whole_set_once_per_epoch_and_is_reproducible():
    X, y = images(48), labels(48)
    calls = []

    def recording(batch, rng):
        calls.append(batch.shape)
        return pad_crop(batch, rng)

    net, history = train_cnn(X, y, X[:16], y[:16], recording, seed=3, epochs=2, batch_size=16)
    assert calls == [(48, 1, 28, 28)] * 2
    assert isinstance(history, training.History) and len(history.test_acc) == len(history.loss) == 2
    _, again = train_cnn(X, y, X[:16], y[:16], pad_crop, seed=3, epochs=2, batch_size=16)
    assert again.loss == history.loss and again.test_acc == history.test_acc
    _, other = train_cnn(X, y, X[:16], y[:16], pad_crop, seed=4, epochs=2, batch_size=16)
    assert other.loss != history.loss


def test_final_scores_are_clean_accuracies_and_their_gap():
    X, y = images(40), labels(40)
    net, _ = train_cnn(X, y, X, y, None, seed=0, epochs=1, batch_size=20)
    scores = final_scores(net, X, y, X[:10], y[:10])
    assert set(scores) == {"train_acc", "test_acc", "gap"}
    assert scores["gap"] == scores["train_acc"] - scores["test_acc"]
    assert 0 <= scores["train_acc"] <= 1 and 0 <= scores["test_acc"] <= 1


def test_timed_returns_the_augmentation_and_adds_up_its_seconds():
    timed = Timed(pad_crop)
    X = images(8)
    first = timed(X, numpy.random.default_rng(1))
    once = timed.seconds
    assert (first == pad_crop(X, numpy.random.default_rng(1))).all() and once > 0
    timed(X, numpy.random.default_rng(2))
    assert timed.seconds > once


def test_orientation_shortcut_data_mirrors_only_the_second_class():
    rng = numpy.random.default_rng(0)
    x = rng.integers(0, 256, (60, 28, 28)).astype("uint8")
    y = numpy.repeat(numpy.arange(6), 10)
    X, labels_ = orientation_shortcut_data(x, y, 4, brand_a=1, brand_b=3)
    assert X.shape == (8, 1, 28, 28) and X.dtype == numpy.float32
    assert labels_.asnumpy().tolist() == [0] * 4 + [1] * 4
    values = X.asnumpy()[:, 0]
    assert numpy.allclose(values[:4], x[y == 1][:4] / 255)
    assert numpy.allclose(values[4:], x[y == 3][:4][:, :, ::-1] / 255)
    assert 0 <= values.min() and values.max() <= 1


def test_random_flip_mirrors_about_half_of_the_images():
    X = images(400, size=6)
    Y = random_flip(X, numpy.random.default_rng(0)).asnumpy()
    original, mirrored = X.asnumpy(), augment.hflip(X).asnumpy()
    flipped = numpy.array([(Y[i] == mirrored[i]).all() for i in range(len(Y))])
    kept = numpy.array([(Y[i] == original[i]).all() for i in range(len(Y))])
    assert (flipped ^ kept).all() and 150 < flipped.sum() < 250


def test_experiments_are_registered_with_the_chapters_budget():
    small, shoes = runs.REGISTRY["augmentation"], runs.REGISTRY["orientation-shortcut"]
    assert small.run is chapter.small_data_experiment and shoes.run is chapter.orientation_shortcut_experiment
    assert (small.seeds, small.epochs, small.options["train_size"][:2]) == (3, 30, (int, 1000))
    assert (shoes.seeds, shoes.epochs, shoes.options["per_class"][:2]) == (3, 8, (int, 300))
    for exp, option in ((small, "train_size"), (shoes, "per_class")):
        defaults = {k: p.default for k, p in inspect.signature(exp.run).parameters.items()}
        assert defaults["seeds"] == exp.seeds and defaults["epochs"] == exp.epochs
        assert defaults[option] == exp.options[option][1]


def test_reproduce_experiments_report_every_setting():
    keep = {}
    result = runs.REGISTRY["augmentation"].run(seeds=2, epochs=1, progress=False, train_size=64, keep=keep)
    json.dumps(result)
    assert result["experiment"] == "augmentation" and result["train_size"] == 64 and result["epochs"] == 1
    assert [row["setting"] for row in result["results"]] == ["none", "augmented"]
    for row in result["results"]:
        assert row["seeds"] == 2 and 0 <= row["test_acc_mean"] <= 1 and row["test_acc_std"] >= 0
        assert abs(row["gap_mean"] - (row["train_acc_mean"] - row["test_acc_mean"])) < 1e-12
        per_seed = [r for r in result["runs"] if r["setting"] == row["setting"]]
        assert [r["seed"] for r in per_seed] == [0, 1]
        assert (row["test_acc_mean"], row["test_acc_std"]) == runs.mean_std([r["test_acc"] for r in per_seed])
    assert isinstance(result["augmented_beats_none_by_more_than_one_std"], bool)
    assert all(r["augment_s"] > 0 for r in result["runs"] if r["setting"] == "augmented")
    assert list(keep) == ["none", "augmented"] and all(len(hs) == 2 for hs in keep.values())
    assert all(h.model is not None and len(h.test_acc) == 1 for hs in keep.values() for h in hs)
    shortcut = runs.REGISTRY["orientation-shortcut"].run(seeds=2, epochs=1, progress=False, per_class=20)
    json.dumps(shortcut)
    assert [row["setting"] for row in shortcut["results"]] == ["none", "flip"]
    assert all(0 <= row["mirrored_acc_mean"] <= 1 for row in shortcut["results"])
    assert len(shortcut["runs"]) == 4 and shortcut["per_class"] == 20
    assert isinstance(shortcut["shortcut_exploited"], bool)
    assert isinstance(shortcut["mirrored_recovered_by_flip"], bool)
    with pytest.raises(ValueError, match="train_size"):
        runs.REGISTRY["augmentation"].run(seeds=1, epochs=1, progress=False, train_size=3)
    with pytest.raises(ValueError, match="per_class"):
        runs.REGISTRY["orientation-shortcut"].run(seeds=1, epochs=1, progress=False, per_class=2)


def test_cli_runs_both_experiments_with_their_options(capsys):
    from regbook import cli

    assert cli.main(["reproduce", "augmentation", "--seeds", "1", "--epochs", "1", "--train-size", "32",
                     "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["experiment"], result["train_size"], result["epochs"]) == ("augmentation", 32, 1)
    assert [row["seeds"] for row in result["results"]] == [1, 1]
    assert cli.main(["reproduce", "orientation-shortcut", "--seeds", "1", "--epochs", "1", "--per-class", "10",
                     "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["experiment"], result["per_class"], result["epochs"]) == ("orientation-shortcut", 10, 1)
