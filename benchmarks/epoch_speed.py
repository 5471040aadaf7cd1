"""How close is one training epoch of the dropout chapter's Gluon MLP to the cost of its bare matrix products?

    python benchmarks/epoch_speed.py [--repeats 3] [--json]

Measures, in one process and one run:

* ``gemm``: the forward and backward matrix products of the 784-256-256-10 network for one epoch
  (235 minibatches of 256: three forward GEMMs and five backward GEMMs per batch, no input gradient),
  on preallocated arrays, synchronised once at the end;
* ``book loop``: one epoch of ``regbook.training.train_epoch`` on the hybridized Gluon MLP with dropout,
  fed by ``regbook.data.ArrayBatches`` (what the chapter runs);
* ``naive loop``: the same network fed by a Gluon ``DataLoader`` with a per-batch ``.item()`` read of the
  loss (the d2l 0.x pattern);

and prints the median over ``--repeats`` of each, and their ratios to ``gemm``. Run it on an idle machine:
the numbers are wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from mxnet import autograd, gluon, np, npx

import regbook  # noqa: F401  (compat shims before MXNet)
from regbook import data, training
from regbook.nb.dropout import mlp_gluon
from regbook.seeding import set_seed

BATCH, SIZES = 256, (784, 256, 256, 10)


def time_gemms(num_batches: int) -> float:
    """Seconds for the forward and backward GEMMs of ``num_batches`` minibatches."""
    X = np.random.uniform(size=(BATCH, SIZES[0]))
    Ws = [np.random.normal(0, 0.01, (a, b)) for a, b in zip(SIZES[:-1], SIZES[1:])]
    Hs = [np.random.uniform(size=(BATCH, s)) for s in SIZES[1:]]
    npx.waitall()
    start = time.perf_counter()
    for _ in range(num_batches):
        H1 = np.dot(X, Ws[0])
        H2 = np.dot(H1, Ws[1])
        out = np.dot(H2, Ws[2])
        G3 = out  # stands for dLoss/dOut: same shape, same cost
        np.dot(H2.T, G3)  # dW3
        G2 = np.dot(G3, Ws[2].T)  # dH2
        np.dot(Hs[0].T, G2)  # dW2
        G1 = np.dot(G2, Ws[1].T)  # dH1
        np.dot(X.T, G1)  # dW1
    npx.waitall()
    return time.perf_counter() - start


def time_book_loop(train_iter) -> float:
    net = mlp_gluon()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    training.train_epoch(net, train_iter, loss, trainer.step)  # warm-up: shapes, hybridization
    start = time.perf_counter()
    training.train_epoch(net, train_iter, loss, trainer.step)
    npx.waitall()
    return time.perf_counter() - start


def time_naive_loop() -> float:
    train_loader, _ = data.load_data_fashion_mnist(BATCH)
    net = mlp_gluon()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    start = time.perf_counter()
    for X, y in train_loader:
        X, y = X.as_np_ndarray(), y.as_np_ndarray()
        with autograd.record():
            batch_loss = loss(net(X.reshape(len(X), -1)), y)
        batch_loss.backward()
        trainer.step(len(y))
        batch_loss.mean().item()  # the per-batch synchronisation of the old loops
    npx.waitall()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive", action="store_true", help="also time the naive DataLoader loop (slow)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    npx.set_np()
    set_seed(0)
    train_iter, _ = data.fashion_mnist_batches(BATCH, flatten=True)
    num_batches = len(train_iter)
    results = {"gemm": [], "book loop": []}
    if args.naive:
        results["naive loop"] = []
    for _ in range(args.repeats):
        results["gemm"].append(time_gemms(num_batches))
        results["book loop"].append(time_book_loop(train_iter))
        if args.naive:
            results["naive loop"].append(time_naive_loop())
    medians = {name: statistics.median(times) for name, times in results.items()}
    report = {
        "engine": os.environ.get("MXNET_ENGINE_TYPE"), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "batches_per_epoch": num_batches, "repeats": args.repeats,
        "seconds": medians, "ratio_to_gemm": {k: v / medians["gemm"] for k, v in medians.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"engine {report['engine']}, OMP_NUM_THREADS={report['omp_num_threads']}, "
              f"{num_batches} batches of {BATCH}, median of {args.repeats}")
        for name, seconds in medians.items():
            print(f"{name:<11} {seconds:6.2f} s/epoch   {report['ratio_to_gemm'][name]:.2f} x gemm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
