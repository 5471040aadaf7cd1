"""Early stopping in regbook.training: the patience-based :class:`EarlyStopping` helper (when it stops, what
it restores, what it rejects), :func:`weight_norm`, and ``training.fit(..., stopper=...)``."""

import math

import numpy
import pytest

from regbook import compat as _compat  # noqa: F401
from regbook import training
from regbook.training import EarlyStopping, History, evaluate_accuracy, weight_norm


def _net(seed=0):
    from mxnet import init, np, npx
    from mxnet.gluon import nn

    from regbook.seeding import set_seed

    npx.set_np()
    set_seed(seed)
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dense(3))
    net.initialize(init.Normal(1.0))
    net(np.ones((2, 5)))  # materialise the deferred shapes
    return net


def _values(net):
    return {name: p.data().asnumpy().copy() for name, p in net.collect_params().items()}


def _perturb(net, scale):
    for p in net.collect_params().values():
        p.set_data(p.data() + scale)


def _run(scores, **kwargs):
    stopper = EarlyStopping(**kwargs)
    for score in scores:
        if stopper.step(score):
            break
    return stopper


def _batches(seed, n=40, random_labels=True):
    from mxnet import np

    from regbook.data import ArrayBatches

    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype("float32")
    y = rng.integers(0, 3, n).astype("int32") if random_labels else (X[:, 0] > 0).astype("int32")
    return X, y, ArrayBatches(np.array(X), np.array(y), 20, seed=0)


def test_stops_after_exactly_patience_epochs_without_improvement():
    stopper = _run([0.1, 0.5, 0.4, 0.45, 0.3, 0.9], patience=3)
    assert stopper.best_epoch == 2 and stopper.best_score == 0.5
    assert stopper.stopped_epoch == 5
    assert stopper.scores == [0.1, 0.5, 0.4, 0.45, 0.3]  # the 0.9 after the stop is never seen


def test_does_not_stop_while_improving_and_resets_the_count():
    stopper = _run([0.1, 0.2, 0.15, 0.3, 0.25, 0.26, 0.4], patience=3)
    assert stopper.stopped_epoch is None and not stopper.should_stop
    assert stopper.best_epoch == 7


def test_improvements_smaller_than_min_delta_do_not_count():
    stopper = _run([0.50, 0.505, 0.509, 0.52], patience=2, min_delta=0.01)
    assert (stopper.best_epoch, stopper.stopped_epoch) == (1, 3)
    stopper = _run([0.50, 0.505, 0.509, 0.52], patience=2, min_delta=0.0)
    assert (stopper.best_epoch, stopper.stopped_epoch) == (4, None)


def test_mode_min_for_losses():
    stopper = _run([1.0, 0.8, 0.85, 0.9, 0.7], patience=2, mode="min")
    assert (stopper.best_epoch, stopper.best_score, stopper.stopped_epoch) == (2, 0.8, 4)


def test_nan_never_improves():
    stopper = _run([0.3, math.nan, math.nan], patience=2)
    assert (stopper.best_epoch, stopper.stopped_epoch) == (1, 3)


def test_agrees_with_a_direct_count_on_random_sequences():
    rng = numpy.random.default_rng(0)
    for _ in range(300):
        scores = list(rng.uniform(size=rng.integers(1, 25)).round(2))
        patience = int(rng.integers(1, 5))
        stopper = _run(scores, patience=patience)
        expected_stop = None
        best = 0
        for i in range(1, len(scores)):
            if scores[i] > scores[best]:
                best = i
            elif i - best >= patience:
                expected_stop = i + 1
                break
        assert stopper.best_epoch == best + 1
        assert stopper.stopped_epoch == expected_stop


def test_restores_exactly_the_best_parameters():
    net = _net()
    stopper = EarlyStopping(patience=2)
    snapshots = []
    for epoch, score in enumerate([0.2, 0.6, 0.5, 0.4]):
        _perturb(net, 0.1 * (epoch + 1))  # "training" changes every parameter
        snapshots.append(_values(net))
        if stopper.step(score, net):
            break
    assert stopper.best_epoch == 2
    current = _values(net)
    assert any(not numpy.array_equal(current[k], snapshots[1][k]) for k in current)
    stopper.restore(net)
    restored = _values(net)
    assert restored.keys() == snapshots[1].keys()
    for name in restored:
        numpy.testing.assert_array_equal(restored[name], snapshots[1][name])


def test_snapshot_is_a_copy_not_a_view():
    net = _net()
    stopper = EarlyStopping(patience=1)
    stopper.step(0.9, net)
    best = _values(net)
    _perturb(net, 5.0)  # later training must not leak into the saved copy
    stopper.step(0.1, net)
    stopper.restore(net)
    for name, value in _values(net).items():
        numpy.testing.assert_array_equal(value, best[name])


def test_restore_checks_its_input():
    with pytest.raises(ValueError, match="nothing to restore"):
        EarlyStopping().restore(_net())
    stopper = EarlyStopping()
    stopper.step(0.5, _net())
    from mxnet import init
    from mxnet.gluon import nn

    other = nn.Dense(2)
    other.initialize(init.Zero())
    with pytest.raises(ValueError, match="differ"):
        stopper.restore(other)


