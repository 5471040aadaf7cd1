"""The dropout family on Fashion-MNIST: one table, every variant at one rate, same budget and seeds.

Dense variants train the MLP 784-256-256-10 with the noise on both hidden layers; convolutional
variants train a small CNN (conv 3×3 ×8, pool, conv 3×3 ×16, pool, dense 10) with the noise after
both convolutions (max-pooling dropout replaces both pooling layers; Cutout acts on the input image).
Every run of a given seed starts from the same initial weights and sees the batches in the same order,
so the variants differ only by their regularizer. The chapter (``notebooks/dropout_family.ipynb``) runs
a smaller budget than the CLI default; both print the budget they used.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy

from regbook import compat as _compat  # noqa: F401
from regbook.experiments import experiment


@dataclass(frozen=True)
class Variant:
    """One row of the comparison: which network, which regularizer at which rate, and where the rate is from."""

    name: str
    net: str  # "mlp" or "cnn"
    rate: str
    source: str
    build: Callable[[], object]


def _mlp(noise: Callable[[], object] | None = None, layer: Callable[[int, int], object] | None = None):
    """MLP 784-256-256-10; ``noise()`` after each hidden layer, or ``layer(units, in_units)`` replacing it."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    for units, in_units in ((256, 784), (256, 256)):
        if layer is not None:
            net.add(layer(units, in_units))
        else:
            net.add(nn.Dense(units, activation="relu", in_units=in_units))
            if noise is not None:
                net.add(noise())
    net.add(nn.Dense(10, in_units=256))
    return net


def _cnn(noise: Callable[[int], object] | None = None, pool: Callable[[], object] | None = None,
         cutout: int | None = None):
    """Small CNN for 1×28×28 images; ``noise(i)`` after conv ``i`` (0, 1), ``pool()`` replacing max pooling."""
    from mxnet.gluon import nn

    from regbook.dropout import Cutout

    body = nn.HybridSequential()
    for i, (channels, in_channels) in enumerate(((8, 1), (16, 8))):
        body.add(nn.Conv2D(channels, 3, padding=1, in_channels=in_channels, activation="relu"))
        if noise is not None:
            body.add(noise(i))
        body.add(pool() if pool is not None else nn.MaxPool2D(2))
    body.add(nn.Dense(10, in_units=16 * 7 * 7))
    if cutout is None:
        return body
    net = nn.Sequential()  # Cutout draws its squares eagerly, so it sits outside the hybridized body
    net.add(Cutout(cutout), body)
    return net


def _variants() -> dict[str, Variant]:
    from mxnet.gluon import nn

    from regbook import dropout as D

    conv_rates = (0.1, 0.25)  # Srivastava et al. 2014 keep 0.9, 0.75 in the first conv layers
    rows = [
        Variant("MLP, no dropout", "mlp", "-", "baseline", lambda: _mlp()),
        Variant("standard dropout", "mlp", "p=0.5", "Srivastava 2014 (hidden units)",
                lambda: _mlp(lambda: D.StandardDropout(0.5))),
        Variant("inverted dropout (nn.Dropout)", "mlp", "p=0.5", "Srivastava 2014 (hidden units)",
                lambda: _mlp(lambda: nn.Dropout(0.5))),
        Variant("Gaussian dropout", "mlp", "sigma^2=1 (p=0.5)", "Srivastava 2014, Sect. 10",
                lambda: _mlp(lambda: D.GaussianDropout(0.5))),
        Variant("DropConnect (mask per batch)", "mlp", "p=0.5", "Wan 2013",
                lambda: _mlp(layer=lambda u, i: D.DropConnectDense(u, i, 0.5, per_example=False))),
        Variant("Standout", "mlp", "alpha=1, beta=0", "our choice",
                lambda: _mlp(layer=lambda u, i: D.Standout(u, i, alpha=1.0, beta=0.0))),
        Variant("CNN, no dropout", "cnn", "-", "baseline", lambda: _cnn()),
        Variant("dropout on conv maps", "cnn", "p=0.1, 0.25", "Srivastava 2014 (conv layers)",
                lambda: _cnn(lambda i: D.StandardDropout(conv_rates[i]))),
        Variant("spatial dropout", "cnn", "p=0.1, 0.25", "our choice (as the row above)",
                lambda: _cnn(lambda i: D.SpatialDropout(conv_rates[i]))),
        Variant("max-pooling dropout", "cnn", "p=0.5", "our choice",
                lambda: _cnn(pool=lambda: D.MaxPoolDropout(0.5))),
        Variant("Max-Drop (feature-wise)", "cnn", "p=0.5", "our choice",
                lambda: _cnn(lambda i: D.MaxDrop(0.5, "feature"))),
        Variant("Cutout", "cnn", "14x14 square", "DeVries 2017 (16/32 of the side)",
                lambda: _cnn(cutout=14)),
    ]
    return {v.name: v for v in rows}


def variants() -> dict[str, Variant]:
    """Every variant of the comparison, by name, in table order."""
    return _variants()


_DATA: dict = {}


def _arrays(net: str, limit_train: int):
    """Cached ``(X_train, y_train, X_test, y_test)`` as ``mxnet.np`` arrays, flat for the MLP."""
    from regbook.data import fashion_mnist_arrays_mx

    key = (net, limit_train)
    if key not in _DATA:
        _DATA[key] = fashion_mnist_arrays_mx(flatten=(net == "mlp"), limit_train=limit_train)
    return _DATA[key]


