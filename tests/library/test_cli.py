"""python -m regbook: the experiment registry and the CLI's errors."""

import json
import subprocess
import sys

from regbook import cli, runs


def test_list_names_every_registered_experiment(capsys):
    assert cli.main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for exp in cli.experiments().values():
        assert exp.name in out
    assert "dropout-mlp" in out


def test_unknown_experiment_is_an_error(capsys):
    assert cli.main(["reproduce", "no-such-thing"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_bad_seed_count_is_an_error(capsys):
    assert cli.main(["reproduce", "dropout-mlp", "--seeds", "0"]) == 2
    assert "--seeds must be between 1 and 100, got 0" in capsys.readouterr().err


def test_json_output_of_a_registered_experiment(capsys, monkeypatch):
    calls = {}

    def fake(seeds, epochs, progress, scale):
        calls.update(seeds=seeds, epochs=epochs, scale=scale)
        return {"experiment": "unit-test", "results": [{"variant": "a", "value": 0.5 * scale}]}

    cli.experiments()
    monkeypatch.setitem(runs.REGISTRY, "unit-test",
                        runs.Experiment("unit-test", "test only", fake, 2, 3, {"scale": (float, 1.0, "")}))
    assert cli.main(["reproduce", "unit-test", "--json", "--epochs", "4", "--scale", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == [{"variant": "a", "value": 1.0}]
    assert calls == {"seeds": 2, "epochs": 4, "scale": 2.0}


def test_data_command_reports_fashion_mnist():
    out = subprocess.run([sys.executable, "-m", "regbook", "data"], capture_output=True, text=True, timeout=120)
    assert "train-images-idx3-ubyte.gz" in out.stdout


def test_help_after_an_experiment_name_lists_its_own_options(capsys):
    assert cli.main(["reproduce", "dropout-variants", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--mlp-epochs" in out and "--cnn-epochs" in out and "Defaults: --seeds 3." in out
    assert cli.main(["reproduce", "dropout-mlp", "-h"]) == 0
    assert "--record" in capsys.readouterr().out
    assert cli.main(["reproduce", "--help"]) == 0
    assert "--list" in capsys.readouterr().out


def test_an_alias_runs_the_same_experiment(capsys, monkeypatch):
    cli.experiments()

    def fake(seeds, progress):
        return {"experiment": "unit-new", "results": [{"seeds": seeds}]}

    monkeypatch.setitem(runs.REGISTRY, "unit-new", runs.Experiment("unit-new", "test only", fake, 2,
                                                                  aliases=("unit-old",)))
    assert cli.main(["reproduce", "unit-old", "--json", "--seeds", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == [{"seeds": 5}]
    assert cli.main(["reproduce", "--list"]) == 0
    assert "unit-old" not in capsys.readouterr().out


def test_every_chapter_registers_its_experiments_in_its_own_module():
    found = cli.experiments()
    modules = {exp.run.__module__ for exp in found.values()}
    assert modules and all(module.startswith("regbook.chapters.") for module in modules), modules
    for name in ("dropout-mlp", "dropout-variants", "mc-dropout", "sparse-vd", "rnn-dropout", "early-stopping",
                 "goalkeeper", "football", "bias-variance", "weight-decay", "l1-sparsity", "augmentation",
                 "orientation-shortcut", "dropout-mlp-wobble"):
        assert name in found, name
