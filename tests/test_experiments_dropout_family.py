"""regbook.experiments.dropout_family: the budget, the learning-rate schedule and one comparison row."""

from __future__ import annotations

import math

import pytest

from regbook.experiments import dropout_family as family
from regbook.experiments import registry


def test_cosine_lr_decays_from_peak_to_zero():
    lrs = [family.cosine_lr(step, 100, 0.01) for step in range(101)]
    assert lrs[0] == pytest.approx(0.01) and lrs[50] == pytest.approx(0.005) and lrs[100] == pytest.approx(0)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert math.isfinite(family.cosine_lr(0, 0, 0.01))


def test_cli_defaults_are_the_chapters_budget():
    exp = registry()["dropout-variants"]
    assert exp.epochs is None and exp.seeds == 3
    assert exp.options["mlp_epochs"][1] == family.BUDGET["mlp"]["epochs"]
    assert exp.options["cnn_epochs"][1] == family.BUDGET["cnn"]["epochs"]
    assert str(family.BUDGET["mlp"]["limit_train"]) in exp.options["limit_train"][2]
    assert family.LEARNING_RATE == {net: b["lr"] for net, b in family.BUDGET.items()}


def test_max_pooling_dropout_runs_imperatively_unless_asked():
    from regbook.dropout import MaxPoolDropout

    net = family.variants()["max-pooling dropout"].build()
    net.initialize()
    family.hybridize(net)
    pools = [b for b in net if isinstance(b, MaxPoolDropout)]
    others = [b for b in net if not isinstance(b, MaxPoolDropout)]
    assert len(pools) == 2 and not any(b._active for b in pools) and all(b._active for b in others)
    family.hybridize(net, pooling=True)
    assert all(b._active for b in pools)


def test_compare_reports_train_and_test_accuracy_and_the_gap_per_seed():
    from regbook.data import ArrayBatches
    from regbook.training import evaluate_accuracy

    seen = []
    rows = family.compare(["MLP, no dropout", "standard dropout"], seeds=2, limit_test=200, progress=False,
                          budget={"mlp": {"epochs": 2, "limit_train": 96}}, first_seed=3,
                          on_run=lambda name, seed, result: seen.append((name, seed, result)))
    assert [(name, seed) for name, seed, _ in seen] == [("MLP, no dropout", 3), ("MLP, no dropout", 4),
                                                        ("standard dropout", 3), ("standard dropout", 4)]
    for row in rows:
        assert row["limit_train"] == 96 and row["epochs"] == 2 and row["seeds"] == 2
        assert len(row["loss_curves"]) == 2 and all(len(c) == 2 for c in row["loss_curves"])
        gaps = [a - b for a, b in zip(row["train_accs"], row["test_accs"])]
        assert row["gap_mean"] == pytest.approx(sum(gaps) / 2)
        assert row["train_acc_mean"] == pytest.approx(sum(row["train_accs"]) / 2)
    X_train, y_train, _, _ = family._arrays("mlp", 96)
    _, _, result = seen[2]  # standard dropout: the training accuracy is measured in inference mode
    assert result["train_acc"] == evaluate_accuracy(result["net"], ArrayBatches(X_train, y_train, 1000))
    assert rows[0]["test_accs"] != rows[1]["test_accs"]


@pytest.mark.parametrize("kwargs", [{"budget": {"rnn": {"epochs": 1}}}, {"budget": {"mlp": {"steps": 1}}},
                                    {"epochs": 0}, {"first_seed": -1}, {"seeds": 0}])
def test_compare_rejects_bad_budgets(kwargs):
    with pytest.raises(ValueError):
        family.compare(["MLP, no dropout"], progress=False, **kwargs)
