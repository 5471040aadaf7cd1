"""Training, written once for the whole book: accuracy, one epoch, :func:`fit` (the loop every chapter calls,
with hooks for learning-rate schedules, early stopping and a live plot), one :class:`History`, and
``train_ch3``.

d2l 1.0 dropped ``train_ch3`` (and ``evaluate_accuracy``, ``sgd``), which the book's sources call; they
live here, written once. The loop keeps everything on MXNet's asynchronous engine and synchronises once
per epoch, so the time goes into the matrix products, not into Python.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from regbook import compat as _compat  # noqa: F401
from regbook.plotting import LivePlot


def accuracy_count(y_hat, y):
    """Number of correct predictions in a batch, as an (unsynchronised) MXNet scalar.

    ``y`` holds one class index per example, shape (n,); ``y_hat`` one row of scores per example.
    """
    if y.ndim != 1 or y_hat.ndim != 2 or y_hat.shape[0] != y.shape[0]:
        raise ValueError(f"labels must have shape (n,) with one class index per example and the scores shape "
                         f"(n, classes); got labels {y.shape} and scores {y_hat.shape}"
                         + (" (flatten the labels: y.reshape(-1))" if y.ndim == 2 and 1 in y.shape[1:] else ""))
    return (y_hat.argmax(axis=1).astype(y.dtype) == y).sum()


def forward(net: Callable, X):
    """``net(X)``, with MXNet's shape errors turned into a ValueError that names the input's shape."""
    from mxnet.base import MXNetError

    try:
        return net(X)
    except MXNetError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "hape" in line), "")
        if not detail:
            raise
        raise ValueError(f"the network cannot take inputs of shape {tuple(X.shape)}: {detail.split(': ', 1)[-1]} "
                         "(a hybridized network keeps the input size it first saw; check the data's shape, e.g. "
                         "flatten=True for an MLP)") from None


def evaluate_accuracy(net: Callable, batches: Iterable) -> float:
    """Accuracy of ``net`` over ``batches`` of ``(X, y)``, in inference mode (dropout off)."""
    correct, total = 0.0, 0
    for X, y in batches:
        correct = correct + accuracy_count(forward(net, X), y)
        total += len(y)
    if total == 0:
        raise ValueError("evaluate_accuracy got no examples: the batches are empty")
    return float(correct) / total


def check_learning_rate(lr, name: str = "lr") -> float:
    """``lr`` as a float if it is a finite positive number; else a ValueError naming ``name``."""
    ok = isinstance(lr, numbers.Real) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0
    if not ok:
        raise ValueError(f"{name} is a learning rate and must be a finite positive number, got {lr!r}")
    return float(lr)


def sgd(params, lr: float, batch_size: int) -> None:
    """Minibatch SGD on a list of parameters whose gradients are the *sum* over the batch."""
    check_learning_rate(lr)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
    for param in params:
        param -= (lr / batch_size) * param.grad  # in place: one temporary, not three


def train_epoch(net: Callable, train_batches: Iterable, loss: Callable, update: Callable[[int], None]):
    """One pass over ``train_batches`` in training mode; returns ``(mean loss, train accuracy)``.

    ``update(batch_size)`` applies one optimisation step (``trainer.step`` or a scratch SGD step).
    Loss and accuracy are accumulated on the engine and read once, at the end.
    """
    from mxnet import autograd

    total_loss, correct, count = 0.0, 0.0, 0
    for X, y in train_batches:
        with autograd.record():
            y_hat = forward(net, X)
            batch_loss = loss(y_hat, y)
        batch_loss.backward()
        update(len(y))
        total_loss = total_loss + batch_loss.sum()
        correct = correct + accuracy_count(y_hat, y)
        count += len(y)
    if count == 0:
        raise ValueError("train_epoch got no examples: the training batches are empty")
    return float(total_loss) / count, float(correct) / count


def make_update(params=None, lr: float | None = None, trainer=None) -> Callable[[int], None]:
    """``update(batch_size)`` for either a Gluon ``trainer`` or scratch ``params`` with learning rate ``lr``."""
    if trainer is not None:
        return trainer.step
    if params is None or lr is None:
        raise ValueError("give either trainer=... or both params=... and lr=...")
    check_learning_rate(lr)
    return lambda batch_size: sgd(params, lr, batch_size)


@dataclass
class History:
    """Per-epoch record of one training run (every chapter's loops return one).

    ``loss`` is the training loss, ``test_acc`` the score evaluated after each epoch (a validation accuracy
    when the run is watched by :class:`EarlyStopping`, hence the alias ``val_acc``); ``val_loss`` is filled by
    regression loops. Early stopping adds the weight norm per epoch and where the stopper found its best
    epoch and where it (would have) stopped.
    """

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    weight_norm: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None  # None: patience never ran out
    model: object = None  # the trained network, where a comparison keeps it

    @property
    def sec_per_epoch(self) -> float:
        return sum(self.seconds) / max(len(self.seconds), 1)

    @property
    def val_acc(self) -> list[float]:
        return self.test_acc

    @property
    def train_loss(self) -> list[float]:
        return self.loss

    @property
    def epochs(self) -> int:
        return max(len(self.loss), len(self.test_acc))

    def as_dict(self) -> dict:
        return {"loss": self.loss, "train_acc": self.train_acc, "test_acc": self.test_acc,
                "sec_per_epoch": self.sec_per_epoch}


class EarlyStopping:
    """Patience-based early stopping that keeps a copy of the best parameters of a Gluon block.

    ``step(score, net)`` is called once per epoch with the validation score. A score counts as an improvement
    when it beats the best so far by more than ``min_delta`` (``mode="max"`` for accuracies, ``"min"`` for
    losses); then the parameters of ``net`` are copied. After ``patience`` epochs in a row without
    improvement, ``step`` returns ``True``. ``restore(net)`` writes the saved copy back. A NaN score (a
    diverged run) never counts as an improvement. :func:`fit` takes one as ``stopper=``.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "max"):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer (epochs to wait), "
                             f"got {patience!r}")
        if (isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real)
                or not math.isfinite(min_delta) or min_delta < 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' (e.g. accuracy) or 'min' (e.g. loss), got {mode!r}")
        self.patience, self.min_delta, self.mode = patience, float(min_delta), mode
        self.scores: list[float] = []
        self.best_score: float | None = None
        self.best_epoch: int | None = None  # 1-based epoch of the best score
        self.stopped_epoch: int | None = None  # the epoch at which step() first returned True
        self.bad_epochs = 0
        self._best_params: dict | None = None

    def is_improvement(self, score: float) -> bool:
        """Whether ``score`` beats the best so far by more than ``min_delta``."""
        if math.isnan(score):
            return False
        if self.best_score is None:
            return True
        if self.mode == "max":
            return score > self.best_score + self.min_delta
        return score < self.best_score - self.min_delta

    def step(self, score: float, net=None) -> bool:
        """Record one epoch's validation ``score``; snapshot ``net`` if it improved; return whether to stop."""
        try:
            score = float(score)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"score must be a number (a validation metric), got {score!r}") from exc
        self.scores.append(score)
        if self.is_improvement(score):
            self.best_score, self.best_epoch, self.bad_epochs = score, len(self.scores), 0
            if net is not None:
                self._best_params = _copy_params(net)
        else:
            self.bad_epochs += 1
        if self.should_stop and self.stopped_epoch is None:
            self.stopped_epoch = len(self.scores)
        return self.should_stop

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def restore(self, net) -> None:
        """Write the parameters saved at the best epoch back into ``net``."""
        if self._best_params is None:
            raise ValueError("nothing to restore: call step(score, net) with the network "
                             "at least once first")
        params = _named_params(net)
        if set(params) != set(self._best_params):
            raise ValueError("restore() got a network whose parameters differ from the one "
                             "passed to step()")
        for name, param in params.items():
            param.set_data(self._best_params[name].copy())


