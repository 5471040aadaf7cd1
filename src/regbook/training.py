"""Training utilities the chapters share: accuracy, one epoch, the full loop, and ``train_ch3``.

d2l 1.0 dropped ``train_ch3`` (and ``evaluate_accuracy``, ``sgd``), which the book's sources call; they
live here, written once. The loop keeps everything on MXNet's asynchronous engine and synchronises once
per epoch, so the time goes into the matrix products, not into Python.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from regbook import compat as _compat  # noqa: F401
from regbook.plotting import LivePlot


def accuracy_count(y_hat, y):
    """Number of correct predictions in a batch, as an (unsynchronised) MXNet scalar."""
    return (y_hat.argmax(axis=1).astype(y.dtype) == y).sum()


def evaluate_accuracy(net: Callable, batches: Iterable) -> float:
    """Accuracy of ``net`` over ``batches`` of ``(X, y)``, in inference mode (dropout off)."""
    correct, total = 0.0, 0
    for X, y in batches:
        correct = correct + accuracy_count(net(X), y)
        total += len(y)
    return float(correct) / max(total, 1)


def sgd(params, lr: float, batch_size: int) -> None:
    """Minibatch SGD on a list of parameters whose gradients are the *sum* over the batch."""
    for param in params:
        param -= (lr / batch_size) * param.grad  # in place: one temporary, not three


@dataclass
class History:
    """Per-epoch metrics of one training run."""

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def sec_per_epoch(self) -> float:
        return sum(self.seconds) / max(len(self.seconds), 1)

    def as_dict(self) -> dict:
        return {"loss": self.loss, "train_acc": self.train_acc, "test_acc": self.test_acc,
                "sec_per_epoch": self.sec_per_epoch}


def train_epoch(net: Callable, train_batches: Iterable, loss: Callable, update: Callable[[int], None]):
    """One pass over ``train_batches`` in training mode; returns ``(mean loss, train accuracy)``.

    ``update(batch_size)`` applies one optimisation step (``trainer.step`` or a scratch SGD step).
    Loss and accuracy are accumulated on the engine and read once, at the end.
    """
    from mxnet import autograd

    total_loss, correct, count = 0.0, 0.0, 0
    for X, y in train_batches:
        with autograd.record():
            y_hat = net(X)
            batch_loss = loss(y_hat, y)
        batch_loss.backward()
        update(len(y))
        total_loss = total_loss + batch_loss.sum()
        correct = correct + accuracy_count(y_hat, y)
        count += len(y)
    return float(total_loss) / count, float(correct) / count


def make_update(params=None, lr: float | None = None, trainer=None) -> Callable[[int], None]:
    """``update(batch_size)`` for either a Gluon ``trainer`` or scratch ``params`` with learning rate ``lr``."""
    if trainer is not None:
        return trainer.step
    if params is None or lr is None:
        raise ValueError("give either trainer=... or both params=... and lr=...")
    return lambda batch_size: sgd(params, lr, batch_size)


def train(net: Callable, train_batches: Iterable, test_batches: Iterable, loss: Callable, num_epochs: int,
          update: Callable[[int], None], plot: LivePlot | bool = True, progress: bool = True,
          desc: str = "training", log: bool = False) -> History:
    """Train for ``num_epochs``; record loss, train and test accuracy per epoch; draw them live.

    ``plot`` may be a :class:`LivePlot` to draw into, ``True`` for a new one, ``False`` for none.
    ``progress`` shows a text progress bar (on stderr); ``log`` prints one line per epoch.
    """
    from tqdm.std import tqdm

    if plot is True:
        plot = LivePlot(title=desc if desc != "training" else None)
    history = History()
    bar = tqdm(range(num_epochs), desc=desc, unit="epoch", disable=not progress, file=sys.stderr,
               leave=False, dynamic_ncols=True)
    for epoch in bar:
        start = time.perf_counter()
        train_loss, train_acc = train_epoch(net, train_batches, loss, update)
        history.seconds.append(time.perf_counter() - start)
        test_acc = evaluate_accuracy(net, test_batches)
        history.loss.append(train_loss)
        history.train_acc.append(train_acc)
        history.test_acc.append(test_acc)
        bar.set_postfix(loss=f"{train_loss:.3f}", train=f"{train_acc:.3f}", test=f"{test_acc:.3f}")
        if plot:
            plot.add(epoch + 1, {"train loss": train_loss, "train acc": train_acc, "test acc": test_acc})
        if log:
            print(f"epoch {epoch + 1}, loss {train_loss:.4f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}")
    bar.close()
    return history


def summarize(histories: list[History], **extra) -> dict:
    """Final-epoch train/test accuracy and seconds per epoch over several runs, as mean and std (ddof=1)."""
    import numpy

    def stats(values):
        values = numpy.asarray(values, dtype=float)
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0

    train_mean, train_std = stats([h.train_acc[-1] for h in histories])
    test_mean, test_std = stats([h.test_acc[-1] for h in histories])
    return dict(extra, seeds=len(histories), epochs=len(histories[0].test_acc),
                train_acc_mean=train_mean, train_acc_std=train_std,
                test_acc_mean=test_mean, test_acc_std=test_std,
                sec_per_epoch=float(numpy.mean([h.sec_per_epoch for h in histories])))


def train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size=None, params=None, lr=None,
              trainer=None, plot: LivePlot | bool = False) -> History:
    """d2l 0.x's ``train_ch3`` (removed in d2l 1.0), with its signature and its per-epoch printout.

    As in d2l 0.x, every step divides the summed gradient by ``batch_size``, also on an epoch's last, smaller
    minibatch (that step is then shorter); without ``batch_size`` each step divides by its batch's length.
    """
    step = make_update(params, lr, trainer)
    update = step if batch_size is None else (lambda _: step(batch_size))
    return train(net, train_iter, test_iter, loss, num_epochs, update, plot=plot, progress=False, log=True)
