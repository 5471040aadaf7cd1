"""Compression chapter: Sparse Variational Dropout on the 784-300-100-10 MLP, Fashion-MNIST.

Pretrains the dense MLP, trains Sparse VD from it, prunes weights with log alpha > 3, and reports the fraction
of weights removed and the test accuracy of the dense and the pruned nets, per seed and averaged. Its defaults are
the notebook's setting (the first 20,000 training images, 4 epochs of dense pretraining, 4 of Sparse VD: about
a minute and a half of CPU); ``--num-train 60000 --epochs 6`` runs the longer recipe on the whole training set.
"""

from __future__ import annotations

import numpy

from regbook.experiments import experiment


@experiment("sparse-vd", "Sparse variational dropout: fraction of MLP weights pruned, accuracy before/after",
            seeds=3, epochs=4,
            options={"dense_epochs": (int, 4, "epochs of dense pretraining"),
                     "num_train": (int, 20000, "training images used (the first N)")})
def run(seeds: int, epochs: int, dense_epochs: int = 4, num_train: int = 20000, progress: bool = True) -> dict:
    from regbook.data import ArrayBatches, fashion_mnist_arrays_mx
    from regbook.nb.sparse_vd import sparse_from_dense, sparsity, train_dense, train_sparse_vd
    from regbook.training import evaluate_accuracy

    if not 1 <= num_train <= 60000 or dense_epochs < 1:
        raise ValueError("--num-train must be between 1 and 60000 and --dense-epochs at least 1")
    fashion = fashion_mnist_arrays_mx(flatten=True)
    data = (fashion[0][:num_train], fashion[1][:num_train], fashion[2], fashion[3])
    test_batches = ArrayBatches(fashion[2], fashion[3], 10000)
    rows = []
    for seed in range(seeds):
        dense, history = train_dense(seed, dense_epochs, data, progress=progress)
        sparse = sparse_from_dense(dense)
        train_sparse_vd(sparse, data, epochs, seed=seed, progress=progress)
        rows.append({"seed": seed, "test_acc_dense": history.test_acc[-1],
                     "test_acc_sparse": evaluate_accuracy(sparse, test_batches),
                     "pruned_fraction": sparsity(sparse)})
    summary = {key: float(numpy.mean([row[key] for row in rows]))
               for key in ("pruned_fraction", "test_acc_dense", "test_acc_sparse")}
    spread = {key + "_std": float(numpy.std([row[key] for row in rows], ddof=1)) if seeds > 1 else 0.0
              for key in ("pruned_fraction", "test_acc_dense", "test_acc_sparse")}
    return {"experiment": "sparse-vd", "seeds": seeds, "epochs": epochs, "dense_epochs": dense_epochs,
            "num_train": num_train, **summary, **spread, "results": rows}
