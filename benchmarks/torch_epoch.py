"""The dropout chapter's MLP in PyTorch eager mode, next to its own matrix products: the side-by-side of epoch_speed.

    .venv-torch/bin/python benchmarks/torch_epoch.py [--repeats 5] [--json]   # on its own
    .venv-torch/bin/python benchmarks/torch_epoch.py --serve                  # worker of epoch_speed.py

Runs in the PyTorch venv (``make bench-torch`` creates it from requirements-torch.txt); it imports neither MXNet
nor regbook. Measured with one thread (``torch.set_num_threads(1)``):

* ``torch eager``: one epoch of the 784-256-256-10 MLP with dropout 0.2/0.5 (``nn.Linear``, ``nn.ReLU``,
  ``nn.Dropout``; ``N(0, 0.01)`` weights), cross-entropy, ``torch.optim.SGD`` (lr 0.5), minibatches of 256 from
  a fresh permutation of the 60,000 Fashion-MNIST training images; loss sum and correct count accumulated as
  tensors and read once per epoch, as the book's loop does;
* ``torch gemm``: the same eight GEMMs per minibatch as epoch_speed's ``gemm`` (three forward, five backward),
  through ``torch.mm`` on preallocated tensors.

``--serve`` reads one timer name per line on stdin (``torch eager`` or ``torch gemm``) and answers each with one
JSON line ``{"seconds": wall, "cpu_seconds": CPU}``, so that epoch_speed.py can interleave these epochs with its
own in one session.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

BATCH, SIZES = 256, (784, 256, 256, 10)
REPO_ROOT = Path(__file__).resolve().parents[1]


def idx_array(path: Path):
    """The content of a gzip idx file of unsigned bytes as a uint8 tensor (header dropped)."""
    with gzip.open(path, "rb") as handle:
        content = handle.read()
    ndim = content[3]
    shape = [int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(content[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape)


def fashion_mnist_train(data_dir: str | None = None):
    """Training images (60000×784 float32 in [0, 1]) and labels (int64), from the first directory that has them."""
    dirs = [Path(data_dir)] if data_dir else []
    if os.environ.get("REGBOOK_DATA"):
        dirs += [Path(os.environ["REGBOOK_DATA"]) / "fashion-mnist", Path(os.environ["REGBOOK_DATA"])]
    dirs += [REPO_ROOT / "data" / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist"),
             Path.home() / ".mxnet" / "datasets" / "fashion-mnist"]
    for directory in dirs:
        images, labels = directory / "train-images-idx3-ubyte.gz", directory / "train-labels-idx1-ubyte.gz"
        if images.is_file() and labels.is_file():
            X = idx_array(images).reshape(-1, SIZES[0]).to(torch.float32) / 255.0
            return X.contiguous(), idx_array(labels).to(torch.int64)
    raise SystemExit("Fashion-MNIST not found; run `python -m regbook data --download` in the book's venv first")


class EagerLoop:
    """The MLP, its loss and its optimizer; ``epoch()`` trains one epoch and returns (mean loss, accuracy)."""

    def __init__(self, X, y, seed: int = 0):
        from torch import nn

        torch.manual_seed(seed)
        self.X, self.y = X, y
        self.net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 256), nn.ReLU(),
                                 nn.Dropout(0.5), nn.Linear(256, 10))
        for module in self.net:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)
        self.loss = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=0.5)

    def epoch(self):
        self.net.train()
        n = len(self.y)
        order = torch.randperm(n)
        total_loss, correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
        for start in range(0, n, BATCH):
            index = order[start:start + BATCH]
            X, y = self.X.index_select(0, index), self.y.index_select(0, index)
            out = self.net(X)
            loss = self.loss(out, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                total_loss += loss.detach() * len(y)
                correct += (out.argmax(dim=1) == y).sum()
        return float(total_loss) / n, int(correct) / n


class Gemms:
    """The eight GEMMs of one minibatch of the MLP, on preallocated tensors (``torch.mm``)."""

    def __init__(self, num_batches: int):
        self.num_batches = num_batches
        self.X = torch.rand(BATCH, SIZES[0])
        self.W = [torch.randn(a, b) * 0.01 for a, b in zip(SIZES[:-1], SIZES[1:])]
        self.H = [torch.rand(BATCH, s) for s in SIZES[1:]]

    def epoch(self):
        X, W, H = self.X, self.W, self.H
        with torch.no_grad():
            for _ in range(self.num_batches):
                H1 = torch.mm(X, W[0])
                H2 = torch.mm(H1, W[1])
                G3 = torch.mm(H2, W[2])  # stands for dLoss/dOut
                torch.mm(H2.T, G3)  # dW3
                G2 = torch.mm(G3, W[2].T)  # dH2
                torch.mm(H[0].T, G2)  # dW2
                G1 = torch.mm(G2, W[1].T)  # dH1
                torch.mm(X.T, G1)  # dW1


def timed(run):
    start, cpu_start = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - start, time.process_time() - cpu_start


def make_timers(data_dir: str | None = None):
    torch.set_num_threads(1)
    X, y = fashion_mnist_train(data_dir)
    loop, gemms = EagerLoop(X, y), Gemms(-(-len(y) // BATCH))
    loop.epoch()  # warm-up: allocator, first-call dispatch
    gemms.epoch()
    return {"torch eager": lambda: timed(loop.epoch), "torch gemm": lambda: timed(gemms.epoch)}


def serve(data_dir: str | None) -> int:
    timers = make_timers(data_dir)
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        if name not in timers:
            print(json.dumps({"error": f"unknown timer {name!r}"}), flush=True)
            continue
        seconds, cpu_seconds = timers[name]()
        print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds}), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", help="directory with the Fashion-MNIST .gz files")
    parser.add_argument("--serve", action="store_true", help="answer timer requests on stdin (for epoch_speed)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.serve:
        return serve(args.data_dir)
    timers = make_timers(args.data_dir)
    cpu = {name: [] for name in timers}
    for _ in range(args.repeats):
        for name, timer in timers.items():
            cpu[name].append(timer()[1])
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "repeats": args.repeats,
              "cpu_seconds": medians, "cpu_ratio_eager_to_gemm": medians["torch eager"] / medians["torch gemm"]}
    print(json.dumps(report, indent=2) if args.json else
          f"torch {report['torch']}, {report['threads']} thread: eager {medians['torch eager']:.2f} s, "
          f"gemm {medians['torch gemm']:.2f} s CPU per epoch, ratio {report['cpu_ratio_eager_to_gemm']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
