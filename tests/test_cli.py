"""python -m regbook: the experiment registry and the CLI's errors."""

import json
import subprocess
import sys

from regbook import cli
from regbook.experiments import Experiment, experiment, format_table, registry


def test_list_names_every_registered_experiment(capsys):
    assert cli.main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in registry():
        assert name in out
    assert "dropout-mlp" in out


def test_unknown_experiment_is_an_error(capsys):
    assert cli.main(["reproduce", "no-such-thing"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_bad_seed_count_is_an_error(capsys):
    assert cli.main(["reproduce", "dropout-mlp", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err


def test_json_output_of_a_registered_experiment(capsys, monkeypatch):
    calls = {}

    def fake(seeds, epochs, progress, scale):
        calls.update(seeds=seeds, epochs=epochs, scale=scale)
        return {"experiment": "unit-test", "results": [{"variant": "a", "value": 0.5 * scale}]}

    monkeypatch.setitem(sys.modules["regbook.experiments"]._REGISTRY, "unit-test",
                        Experiment("unit-test", "test only", fake, 2, 3, {"scale": (float, 1.0, "")}))
    assert cli.main(["reproduce", "unit-test", "--json", "--epochs", "4", "--scale", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == [{"variant": "a", "value": 1.0}]
    assert calls == {"seeds": 2, "epochs": 4, "scale": 2.0}


def test_registering_two_functions_under_one_name_fails():
    experiment("unit-dup", "x")(lambda **kw: {})
    try:
        experiment("unit-dup", "y")(lambda **kw: {})
    except ValueError as exc:
        assert "twice" in str(exc)
    else:
        raise AssertionError("a second registration must fail")
    finally:
        sys.modules["regbook.experiments"]._REGISTRY.pop("unit-dup", None)


def test_format_table_aligns_columns():
    text = format_table({"experiment": "e", "results": [{"a": 1.0, "b": "x"}, {"a": 0.25, "b": "long"}]})
    lines = text.splitlines()
    assert lines[0] == "e" and lines[1].split() == ["a", "b"] and "0.2500" in lines[4]


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
