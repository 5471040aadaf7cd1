"""Monte Carlo dropout chapter: mean predictive entropy on test images the MLP gets right and wrong, and on
out-of-distribution images (rotated test images, uniform noise), over several seeds.

The notebook trains on the first 12,000 training images for 3 epochs and evaluates on 2,000 test images; by
default this trains on all 60,000 for 5 epochs (Adam, as ``train_dropout_mlp`` does) and evaluates on the full
test set.
"""

from __future__ import annotations

import numpy

from regbook.experiments import experiment

GROUPS = ("in-dist. correct", "in-dist. wrong", "rotated 90°", "uniform noise")


@experiment("mc-dropout", "MC dropout: predictive entropy on right, wrong and out-of-distribution inputs",
            seeds=3, epochs=5,
            options={"num_samples": (int, 50, "stochastic forward passes T"),
                     "test_size": (int, 10000, "test images evaluated (and rotated)")})
def run(seeds: int, epochs: int, num_samples: int = 50, test_size: int = 10000, progress: bool = True) -> dict:
    from regbook.data import fashion_mnist_arrays_mx
    from regbook.nb.mc_dropout import group_entropies, noise_images, rotate_images, train_dropout_mlp
    from regbook.seeding import set_seed

    if num_samples < 1 or not 1 <= test_size <= 10000:
        raise ValueError("--num-samples must be >= 1 and --test-size between 1 and 10000")
    data = fashion_mnist_arrays_mx(flatten=True)
    X_eval, y_eval = data[2][:test_size], data[3][:test_size]
    ood = {"rotated 90°": rotate_images(X_eval), "uniform noise": noise_images(max(1, test_size // 2))}
    per_seed = {g: [] for g in GROUPS}
    accuracies = []
    for seed in range(seeds):
        net, history = train_dropout_mlp(seed, epochs, data, progress=progress)
        accuracies.append(history.test_acc[-1])
        set_seed(100 + seed)
        groups = group_entropies(net, X_eval, y_eval, ood, num_samples=num_samples)
        for g in GROUPS:
            per_seed[g].append(float(groups[g].mean()))
    rows = []
    for g in GROUPS:
        values = numpy.array(per_seed[g])
        rows.append({"group": g, "mean_entropy": float(values.mean()),
                     "std_over_seeds": float(values.std(ddof=1)) if seeds > 1 else 0.0,
                     "per_seed": [round(v, 4) for v in values]})
    means = {row["group"]: row["mean_entropy"] for row in rows}
    return {"experiment": "mc-dropout", "seeds": seeds, "epochs": epochs, "num_samples": num_samples,
            "test_acc_mean": float(numpy.mean(accuracies)),
            "entropy_in_dist_correct": means["in-dist. correct"], "entropy_in_dist_wrong": means["in-dist. wrong"],
            "entropy_ood_rotated": means["rotated 90°"], "entropy_ood_noise": means["uniform noise"],
            "ood_above_in_dist_correct": bool(means["rotated 90°"] > means["in-dist. correct"]),
            "results": rows}
