"""regbook.compat: the OpenBLAS kernel choice and the environment it leaves for MXNet."""

import os
import subprocess
import sys

from regbook import compat


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
