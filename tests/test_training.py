"""regbook.training and regbook.plotting on a tiny synthetic problem."""

import numpy
import pytest
from mxnet import gluon, init, np, npx
from mxnet.gluon import nn

from regbook import data, plotting, training
from regbook.seeding import set_seed

npx.set_np()  # (also when this file runs on its own)


def tiny_problem(n=512, seed=0):
    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(numpy.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(numpy.int32)
    return X, y


def test_train_learns_a_separable_problem_and_records_history():
    set_seed(0)
    X, y = tiny_problem()
    batches = data.ArrayBatches(X, y, 64, shuffle=True)
    net = nn.Dense(2)
    net.initialize(init.Normal(0.1))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    history = training.train(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 5, trainer.step,
                             plot=False, progress=False)
    assert len(history.loss) == len(history.test_acc) == len(history.seconds) == 5
    assert history.loss[-1] < history.loss[0]
    assert history.test_acc[-1] > 0.95
    assert training.evaluate_accuracy(net, batches) == pytest.approx(history.test_acc[-1])


def test_train_ch3_prints_the_sources_format(capsys):
    set_seed(0)
    X, y = tiny_problem()
    batches = data.ArrayBatches(X, y, 64)
    W, b = np.random.normal(0, 0.01, (2, 2)), np.zeros(2)
    for param in (W, b):
        param.attach_grad()
    training.train_ch3(lambda X: np.dot(X, W) + b, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 2,
                       64, params=[W, b], lr=0.5)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1, loss ") and "test acc" in lines[0]


def test_make_update_needs_trainer_or_params():
    with pytest.raises(ValueError):
        training.make_update()


def test_summarize_mean_and_sample_std():
    runs = [training.History(train_acc=[0.5, a], test_acc=[0.4, a - 0.1], seconds=[1.0, 3.0]) for a in (0.8, 0.9)]
    row = training.summarize(runs, variant="x")
    assert row["variant"] == "x" and row["seeds"] == 2 and row["epochs"] == 2
    assert row["test_acc_mean"] == pytest.approx(0.75)
    assert row["test_acc_std"] == pytest.approx(numpy.std([0.7, 0.8], ddof=1))
    assert row["sec_per_epoch"] == pytest.approx(2.0)


def test_mean_std_single_run_has_zero_std():
    mean, std = plotting.mean_std([[1.0, 2.0]])
    assert mean.tolist() == [1.0, 2.0] and std.tolist() == [0.0, 0.0]


def test_live_plot_collects_series_without_a_notebook():
    plot = plotting.LivePlot(live=False)
    plot.add(1, {"a": 0.5, "b": 0.1})
    plot.add(2, {"a": 0.6, "b": 0.2})
    fig = plot.figure()
    assert plot.series["a"] == ([1, 2], [0.5, 0.6])
    assert len(fig.axes[0].lines) == 2


def test_train_ch3_divides_by_the_constant_batch_size_as_d2l_did():
    X, y = tiny_problem()
    seen = []
    trainer = type("Recorder", (), {"step": lambda self, n: seen.append(n)})()
    W = np.zeros((2, 2))
    W.attach_grad()
    batches = data.ArrayBatches(X[:100], y[:100], 64)  # batches of 64 and 36
    training.train_ch3(lambda X: np.dot(X, W), batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 1, 64,
                       trainer=trainer)
    assert seen == [64, 64]
    seen.clear()
    training.train_ch3(lambda X: np.dot(X, W), batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 1,
                       trainer=trainer)
    assert seen == [64, 36]


def test_sgd_step_in_place():
    W = np.ones((3,))
    W.attach_grad()
    W.grad[:] = np.array([2.0, 4.0, 6.0])
    before = W
    training.sgd([W], lr=0.5, batch_size=2)
    assert W is before and numpy.allclose(W.asnumpy(), [0.5, 0.0, -0.5])
