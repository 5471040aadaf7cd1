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
    history = training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 5, trainer.step,
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


def test_fit_lr_schedule_sets_the_rate_before_every_step():
    set_seed(0)
    X, y = tiny_problem(n=256)
    batches = data.ArrayBatches(X, y, 64)  # 4 steps per epoch
    net = nn.Dense(2)
    net.initialize(init.Normal(0.1))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0})
    seen = []

    def update(batch_size):
        seen.append(trainer.learning_rate)
        trainer.step(batch_size)

    history = training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 2, update, plot=False,
                           progress=False, trainer=trainer, lr_schedule=lambda step: 0.1 / (step + 1))
    assert seen == pytest.approx([0.1 / (k + 1) for k in range(8)])
    assert len(history.cpu_seconds) == len(history.seconds) == 2


def test_fit_refuses_a_schedule_without_its_trainer_and_no_epochs():
    net = nn.Dense(2)
    with pytest.raises(ValueError, match="trainer"):
        training.fit(net, [], [], None, 1, lambda n: None, plot=False, lr_schedule=lambda s: 0.1)
    with pytest.raises(ValueError, match="num_epochs"):
        training.fit(net, [], [], None, 0, lambda n: None, plot=False)


def test_fit_redraws_a_live_plot_only_every_k_epochs():
    set_seed(0)
    X, y = tiny_problem(n=128)
    batches = data.ArrayBatches(X, y, 64)
    net = nn.Dense(2)
    net.initialize(init.Normal(0.1))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    plot = plotting.LivePlot(live=True)
    draws = []
    plot.draw = lambda: draws.append(len(plot.series["train loss"][0]))
    import IPython.display

    original = IPython.display.display, IPython.display.clear_output
    IPython.display.display, IPython.display.clear_output = (lambda *a, **k: None), (lambda *a, **k: None)
    try:
        training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 5, trainer.step, plot=plot,
                     progress=False, redraw_every=2)
    finally:
        IPython.display.display, IPython.display.clear_output = original
    assert draws == [2, 4, 5]
    assert plot.series["train loss"][0] == [1, 2, 3, 4, 5]


def test_bad_training_arguments_are_refused_by_name():
    X, y = tiny_problem(n=64)
    net = nn.Dense(2)
    net.initialize()
    with pytest.raises(ValueError, match=r"labels must have shape \(n,\).*reshape"):
        training.evaluate_accuracy(net, [(np.array(X), np.array(y).reshape(-1, 1))])
    with pytest.raises(ValueError, match="no examples"):
        training.evaluate_accuracy(net, [])
    with pytest.raises(ValueError, match="no examples"):
        training.train_epoch(net, [], gluon.loss.SoftmaxCrossEntropyLoss(), lambda n: None)
    W = np.zeros((2,))
    W.attach_grad()
    for lr in (-0.1, 0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="learning rate"):
            training.make_update([W], lr)
    with pytest.raises(ValueError, match="batch_size"):
        training.sgd([W], 0.1, 0)
    with pytest.raises(ValueError, match="num_epochs"):
        training.fit(net, [], [], None, 2.5, lambda n: None, plot=False)


def test_a_hybridized_network_given_the_wrong_shape_says_so():
    net = nn.HybridSequential()
    net.add(nn.Dense(2, in_units=784))
    net.initialize()
    net.hybridize()
    net(np.ones((2, 784)))
    with pytest.raises(ValueError, match=r"cannot take inputs of shape \(3, 100\)"):
        training.evaluate_accuracy(net, [(np.ones((3, 100)), np.zeros(3))])


def test_fit_arrays_is_fit_with_a_trainer_and_shuffled_batches():
    X, y = tiny_problem(n=256)
    arrays = (np.array(X), np.array(y), np.array(X[:64]), np.array(y[:64]))

    def fresh():
        set_seed(0)
        net = nn.Dense(2)
        net.initialize(init.Normal(0.1))
        return net

    net = fresh()
    history = training.fit_arrays(net, arrays, 3, lr=0.01, batch_size=32, seed=5, progress=False)
    reference = fresh()
    trainer = gluon.Trainer(reference.collect_params(), "adam", {"learning_rate": 0.01})
    expected = training.fit(reference, data.ArrayBatches(arrays[0], arrays[1], 32, shuffle=True, seed=5),
                            data.ArrayBatches(arrays[2], arrays[3], 1000), gluon.loss.SoftmaxCrossEntropyLoss(),
                            3, trainer.step, plot=False, progress=False)
    assert history.loss == expected.loss and history.test_acc == expected.test_acc
    assert numpy.array_equal(net.weight.data().asnumpy(), reference.weight.data().asnumpy())


def small_mlp(seed=0):
    set_seed(seed)
    net = nn.HybridSequential()
    net.add(nn.Dense(8, activation="relu"), nn.Dense(2))
    net.initialize(init.Normal(0.3))
    net.hybridize()
    return net


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_with_the_engine_trains_as_the_textbook_loop_with_its_schedule_and_stopper(optimizer):
    """Without dropout the engine computes the textbook loop's steps: same losses, same weights, same stop."""
    X, y = tiny_problem(n=300)
    runs = []
    for engine in (False, True):
        net = small_mlp()
        trainer = gluon.Trainer(net.collect_params(), optimizer, {"learning_rate": 0.3})
        batches = data.ArrayBatches(X, y, 64, shuffle=True, seed=1)  # last batch: 44
        stopper = training.EarlyStopping(patience=2)
        history = training.fit(net, batches, data.ArrayBatches(X, y, 100), gluon.loss.SoftmaxCrossEntropyLoss(),
                               4, trainer.step, plot=False, progress=False, trainer=trainer,
                               lr_schedule=lambda step: 0.3 / (1 + step), stopper=stopper, run_to_end=True,
                               engine=engine)
        runs.append((history, net))
    (plain, net_plain), (fast, net_fast) = runs
    numpy.testing.assert_allclose(fast.loss, plain.loss, rtol=1e-5)
    assert fast.best_epoch == plain.best_epoch
    for a, b in zip(net_plain.collect_params().values(), net_fast.collect_params().values()):
        numpy.testing.assert_allclose(a.data().asnumpy(), b.data().asnumpy(), atol=1e-5)


def test_fit_with_the_engine_needs_a_gluon_trainer():
    X, y = tiny_problem(n=64)
    net = small_mlp()
    batches = data.ArrayBatches(X, y, 32)
    net(np.array(X[:2]))  # (deferred initialisation)
    params = list(net.collect_params().values())
    with pytest.raises(ValueError, match="trainer"):
        training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 1,
                     training.make_update([p.data() for p in params], 0.1), plot=False, progress=False,
                     engine=True)
