"""The dropout family on Fashion-MNIST: one table, every variant at one rate, same budget and seeds.

Dense variants train the MLP 784-256-256-10 with the noise on both hidden layers; convolutional
variants train a small CNN (conv 3×3 ×8, pool, conv 3×3 ×16, pool, dense 128, dense 10) with the noise
after both convolutions (max-pooling dropout replaces both pooling layers; Cutout acts on the input
image). Every run of a given seed starts from the same initial weights and sees the batches in the same
order, so the variants differ only by their regularizer.

The budget (:data:`BUDGET`) puts both plain networks in the regime where they overfit: 300 training
images, many passes over them, minibatches of 32 and Adam with a cosine-decayed learning rate, so that
the baselines fit their training images almost perfectly while their test accuracy stays about 0.2 lower.
Each run reports its test accuracy and its training accuracy (on the same training images, in inference
mode), hence the train-test gap. The chapter (``notebooks/dropout_family.ipynb``) and the CLI
(``python -m regbook reproduce dropout-variants``) train with the same budget; the CLI also runs inverted
dropout and tests on all 10,000 test images instead of the first 2,000.
"""

from __future__ import annotations

import math
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


CNN_HIDDEN = 128
"""Units of the CNN's hidden dense layer: it gives the plain CNN the capacity to memorise its training images."""


def _cnn(noise: Callable[[int], object] | None = None, pool: Callable[[], object] | None = None,
         cutout: int | None = None):
    """Small CNN for 1×28×28 images; ``noise(i)`` after conv ``i`` (0, 1), ``pool()`` replacing max pooling.

    conv 3×3 ×8, max pool, conv 3×3 ×16, max pool, dense ``CNN_HIDDEN`` (ReLU), dense 10.
    """
    from mxnet.gluon import nn

    from regbook.dropout import Cutout

    body = nn.HybridSequential() if pool is None else nn.Sequential()  # see ``hybridize``
    for i, (channels, in_channels) in enumerate(((8, 1), (16, 8))):
        body.add(nn.Conv2D(channels, 3, padding=1, in_channels=in_channels, activation="relu"))
        if noise is not None:
            body.add(noise(i))
        body.add(pool() if pool is not None else nn.MaxPool2D(2))
    body.add(nn.Dense(CNN_HIDDEN, activation="relu", in_units=16 * 7 * 7), nn.Dense(10, in_units=CNN_HIDDEN))
    if cutout is None:
        return body
    net = nn.Sequential()  # Cutout draws its squares eagerly, so it sits outside the hybridized body
    net.add(Cutout(cutout), body)
    return net


def hybridize(net, pooling: bool = False):
    """Hybridize ``net``, except its ``MaxPoolDropout`` layers unless ``pooling=True``.

    A hybridized ``MaxPoolDropout`` cannot skip its test-time branch: the graph computes the weighted
    pooling (a sort of every window) at every training step too and selects the branch at run time.
    Run imperatively, the layer computes only the branch of the current mode. ``pooling=True`` gives the
    fully hybridized network, for measuring what that costs.
    """
    import warnings

    from regbook.dropout import MaxPoolDropout

    with warnings.catch_warnings():  # Gluon suggests HybridSequential for the container we chose on purpose
        warnings.filterwarnings("ignore", "All children of this Sequential", UserWarning)
        net.hybridize()
    if not pooling:
        stack = [net]
        while stack:
            block = stack.pop()
            if isinstance(block, MaxPoolDropout):
                block.hybridize(False)
            stack.extend(block._children.values())
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


BUDGET = {
    "mlp": {"limit_train": 300, "epochs": 20, "batch_size": 32, "lr": 3e-3},
    "cnn": {"limit_train": 300, "epochs": 12, "batch_size": 32, "lr": 1e-2},
}
"""Training budget of each network, the same for every variant of that network: the first ``limit_train``
training images, ``epochs`` passes over them in minibatches of ``batch_size`` (200 steps for the MLP, 120 for
the CNN), Adam with peak learning rate ``lr`` decayed to zero along a cosine (:func:`cosine_lr`). Under it
both plain networks overfit: they fit their 300 training images almost perfectly (the MLP above 0.99, the
CNN about 0.95–0.97 training accuracy) while their test accuracy stays below 0.8."""

LEARNING_RATE = {net: budget["lr"] for net, budget in BUDGET.items()}
"""Adam's peak learning rate for each network, the same for every variant of that network."""