def _named_params(net) -> dict:
    return dict(net.collect_params().items())


def _copy_params(net) -> dict:
    return {name: param.data().copy() for name, param in _named_params(net).items()}


def weight_norm(net) -> float:
    """The Euclidean norm of all weight matrices of ``net`` together (biases left out)."""
    total = 0.0
    for name, param in _named_params(net).items():
        if name.endswith("weight"):
            values = param.data().asnumpy().astype("float64")  # one copy out; NumPy's sum is faster than MXNet's
            total += float((values * values).sum())
    return math.sqrt(total)


def scheduled(update: Callable[[int], None], trainer, lr_schedule: Callable[[int], float]):
    """``update`` that first sets ``trainer``'s learning rate to ``lr_schedule(step)`` (step counts from 0)."""
    steps = [0]

    def step(batch_size: int) -> None:
        trainer.set_learning_rate(lr_schedule(steps[0]))
        update(batch_size)
        steps[0] += 1

    return step


def fit(net: Callable, train_batches: Iterable, test_batches: Iterable, loss: Callable, num_epochs: int,
        update: Callable[[int], None], plot: LivePlot | bool = True, progress: bool = True,
        desc: str = "training", log: bool = False, *, stopper: EarlyStopping | None = None,
        run_to_end: bool = False, restore_best: bool = True, track_weight_norm: bool = False,
        trainer=None, lr_schedule: Callable[[int], float] | None = None, redraw_every: int = 1,
        test_label: str = "test acc", engine: bool = False) -> History:
    """Train for ``num_epochs``; record loss, train and test accuracy per epoch; draw them live.

    ``update(batch_size)`` applies one optimisation step (``trainer.step`` or :func:`make_update`'s SGD).
    ``plot`` may be a :class:`LivePlot` to draw into, ``True`` for a new one, ``False`` for none; it gets
    every epoch's point and is redrawn every ``redraw_every`` epochs (drawing costs more CPU than an epoch of
    a small network). ``progress`` shows a progress bar on stderr; ``log`` prints one line per epoch.

    Hooks. ``lr_schedule(step)`` sets ``trainer``'s learning rate before every step. ``stopper`` (an
    :class:`EarlyStopping`) is stepped with the test (validation) accuracy after each epoch and ends training
    when its patience runs out, unless ``run_to_end`` (then it is no longer consulted, so its best epoch stays
    the one early stopping would have chosen); with ``restore_best`` the network ends with the best epoch's
    weights. ``track_weight_norm`` records :func:`weight_norm` after each epoch (on with a stopper).

    ``engine=True`` trains each epoch with :class:`regbook.engine.Engine` instead of :func:`train_epoch`: the
    same network, loss, optimizer (the Gluon ``trainer``'s sgd or adam, or ``update = trainer.step``) and
    dropout statistics, at the speed of the matrix products.
    """
    from tqdm.std import tqdm

    if isinstance(num_epochs, bool) or not isinstance(num_epochs, numbers.Integral) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a whole number of at least 1, got {num_epochs!r}")
    if redraw_every < 1:
        raise ValueError(f"redraw_every must be at least 1, got {redraw_every}")
    if lr_schedule is not None:
        if trainer is None:
            raise ValueError("lr_schedule needs the trainer whose learning rate it sets: "
                             "fit(..., trainer=...)")
        if not engine:
            update = scheduled(update, trainer, lr_schedule)
    run_epoch = (lambda: train_epoch(net, train_batches, loss, update))
    if engine:
        run_epoch = _engine_epochs(net, loss, trainer or getattr(update, "__self__", None), train_batches,
                                   lr_schedule)
    if plot is True:
        plot = LivePlot(ylim=(0, 1) if stopper else None, title=desc if desc != "training" else None)
    history = History()
    bar = tqdm(range(num_epochs), desc=desc, unit="epoch", disable=not progress, file=sys.stderr,
               leave=False, dynamic_ncols=True)
    for epoch in bar:
        start, cpu_start = time.perf_counter(), time.process_time()
        train_loss, train_acc = run_epoch()
        history.seconds.append(time.perf_counter() - start)
        history.cpu_seconds.append(time.process_time() - cpu_start)
        test_acc = evaluate_accuracy(net, test_batches)
        history.loss.append(train_loss)
        history.train_acc.append(train_acc)
        history.test_acc.append(test_acc)
        if track_weight_norm or stopper is not None:
            history.weight_norm.append(weight_norm(net))
        stop = False
        if stopper is not None:
            stop = stopper.step(test_acc, net) if stopper.stopped_epoch is None else True
            bar.set_postfix(loss=f"{train_loss:.3f}", val=f"{test_acc:.3f}", best=stopper.best_epoch)
        else:
            bar.set_postfix(loss=f"{train_loss:.3f}", train=f"{train_acc:.3f}", test=f"{test_acc:.3f}")
        last = (stop and not run_to_end) or epoch + 1 == num_epochs
        if plot:
            _add_point(plot, epoch + 1, {"train loss": train_loss, "train acc": train_acc, test_label: test_acc},
                       redraw=last or (epoch + 1) % redraw_every == 0)
        if log:
            print(f"epoch {epoch + 1}, loss {train_loss:.4f}, train acc {train_acc:.3f}, "
                  f"test acc {test_acc:.3f}")
        if stop and not run_to_end:
            break
    bar.close()
    if stopper is not None:
        history.best_epoch, history.stopped_epoch = stopper.best_epoch, stopper.stopped_epoch
        if restore_best:
            stopper.restore(net)
    return history


