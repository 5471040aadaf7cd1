"""regbook.plotting's pitch plots (the goalkeeper chapter's figures): the field, the headers, the boundary."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402
import pytest  # noqa: E402

from regbook import plotting  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_plot_field_draws_a_pitch_with_both_goals(ax):
    plotting.plot_field(ax)
    assert ax.get_xlim() == (-1.05, 1.05) and ax.get_ylim() == (-0.7, 0.7)
    assert ax.get_aspect() == 1.0
    assert len(ax.patches) == 6  # touch lines, centre circle, two penalty and two goal areas
    goals = [line for line in ax.lines if line.get_linewidth() == 4]
    assert sorted(line.get_xdata()[0] for line in goals) == [-1, 1]


def test_plot_points_colours_each_team(ax):
    X = numpy.array([[0.1, 0.2, -0.3], [0.0, 0.4, -0.1]])
    Y = numpy.array([[1, 0, 1]])
    plotting.plot_points(ax, X, Y)
    ours, theirs = ax.collections
    numpy.testing.assert_array_equal(ours.get_offsets(), X[:, [0, 2]].T)
    numpy.testing.assert_array_equal(theirs.get_offsets(), X[:, [1]].T)
    assert [ours.get_label(), theirs.get_label()] == ["ours", "theirs"]


def test_plot_decision_boundary_shades_what_the_classifier_predicts(ax):
    X = numpy.array([[-0.5, 0.5, 0.2], [0.0, 0.1, -0.2]])
    Y = numpy.array([[0, 1, 1]])
    calls = []

    def right_half(points):
        calls.append(points.shape)
        return (points[0:1] > 0).astype(int)

    plotting.plot_decision_boundary(ax, right_half, X, Y, resolution=50)
    assert calls == [(2, 2500)]
    assert ax.get_xlim() == pytest.approx((-0.6, 0.6)) and ax.get_ylim() == pytest.approx((-0.3, 0.2))
    assert len(ax.collections) >= 3  # the shaded regions and the two teams' points