def cosine_lr(step: int, total_steps: int, peak: float) -> float:
    """Learning rate at ``step`` (0-based) of ``total_steps``: ``peak`` decayed to 0 along half a cosine."""
    return 0.5 * peak * (1 + math.cos(math.pi * step / max(total_steps, 1)))


def run_variant(variant: Variant, seed: int, epochs: int | None = None, limit_train: int | None = None,
                limit_test: int = 10000, batch_size: int | None = None, lr: float | None = None,
                hybridize_pooling: bool = False) -> dict:
    """Train one variant from seed ``seed``; return test and training accuracy, losses, seconds per epoch, the net.

    Arguments left at ``None`` come from ``BUDGET[variant.net]``. Adam's learning rate follows
    :func:`cosine_lr` step by step, from ``lr`` down to 0. After the last epoch, in inference mode, the net
    is evaluated on the first ``limit_test`` test images (``test_acc``) and on its own training images
    (``train_acc``). ``seconds`` holds the wall-clock seconds of each epoch, ``cpu_seconds`` the CPU seconds
    of this process (all its threads), which depend much less on what else runs on the machine.
    """
    from mxnet import gluon, init, npx

    from regbook.data import ArrayBatches
    from regbook.seeding import set_seed
    from regbook.training import evaluate_accuracy, train_epoch

    budget = BUDGET[variant.net]
    epochs = budget["epochs"] if epochs is None else epochs
    limit_train = budget["limit_train"] if limit_train is None else limit_train
    batch_size = budget["batch_size"] if batch_size is None else batch_size
    lr = budget["lr"] if lr is None else lr
    npx.set_np()  # the blocks use MXNet's NumPy interface (the CLI does not set it)
    X_train, y_train, X_test, y_test = _arrays(variant.net, limit_train)
    set_seed(seed)
    net = variant.build()
    net.initialize(init.Xavier())
    hybridize(net, pooling=hybridize_pooling)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    loss.hybridize()
    batches = ArrayBatches(X_train, y_train, batch_size, shuffle=True, seed=seed)
    total_steps, steps = epochs * len(batches), [0]

    def update(size: int) -> None:
        trainer.set_learning_rate(cosine_lr(steps[0], total_steps, lr))
        trainer.step(size)
        steps[0] += 1

    losses, seconds, cpu_seconds = [], [], []
    for _ in range(epochs):
        start, cpu_start = time.perf_counter(), time.process_time()
        train_loss, _ = train_epoch(net, batches, loss, update)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
        losses.append(train_loss)
    test_acc = evaluate_accuracy(net, ArrayBatches(X_test[:limit_test], y_test[:limit_test], 1000))
    train_acc = evaluate_accuracy(net, ArrayBatches(X_train, y_train, 1000))
    return {"test_acc": test_acc, "train_acc": train_acc, "loss": losses, "seconds": seconds,
            "cpu_seconds": cpu_seconds, "net": net}


