"""regbook.runs: mean ± std, paired comparisons, the experiment registry and its table."""

import math

import numpy
import pytest

from regbook import runs, training


def test_mean_std_of_seeds_is_the_sample_std():
    mean, std = runs.mean_std([0.7, 0.8, 0.9])
    assert isinstance(mean, float) and mean == pytest.approx(0.8)
    assert std == pytest.approx(numpy.std([0.7, 0.8, 0.9], ddof=1))


def test_mean_std_over_runs_is_per_point_and_zero_for_one_run():
    mean, std = runs.mean_std([[1.0, 2.0], [3.0, 6.0]])
    assert mean.tolist() == [2.0, 4.0] and std == pytest.approx([math.sqrt(2), math.sqrt(8)])
    mean, std = runs.mean_std([[1.0, 2.0]])
    assert mean.tolist() == [1.0, 2.0] and std.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        runs.mean_std([])


def test_add_mean_std_names_its_columns():
    row = runs.add_mean_std({"variant": "x"}, "test_acc", [0.5, 0.7])
    assert row == {"variant": "x", "test_acc_mean": pytest.approx(0.6),
                   "test_acc_std": pytest.approx(numpy.std([0.5, 0.7], ddof=1))}


def test_summarize_mean_and_sample_std():
    histories = [training.History(train_acc=[0.5, a], test_acc=[0.4, a - 0.1], seconds=[1.0, 3.0])
                 for a in (0.8, 0.9)]
    row = runs.summarize(histories, variant="x")
    assert row["variant"] == "x" and row["seeds"] == 2 and row["epochs"] == 2
    assert row["test_acc_mean"] == pytest.approx(0.75)
    assert row["test_acc_std"] == pytest.approx(numpy.std([0.7, 0.8], ddof=1))
    assert row["sec_per_epoch"] == pytest.approx(2.0)


def test_paired_gain_standard_error_and_verdicts():
    result = runs.paired([0.80, 0.82, 0.81], [0.78, 0.79, 0.785])
    gains = numpy.array([0.02, 0.03, 0.025])
    assert result.gains == pytest.approx(gains.tolist())
    assert result.mean == pytest.approx(gains.mean())
    assert result.se == pytest.approx(gains.std(ddof=1) / math.sqrt(3))
    assert result.clear and result.verdict == "better"
    assert runs.paired([0.7, 0.71], [0.72, 0.73]).verdict == "worse"
    assert runs.paired([0.80, 0.70], [0.75, 0.75]).verdict == "–"
    single = runs.paired([0.9], [0.5])
    assert single.mean == pytest.approx(0.4) and not single.clear and single.verdict == "–"
    with pytest.raises(ValueError, match="one value per seed"):
        runs.paired([0.1, 0.2], [0.1])


def test_over_seeds_calls_once_per_seed_in_order():
    assert runs.over_seeds(lambda seed: seed * 10, range(3), progress=False) == [0, 10, 20]


def test_registering_two_functions_under_one_name_fails(monkeypatch):
    monkeypatch.setattr(runs, "REGISTRY", {})

    def first(**kw):
        return {}

    def second(**kw):
        return {}

    runs.experiment("unit-dup", "x")(first)
    runs.experiment("unit-dup", "x again")(first)  # re-running the same cell is fine
    with pytest.raises(ValueError, match="twice"):
        runs.experiment("unit-dup", "y")(second)


def test_format_table_aligns_columns():
    text = runs.format_table({"experiment": "e", "results": [{"a": 1.0, "b": "x"}, {"a": 0.25, "b": "long"}]})
    lines = text.splitlines()
    assert lines[0] == "e" and lines[1].split() == ["a", "b"] and "0.2500" in lines[4]
    assert runs.format_table({"results": []}) == "(no results)"
