"""The book's figure style (regbook/book.mplstyle) and the comparison plots: bars from zero with ±1 std and a dot
per seed, points with ±1 std for categories, LivePlot's colours."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from regbook import plotting  # noqa: E402
from regbook.runs import mean_std  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OKABE_ITO = {"#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}  # black left out
RUNS = [[0.80, 0.83, 0.81], [0.84, 0.86, 0.85], [0.78, 0.79, 0.83]]  # three variants x three seeds


def style_file() -> Path:
    return Path(str(resources.files("regbook").joinpath(plotting.STYLE)))


def style_params() -> dict:
    return dict(matplotlib.rc_params_from_file(style_file(), use_default_template=False))


def cycle(params) -> list[str]:
    return [to_hex(c) for c in params["axes.prop_cycle"].by_key()["color"]]


@pytest.fixture(autouse=True)
def clean_rc():
    """Each test starts from matplotlib's defaults and leaves rcParams as it found them."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        yield
    plt.close("all")


@pytest.fixture
def ax():
    plotting.use_book_style()
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


# --- the style ---------------------------------------------------------------------------------------------


def test_the_style_file_is_package_data_and_ships():
    assert style_file().is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert plotting.STYLE in package_data["regbook"]  # otherwise a wheel of regbook leaves it out


def test_the_style_loads_by_name_from_the_installed_package():
    assert matplotlib.rcParams["font.size"] == 10  # matplotlib's default, before
    plt.style.use("regbook.book")  # matplotlib >= 3.7 finds <package>/<name>.mplstyle through importlib
    assert matplotlib.rcParams["font.size"] == 11
    assert cycle(matplotlib.rcParams) == [c.lower() for c in plotting.COLORS]


def test_use_book_style_applies_every_setting_of_the_file():
    params = style_params()
    assert len(params) >= 20
    plotting.use_book_style()
    for key, value in params.items():
        assert matplotlib.rcParams[key] == value, key


def test_notebook_setup_applies_the_book_style_and_still_seeds():
    import regbook.notebook

    regbook.notebook.setup(seed=3)
    drawn = numpy.random.rand()
    numpy.random.seed(3)
    assert drawn == numpy.random.rand()
    for key, value in style_params().items():
        assert matplotlib.rcParams[key] == value, key
    assert matplotlib.rcParams["figure.constrained_layout.use"] is True


def test_the_colour_cycle_is_the_declared_colour_blind_safe_one():
    colours = cycle(style_params())
    assert colours == [c.lower() for c in plotting.COLORS]
    assert len(set(colours)) == len(colours) >= 6
    assert set(colours) <= OKABE_ITO
    assert colours[:2] == ["#0072b2", "#d55e00"]  # blue and vermillion first: apart for every colour vision


def test_the_style_is_legible_at_column_width():
    params = style_params()
    width_in, _ = params["figure.figsize"]
    assert width_in * params["figure.dpi"] <= 750  # shown at its own size in the ~730 px column, not shrunk
    assert params["savefig.dpi"] == "figure"  # the inline backend saves at figure.dpi too
    assert params["font.size"] >= 11
    for key in ("xtick.labelsize", "ytick.labelsize", "legend.fontsize", "axes.labelsize"):
        assert params[key] >= 9, key
    assert params["axes.spines.top"] is False and params["axes.spines.right"] is False
    assert params["axes.grid"] is True and params["grid.alpha"] <= 0.5
    assert params["legend.frameon"] is False


def test_a_chapter_calling_tight_layout_gets_no_warning_under_the_figure():
    import warnings

    plotting.use_book_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plotting.use_book_style()  # its filter goes in front of the "error" one
        fig.tight_layout()


# --- bars from zero, points for categories ----------------------------------------------------------------


def errorbars(ax) -> list[tuple[float, float]]:
    """(low, high) of every vertical error bar drawn on ``ax``, left to right."""
    spans = []
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            for collection in container.lines[2]:
                for segment in collection.get_segments():
                    spans.append((segment[0][0], min(segment[:, 1]), max(segment[:, 1])))
    return [(low, high) for _, low, high in sorted(spans)]


def assert_no_line_joins_categories(ax):
    for line in ax.lines:
        if line.get_linestyle() in ("None", "none", "", " "):
            continue
        xs = numpy.asarray(line.get_xdata(), dtype=float)
        assert numpy.ptp(xs) < 0.5, f"a line joins categories: x = {xs}"


def test_bar_mean_std_starts_at_zero_with_sample_std_error_bars_and_a_dot_per_seed(ax):
    bars = plotting.bar_mean_std(ax, ["a", "b", "c"], RUNS, ylabel="test accuracy")
    low, high = ax.get_ylim()
    assert low <= 0 < high
    assert not plotting.is_cut(ax)
    expected = [mean_std(r) for r in RUNS]
    assert [b.get_height() for b in bars] == pytest.approx([m for m, _ in expected])
    assert [b.get_y() for b in bars] == [0, 0, 0]
    numpy.testing.assert_allclose(errorbars(ax), [(m - s, m + s) for m, s in expected])
    assert expected[0][1] == pytest.approx(numpy.std(RUNS[0], ddof=1))  # the sample std, not ddof=0
    dots = [line for line in ax.lines if line.get_marker() == "o"]  # (the caps are "_" markers)
    assert sorted(y for line in dots for y in line.get_ydata()) == sorted(sum(RUNS, []))
    assert_no_line_joins_categories(ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]