def compare(names: list[str] | None = None, seeds: int = 3, epochs: int | None = None,
            limit_train: int | None = None, limit_test: int = 10000, progress: bool = True,
            on_run: Callable[[str, int, dict], None] | None = None, first_seed: int = 0,
            budget: dict | None = None) -> list[dict]:
    """Run every variant (or ``names``) for seeds ``first_seed`` .. ``first_seed + seeds - 1``; one row per variant.

    Each network trains with its ``BUDGET``, updated by ``budget`` (``{"cnn": {"epochs": 20}}``, say) and then
    by ``epochs`` and ``limit_train``, which apply to both networks when given.
    A row holds ``test_acc_mean``, ``test_acc_std`` (sample std over seeds), ``train_acc_mean``,
    ``train_acc_std`` (training images, inference mode), ``gap_mean`` (training minus test accuracy),
    the per-seed accuracies, ``sec_per_epoch`` (wall clock, mean over all epochs of all seeds; the first
    epoch includes graph building), ``cpu_sec_per_epoch`` (the same in CPU seconds), the budget the
    variant trained with and the per-seed training-loss curves. ``on_run(name, seed, result)`` is called
    after each run.
    """
    from tqdm.std import tqdm

    table = variants()
    names = list(table) if names is None else names
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {list(table)}")
    given = {k: v for k, v in {"epochs": epochs, "limit_train": limit_train}.items() if v is not None}
    budgets = {net: {**BUDGET[net], **(budget or {}).get(net, {}), **given} for net in BUDGET}
    unknown_keys = {k for b in (budget or {}).values() for k in b} - set(BUDGET["mlp"])
    if unknown_keys or set(budget or {}) - set(BUDGET):
        raise ValueError(f"budget takes networks {list(BUDGET)} and keys {list(BUDGET['mlp'])}, got {budget}")
    if min(seeds, limit_test, *(v for b in budgets.values() for v in b.values())) <= 0 or first_seed < 0:
        raise ValueError(f"seeds, limit_test and every budget value must be positive and first_seed >= 0, "
                         f"got seeds={seeds}, limit_test={limit_test}, first_seed={first_seed}, {budgets}")
    jobs = [(name, seed) for name in names for seed in range(first_seed, first_seed + seeds)]
    bar = tqdm(jobs, desc="dropout variants", unit="run", disable=not progress, file=sys.stderr,
               leave=False, dynamic_ncols=True)
    results: dict[str, list[dict]] = {name: [] for name in names}
    for name, seed in bar:
        bar.set_postfix_str(f"{name}, seed {seed}")
        result = run_variant(table[name], seed, limit_test=limit_test, **budgets[table[name].net])
        results[name].append(result)
        if on_run is not None:
            on_run(name, seed, result)
    bar.close()
    rows = []
    for name in names:
        variant, runs = table[name], results[name]
        used = budgets[variant.net]
        test, train = numpy.array([r["test_acc"] for r in runs]), numpy.array([r["train_acc"] for r in runs])

        def std(values):
            return float(values.std(ddof=1)) if seeds > 1 else 0.0

        rows.append({
            "variant": name, "net": variant.net, "rate": variant.rate, "rate_source": variant.source,
            "test_acc_mean": float(test.mean()), "test_acc_std": std(test),
            "train_acc_mean": float(train.mean()), "train_acc_std": std(train),
            "gap_mean": float((train - test).mean()), "seeds": seeds,
            "sec_per_epoch": float(numpy.mean([s for r in runs for s in r["seconds"]])),
            "cpu_sec_per_epoch": float(numpy.mean([s for r in runs for s in r["cpu_seconds"]])),
            "limit_train": used["limit_train"], "epochs": used["epochs"],
            "test_accs": [float(a) for a in test], "train_accs": [float(a) for a in train],
            "loss_curves": [r["loss"] for r in runs],
        })
    return rows


_MLP, _CNN = BUDGET["mlp"], BUDGET["cnn"]


@experiment("dropout-variants", "Dropout family: every variant on Fashion-MNIST (MLP and CNN), mean ± std",
            seeds=3, epochs=None,
            options={"mlp_epochs": (int, _MLP["epochs"], f"passes of the MLP over its training images "
                                                         f"(default {_MLP['epochs']}, as in the chapter)"),
                     "cnn_epochs": (int, _CNN["epochs"], f"passes of the CNN over its training images "
                                                         f"(default {_CNN['epochs']}, as in the chapter)"),
                     "limit_train": (int, None, f"training images of both networks, the first N of the 60,000 "
                                                f"(default {_MLP['limit_train']}, as in the chapter)"),
                     "variants": (str, None, "semicolon-separated subset of variant names")})
def dropout_variants(seeds: int, progress: bool = True, mlp_epochs: int = _MLP["epochs"],
                     cnn_epochs: int = _CNN["epochs"], limit_train: int | None = None,
                     variants: str | None = None) -> dict:
    """The chapter's comparison, by default with the chapter's budget (``BUDGET``: the first 300 training
    images, MLP 20 epochs, CNN 12 epochs, minibatches of 32, Adam with a cosine-decayed learning rate, peak
    3e-3 for the MLP and 1e-2 for the CNN, 3 seeds), plus inverted dropout, tested on all 10,000 test images
    instead of the chapter's first 2,000. About a minute of CPU time on one core."""
    names = [v.strip() for v in variants.split(";")] if variants else None
    budget = {"mlp": {"epochs": mlp_epochs}, "cnn": {"epochs": cnn_epochs}}
    if limit_train is not None:
        budget = {net: {**b, "limit_train": limit_train} for net, b in budget.items()}
    rows = compare(names, seeds=seeds, budget=budget, progress=progress)
    keep = ("variant", "net", "rate", "test_acc_mean", "test_acc_std", "train_acc_mean", "gap_mean", "seeds",
            "limit_train", "epochs", "sec_per_epoch", "cpu_sec_per_epoch")
    return {"experiment": "dropout-variants",
            "budget": {net: {**BUDGET[net], **budget[net], "optimizer": "adam, cosine-decayed learning rate",
                             "test_examples": 10000} for net in BUDGET},
            "results": [{k: row[k] for k in keep} for row in rows]}
