"""Plots the chapters share: live training curves and mean ± std error bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy

from regbook.runs import mean_std


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


def plot_mean_std(ax, x: Sequence[float], runs, label: str, style: str = "-", color=None) -> None:
    """One curve: the mean over ``runs`` (shape runs × len(x)) with a shaded ±1 std band."""
    mean, std = mean_std(runs)
    line = ax.plot(x, mean, style, label=label, color=color)[0]
    ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color())


def bar_mean_std(ax, labels: Sequence[str], runs_per_label, ylabel: str | None = None, colors=None) -> None:
    """A bar per label: the mean of its runs with a ±1 std error bar, each run drawn as a dot."""
    means, stds = zip(*(mean_std(numpy.asarray(r, dtype=float)[:, None]) for r in runs_per_label), strict=True)
    positions = numpy.arange(len(labels))
    ax.bar(positions, [m[0] for m in means], yerr=[s[0] for s in stds], capsize=4, color=colors, alpha=0.7)
    for pos, runs in zip(positions, runs_per_label, strict=True):
        ax.plot(numpy.full(len(runs), pos), runs, "k.", markersize=4)
    ax.set_xticks(positions, labels)
    if ylabel:
        ax.set_ylabel(ylabel)


# --- the goalkeeper chapter's pitch ---------------------------------------------------------------------


def plot_field(ax, xlim=(-1.05, 1.05), ylim=(-0.7, 0.7)) -> None:
    """Draw a football pitch (105 m x 68 m, in half pitch lengths) with our goal on the left."""
    from matplotlib import patches

    ax.set_facecolor("#e8f3e0")
    line = {"color": "white", "lw": 1.5, "zorder": 0}
    ax.add_patch(patches.Rectangle((-1, -0.648), 2, 1.296, fill=False, **line))
    ax.plot([0, 0], [-0.648, 0.648], **line)
    ax.add_patch(patches.Circle((0, 0), 9.15 / 52.5, fill=False, **line))
    for side in (-1, 1):  # penalty area (16.5 m x 40.32 m), goal area (5.5 m x 18.32 m), goal
        for depth, width in ((16.5, 40.32), (5.5, 18.32)):
            x0 = -1 if side < 0 else 1 - depth / 52.5
            ax.add_patch(patches.Rectangle((x0, -width / 105), depth / 52.5, width / 52.5, fill=False, **line))
        ax.plot([side, side * (1 + 2 / 52.5)], [0, 0], color="0.3", lw=4, solid_capstyle="butt", zorder=0)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.grid(False)


def plot_points(ax, X, Y, size: float = 14) -> None:
    """The headers: blue where our player won it (label 1), red where an opponent did (label 0)."""
    Y = numpy.asarray(Y).ravel()
    ax.scatter(X[0, Y == 1], X[1, Y == 1], s=size, c="tab:blue", edgecolors="k", linewidths=0.3, label="ours")
    ax.scatter(X[0, Y == 0], X[1, Y == 0], s=size, c="tab:red", edgecolors="k", linewidths=0.3, label="theirs")


def plot_decision_boundary(ax, predict_fn, X, Y, resolution: int = 200, margin: float = 0.1) -> None:
    """Shade the region ``predict_fn`` (a (2, k) -> (1, k) 0/1 function) gives to each team; plot the points."""
    x_min, x_max = X[0].min() - margin, X[0].max() + margin
    y_min, y_max = X[1].min() - margin, X[1].max() + margin
    grid_x, grid_y = numpy.meshgrid(numpy.linspace(x_min, x_max, resolution),
                                    numpy.linspace(y_min, y_max, resolution))
    labels = predict_fn(numpy.vstack([grid_x.ravel(), grid_y.ravel()])).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, labels, levels=[-0.5, 0.5, 1.5], colors=["#f4b6b0", "#b3cde3"], alpha=0.8)
    plot_points(ax, X, Y, size=10)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_aspect("equal")
    ax.grid(False)
