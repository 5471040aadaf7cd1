"""Plots the chapters share: live training curves and mean ± std error bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where live plots are drawn)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class LivePlot:
    """Training curves that redraw in place while a notebook cell runs (d2l's ``Animator``, reborn).

    ``plot.add(epoch, {"train loss": 0.4, "test acc": 0.85})`` appends one point per named curve and
    redraws. Outside a notebook nothing is drawn until :meth:`figure` is asked for.
    """

    def __init__(self, xlabel: str = "epoch", ylabel: str | None = None, xlim=None, ylim=None,
                 title: str | None = None, figsize=(4.5, 3.0), live: bool | None = None):
        self.xlabel, self.ylabel, self.xlim, self.ylim, self.title = xlabel, ylabel, xlim, ylim, title
        self.figsize = figsize
        self.series: dict[str, tuple[list, list]] = {}
        self.live = in_notebook() if live is None else live
        self._fig = None

    def add(self, x: float, values: dict[str, float]) -> None:
        for name, value in values.items():
            xs, ys = self.series.setdefault(name, ([], []))
            xs.append(x)
            ys.append(float(value))
        if self.live:
            from IPython import display

            self.draw()
            display.display(self._fig)
            display.clear_output(wait=True)

    def draw(self):
        import matplotlib.pyplot as plt

        if self._fig is None:
            self._fig, self._ax = plt.subplots(figsize=self.figsize)
        ax = self._ax
        ax.cla()
        for (name, (xs, ys)), style in zip(self.series.items(), _styles(), strict=False):
            ax.plot(xs, ys, style, label=name)
        ax.set_xlabel(self.xlabel)
        if self.ylabel:
            ax.set_ylabel(self.ylabel)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.title:
            ax.set_title(self.title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        return self._fig

    def figure(self):
        """The figure with every point added so far."""
        return self.draw()


def _styles():
    while True:
        yield from ("-", "m--", "g-.", "r:", "c-", "k--", "y-.", "b:")


def mean_std(runs) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Mean and sample standard deviation (ddof=1; 0 for a single run) over axis 0 of ``runs``."""
    runs = numpy.asarray(runs, dtype=float)
    std = runs.std(axis=0, ddof=1) if len(runs) > 1 else numpy.zeros_like(runs[0])
    return runs.mean(axis=0), std


def plot_mean_std(ax, x: Sequence[float], runs, label: str, style: str = "-", color=None) -> None:
    """One curve: the mean over ``runs`` (shape runs × len(x)) with a shaded ±1 std band."""
    mean, std = mean_std(runs)
    line = ax.plot(x, mean, style, label=label, color=color)[0]
    ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())


def bar_mean_std(ax, labels: Sequence[str], runs_per_label, ylabel: str | None = None, colors=None) -> None:
    """A bar per label: the mean of its runs with a ±1 std error bar, each run drawn as a dot."""
    means, stds = zip(*(mean_std(numpy.asarray(r)[:, None]) for r in runs_per_label), strict=True)
    positions = numpy.arange(len(labels))
    ax.bar(positions, [m[0] for m in means], yerr=[s[0] for s in stds], capsize=4, color=colors, alpha=0.7)
    for pos, runs in zip(positions, runs_per_label, strict=True):
        ax.plot(numpy.full(len(runs), pos), runs, "k.", markersize=4)
    ax.set_xticks(positions, labels)
    if ylabel:
        ax.set_ylabel(ylabel)