def test_bar_mean_std_includes_zero_for_negative_values_too(ax):
    plotting.bar_mean_std(ax, ["gain", "loss"], [[0.02, 0.03], [-0.04, -0.01]])
    low, high = ax.get_ylim()
    assert low < 0 < high


def test_bar_mean_std_marks_a_cut_axis(ax):
    plotting.bar_mean_std(ax, ["a", "b", "c"], RUNS, ylim=(0.75, 0.9))
    assert ax.get_ylim() == (0.75, 0.9)
    assert plotting.is_cut(ax)
    ax.set_ylim(0, 1)  # a chapter fixing its limits afterwards: no cut, no mark
    assert not plotting.is_cut(ax)
    ax.set_ylim(0.7, 0.9)
    assert plotting.is_cut(ax)


def test_bar_mean_std_marks_no_cut_on_a_log_axis(ax):
    plotting.bar_mean_std(ax, ["a", "b", "c"], RUNS)
    ax.set_yscale("log")
    assert ax.get_ylim()[0] > 0 and not plotting.is_cut(ax)


def test_bar_mean_std_refuses_mismatched_lengths(ax):
    with pytest.raises(ValueError, match="labels"):
        plotting.bar_mean_std(ax, ["a", "b"], RUNS)
    with pytest.raises(ValueError, match="colours"):
        plotting.bar_mean_std(ax, ["a", "b", "c"], RUNS, colors=["C0", "C1"])


def test_points_mean_std_joins_no_categories(ax):
    means, stds = plotting.points_mean_std(ax, ["a", "b", "c"], RUNS, ylabel="test accuracy", label="test")
    expected = [mean_std(r) for r in RUNS]
    assert list(means) == pytest.approx([m for m, _ in expected])
    assert list(stds) == pytest.approx([s for _, s in expected])
    numpy.testing.assert_allclose(errorbars(ax), [(m - s, m + s) for m, s in expected])
    assert ax.lines, "nothing drawn"
    assert_no_line_joins_categories(ax)
    markers = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata()) == 1]
    assert [line.get_ydata()[0] for line in markers] == pytest.approx([m for m, _ in expected])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_ylim()[0] > 0.5  # no bars: the axis may follow the data
    assert [h.get_label() for h in ax.get_legend_handles_labels()[0]] != []  # labelled once, for a legend
    assert ax.get_legend_handles_labels()[1] == ["test"]


def test_points_mean_std_gives_a_second_series_the_next_colour(ax):
    plotting.points_mean_std(ax, ["a", "b", "c"], RUNS, offset=-0.15, label="test")
    plotting.points_mean_std(ax, ["a", "b", "c"], [[r + 0.1 for r in runs] for runs in RUNS], offset=0.15,
                             label="train")
    colours = {to_hex(line.get_color()) for line in ax.lines if len(line.get_xdata()) == 1}
    assert colours == {plotting.COLORS[0].lower(), plotting.COLORS[1].lower()}
    assert_no_line_joins_categories(ax)


# --- LivePlot -----------------------------------------------------------------------------------------------


def test_live_plot_collects_series_and_takes_colours_from_the_style():
    plotting.use_book_style()
    plot = plotting.LivePlot(live=False)
    names = [f"curve {i}" for i in range(8)]
    for epoch in (1, 2, 3):
        plot.add(epoch, {name: epoch * (i + 1) for i, name in enumerate(names)})
    assert plot.series["curve 2"] == ([1, 2, 3], [3.0, 6.0, 9.0])
    lines = plot.figure().axes[0].lines
    assert [line.get_label() for line in lines] == names
    colours = [to_hex(line.get_color()) for line in lines]
    assert colours[:len(plotting.COLORS)] == [c.lower() for c in plotting.COLORS]
    styles = [line.get_linestyle() for line in lines]
    assert len(set(styles[:4])) == 4  # distinct in grey print too
    assert len(set(zip(colours, styles, strict=True))) == len(lines)  # no two curves look the same
    assert tuple(plot.figure().get_size_inches()) == pytest.approx(matplotlib.rcParams["figure.figsize"])


def test_live_plot_points_only_joins_nothing():
    plot = plotting.LivePlot(xlabel="variant", live=False, points_only=True)
    for k in (1, 2, 3):
        plot.add(k, {"MLP": k / 10})
    plot.add(4, {"CNN": 0.9})
    ax = plot.figure().axes[0]
    assert plot.series["MLP"] == ([1, 2, 3], [0.1, 0.2, 0.3])
    assert len(ax.lines) == 2 and all(line.get_linestyle() == "None" for line in ax.lines)
    assert [line.get_marker() for line in ax.lines] == ["o", "s"]
