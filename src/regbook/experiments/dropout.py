"""The dropout chapter's headline experiment: the 784-256-256-10 MLP on Fashion-MNIST over seeds.

``dropout-mlp`` trains every variant (scratch, Gluon, no dropout) with seeds 0..N-1 and reports the epoch-N
accuracies as mean ± std. ``--record FILE`` also writes each run's per-epoch history; the chapter notebook
shows the recorded runs (:func:`load_record`) and re-trains seed 0 live to check that they reproduce.

``dropout-mlp-wobble`` measures how much the test accuracy of the Gluon MLP moves from one SGD step to the
next during the last epoch at learning rate 0.5, and compares the step size of the last, smaller minibatch
(its real length, as ``regbook.training`` does, or a constant 256, as d2l 0.x's ``train_ch3`` does).
"""

from __future__ import annotations

import json
from pathlib import Path

from regbook.experiments import experiment

RECORD = Path(__file__).with_name("dropout_mlp_runs.json")
WOBBLE_RECORD = Path(__file__).with_name("dropout_mlp_wobble.json")


def load_record(path: Path | str = RECORD) -> dict:
    """The runs recorded by ``python -m regbook reproduce dropout-mlp --record FILE`` (or the wobble study)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


@experiment("dropout-mlp", "Dropout chapter: MLP 784-256-256-10 on Fashion-MNIST, scratch vs Gluon vs no dropout",
            seeds=3, epochs=5, options={"record": (str, None, "also write every run's history as JSON here")})
def dropout_mlp(seeds: int, epochs: int, progress: bool = True, record: str | None = None) -> dict:
    """Train every variant with seeds 0..seeds-1; final-epoch accuracies as mean ± std, seconds per epoch.

    Each row also has ``train_acc_off_mean`` (training accuracy with dropout off, on the first 10 000 training
    images, after the last epoch) and ``gap_mean``/``gap_std`` (that minus the test accuracy).
    """
    import sys

    import numpy
    from tqdm.std import tqdm

    from regbook.nb.dropout import VARIANTS, train_accuracy_dropout_off, train_dropout_mlp
    from regbook.training import summarize

    jobs = [(variant, seed) for variant in VARIANTS for seed in range(seeds)]
    runs: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    histories: dict[str, list] = {variant: [] for variant in VARIANTS}
    for variant, seed in tqdm(jobs, desc="dropout-mlp runs", file=sys.stderr, disable=not progress):
        history, net = train_dropout_mlp(variant, seed, num_epochs=epochs)
        histories[variant].append(history)
        runs[variant].append(dict(history.as_dict(), seed=seed, train_acc_off=train_accuracy_dropout_off(net)))
    results = []
    for variant, variant_runs in runs.items():
        row = summarize(histories[variant], variant=variant)
        off = numpy.array([run["train_acc_off"] for run in variant_runs])
        gaps = off - numpy.array([run["test_acc"][-1] for run in variant_runs])
        row.update(train_acc_off_mean=float(off.mean()), gap_mean=float(gaps.mean()),
                   gap_std=float(gaps.std(ddof=1)) if len(gaps) > 1 else 0.0)
        results.append(row)
    result = {"experiment": "dropout-mlp", "results": results}
    if record:
        Path(record).write_text(json.dumps(dict(result, runs=runs), indent=1) + "\n", encoding="utf-8")
    return result


def last_epoch_steps(seed: int, last_step_batch: int | None = None, num_epochs: int = 5, steps: int = 40) -> dict:
    """One Gluon run of the chapter's recipe that also evaluates the test accuracy after each of the last
    ``steps`` SGD steps of the last epoch.

    ``last_step_batch=None`` scales each step by its minibatch's real length (``regbook.training``);
    ``256`` divides every step by 256, the last minibatch of 96 examples included (d2l 0.x's ``train_ch3``).
    """
    from mxnet import autograd, gluon

    from regbook import data, training
    from regbook.nb.dropout import mlp_gluon
    from regbook.seeding import set_seed

    set_seed(seed)
    train_iter, test_iter = data.fashion_mnist_batches(256, flatten=True, seed=seed)
    test_iter = data.ArrayBatches(test_iter.features, test_iter.labels, 1000)
    net = mlp_gluon()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    test_acc, last_steps = [], []
    for epoch in range(num_epochs):
        for i, (X, y) in enumerate(train_iter):
            with autograd.record():
                batch_loss = loss(net(X), y)
            batch_loss.backward()
            trainer.step(last_step_batch or len(y))
            if epoch == num_epochs - 1 and i >= len(train_iter) - steps:
                last_steps.append(training.evaluate_accuracy(net, test_iter))
        test_acc.append(training.evaluate_accuracy(net, test_iter))
    return {"seed": seed, "step_batch": last_step_batch or "len", "test_acc": test_acc, "last_steps": last_steps}


@experiment("dropout-mlp-wobble", "Dropout chapter: step-to-step test accuracy of the Gluon MLP at lr 0.5",
            seeds=5, epochs=5, options={"record": (str, None, "also write every run as JSON here")})
def dropout_mlp_wobble(seeds: int, epochs: int, progress: bool = True, record: str | None = None) -> dict:
    """Seeds 0..seeds-1, each with the real-length and the constant-256 step on the last minibatch."""
    import sys

    import numpy
    from tqdm.std import tqdm

    jobs = [(seed, mode) for seed in range(seeds) for mode in (None, 256)]
    runs = [last_epoch_steps(seed, mode, num_epochs=epochs)
            for seed, mode in tqdm(jobs, desc="wobble runs", file=sys.stderr, disable=not progress)]
    results = []
    for mode in ("len", 256):
        mine = [run for run in runs if run["step_batch"] == mode]
        final = numpy.array([run["test_acc"][-1] for run in mine])
        steps = numpy.array([run["last_steps"] for run in mine])
        results.append({"step_batch": mode, "seeds": len(mine), "epochs": epochs,
                        "test_acc_mean": float(final.mean()),
                        "test_acc_std": float(final.std(ddof=1)) if len(final) > 1 else 0.0,
                        "last_steps_mean": float(steps.mean()), "step_std_mean": float(steps.std(axis=1).mean())})
    result = {"experiment": "dropout-mlp-wobble", "results": results}
    if record:
        Path(record).write_text(json.dumps(dict(result, runs=runs), indent=1) + "\n", encoding="utf-8")
    return result