@pytest.mark.parametrize("kwargs", [
    {"patience": 0}, {"patience": -1}, {"patience": 2.5}, {"patience": True},
    {"min_delta": -0.1}, {"min_delta": math.inf}, {"min_delta": "0.1"},
    {"mode": "maximum"},
])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        EarlyStopping(**kwargs)


def test_rejects_a_score_that_is_not_a_number():
    with pytest.raises(ValueError, match="score must be a number"):
        EarlyStopping().step("high")


def test_weight_norm_counts_weights_only():
    net = _net()
    expected = math.sqrt(sum(float((p.data() ** 2).sum()) for n, p in net.collect_params().items()
                             if n.endswith("weight")))
    assert weight_norm(net) == pytest.approx(expected, rel=1e-6)
    for name, p in net.collect_params().items():
        if name.endswith("bias"):
            p.set_data(p.data() + 100.0)
    assert weight_norm(net) == pytest.approx(expected, rel=1e-6)


def test_fit_with_a_stopper_stops_and_restores_on_a_tiny_problem():
    from mxnet import gluon, np

    from regbook.data import ArrayBatches

    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(60, 5)).astype("float32")
    y = (X[:, 0] > 0).astype("int32")
    train = ArrayBatches(np.array(X[:40]), np.array(y[:40]), 20, shuffle=True, seed=0)
    val = ArrayBatches(np.array(X[40:]), np.array(rng.integers(0, 3, 20).astype("int32")), 20)  # random labels
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    stopper = EarlyStopping(patience=2)
    history = training.fit(net, train, val, gluon.loss.SoftmaxCrossEntropyLoss(), 30, trainer.step,
                           plot=False, progress=False, stopper=stopper)
    assert isinstance(history, History)
    assert history.val_acc is history.test_acc and history.train_loss is history.loss
    assert len(history.seconds) == history.epochs and history.sec_per_epoch > 0
    assert history.stopped_epoch is not None and history.epochs == history.stopped_epoch <= 30
    assert history.best_epoch == stopper.best_epoch
    assert len(history.weight_norm) == len(history.train_loss) == history.epochs
    assert history.weight_norm[-1] != pytest.approx(weight_norm(net))  # the best epoch's weights are back
    assert evaluate_accuracy(net, val) == pytest.approx(stopper.best_score)


def test_fit_without_a_stopper_leaves_the_early_stopping_fields_empty():
    from mxnet import gluon

    *_, batches = _batches(3, random_labels=False)
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    history = training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 3, trainer.step,
                           plot=False, progress=False)
    assert history.epochs == 3 and history.weight_norm == []
    assert history.best_epoch is None and history.stopped_epoch is None
    tracked = training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 2, trainer.step,
                           plot=False, progress=False, track_weight_norm=True)
    assert len(tracked.weight_norm) == 2 and tracked.weight_norm[-1] == pytest.approx(weight_norm(net))


def test_run_to_end_keeps_the_stoppers_choice():
    from mxnet import gluon

    *_, batches = _batches(1)
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    stopper = EarlyStopping(patience=1)
    history = training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 12, trainer.step,
                           plot=False, progress=False, stopper=stopper, run_to_end=True, restore_best=False)
    assert history.epochs == 12
    assert history.stopped_epoch is not None and history.stopped_epoch < 12
    assert len(stopper.scores) == history.stopped_epoch  # frozen after the stop
    assert history.best_epoch <= history.stopped_epoch
    assert history.weight_norm[-1] == pytest.approx(weight_norm(net))  # restore_best=False: the last weights
    with pytest.raises(ValueError, match="num_epochs"):
        training.fit(net, batches, batches, None, 0, trainer.step, plot=False, progress=False,
                     stopper=EarlyStopping())


def test_live_plot_gets_every_point_but_is_redrawn_only_every_k_epochs():
    from mxnet import gluon

    from regbook.plotting import LivePlot

    class CountingPlot(LivePlot):
        def __init__(self):
            super().__init__(live=True)
            self.redraws = []

        def draw(self):
            self.redraws.append(len(self.series["val acc"][0]))
            return None

    import IPython.display

    *_, batches = _batches(2)
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    plot = CountingPlot()
    shown = []
    original = IPython.display.display, IPython.display.clear_output
    IPython.display.display, IPython.display.clear_output = (lambda *a, **k: shown.append(a)), (lambda **k: None)
    try:
        training.fit(net, batches, batches, gluon.loss.SoftmaxCrossEntropyLoss(), 7, trainer.step, plot=plot,
                     progress=False, stopper=EarlyStopping(patience=100), redraw_every=3, test_label="val acc")
    finally:
        IPython.display.display, IPython.display.clear_output = original
    assert plot.series["val acc"][0] == [1, 2, 3, 4, 5, 6, 7]  # every epoch recorded
    assert plot.redraws == [3, 6, 7] and len(shown) == 3  # redrawn every 3rd epoch and at the last
    assert plot.live  # the plot stays live afterwards
    with pytest.raises(ValueError, match="redraw_every"):
        training.fit(net, batches, batches, None, 1, trainer.step, plot=False, progress=False,
                     stopper=EarlyStopping(), redraw_every=0)
