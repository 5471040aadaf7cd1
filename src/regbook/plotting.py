"""Plots the chapters share: the book's figure style, live training curves and mean ± std over seeds.

Every chapter's figures use one style, ``book.mplstyle`` in this package (:func:`use_book_style`, which
``regbook.notebook.setup()`` calls): sizes legible at the site's column width, the colour-blind-safe
:data:`COLORS`, light grid, no top/right spines, constrained layout. Comparisons over seeds:

* :func:`bar_mean_std` — bars from zero, ±1 std error bars with caps, a dot per seed;
* :func:`points_mean_std` — a mean marker with ±1 std and a dot per seed, for categories whose differences
  bars from zero would hide (the honest alternative to cutting a bar axis);
* :func:`plot_mean_std` — a curve over a numeric x with a ±1 std band.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy

from regbook.runs import mean_std

STYLE = "book.mplstyle"
"""The style file, shipped as package data of ``regbook`` (``plt.style.use("regbook.book")`` also finds it)."""

COLORS = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442")
"""The style's colour cycle (Okabe & Ito): blue, vermillion, bluish green, orange, reddish purple, sky blue,
yellow (last: too pale for thin lines on white). ``C0``…``C6`` in a chapter are these, in this order."""

LINESTYLES = ("-", "--", "-.", ":")
"""Line styles :class:`LivePlot` cycles through together with the colours."""

MARKERS = ("o", "s", "^", "D", "v", "P")
"""Markers of ``LivePlot(points_only=True)``, one per curve."""


def use_book_style() -> None:
    """Apply the book's figure style (``book.mplstyle``) to matplotlib's rcParams.

    The style lays figures out with constrained layout, so ``fig.tight_layout()`` is not needed; where a
    chapter still calls it, matplotlib switches that figure to tight layout and warns "The figure layout has
    changed to tight" — harmless, so that one warning is silenced here rather than printed under the figure.
    """
    import warnings

    from matplotlib import style

    with resources.as_file(resources.files("regbook").joinpath(STYLE)) as path:
        style.use(path)
    warnings.filterwarnings("ignore", message="The figure layout has changed to tight", category=UserWarning)


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
    redraws. Outside a notebook nothing is drawn until :meth:`figure` is asked for. Curve ``i`` takes colour
    ``i`` of the style's cycle and line style ``i`` of :data:`LINESTYLES` (distinct in grey too);
    ``figsize=None`` is the style's default size. ``points_only=True`` draws markers and no lines, for an x
    that counts categories (variants as they finish) rather than measuring anything.
    """

    def __init__(self, xlabel: str = "epoch", ylabel: str | None = None, xlim=None, ylim=None,
                 title: str | None = None, figsize=None, live: bool | None = None, points_only: bool = False):
        self.xlabel, self.ylabel, self.xlim, self.ylim, self.title = xlabel, ylabel, xlim, ylim, title
        self.figsize = figsize
        self.points_only = points_only
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
        for k, ((name, (xs, ys)), (color, linestyle)) in enumerate(zip(self.series.items(), _styles(),
                                                                           strict=False)):
            if self.points_only:
                ax.plot(xs, ys, color=color, linestyle="none", marker=MARKERS[k % len(MARKERS)], label=name)
            else:
                ax.plot(xs, ys, color=color, linestyle=linestyle, label=name)
        ax.set_xlabel(self.xlabel)
        if self.ylabel:
            ax.set_ylabel(self.ylabel)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.title:
            ax.set_title(self.title)
        if self.series:
            ax.legend()
        return self._fig

    def figure(self):
        """The figure with every point added so far."""
        return self.draw()


def _styles():
    """(colour, line style) pairs: the current colour cycle (the book's :data:`COLORS` once the style is on)
    with :data:`LINESTYLES`; the pairs repeat only after lcm(len(colours), 4) curves."""
    colors = _cycle_colors()
    i = 0
    while True:
        yield colors[i % len(colors)], LINESTYLES[i % len(LINESTYLES)]
        i += 1


def _cycle_colors() -> list:
    """The colours of the current cycle: :data:`COLORS` once the book's style is on."""
    import matplotlib

    return list(matplotlib.rcParams["axes.prop_cycle"].by_key().get("color") or COLORS)


