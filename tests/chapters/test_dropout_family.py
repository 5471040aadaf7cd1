"""The dropout-family chapter (regbook.chapters.dropout_family, exported from notebooks/dropout_family.ipynb):
its InvertedDropout block, the budget, the learning-rate schedule, one comparison row, the paired verdicts
and the ``dropout-family`` experiment the notebook and the CLI share."""

from __future__ import annotations

import inspect
import json
import math

import numpy
import pytest
from blocks import positive, predict, seed_all, train  # tests/blocks.py
from mxnet import gluon, np, npx

from regbook import cli, runs
from regbook import layers as D
from regbook.chapters import dropout as dropout_chapter
from regbook.chapters import dropout_family as family
from regbook.engine import Engine

npx.set_np()


@pytest.fixture(autouse=True)
def _seed():
    seed_all(42)


# ---------------------------------------------------------------------------------------------- InvertedDropout


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.5", None])
def test_inverted_dropout_rejects_invalid_rates(bad):
    with pytest.raises(ValueError, match="drop probability"):
        family.InvertedDropout(bad)


def test_inverted_dropout_calls_the_dropout_chapters_function(monkeypatch):
    assert family.dropout_layer is dropout_chapter.dropout_layer  # not a copy of it
    calls = []

    def spy(X, p):
        calls.append(p)
        return X * 0 + 7

    monkeypatch.setattr(family, "dropout_layer", spy)
    x = positive((3, 4))
    assert (train(family.InvertedDropout(0.3), x) == 7).all()
    assert calls == [0.3]
    assert numpy.array_equal(predict(family.InvertedDropout(0.3), x), x.asnumpy()) and calls == [0.3]


def test_inverted_dropout_preserves_expectation_and_is_identity_at_test_time():
    p = 0.4
    block = family.InvertedDropout(p)
    x = positive((300, 100))
    y, xs = train(block, x), x.asnumpy()
    kept = y != 0
    numpy.testing.assert_allclose(y[kept], xs[kept] / (1 - p), rtol=1e-5)
    assert abs(y.mean() / xs.mean() - 1) < 0.02
    assert numpy.array_equal(predict(block, x), xs)
    assert repr(block) == "InvertedDropout(p=0.4)"


def test_gaussian_noise_variance_matches_inverted_dropout_mask_not_the_seeds_p_times_1_minus_p():
    p = 0.5
    mask = train(family.InvertedDropout(p), np.ones((400, 250)))
    noise = train(D.GaussianDropout(p), np.ones((400, 250)))
    assert abs(mask.var() - noise.var()) < 0.05
    assert abs(noise.var() - p * (1 - p)) > 0.5  # 1.0, not 0.25


# ---------------------------------------------------------------------------------------------- budget and schedule


def test_cosine_lr_decays_from_peak_to_zero():
    lrs = [family.cosine_lr(step, 100, 0.01) for step in range(101)]
    assert lrs[0] == pytest.approx(0.01) and lrs[50] == pytest.approx(0.005) and lrs[100] == pytest.approx(0)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert math.isfinite(family.cosine_lr(0, 0, 0.01))


def test_cli_defaults_are_the_chapters_budget():
    found = cli.experiments()
    exp = found["dropout-family"]
    assert found["dropout-variants"] is exp  # the old name still works
    assert exp.run is family.dropout_family and exp.run.__module__ == "regbook.chapters.dropout_family"
    assert exp.epochs is None and exp.seeds == 3
    assert exp.options["mlp_epochs"][1] == family.BUDGET["mlp"]["epochs"]
    assert exp.options["cnn_epochs"][1] == family.BUDGET["cnn"]["epochs"]
    assert str(family.BUDGET["mlp"]["limit_train"]) in exp.options["limit_train"][2]
    assert family.LEARNING_RATE == {net: b["lr"] for net, b in family.BUDGET.items()}
    # the chapter tests on its first 2,000 test images, and so does the CLI by default
    assert family.LIMIT_TEST == 2000 and exp.options["limit_test"][1] == family.LIMIT_TEST
    defaults = inspect.signature(family.dropout_family).parameters
    for option, (_, default, *_) in exp.options.items():
        assert defaults[option].default == default, option
    assert defaults["seeds"].default == exp.seeds


def test_the_notebook_calls_the_experiment_with_its_defaults():
    from pathlib import Path

    notebook = json.loads((Path(__file__).parents[2] / "notebooks" / "dropout_family.ipynb").read_text())
    source = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    assert "dropout_family(seeds=3, variants=names)" in source
    assert "family." not in source and "regbook.experiments" not in source


