"""The rnn-dropout chapter's own code (regbook.chapters.rnn_dropout, exported from its notebook)."""

import json

import pytest

from regbook import runs
from regbook.chapters import rnn_dropout as chapter
from regbook.data import sunspot_windows
from regbook.seeding import set_seed
from regbook.training import History


def test_fit_forecaster_learns_something():
    data = sunspot_windows(window=6)
    set_seed(0)
    net = chapter.make_forecaster("variational", 0.2, hidden_size=8, input_rate=0.0)
    net.initialize()
    net.hybridize()
    result = chapter.fit_forecaster(net, data, epochs=6, batch_size=64, lr=0.02, progress=False)
    assert isinstance(result, History)
    assert len(result.val_loss) == len(result.loss) == len(result.seconds) == result.epochs == 6
    assert result.train_loss is result.loss
    assert result.loss[-1] < 0.6 * result.loss[0]
    assert result.val_loss[-1] < 0.8  # variance of the standardised series is about 1
    with pytest.raises(ValueError, match="positive"):
        chapter.fit_forecaster(net, data, epochs=0)


def test_final_val_loss_and_summarize_use_the_last_epochs():
    a, b = History(val_loss=[9.0, 1.0, 3.0]), History(val_loss=[9.0, 2.0, 6.0])
    a.seconds, b.seconds = [1.0, 1.0, 1.0], [3.0, 3.0, 3.0]
    assert chapter.final_val_loss(a, last=2) == 2.0
    (row,) = chapter.summarize({"naive": [a, b]}, last=2)
    assert row == {"variant": "naive", "val_loss_mean": 3.0, "val_loss_std": pytest.approx(2 ** 0.5),
                   "seeds": 2, "sec_per_epoch": 2.0}
    assert row == runs.add_mean_std({"variant": "naive", "seeds": 2, "sec_per_epoch": 2.0}, "val_loss",
                                    [2.0, 4.0])


def test_compare_methods_rejects_bad_arguments():
    data = sunspot_windows(window=6)
    with pytest.raises(ValueError, match="choose one of"):
        chapter.compare_methods(data, methods=("zoneout",), progress=False)
    with pytest.raises(ValueError, match=r"rate is a drop probability .* \[0, 1\)"):
        chapter.compare_methods(data, rate=1.0, progress=False)
    with pytest.raises(ValueError, match="seeds"):
        chapter.compare_methods(data, seeds=0, progress=False)


def test_the_experiment_is_registered_with_the_chapters_budget():
    exp = runs.REGISTRY["rnn-dropout"]
    assert exp.run is chapter.rnn_dropout
    assert (exp.seeds, exp.epochs) == (chapter.SEEDS, chapter.EPOCHS) == (3, 30)
    assert chapter.SETTINGS["val_from"] == 1820  # a short training period: the plain LSTM overfits
    assert list(exp.options) == ["rate"] and exp.options["rate"][1] == chapter.SETTINGS["rate"] == 0.3


def test_reproduce_rnn_dropout_gives_one_row_per_method():
    keep, done = {}, []
    result = chapter.rnn_dropout(seeds=1, epochs=1, progress=False, rate=0.2, keep=keep,
                                 on_method_done=lambda method, method_runs: done.append(method))
    json.dumps(result)  # what the CLI prints
    assert result["experiment"] == "rnn-dropout" and result["settings"]["rate"] == 0.2
    assert [row["variant"] for row in result["results"]] == list(chapter.layers.METHODS) == done
    assert list(keep) == done and all(len(histories) == 1 for histories in keep.values())
    for row in result["results"]:
        (history,) = keep[row["variant"]]
        assert history.model is not None and row["val_loss_mean"] == chapter.final_val_loss(history)
        assert row["seeds"] == 1 and row["val_loss_std"] == 0.0
