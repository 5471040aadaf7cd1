"""Bias-variance decomposition of polynomial regression, measured (chapter "Data splits, bias and variance").

For each degree 1..15 and each seed: 200 training sets of 30 noisy samples of sin(2πx), one least-squares fit
per set, and bias², variance, noise and the expected test MSE (measured independently, with fresh test noise).
The checks the chapter makes are part of the output: bias² + variance + noise within 5% of the test MSE at
every degree and seed, and the smallest mean test MSE at an interior degree.
"""

from __future__ import annotations

import sys

import numpy

from regbook import compat as _compat  # noqa: F401
from regbook.experiments import experiment

TOLERANCE = 0.05


@experiment("bias-variance", "Bias-variance chapter: bias², variance, noise and test MSE of polynomial "
            "regression, degrees 1-15", seeds=5, epochs=None,
            options={"max_degree": (int, 15, "largest polynomial degree"),
                     "datasets": (int, 200, "training sets per degree and seed"),
                     "n_train": (int, 30, "training examples per training set"),
                     "noise_std": (float, 0.3, "standard deviation of the label noise")})
def run(seeds: int, progress: bool = True, max_degree: int = 15, datasets: int = 200, n_train: int = 30,
        noise_std: float = 0.3) -> dict:
    from tqdm.std import tqdm

    from regbook.nb.bias_variance import SineTask, bias_variance_curve

    if max_degree < 3:
        raise ValueError(f"--max-degree must be at least 3 for a U-curve to have an interior, got {max_degree}")
    if datasets < 2:
        raise ValueError(f"--datasets must be at least 2 (variance needs two fits), got {datasets}")
    degrees = list(range(1, max_degree + 1))
    task = SineTask(noise_std)
    per_seed = [bias_variance_curve(seed, degrees, task=task, n_datasets=datasets, n_train=n_train)
                for seed in tqdm(range(seeds), desc="bias-variance", disable=not progress, file=sys.stderr)]
    rows = []
    for i, degree in enumerate(degrees):
        values = {key: numpy.array([curve[i][key] for curve in per_seed])
                  for key in ("bias2", "variance", "noise", "test_mse")}
        total = values["bias2"] + values["variance"] + values["noise"]
        gaps = numpy.abs(total - values["test_mse"]) / values["test_mse"]
        rows.append({
            "degree": degree,
            "bias2": float(values["bias2"].mean()),
            "variance": float(values["variance"].mean()),
            "noise": float(values["noise"].mean()),
            "test_mse": float(values["test_mse"].mean()),
            "test_mse_std": float(values["test_mse"].std(ddof=1)) if seeds > 1 else 0.0,
            "max_relative_gap": float(gaps.max()),
        })
    best = min(rows, key=lambda row: row["test_mse"])["degree"]
    return {
        "experiment": "bias-variance",
        "seeds": seeds,
        "datasets_per_degree": datasets,
        "n_train": n_train,
        "noise_std": noise_std,
        "tolerance": TOLERANCE,
        "decomposition_holds": all(row["max_relative_gap"] < TOLERANCE for row in rows),
        "best_degree": best,
        "interior_minimum": degrees[0] < best < degrees[-1],
        "results": rows,
    }