def plot_mean_std(ax, x: Sequence[float], runs, label: str, style: str = "-", color=None) -> None:
    """One curve: the mean over ``runs`` (shape runs × len(x)) with a shaded ±1 std band.

    ``x`` is numeric (epochs, degrees, steps): the line means something between its points. For categories
    (variants, methods, λ values shown as equally spaced labels) use :func:`points_mean_std`, which joins nothing.
    """
    mean, std = mean_std(runs)
    line = ax.plot(x, mean, style, label=label, color=color)[0]
    ax.fill_between(x, mean - std, mean + std, alpha=0.2, color=line.get_color(), linewidth=0)


def _seed_offsets(n: int, spread: float = 0.16):
    """Horizontal offsets that spread ``n`` per-seed dots evenly across ``spread`` (no randomness)."""
    return numpy.linspace(-spread / 2, spread / 2, n) if n > 1 else numpy.zeros(n)


def _means_stds(runs_per_label):
    pairs = [mean_std(numpy.asarray(runs, dtype=float).ravel()) for runs in runs_per_label]
    return numpy.array([m for m, _ in pairs]), numpy.array([s for _, s in pairs])


def _per_label(colors, n: int, default) -> list:
    """One colour per label from ``None`` (``default``), a single colour, or a list of ``n`` colours."""
    from matplotlib.colors import is_color_like

    if colors is None:
        return [default] * n
    if is_color_like(colors):
        return [colors] * n
    colors = list(colors)
    if len(colors) != n:
        raise ValueError(f"got {len(colors)} colours for {n} labels")
    return colors


def _categorical_x(ax, positions, labels) -> None:
    ax.set_xticks(positions, labels)
    ax.tick_params(axis="x", length=0)
    ax.xaxis.grid(False)
    ax.set_xlim(-0.6, len(labels) - 0.4)


def bar_mean_std(ax, labels: Sequence[str], runs_per_label, ylabel: str | None = None, colors=None, *,
                 ylim=None, dots: bool = True, width: float = 0.6):
    """A bar per label from zero to the mean of its runs (one value per seed), a ±1 std error bar with caps
    (sample std, ddof=1, :func:`regbook.runs.mean_std`) and, with ``dots``, each run as a dot.

    The bars' length is the message, so the y-axis includes 0. If ``ylim`` (or a later ``ax.set_ylim``)
    leaves 0 out, the axis is cut: a break mark ``//`` is drawn at the foot of the y-axis so the reader sees
    it. When the differences are small next to the values, use :func:`points_mean_std` instead of cutting;
    on a log y-axis bars have no zero to start from, so use :func:`points_mean_std` there too.
    The x-axis is categorical: no line joins the labels. Returns the :class:`~matplotlib.container.BarContainer`.
    """
    if len(labels) != len(runs_per_label):
        raise ValueError(f"got {len(labels)} labels for {len(runs_per_label)} lists of runs")
    means, stds = _means_stds(runs_per_label)
    positions = numpy.arange(len(labels))
    bar_colors = _per_label(colors, len(labels), COLORS[0])
    bars = ax.bar(positions, means, width, color=bar_colors, alpha=0.65, zorder=2)
    ax.errorbar(positions, means, yerr=stds, fmt="none", ecolor="k", elinewidth=1.2, capsize=5, capthick=1.2,
                zorder=3)
    if dots:
        for pos, runs in zip(positions, runs_per_label, strict=True):
            runs = numpy.asarray(runs, dtype=float).ravel()
            ax.plot(pos + _seed_offsets(len(runs), width / 3), runs, linestyle="none", marker="o", markersize=3.5,
                    color="k", alpha=0.75, zorder=4)
    _categorical_x(ax, positions, labels)
    if ylabel:
        ax.set_ylabel(ylabel)
    _mark_cut_axis(ax)
    if ylim is not None:
        ax.set_ylim(*ylim)
    return bars