def test_max_pooling_dropout_runs_imperatively_unless_asked():
    net = family.variants()["max-pooling dropout"].build()
    net.initialize()
    family.hybridize(net)
    pools = [b for b in net if isinstance(b, D.MaxPoolDropout)]
    others = [b for b in net if not isinstance(b, D.MaxPoolDropout)]
    assert len(pools) == 2 and not any(b._active for b in pools) and all(b._active for b in others)
    family.hybridize(net, pooling=True)
    assert all(b._active for b in pools)


def test_every_variant_builds_and_classifies_into_ten_classes():
    table = family.variants()
    assert list(table)[:2] == ["MLP, no dropout", "standard dropout"] and len(table) == 12
    for name, variant in table.items():
        net = variant.build()
        net.initialize()
        x = np.ones((2, 784)) if variant.net == "mlp" else np.ones((2, 1, 28, 28))
        assert predict(net, x).shape == (2, 10), name


# ---------------------------------------------------------------------------------------------- the comparison


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
        assert row["limit_test"] == 200
        assert len(row["loss_curves"]) == 2 and all(len(c) == 2 for c in row["loss_curves"])
        gaps = [a - b for a, b in zip(row["train_accs"], row["test_accs"])]
        assert row["gap_mean"] == pytest.approx(sum(gaps) / 2)
        assert row["train_acc_mean"] == pytest.approx(sum(row["train_accs"]) / 2)
        assert (row["test_acc_mean"], row["test_acc_std"]) == runs.mean_std(row["test_accs"])
    X_train, y_train, _, _ = family.fashion_arrays("mlp", 96)
    _, _, result = seen[2]  # standard dropout: the training accuracy is measured in inference mode
    assert result["train_acc"] == evaluate_accuracy(result["net"], ArrayBatches(X_train, y_train, 1000))
    assert len(result["seconds"]) == len(result["cpu_seconds"]) == 2
    assert rows[0]["test_accs"] != rows[1]["test_accs"]


def test_a_run_is_reproducible_and_only_its_regularizer_differs():
    variant = family.variants()["Gaussian dropout"]
    first = family.run_variant(variant, 1, epochs=1, limit_train=64, limit_test=100)
    second = family.run_variant(variant, 1, epochs=1, limit_train=64, limit_test=100)
    assert (first["loss"], first["test_acc"], first["train_acc"]) == (
        second["loss"], second["test_acc"], second["train_acc"])
    other = family.run_variant(variant, 2, epochs=1, limit_train=64, limit_test=100)
    assert other["loss"] != first["loss"]


def test_a_cnn_trained_with_the_engine_still_evaluates():
    # the engine keeps the weights in views of one flat buffer, which oneDNN's convolution refuses at
    # prediction time for 8 or 16 channels; run_variant evaluates a fresh copy instead
    variant = family.variants()["spatial dropout"]
    fast = family.run_variant(variant, 0, epochs=1, limit_train=64, limit_test=100)
    slow = family.run_variant(variant, 0, epochs=1, limit_train=64, limit_test=100, engine=False)
    for result in (fast, slow):
        assert 0.0 <= result["test_acc"] <= 1.0 and len(result["cpu_seconds"]) == 1
    assert abs(fast["loss"][0] - slow["loss"][0]) < 0.3  # the same model, other random masks


def test_an_engine_trained_cnn_predicts():
    """The engine copies the trained weights into the network, which oneDNN's convolution predicts from
    (it rewrites a weight array into its own layout when it predicts)."""
    variant = family.variants()["CNN, no dropout"]
    net = variant.build()
    net.initialize()
    family.hybridize(net)
    x = np.random.uniform(size=(4, 1, 28, 28))
    predict(net, x)
    Engine(net, gluon.loss.SoftmaxCrossEntropyLoss(), lr=0.01).train_epoch(
        [(x, np.array([0, 1, 2, 3], dtype="int32"))])
    assert predict(net, x).shape == (4, 10)


@pytest.mark.parametrize("kwargs", [{"budget": {"rnn": {"epochs": 1}}}, {"budget": {"mlp": {"steps": 1}}},
                                    {"epochs": 0}, {"first_seed": -1}, {"seeds": 0}, {"limit_test": 0}])
def test_compare_rejects_bad_budgets(kwargs):
    with pytest.raises(ValueError):
        family.compare(["MLP, no dropout"], progress=False, **kwargs)


def test_compare_rejects_unknown_variants():
    with pytest.raises(ValueError, match="unknown variant"):
        family.compare(["MLP, no dropout", "dropout everywhere"], progress=False)


# ---------------------------------------------------------------------------------------------- the experiment


