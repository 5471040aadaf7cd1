"""Headline experiments of the chapter "L1 and L2 regularization, weight decay" (notebooks/weight_decay.ipynb).

The code is the chapter's own (its ``#@save`` cells, exported to :mod:`regbook.nb.weight_decay`); this
module only runs it headlessly and turns the runs into table rows (mean and sample std over the seeds).
"""

from __future__ import annotations

from regbook.experiments import experiment


def _mean_std(values) -> tuple[float, float]:
    from regbook.plotting import mean_std

    mean, std = mean_std(values)
    return round(float(mean), 6), round(float(std), 6)


def _setup(steps: int) -> None:
    """Check the step count and switch MXNet to its NumPy interface."""
    from mxnet import npx

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    npx.set_np()


@experiment("weight-decay", "Weight-decay chapter: linear regression, d=200, 20 examples; loss and ||w|| per lambda",
            seeds=3, options={"steps": (int, 300, "full-batch gradient steps per run")})
def weight_decay(seeds: int, progress: bool = True, steps: int = 300) -> dict:
    """Train/valid/test loss and ||w|| per lambda (mean ± std over seeds 0..seeds-1), and the validation choice."""
    _setup(steps)
    from regbook.nb.weight_decay import LAMS_LINEAR, weight_decay_runs

    runs = weight_decay_runs(range(seeds), LAMS_LINEAR, steps=steps, progress=progress)
    chosen = runs["valid_loss"].argmin(axis=1)
    rows = []
    for k, lam in enumerate(LAMS_LINEAR):
        row = {"lambda": lam, "wd": lam / 20}  # Gluon's wd = lambda / m, m = 20 training examples
        for key in ("train_loss", "valid_loss", "test_loss", "w_norm"):
            row[key], row[f"{key}_std"] = _mean_std(runs[key][:, k])
        row["seeds_choosing_it"] = int((chosen == k).sum())
        rows.append(row)
    return {"experiment": "weight-decay", "seeds": seeds, "steps": steps,
            "chosen_lambda_per_seed": [LAMS_LINEAR[k] for k in chosen], "results": rows}


@experiment("l1-sparsity", "Weight-decay chapter: logistic regression on breast cancer, zero weights of L1 vs L2",
            seeds=3, options={"steps": (int, 800, "full-batch (accelerated) proximal gradient steps per fit")})
def l1_sparsity(seeds: int, progress: bool = True, steps: int = 800) -> dict:
    """Fraction of exactly-zero weights and test accuracy per penalty and lambda (mean ± std over splits)."""
    _setup(steps)
    from regbook.nb.weight_decay import LAMS_LOGISTIC, sparsity_runs

    runs = sparsity_runs(range(seeds), LAMS_LOGISTIC, penalties=("l1", "l2"), steps=steps, progress=progress)
    rows = []
    for penalty in ("l1", "l2"):
        for k, lam in enumerate(LAMS_LOGISTIC):
            row = {"penalty": penalty, "lambda": lam}
            row["zero_fraction"], row["zero_fraction_std"] = _mean_std(runs[penalty]["zero_fraction"][:, k])
            row["test_acc"], row["test_acc_std"] = _mean_std(runs[penalty]["test_acc"][:, k])
            rows.append(row)
    sparser = bool((runs["l1"]["zero_fraction"] > runs["l2"]["zero_fraction"]).all())
    return {"experiment": "l1-sparsity", "seeds": seeds, "steps": steps,
            "l1_sparser_than_l2_at_every_lambda_and_seed": sparser, "results": rows}