def _mark_cut_axis(ax) -> None:
    """Draw a ``//`` break mark at the foot of the y-axis whenever its limits leave 0 out (bars are cut)."""
    from matplotlib.lines import Line2D

    if getattr(ax, "_regbook_cut_mark", None) is not None:
        return
    d = 0.018
    marks = [Line2D([-d, d], [y - d, y + d], transform=ax.transAxes, color="k", linewidth=1.0, clip_on=False,
                    visible=False, zorder=5) for y in (0.025, 0.055)]
    for mark in marks:
        ax.add_artist(mark)
    ax._regbook_cut_mark = marks

    def update(ax) -> None:
        low, high = sorted(ax.get_ylim())
        for mark in marks:  # on a log axis there is no zero to leave out (and bars on one mislead: use points)
            mark.set_visible(ax.get_yscale() == "linear" and not low <= 0 <= high)

    ax.callbacks.connect("ylim_changed", update)
    update(ax)


def is_cut(ax) -> bool:
    """True when :func:`bar_mean_std` has drawn its cut mark on ``ax`` (its y-limits leave 0 out)."""
    marks = getattr(ax, "_regbook_cut_mark", None) or []
    return any(mark.get_visible() for mark in marks)


def points_mean_std(ax, labels: Sequence[str], runs_per_label, ylabel: str | None = None, colors=None, *,
                    label: str | None = None, marker: str = "o", offset: float = 0.0, dots: bool = True):
    """For each label, its mean over runs (one value per seed) as a marker with a ±1 std error bar (sample
    std, ddof=1) and, with ``dots``, each run as a small dot beside it. Categories on x, no line joining them.

    Use it for comparisons whose differences bars from zero would hide: a point's position, not a bar's
    length, carries the value, so the y-axis may stop short of 0 honestly (no cut to mark). Several series
    over the same labels: call it once per series with its own ``label``, ``colors`` and a small ``offset``
    (e.g. -0.15 and +0.15). Returns the means and stds as arrays.
    """
    if len(labels) != len(runs_per_label):
        raise ValueError(f"got {len(labels)} labels for {len(runs_per_label)} lists of runs")
    means, stds = _means_stds(runs_per_label)
    positions = numpy.arange(len(labels)) + offset
    series = getattr(ax, "_regbook_point_series", 0)  # a second series on the same axes takes the next colour
    ax._regbook_point_series = series + 1
    point_colors = _per_label(colors, len(labels), _cycle_colors()[series % len(_cycle_colors())])
    for k, (pos, runs, color) in enumerate(zip(positions, runs_per_label, point_colors, strict=True)):
        runs = numpy.asarray(runs, dtype=float).ravel()
        if dots:
            ax.plot(pos + 0.12 + _seed_offsets(len(runs), 0.1), runs, linestyle="none", marker="o", markersize=3,
                    color=color, alpha=0.5, zorder=2)
        ax.errorbar([pos], [means[k]], yerr=[stds[k]], fmt=marker, linestyle="none", color=color, markersize=6,
                    capsize=5, elinewidth=1.4, zorder=3, label=label if k == 0 else None)
    _categorical_x(ax, numpy.arange(len(labels)), labels)
    if ylabel:
        ax.set_ylabel(ylabel)
    return means, stds


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
    """The headers: blue where our player won it (label 1), vermillion (red) where an opponent did (label 0)."""
    Y = numpy.asarray(Y).ravel()
    ax.scatter(X[0, Y == 1], X[1, Y == 1], s=size, c=COLORS[0], edgecolors="k", linewidths=0.3, label="ours")
    ax.scatter(X[0, Y == 0], X[1, Y == 0], s=size, c=COLORS[1], edgecolors="k", linewidths=0.3, label="theirs")


def plot_decision_boundary(ax, predict_fn, X, Y, resolution: int = 200, margin: float = 0.1) -> None:
    """Shade the region ``predict_fn`` (a (2, k) -> (1, k) 0/1 function) gives to each team; plot the points."""
    x_min, x_max = X[0].min() - margin, X[0].max() + margin
    y_min, y_max = X[1].min() - margin, X[1].max() + margin
    grid_x, grid_y = numpy.meshgrid(numpy.linspace(x_min, x_max, resolution),
                                    numpy.linspace(y_min, y_max, resolution))
    labels = predict_fn(numpy.vstack([grid_x.ravel(), grid_y.ravel()])).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, labels, levels=[-0.5, 0.5, 1.5], colors=["#f3c7ad", "#a9cbe3"], alpha=0.8)
    plot_points(ax, X, Y, size=10)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_aspect("equal")
    ax.grid(False)
