"""The goalkeeper chapter (notebooks/goalkeeper.ipynb): its data, its plots, and the network it teaches.

The network (initialisation, forward and backward propagation with L2 and inverted dropout, training,
prediction, gradient checking) is taught in the chapter's ``#@save`` cells; it lives in
:mod:`regbook.nb.goalkeeper` and is re-exported here. This module adds what the chapter only uses:
:func:`load_football` (the book's dataset, or the course's ``data.mat``) and the football-field plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy

from regbook.data import REPO_ROOT
from regbook.nb.goalkeeper import (  # noqa: F401  (re-exported: the chapter's network)
    SETTINGS,
    SeedGenerators,
    accuracy,
    backward_propagation,
    check_data,
    compute_cost,
    compute_cost_with_regularization,
    dropout_mask,
    forward_propagation,
    gradient_check,
    initialize_parameters,
    l2_penalty,
    model,
    predict,
    relu,
    rows_at,
    run_settings,
    sigmoid,
    summarize,
    update_parameters,
)

DATA_DIR = REPO_ROOT / "data" / "football"
MAT_KEYS = ("X", "y", "Xval", "yval")

Arrays = tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]


def load_football(path: str | Path | None = None) -> Arrays:
    """``(train_X, train_Y, test_X, test_Y)`` shaped (2, m), (1, m), (2, m_test), (1, m_test).

    With no ``path``: the book's goalkeeper dataset (``data/football/*.csv``, made by
    ``data/football/make_dataset.py``). With a path to a MATLAB ``.mat`` file holding ``X``, ``y``,
    ``Xval``, ``yval`` with examples as rows (the format of the course's ``data.mat``): that file.
    """
    if path is None:
        return _read_csv(DATA_DIR / "train.csv") + _read_csv(DATA_DIR / "test.csv")
    path = Path(path)
    if path.suffix.lower() != ".mat":
        raise ValueError(f"{path}: expected a MATLAB .mat file holding X, y, Xval, yval "
                         "(or no path, for the book's own dataset)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; pass the path of the course's data.mat, "
                                "or no path for the book's own dataset")
    import scipy.io

    try:
        content = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for a damaged or non-MATLAB file
        raise ValueError(f"{path}: cannot read it as a MATLAB .mat file ({exc})") from exc
    missing = [key for key in MAT_KEYS if key not in content]
    if missing:
        found = sorted(key for key in content if not key.startswith("__"))
        raise ValueError(f"{path}: missing {', '.join(missing)}; a goalkeeper .mat file holds X, y "
                         f"(training set) and Xval, yval (test set), examples as rows; found {found}")
    return _as_columns(path, content["X"], content["y"], "X", "y") + _as_columns(
        path, content["Xval"], content["yval"], "Xval", "yval")


def _as_columns(path: Path, X, y, x_name: str, y_name: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Examples-as-rows arrays from a .mat file, checked, as (2, m) floats and (1, m) 0/1 ints."""
    X, y = numpy.asarray(X), numpy.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"{path}: {x_name} must be (m, 2), one 2-D position per row, got shape {X.shape}")
    if y.size != X.shape[0] or (y.ndim == 2 and 1 not in y.shape) or y.ndim > 2:
        raise ValueError(f"{path}: {y_name} must hold one label per row of {x_name} ({X.shape[0]}), "
                         f"as (m, 1) or (m,), got shape {y.shape}")
    X, Y = X.astype(float).T, y.reshape(1, -1)
    if not numpy.all(numpy.isfinite(X)) or not numpy.all((Y == 0) | (Y == 1)):
        raise ValueError(f"{path}: {x_name} must be finite and {y_name} must hold only 0/1 labels")
    return X, Y.astype(int)


def _read_csv(path: Path) -> tuple[numpy.ndarray, numpy.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python data/football/make_dataset.py`")
    table = numpy.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return table[:, :2].T.copy(), table[:, 2:].T.astype(int)


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