def _engine_epochs(net, loss, trainer, train_batches, lr_schedule) -> Callable[[], tuple[float, float]]:
    """``run_epoch()`` for :func:`fit` on :class:`regbook.engine.Engine`, set up from a Gluon ``trainer``."""
    from mxnet import gluon

    from regbook.engine import Engine

    if not isinstance(trainer, gluon.Trainer):
        raise ValueError("fit(engine=True) takes its optimizer from a Gluon trainer: pass trainer=... "
                         "or update=trainer.step")
    options = {}
    if lr_schedule is not None:  # the engine counts updates from 1, lr_schedule its steps from 0
        options["lr_scheduler"] = lambda update: lr_schedule(update - 1)
    engine = Engine.from_trainer(net, loss, trainer, **options)
    return lambda: engine.train_epoch(train_batches)


def fit_arrays(net, arrays, num_epochs: int, *, lr: float, batch_size: int, seed: int, optimizer: str = "adam",
               test_batch_size: int = 1000, plot: LivePlot | bool = False, progress: bool = True,
               desc: str = "training", engine: bool = False) -> History:
    """:func:`fit` an initialized classifier on ``arrays = (X_train, y_train, X_test, y_test)`` with a Gluon
    ``optimizer`` at learning rate ``lr``; minibatches of ``batch_size`` reshuffled every epoch from ``seed``."""
    from mxnet import gluon

    from regbook.data import ArrayBatches

    X_train, y_train, X_test, y_test = arrays
    trainer = gluon.Trainer(net.collect_params(), optimizer, {"learning_rate": check_learning_rate(lr)})
    batches = ArrayBatches(X_train, y_train, batch_size, shuffle=True, seed=seed)
    return fit(net, batches, ArrayBatches(X_test, y_test, test_batch_size), gluon.loss.SoftmaxCrossEntropyLoss(),
               num_epochs, trainer.step, plot=plot, progress=progress, desc=desc, engine=engine)


def _add_point(plot: LivePlot, x: float, values: dict, redraw: bool) -> None:
    """``plot.add`` that redraws a live plot only when ``redraw`` (the points are recorded either way)."""
    live = plot.live
    plot.live = live and redraw
    try:
        plot.add(x, values)
    finally:
        plot.live = live


def train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size=None, params=None, lr=None,
              trainer=None, plot: LivePlot | bool = False) -> History:
    """d2l 0.x's ``train_ch3`` (removed in d2l 1.0), with its signature and its per-epoch printout.

    As in d2l 0.x, every step divides the summed gradient by ``batch_size``, also on an epoch's last, smaller
    minibatch (that step is then shorter); without ``batch_size`` each step divides by its batch's length.
    """
    step = make_update(params, lr, trainer)
    update = step if batch_size is None else (lambda _: step(batch_size))
    return fit(net, train_iter, test_iter, loss, num_epochs, update, plot=plot, progress=False, log=True)
