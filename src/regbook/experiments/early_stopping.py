"""Early stopping vs training to the end vs L2 (chapter "Early stopping").

MLP 784-128-128-10 (hybridized) on 1,000 Fashion-MNIST training images with 30% of the train and
validation labels flipped to a random wrong class; SGD with momentum, batches of 200; the clean test set only
for reporting. Each seed trains to the last epoch while a patience-based
:class:`~regbook.early_stopping.EarlyStopping` watches the validation accuracy, so one run gives the test
accuracy at the best epoch and at the last. The same is done with weight decay (L2) for each ``--wd``
value; the value with the best final validation accuracy is marked.
"""

from __future__ import annotations

import sys

import numpy

from regbook import compat as _compat  # noqa: F401
from regbook.experiments import experiment


def _mean_std(values) -> tuple[float, float]:
    values = numpy.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


@experiment("early-stopping", "Early-stopping chapter: MLP on 1,000 noisy Fashion-MNIST images, best vs last "
            "epoch, and L2", seeds=3, epochs=30,
            options={"noise": (float, 0.3, "fraction of train/validation labels flipped"),
                     "lr": (float, 0.1, "SGD learning rate (momentum 0.9, batch 200)"),
                     "patience": (int, 10, "epochs without improvement before stopping"),
                     "wd": (str, "0.01,0.03", "comma-separated weight-decay values for the L2 comparison "
                                             "('' for none)")})
def run(seeds: int, epochs: int, progress: bool = True, noise: float = 0.3, lr: float = 0.1,
        patience: int = 10, wd: str = "0.01,0.03") -> dict:
    from tqdm.std import tqdm

    from regbook.nb.early_stopping import noisy_fashion_mnist, run_early_stopping

    try:
        decays = [float(v) for v in wd.split(",") if v.strip()]
    except ValueError as exc:
        raise ValueError(f"--wd must be comma-separated numbers such as 0.01,0.03, got {wd!r}") from exc
    if not 0 <= noise < 0.9:
        raise ValueError(f"--noise must lie in [0, 0.9), got {noise}")
    settings = [0.0] + decays
    jobs = [(w, s) for w in settings for s in range(seeds)]
    rows = []
    for w, seed in tqdm(jobs, desc="early-stopping", disable=not progress, file=sys.stderr):
        result = run_early_stopping(noisy_fashion_mnist(noise=noise, seed=seed), seed, epochs=epochs, lr=lr,
                                    wd=w, patience=patience, progress=False)
        rows.append({
            "variant": "no penalty" if w == 0 else f"L2 wd={w:g}", "wd": w, "seed": seed,
            "best_epoch": result["best_epoch"], "stopped_epoch": result["stopped_epoch"],
            "val_acc_best": round(result["val_acc_best"], 4), "val_acc_last": round(result["val_acc_last"], 4),
            "test_acc_best": round(result["test_acc_best"], 4), "test_acc_last": round(result["test_acc_last"], 4),
            "sec_per_epoch": round(float(numpy.mean(result["history"].seconds)), 3),
        })
    summary = []
    for w in settings:
        mine = [r for r in rows if r["wd"] == w]
        entry = {"variant": mine[0]["variant"], "wd": w, "seeds": len(mine)}
        for key in ("best_epoch", "test_acc_best", "test_acc_last", "val_acc_last"):
            entry[key], entry[key + "_std"] = _mean_std([r[key] for r in mine])
        entry["best_ge_last_every_seed"] = all(r["test_acc_best"] >= r["test_acc_last"] for r in mine)
        summary.append(entry)
    plain = summary[0]
    chosen = max(summary[1:], key=lambda e: e["val_acc_last"], default=None)
    return {
        "experiment": "early-stopping",
        "setup": {"n_train": 1000, "n_val": 1000, "noise": noise, "net": "MLP 784-128-128-10", "optimizer":
                  f"SGD lr {lr}, momentum 0.9, batch 200", "epochs": epochs, "patience": patience},
        "best_epoch": plain["best_epoch"],
        "test_acc_best": plain["test_acc_best"],
        "test_acc_last": plain["test_acc_last"],
        "test_acc_best_ge_last": plain["test_acc_best"] >= plain["test_acc_last"],
        "l2_chosen_on_validation": None if chosen is None else {"wd": chosen["wd"],
                                                                "test_acc_last": chosen["test_acc_last"]},
        "summary": summary,
        "results": rows,
    }
