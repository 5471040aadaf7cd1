"""Early stopping: watch a validation score, stop after ``patience`` epochs without improvement, keep the best weights.

    stopper = EarlyStopping(patience=5, min_delta=0.001, mode="max")
    for epoch in range(max_epochs):
        ...train one epoch...
        if stopper.step(validation_accuracy, net):   # snapshots net's weights when the score improves
            break
    stopper.restore(net)                              # the weights of the best epoch, exactly

:func:`train_with_early_stopping` wraps that loop around the book's epoch loop (:func:`regbook.training.train`),
with live curves and a progress bar, and can keep training after the stopping point to show what the extra
epochs do. It returns a :class:`StoppingHistory`: the book's :class:`regbook.training.History` plus the
weight norm per epoch and the stopper's best and stopping epochs.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from regbook import compat as _compat  # noqa: F401
from regbook.plotting import LivePlot
from regbook.training import History, train


class EarlyStopping:
    """Patience-based early stopping that keeps a copy of the best parameters of a Gluon block.

    ``step(score, net)`` is called once per epoch with the validation score. A score counts as an improvement
    when it beats the best so far by more than ``min_delta`` (``mode="max"`` for accuracies, ``"min"`` for
    losses); then the parameters of ``net`` are copied. After ``patience`` epochs in a row without
    improvement, ``step`` returns ``True``. ``restore(net)`` writes the saved copy back. A NaN score (a
    diverged run) never counts as an improvement.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "max"):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer (epochs to wait), got {patience!r}")
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
            raise ValueError("nothing to restore: call step(score, net) with the network at least once first")
        params = _named_params(net)
        if set(params) != set(self._best_params):
            raise ValueError("restore() got a network whose parameters differ from the one passed to step()")
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


@dataclass
class StoppingHistory(History):
    """The per-epoch curves of :class:`regbook.training.History` for a run watched by :class:`EarlyStopping`.

    ``test_acc`` holds the score the stopper watched (the validation accuracy; ``val_acc`` names it so),
    ``loss`` the training loss (also ``train_loss``). Added: the weight norm per epoch, and where the stopper
    found its best epoch and where it (would have) stopped.
    """

    weight_norm: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None  # None: patience never ran out

    @property
    def val_acc(self) -> list[float]:
        return self.test_acc

    @property
    def train_loss(self) -> list[float]:
        return self.loss

    @property
    def epochs(self) -> int:
        return len(self.test_acc)


def train_with_early_stopping(net, train_batches: Iterable, val_batches: Iterable, loss: Callable,
                              update: Callable[[int], None], max_epochs: int, stopper: EarlyStopping,
                              run_to_end: bool = False, restore_best: bool = True,
                              plot: LivePlot | bool = True, progress: bool = True,
                              desc: str = "training", redraw_every: int = 1) -> StoppingHistory:
    """Train for at most ``max_epochs``, stepping ``stopper`` with the validation accuracy after each epoch.

    Training ends when the stopper says so, unless ``run_to_end``: then it goes on to ``max_epochs`` (the
    stopper is no longer consulted, so its best epoch stays the one early stopping would have chosen).
    With ``restore_best`` the network ends with the best epoch's weights; otherwise with the last ones.
    A live ``plot`` gets every epoch's point but is redrawn only every ``redraw_every`` epochs (drawing a
    figure costs more CPU than an epoch of a small network).
    """
    from tqdm.std import tqdm

    if max_epochs < 1:
        raise ValueError(f"max_epochs must be at least 1, got {max_epochs}")
    if redraw_every < 1:
        raise ValueError(f"redraw_every must be at least 1, got {redraw_every}")
    if plot is True:
        plot = LivePlot(ylim=(0, 1), title=desc if desc != "training" else None)
    history = StoppingHistory()
    bar = tqdm(range(max_epochs), desc=desc, unit="epoch", disable=not progress, file=sys.stderr,
               leave=False, dynamic_ncols=True)
    for epoch in bar:
        # one epoch of the book's training loop, with the validation set in the place of its test set
        one = train(net, train_batches, val_batches, loss, 1, update, plot=False, progress=False)
        for name in ("loss", "train_acc", "test_acc", "seconds"):
            getattr(history, name).extend(getattr(one, name))
        history.weight_norm.append(weight_norm(net))
        train_loss, train_acc, val_acc = one.loss[0], one.train_acc[0], one.test_acc[0]
        stop = stopper.step(val_acc, net) if stopper.stopped_epoch is None else True
        bar.set_postfix(loss=f"{train_loss:.3f}", val=f"{val_acc:.3f}", best=stopper.best_epoch)
        last = (stop and not run_to_end) or epoch + 1 == max_epochs
        if plot:
            _add_point(plot, epoch + 1, {"train loss": train_loss, "train acc": train_acc, "val acc": val_acc},
                       redraw=last or (epoch + 1) % redraw_every == 0)
        if stop and not run_to_end:
            break
    bar.close()
    history.best_epoch, history.stopped_epoch = stopper.best_epoch, stopper.stopped_epoch
    if restore_best:
        stopper.restore(net)
    return history


def _add_point(plot: LivePlot, x: float, values: dict, redraw: bool) -> None:
    """``plot.add`` that redraws a live plot only when ``redraw`` (the points are recorded either way)."""
    live = plot.live
    plot.live = live and redraw
    try:
        plot.add(x, values)
    finally:
        plot.live = live
