"""Goalkeeper chapter: the 3-layer NumPy network without regularization, with L2, dropout, and both."""

from __future__ import annotations

from regbook.experiments import experiment

SEEDS = (3, 4, 5)


@experiment("football", "Goalkeeper chapter: NumPy net [2, 20, 3, 1], none / l2 / dropout / l2+dropout "
            "(seeds 3, 4, 5; mean and std over seeds)", seeds=None, epochs=None,
            options={"data": (str, None, "a MATLAB .mat file with X, y, Xval, yval, examples as rows "
                              "(default: the book's goalkeeper dataset)"),
                     "iterations": (int, 30000, "gradient-descent iterations per run")})
def run(progress: bool = True, data: str | None = None, iterations: int = 30000) -> dict:
    from regbook.football import SETTINGS, load_football, run_settings, summarize

    rows = run_settings(load_football(data), SETTINGS, seeds=SEEDS, progress=progress,
                        num_iterations=iterations)
    results = []
    for name, stats in summarize(rows).items():
        setting = {"lambd": 0.0, "keep_prob": 1.0, **SETTINGS[name]}
        results.append({"setting": name, **setting, **{key: round(value, 4) if isinstance(value, float) else value
                                                        for key, value in stats.items()}})
    return {
        "experiment": "football",
        "data": data or "data/football (the book's goalkeeper dataset)",
        "iterations": iterations,
        "results": results,
        "runs": [{key: row[key] for key in ("setting", "seed", "train_acc", "test_acc")} for row in rows],
    }