LEARNING_RATE = {"mlp": 1e-3, "cnn": 1e-2}
"""Adam's learning rate for each network, the same for every variant of that network."""


def run_variant(variant: Variant, seed: int, epochs: int, limit_train: int, limit_test: int = 10000,
                batch_size: int = 128, lr: float | None = None) -> dict:
    """Train one variant from seed ``seed`` with Adam; return test accuracy, losses, seconds per epoch, the net.

    The test accuracy is measured once, after the last epoch, on the first ``limit_test`` test images.
    ``seconds`` holds the wall-clock seconds of each epoch, ``cpu_seconds`` the CPU seconds of this process
    (all its threads), which depend much less on what else runs on the machine.
    """
    from mxnet import gluon, init, npx

    from regbook.data import ArrayBatches
    from regbook.seeding import set_seed
    from regbook.training import evaluate_accuracy, train_epoch

    npx.set_np()  # the blocks use MXNet's NumPy interface (the CLI does not set it)
    X_train, y_train, X_test, y_test = _arrays(variant.net, limit_train)
    set_seed(seed)
    net = variant.build()
    net.initialize(init.Xavier())
    net.hybridize()
    lr = LEARNING_RATE[variant.net] if lr is None else lr
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    batches = ArrayBatches(X_train, y_train, batch_size, shuffle=True, seed=seed)
    losses, seconds, cpu_seconds = [], [], []
    for _ in range(epochs):
        start, cpu_start = time.perf_counter(), time.process_time()
        train_loss, _ = train_epoch(net, batches, loss, trainer.step)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
        losses.append(train_loss)
    test_acc = evaluate_accuracy(net, ArrayBatches(X_test[:limit_test], y_test[:limit_test], 1000))
    return {"test_acc": test_acc, "loss": losses, "seconds": seconds, "cpu_seconds": cpu_seconds, "net": net}


def compare(names: list[str] | None = None, seeds: int = 3, epochs: int = 5, limit_train: int = 10000,
            limit_test: int = 10000, progress: bool = True,
            on_run: Callable[[str, int, dict], None] | None = None) -> list[dict]:
    """Run every variant (or ``names``) for seeds 0..seeds-1; one summary row per variant.

    A row holds ``test_acc_mean``, ``test_acc_std`` (sample std over seeds), the per-seed accuracies,
    ``sec_per_epoch`` (wall clock, mean over all epochs of all seeds; the first epoch includes graph building),
    ``cpu_sec_per_epoch`` (the same in CPU seconds) and the per-seed training-loss curves.
    ``on_run(name, seed, result)`` is called after each run.
    """
    from tqdm.std import tqdm

    table = variants()
    names = list(table) if names is None else names
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {list(table)}")
    if min(seeds, epochs, limit_train, limit_test) < 1:
        raise ValueError(f"seeds, epochs, limit_train and limit_test must be >= 1, "
                         f"got {seeds}, {epochs}, {limit_train}, {limit_test}")
    jobs = [(name, seed) for name in names for seed in range(seeds)]
    bar = tqdm(jobs, desc="dropout variants", unit="run", disable=not progress, file=sys.stderr,
               leave=False, dynamic_ncols=True)
    results: dict[str, list[dict]] = {name: [] for name in names}
    for name, seed in bar:
        bar.set_postfix_str(f"{name}, seed {seed}")
        result = run_variant(table[name], seed, epochs, limit_train, limit_test)
        results[name].append(result)
        if on_run is not None:
            on_run(name, seed, result)
    bar.close()
    rows = []
    for name in names:
        variant, runs = table[name], results[name]
        accs = numpy.array([r["test_acc"] for r in runs])
        rows.append({
            "variant": name, "net": variant.net, "rate": variant.rate, "rate_source": variant.source,
            "test_acc_mean": float(accs.mean()), "test_acc_std": float(accs.std(ddof=1)) if seeds > 1 else 0.0,
            "seeds": seeds, "sec_per_epoch": float(numpy.mean([s for r in runs for s in r["seconds"]])),
            "cpu_sec_per_epoch": float(numpy.mean([s for r in runs for s in r["cpu_seconds"]])),
            "test_accs": [float(a) for a in accs], "loss_curves": [r["loss"] for r in runs],
        })
    return rows


@experiment("dropout-variants", "Dropout family: every variant on Fashion-MNIST (MLP and CNN), mean ± std",
            seeds=3, epochs=6,
            options={"limit_train": (int, 2000, "training examples used (the first N of the 60,000)"),
                     "variants": (str, None, "semicolon-separated subset of variant names")})
def dropout_variants(seeds: int, epochs: int, progress: bool = True, limit_train: int = 2000,
                     variants: str | None = None) -> dict:
    names = [v.strip() for v in variants.split(";")] if variants else None
    rows = compare(names, seeds=seeds, epochs=epochs, limit_train=limit_train, progress=progress)
    keep = ("variant", "net", "rate", "test_acc_mean", "test_acc_std", "seeds", "sec_per_epoch", "cpu_sec_per_epoch")
    return {"experiment": "dropout-variants",
            "budget": {"limit_train": limit_train, "epochs": epochs, "batch_size": 128,
                       "optimizer": f"adam, lr {LEARNING_RATE}",
                       "test_examples": 10000},
            "results": [{k: row[k] for k in keep} for row in rows]}