def fake_compare(accs):
    """A stand-in for ``compare`` that returns rows with the given per-seed test accuracies."""
    calls = []

    def compare(names, seeds, budget, limit_test, progress, on_run):
        calls.append({"names": names, "seeds": seeds, "budget": budget, "limit_test": limit_test})
        rows = []
        for name in names:
            variant = family.variants()[name]
            test = accs[name]
            row = {"variant": name, "net": variant.net, "rate": variant.rate, "rate_source": variant.source}
            runs.add_mean_std(row, "test_acc", test)
            runs.add_mean_std(row, "train_acc", [1.0] * len(test))
            row.update(gap_mean=1.0 - row["test_acc_mean"], seeds=len(test), sec_per_epoch=0.1,
                       cpu_sec_per_epoch=0.1, limit_train=300, epochs=budget[variant.net]["epochs"],
                       limit_test=limit_test, test_accs=test, train_accs=[1.0] * len(test),
                       loss_curves=[[2.0, 1.0 + i] for i in range(len(test))])
            rows.append(row)
        return rows

    return compare, calls


def test_paired_verdicts_use_runs_paired_and_the_chapters_strings(monkeypatch):
    accs = {"MLP, no dropout": [0.80, 0.78, 0.79], "standard dropout": [0.75, 0.74, 0.745],
            "Standout": [0.81, 0.79, 0.80], "Gaussian dropout": [0.82, 0.76, 0.79],
            "CNN, no dropout": [0.70, 0.71, 0.72], "Cutout": [0.72, 0.73, 0.75]}
    compare, calls = fake_compare(accs)
    monkeypatch.setattr(family, "compare", compare)
    result = family.dropout_family(seeds=3, progress=False, variants="; ".join(accs))
    json.dumps(result)  # the CLI prints it as JSON
    rows = {row["variant"]: row for row in result["results"]}
    assert calls[0]["names"] == list(accs) and calls[0]["limit_test"] == 2000
    assert {r["verdict"] for name, r in rows.items() if "no dropout" in name} == {None}
    assert rows["standard dropout"]["verdict"] == "worse"
    assert rows["Standout"]["verdict"] == "better"
    assert rows["Gaussian dropout"]["verdict"] == "-"  # the chapter's string for "no clear difference"
    assert rows["Cutout"]["verdict"] == "better"  # paired with the CNN baseline, not the MLP's
    pair = runs.paired(accs["standard dropout"], accs["MLP, no dropout"])
    assert (rows["standard dropout"]["gain_mean"], rows["standard dropout"]["gain_se"]) == (pair.mean, pair.se)
    assert result["per_seed"]["Cutout"] == {"test_acc": accs["Cutout"], "train_acc": [1.0] * 3,
                                            "final_loss": [1.0, 2.0, 3.0]}
    assert rows["Cutout"]["final_loss_mean"] == 2.0
    assert result["budget"]["mlp"]["test_examples"] == 2000


def test_options_reach_compare(monkeypatch):
    accs = {"MLP, no dropout": [0.8], "standard dropout": [0.7]}
    compare, calls = fake_compare(accs)
    monkeypatch.setattr(family, "compare", compare)
    result = family.dropout_family(seeds=1, progress=False, mlp_epochs=80, cnn_epochs=40, limit_train=500,
                                   limit_test=10000, variants=list(accs))
    assert calls[0]["budget"] == {"mlp": {"epochs": 80, "limit_train": 500},
                                  "cnn": {"epochs": 40, "limit_train": 500}}
    assert calls[0]["limit_test"] == 10000 and calls[0]["seeds"] == 1
    assert result["budget"]["mlp"]["epochs"] == 80 and result["budget"]["cnn"]["limit_train"] == 500
    assert result["budget"]["cnn"]["test_examples"] == 10000
    assert result["results"][1]["gain_mean"] == pytest.approx(-0.1)


def test_cli_runs_the_experiment_with_its_options(monkeypatch, capsys):
    accs = {"MLP, no dropout": [0.8, 0.81], "standard dropout": [0.7, 0.72]}
    compare, calls = fake_compare(accs)
    monkeypatch.setattr(family, "compare", compare)
    assert cli.main(["reproduce", "dropout-variants", "--json", "--seeds", "2", "--limit-test", "10000",
                     "--variants", "MLP, no dropout;standard dropout"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["experiment"] == "dropout-family" and calls[0]["limit_test"] == 10000
    assert calls[0]["budget"] == {"mlp": {"epochs": 20}, "cnn": {"epochs": 12}}
    assert [row["variant"] for row in printed["results"]] == list(accs)
