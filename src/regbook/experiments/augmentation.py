"""Data-augmentation chapter: the small-data experiment and the orientation shortcut.

    python -m regbook reproduce augmentation --json
    python -m regbook reproduce orientation-shortcut --json

Both reuse the chapter's code (``regbook.nb.augmentation``, exported from ``notebooks/augmentation.ipynb``).
"""

from __future__ import annotations

import sys

import numpy

from regbook.experiments import experiment


def _mean_std(values) -> tuple[float, float]:
    values = numpy.asarray(values, dtype=float)
    return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else 0.0)


@experiment("augmentation", "Augmentation chapter: small CNN on 1 000 Fashion-MNIST images, none vs "
            "random crops", seeds=3, epochs=30, options={"train_size": (int, 1000, "training images")})
def small_data(seeds: int, epochs: int, progress: bool = True, train_size: int = 1000) -> dict:
    from tqdm.std import tqdm

    from regbook.data import fashion_mnist_arrays_mx
    from regbook.nb.augmentation import final_scores, fit, pad_crop

    if train_size < 10:
        raise ValueError(f"train_size must be at least 10, got {train_size}")
    X_train, y_train, X_test, y_test = fashion_mnist_arrays_mx(limit_train=train_size)
    rows = []
    for name, augmentation in (("none", None), ("augmented", pad_crop)):
        scores = []
        for seed in tqdm(range(seeds), desc=name, disable=not progress, file=sys.stderr):
            net, _ = fit(X_train, y_train, X_test[:1000], y_test[:1000], augmentation, seed=seed, epochs=epochs)
            scores.append(final_scores(net, X_train, y_train, X_test, y_test))
        train_mean, train_std = _mean_std([s["train_acc"] for s in scores])
        test_mean, test_std = _mean_std([s["test_acc"] for s in scores])
        rows.append({"setting": name, "train_acc_mean": train_mean, "train_acc_std": train_std,
                     "test_acc_mean": test_mean, "test_acc_std": test_std,
                     "gap_mean": train_mean - test_mean, "seeds": seeds})
    none, augmented = rows
    margin = augmented["test_acc_mean"] - none["test_acc_mean"]
    return {"experiment": "augmentation", "train_size": train_size, "epochs": epochs, "results": rows,
            "augmented_minus_none": margin,
            "augmented_beats_none_by_more_than_one_std": bool(
                margin > max(none["test_acc_std"], augmented["test_acc_std"]))}


@experiment("orientation-shortcut", "Augmentation chapter: sneakers face left, sandals right; accuracy on "
            "normal and mirrored test sets, without and with flips", seeds=3, epochs=8,
            options={"per_class": (int, 300, "training images per class")})
def orientation_shortcut(seeds: int, epochs: int, progress: bool = True, per_class: int = 300) -> dict:
    from tqdm.std import tqdm

    from regbook import augment
    from regbook.data import ArrayBatches, load_fashion_mnist_arrays
    from regbook.nb.augmentation import fit, orientation_shortcut_data, random_flip
    from regbook.training import evaluate_accuracy

    if per_class < 5:
        raise ValueError(f"per_class must be at least 5, got {per_class}")
    x, y, x_test, y_test = load_fashion_mnist_arrays()
    X_train, y_train = orientation_shortcut_data(x, y, per_class)
    X_normal, y_normal = orientation_shortcut_data(x_test, y_test, 1000)
    X_mirrored = augment.hflip(X_normal)
    rows = []
    for name, augmentation in (("none", None), ("flip", random_flip)):
        normal, mirrored = [], []
        for seed in tqdm(range(seeds), desc=name, disable=not progress, file=sys.stderr):
            net, _ = fit(X_train, y_train, X_normal[::4], y_normal[::4], augmentation, seed=seed, epochs=epochs,
                         num_classes=2)
            normal.append(evaluate_accuracy(net, ArrayBatches(X_normal, y_normal, 1000)))
            mirrored.append(evaluate_accuracy(net, ArrayBatches(X_mirrored, y_normal, 1000)))
        (n_mean, n_std), (m_mean, m_std) = _mean_std(normal), _mean_std(mirrored)
        rows.append({"setting": name, "normal_acc_mean": n_mean, "normal_acc_std": n_std,
                     "mirrored_acc_mean": m_mean, "mirrored_acc_std": m_std, "seeds": seeds})
    none, flip = rows
    return {"experiment": "orientation-shortcut", "per_class": per_class, "epochs": epochs, "results": rows,
            "shortcut_exploited": bool(none["mirrored_acc_mean"] < 0.5 < none["normal_acc_mean"]),
            "mirrored_recovered_by_flip": bool(flip["mirrored_acc_mean"] > none["mirrored_acc_mean"] + 0.3
                                               and abs(flip["mirrored_acc_mean"] - flip["normal_acc_mean"]) < 0.05)}
