"""regbook.compat: the OpenBLAS kernel choice, the environment it leaves for MXNet, and the NumPy names it puts
back so that MXNet 1.9.1 imports and trains on every supported Python (3.11-3.13) and NumPy (1.23-2.x)."""

import json
import math
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy
import pytest

from regbook import compat

ROOT = Path(__file__).resolve().parents[2]


def test_haswell_kernels_only_on_x86_64_with_avx2_and_fma(monkeypatch):
    monkeypatch.setattr(compat._platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(compat, "_cpu_flags", lambda: {"sse2", "avx", "avx2", "fma"})
    assert compat.openblas_coretype() == "Haswell"
    monkeypatch.setattr(compat, "_cpu_flags", lambda: {"sse2", "avx"})  # an older x86 CPU: leave OpenBLAS alone
    assert compat.openblas_coretype() is None
    monkeypatch.setattr(compat._platform, "machine", lambda: "arm64")
    monkeypatch.setattr(compat, "_cpu_flags", lambda: {"avx2", "fma"})
    assert compat.openblas_coretype() is None


def run_python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"} | env
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_choice_is_made_before_numpy_loads_and_a_readers_setting_wins():
    code = "import os, regbook, numpy; print(os.environ.get('OPENBLAS_CORETYPE'))"
    assert run_python(code) == str(compat.openblas_coretype())
    assert run_python(code, OPENBLAS_CORETYPE="Prescott") == "Prescott"


def test_mxnet_defaults_can_be_overridden():
    code = "import os, regbook; print(os.environ['MXNET_ENGINE_TYPE'], os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k not in ("MXNET_ENGINE_TYPE", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["NaiveEngine", "PASSIVE"]
    env["MXNET_ENGINE_TYPE"] = "ThreadedEnginePerDevice"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "ThreadedEnginePerDevice"


def test_notebook_setup_keeps_the_slow_optional_import_out():
    code = ("import regbook.notebook as nb; nb.skip_slow_optional_imports(); import jsonschema\n"
            "try:\n    import rfc3987_syntax\nexcept ImportError:\n    print('skipped')")
    assert run_python(code) == "skipped"


TRAIN_A_FEW_STEPS = """
import numpy
import regbook.seeding
from mxnet import autograd, gluon, init, np, npx
from mxnet.gluon import nn
npx.set_np()
regbook.seeding.set_seed(0)
X, y = np.random.uniform(size=(64, 20)), np.random.randint(0, 3, size=(64,))
results = []
for name, args in [("sgd", {"learning_rate": 0.5, "momentum": 0.9, "wd": 1e-3}), ("adam", {"learning_rate": 0.01})]:
    regbook.seeding.set_seed(1)
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation="relu"), nn.Dense(16, activation="relu"), nn.Dense(3))
    net.initialize(init.Normal(0.1))
    trainer = gluon.Trainer(net.collect_params(), name, args)
    for _ in range(5):
        with autograd.record():
            loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(X), y)
        loss.backward()
        trainer.step(64)
    results += [p.data().asnumpy().ravel() for p in net.collect_params().values()]
print(numpy.concatenate(results).tobytes().hex())
"""


def test_per_parameter_updates_are_bit_identical_to_the_fused_ones():
    assert os.environ.get("MXNET_OPTIMIZER_AGGREGATION_SIZE", "1") == "1"  # what compat sets in this process
    per_parameter = run_python(TRAIN_A_FEW_STEPS, MXNET_OPTIMIZER_AGGREGATION_SIZE="1")
    fused = run_python(TRAIN_A_FEW_STEPS, MXNET_OPTIMIZER_AGGREGATION_SIZE="4")
    assert per_parameter == fused


# --- NumPy 2 / Python 3.13 ---------------------------------------------------------------------------------------

def fake_numpy(present: dict, deprecated: dict) -> types.ModuleType:
    """A module standing in for NumPy: ``present`` names are attributes, ``deprecated`` ones are answered by a
    module ``__getattr__`` with a DeprecationWarning (as NumPy 1.20-1.23 do), anything else raises AttributeError."""
    module = types.ModuleType("fake_numpy")
    module.__dict__.update(present)

    def __getattr__(name):
        if name in deprecated:
            warnings.warn(f"numpy.{name} is deprecated", DeprecationWarning, stacklevel=2)
            return deprecated[name]
        raise AttributeError(name)

    module.__getattr__ = __getattr__
    return module


def test_shims_fill_only_what_is_missing_or_deprecated():
    everything = set(compat._replacements())
    numpy2_like = fake_numpy({"bool": "numpy's own bool", "trapz": len}, {})
    shims = compat.numpy_shims(numpy2_like)
    assert "bool" not in shims and "trapz" not in shims  # present names are never replaced
    assert set(shims) == everything - {"bool", "trapz"}
    assert shims["PZERO"] == 0.0 and str(shims["NZERO"]) == "-0.0" and shims["NINF"] == -float("inf")
    assert shims["float_"] is numpy.float64 and shims["unicode_"] is numpy.str_ and shims["int"] is int
    old_numpy_like = fake_numpy({name: object() for name in everything - {"bool", "mirr"}},
                                {"bool": bool, "mirr": None})
    assert set(compat.numpy_shims(old_numpy_like)) == {"bool", "mirr"}  # deprecated: shimmed, so MXNet stays quiet


def test_legacy_scalar_repr_only_on_numpy_2_when_the_reader_chose_no_printing_mode():
    def fake(version, legacy=False):
        return types.SimpleNamespace(__version__=version, get_printoptions=lambda: {"legacy": legacy})

    assert compat.needs_legacy_scalar_repr(fake("2.5.5"))
    assert not compat.needs_legacy_scalar_repr(fake("2.5.5", legacy="1.13"))  # the reader's choice wins
    assert not compat.needs_legacy_scalar_repr(fake("1.26.4"))
    assert compat.LEGACY_SCALAR_REPR == (int(numpy.__version__.split(".")[0]) >= 2)
    assert repr((1, numpy.int64(8))) == "(1, 8)" or not compat.LEGACY_SCALAR_REPR


def test_replacements_behave_like_the_removed_functions():
    shims = compat._replacements()
    a = numpy.array([[3, 1], [2, 4]])
    assert shims["alltrue"](a > 0) and not shims["sometrue"](a > 5)
    assert shims["product"](a) == 24 and shims["cumproduct"](a).tolist() == [3, 3, 6, 24]
    assert shims["msort"](a).tolist() == [[2, 1], [3, 4]]
    assert shims["asfarray"]([1, 2]).dtype == numpy.float64 and shims["asfarray"]([1], numpy.float32).dtype == "f4"
    assert shims["in1d"](a, [1, 4]).tolist() == [False, True, False, True]
    assert shims["row_stack"]([a, a]).shape == (4, 2) and shims["trapz"]([0.0, 1.0, 2.0]) == 2.0
    with pytest.raises(NotImplementedError, match="numpy_financial.npv"):
        shims["npv"](0.1, [1, 2])


TRAIN_GLUON_MLP_WITH_DROPOUT = """
import json, math, platform, sys, warnings
warnings.simplefilter("default")  # show any warning the imports emit (they go to stderr, which the test reads)
import numpy
import regbook
import mxnet
from mxnet import autograd, gluon, init, np, npx
from mxnet.gluon import nn
import regbook.seeding
npx.set_np()
regbook.seeding.set_seed(0)
X, y = np.random.normal(size=(128, 20)), np.random.randint(0, 3, size=(128,))
net = nn.HybridSequential()
net.add(nn.Dense(32, activation="relu"), nn.Dropout(0.5), nn.Dense(3))
net.initialize(init.Normal(0.1))
net.hybridize()
trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
losses = []
for _ in range(30):
    with autograd.record():
        loss = loss_fn(net(X), y)
    loss.backward()
    trainer.step(X.shape[0])
    losses.append(float(loss.mean()))
with autograd.train_mode():
    train_differs = bool((net(X) != net(X)).any())
predict_equal = bool((net(X) == net(X)).all())
# Gluon's Orthogonal initializer builds a shape from numpy integers (np.int64(8) under NumPy 2)
lstm = gluon.rnn.LSTMCell(8, input_size=3)
lstm.initialize(init.Orthogonal())
orthogonal_shape = list(lstm.i2h_weight.data().shape)
print(json.dumps({"python": platform.python_version(), "numpy": numpy.__version__, "mxnet": mxnet.__version__,
                  "regbook": regbook.__file__, "numpy_bool": repr(numpy.bool),
                  "shims": list(regbook.compat.APPLIED_NUMPY_SHIMS), "mx_pzero": float(mxnet.numpy.PZERO),
                  "losses": losses, "train_differs": train_differs, "predict_equal": predict_equal,
                  "orthogonal_shape": orthogonal_shape}))
"""

# The interpreters the book supports, each in its project venv (make install, make py312-install,
# make py313-install). CI builds .venv (3.11) and .venv-py313 before the unit tests, so those two must run there.
VENVS = {"3.11": ".venv", "3.12": ".venv-py312", "3.13": ".venv-py313"}
REQUIRED_IN_CI = {"3.11", "3.13"}


def interpreter(version: str) -> str | None:
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    python = ROOT / VENVS[version] / "bin" / "python"
    return str(python) if python.is_file() else None


@pytest.mark.parametrize("version", sorted(VENVS))
def test_mxnet_imports_and_trains_a_hybridized_mlp_with_dropout(version):
    python = interpreter(version)
    if python is None:
        message = f"no Python {version} venv ({VENVS[version]}/bin/python)"
        if os.environ.get("CI") and version in REQUIRED_IN_CI:
            pytest.fail(message + ": `make test` builds it before the unit tests")
        pytest.skip(message)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "PYTHONWARNINGS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run([python, "-c", TRAIN_GLUON_MLP_WITH_DROPOUT], env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"Python {version}:\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["python"].startswith(version + "."), result["python"]
    assert Path(result["regbook"]).is_relative_to(ROOT / "src"), result["regbook"]
    assert result["mxnet"] == "1.9.1"
    assert "Warning" not in done.stderr, f"importing MXNet on Python {version} warned:\n{done.stderr[-3000:]}"
    losses = result["losses"]
    assert all(math.isfinite(x) for x in losses) and sum(losses[-5:]) < 0.9 * sum(losses[:5]), losses
    assert result["train_differs"] and result["predict_equal"]  # dropout acts in training only
    assert result["mx_pzero"] == 0.0
    assert result["orthogonal_shape"] == [32, 3]
    if int(result["numpy"].split(".")[0]) >= 2:
        assert {"PZERO", "float_", "in1d", "mirr"} <= set(result["shims"])
        assert "bool" not in result["shims"] and "numpy.bool" in result["numpy_bool"]  # NumPy 2's own type stays
