"""How close is one training epoch of the dropout chapter's Gluon MLP to the cost of its bare matrix products?

    python benchmarks/epoch_speed.py [--repeats 5] [--json] [--torch-python .venv-torch/bin/python]

Measures, in one process and one run, with the timers interleaved (every repeat runs each timer once):

* ``gemm``: the forward and backward matrix products of the 784-256-256-10 network for one epoch, timed
  both through ``np.dot`` (OpenBLAS) and through oneDNN (``npx.fully_connected``, what ``nn.Dense`` runs); the
  faster of the two is the bar
  (235 minibatches of 256: three forward GEMMs and five backward GEMMs per batch, no input gradient),
  on preallocated arrays, synchronised once at the end;
* ``book loop``: one epoch of :class:`regbook.engine.Engine` on the chapter's Gluon MLP with dropout 0.2/0.5
  (SGD, lr 0.5), fed by ``regbook.data.ArrayBatches``: what the experiments run;
* ``plain loop``: one epoch of the textbook loop, ``regbook.training.train_epoch`` (``autograd.record``,
  ``backward``, ``trainer.step``) on the same hybridized network: what the chapters show;
* ``naive loop`` (``--naive``): the same network fed by a Gluon ``DataLoader`` with a per-batch ``.item()`` read of
  the loss (the d2l 0.x pattern);
* ``torch eager`` and ``torch gemm``, when PyTorch is available (``make bench-torch``): the same MLP in PyTorch
  eager mode and its eight GEMMs through ``torch.mm`` (benchmarks/torch_epoch.py), run by a worker process of the
  PyTorch venv (``--torch-python``; default ``.venv-torch/bin/python`` if it exists, else this interpreter if it
  imports torch) and interleaved with the timers above;

and prints the median over ``--repeats`` of each, and their ratios to ``gemm``: wall-clock and CPU time (which
busy neighbours disturb less; the figure to quote). With PyTorch, also the book loop's CPU time over PyTorch
eager's, and PyTorch eager's over its own GEMMs. Run it with one thread on one core
(``taskset -c 0 env OMP_NUM_THREADS=1``); it warns when the load average says the machine was busy.

``--profile`` adds one more epoch of the book loop under MXNet's profiler and splits its time by operator
group (matrix products, dropout masks, optimizer, data, other operators, and what is left: Python, NumPy and
dispatch). The profiler slows every operator a little, so read the split as proportions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import regbook  # noqa: F401  (first: its compat settings, OPENBLAS_CORETYPE included, must precede MXNet)

# isort: split
from mxnet import autograd, gluon, np, npx

from regbook import data, engine, training
from regbook.chapters.dropout import mlp_gluon
from regbook.seeding import set_seed

BATCH, SIZES = 256, (784, 256, 256, 10)


def time_gemms(num_batches: int) -> tuple[float, float]:
    """Wall and CPU seconds for the forward and backward GEMMs of ``num_batches`` minibatches (``np.dot``)."""
    X = np.random.uniform(size=(BATCH, SIZES[0]))
    Ws = [np.random.normal(0, 0.01, (a, b)) for a, b in zip(SIZES[:-1], SIZES[1:])]
    Hs = [np.random.uniform(size=(BATCH, s)) for s in SIZES[1:]]
    npx.waitall()
    start, cpu_start = time.perf_counter(), time.process_time()
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
    return time.perf_counter() - start, time.process_time() - cpu_start


def time_gemms_onednn(num_batches: int) -> tuple[float, float]:
    """The same eight GEMMs per batch through oneDNN (``npx.fully_connected``, what ``nn.Dense`` calls)."""
    return engine.mlp_gemm_seconds(SIZES, BATCH, num_batches)


def warmed_up_plain_loop(train_iter):
    """The chapter's Gluon MLP, its loss and its trainer, after one warm-up epoch (shapes, hybridization)."""
    net = mlp_gluon()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    training.train_epoch(net, train_iter, loss, trainer.step)
    npx.waitall()
    return net, loss, trainer


def warmed_up_engine(train_iter) -> engine.Engine:
    """The chapter's Gluon MLP in :class:`regbook.engine.Engine`, after one warm-up epoch."""
    run = engine.Engine(mlp_gluon(), gluon.loss.SoftmaxCrossEntropyLoss(), lr=0.5)
    run.train_epoch(train_iter)
    npx.waitall()
    return run


def timed(run) -> tuple[float, float]:
    """Wall and CPU seconds of ``run()``, MXNet synchronised at the end."""
    start, cpu_start = time.perf_counter(), time.process_time()
    run()
    npx.waitall()
    return time.perf_counter() - start, time.process_time() - cpu_start


class TorchWorker:
    """benchmarks/torch_epoch.py --serve in the PyTorch venv: ``time(name)`` returns its (wall, CPU) seconds."""

    def __init__(self, python: str):
        import subprocess

        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_epoch.py")
        directory = data.locate(data.FILES["train_images"])
        command = [python, script, "--serve"] + (["--data-dir", str(directory.parent)] if directory else [])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self.process.stdout.readline()
        if not hello:
            raise RuntimeError(f"the PyTorch worker ({python}) did not start")
        self.info = json.loads(hello)

    def time(self, name: str) -> tuple[float, float]:
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["seconds"], answer["cpu_seconds"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def torch_python(choice: str | None) -> str | None:
    """The interpreter to run PyTorch with: ``choice``, else ``.venv-torch``'s, else this one if it has torch."""
    import importlib.util
    import sys

    if choice:
        return None if choice == "none" else choice
    venv = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv-torch", "bin", "python")
    if os.path.exists(venv):
        return venv
    return sys.executable if importlib.util.find_spec("torch") is not None else None


def time_naive_loop() -> float:
    train_loader, _ = data.load_data_fashion_mnist(BATCH)
    net = mlp_gluon()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    start, cpu_start = time.perf_counter(), time.process_time()
    for X, y in train_loader:
        X, y = X.as_np_ndarray(), y.as_np_ndarray()
        with autograd.record():
            batch_loss = loss(net(X.reshape(len(X), -1)), y)
        batch_loss.backward()
        trainer.step(len(y))
        batch_loss.mean().item()  # the per-batch synchronisation of the old loops
    npx.waitall()
    return time.perf_counter() - start, time.process_time() - cpu_start


def profile_book_loop(train_iter) -> tuple[float, dict[str, float]]:
    """Wall seconds of one profiled book-loop epoch, and the milliseconds of each operator group in it."""
    run = warmed_up_engine(train_iter)
    seconds, groups = engine.profile_epoch(lambda: run.train_epoch(train_iter))
    return seconds, {name: value * 1e3 for name, value in groups.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive", action="store_true", help="also time the naive DataLoader loop (slow)")
    parser.add_argument("--profile", action="store_true", help="split one book-loop epoch by operator group")
    parser.add_argument("--torch-python", help="Python of a venv with torch (default: .venv-torch if present); "
                                               "'none' skips PyTorch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    npx.set_np()
    set_seed(0)
    train_iter, _ = data.fashion_mnist_batches(BATCH, flatten=True)
    num_batches = len(train_iter)
    book = warmed_up_engine(train_iter)
    net, loss, trainer = warmed_up_plain_loop(train_iter)
    timers = {"gemm np.dot": lambda: time_gemms(num_batches), "gemm oneDNN": lambda: time_gemms_onednn(num_batches),
              "book loop": lambda: timed(lambda: book.train_epoch(train_iter)),
              "plain loop": lambda: timed(lambda: training.train_epoch(net, train_iter, loss, trainer.step))}
    if args.naive:
        timers["naive loop"] = time_naive_loop
    python = torch_python(args.torch_python)
    worker = TorchWorker(python) if python else None
    if worker:
        timers["torch eager"] = lambda: worker.time("torch eager")
        timers["torch gemm"] = lambda: worker.time("torch gemm")
    load_before = os.getloadavg()
    wall, cpu = {name: [] for name in timers}, {name: [] for name in timers}
    for _ in range(args.repeats):
        for name, timer in timers.items():
            seconds, cpu_seconds = timer()
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    if worker:
        worker.close()
    medians = {name: statistics.median(times) for name, times in wall.items()}
    cpu_medians = {name: statistics.median(times) for name, times in cpu.items()}
    # The bar is the faster way to do the same matrix products: the loop must be compared with the best GEMMs.
    medians["gemm"] = min(medians["gemm np.dot"], medians["gemm oneDNN"])
    cpu_medians["gemm"] = min(cpu_medians["gemm np.dot"], cpu_medians["gemm oneDNN"])
    report = {
        "engine": os.environ.get("MXNET_ENGINE_TYPE"), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "batches_per_epoch": num_batches,
        "repeats": args.repeats, "load_average": [round(x, 2) for x in load_before + os.getloadavg()],
        "seconds": medians, "cpu_seconds": cpu_medians,
        "ratio_to_gemm": {k: v / medians["gemm"] for k, v in medians.items()},
        "cpu_ratio_to_gemm": {k: v / cpu_medians["gemm"] for k, v in cpu_medians.items()},
        "cpu_ratio_to_gemm_onednn": {k: v / cpu_medians["gemm oneDNN"] for k, v in cpu_medians.items()},
    }
    if worker:
        report["torch"] = worker.info
        report["cpu_ratio_to_torch_eager"] = {k: cpu_medians[k] / cpu_medians["torch eager"]
                                              for k in ("book loop", "plain loop")}
        report["torch_cpu_ratio_to_own_gemm"] = cpu_medians["torch eager"] / cpu_medians["torch gemm"]
        report["cpu_per_repeat"] = cpu
    if args.profile:
        profiled_seconds, groups = profile_book_loop(train_iter)
        report["profile"] = {"epoch_seconds": profiled_seconds, "milliseconds": groups}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"engine {report['engine']}, OMP_NUM_THREADS={report['omp_num_threads']}, "
              f"OPENBLAS_CORETYPE={report['openblas_coretype']}, {num_batches} batches of {BATCH}, "
              f"median of {args.repeats}; load average before/after {report['load_average']}")
        for name, seconds in medians.items():
            print(f"{name:<12} {seconds:6.2f} s/epoch  {report['ratio_to_gemm'][name]:5.2f} x gemm   "
                  f"(CPU {cpu_medians[name]:6.2f} s, {report['cpu_ratio_to_gemm'][name]:5.2f} x)")
        if worker:
            print(f"book loop / torch eager (CPU): {report['cpu_ratio_to_torch_eager']['book loop']:.2f}; "
                  f"torch eager / torch gemm (CPU): {report['torch_cpu_ratio_to_own_gemm']:.2f}")
        if args.profile:
            print(f"\none profiled epoch of the book loop: {profiled_seconds:.2f} s (the profiler adds overhead)")
            for name, ms in groups.items():
                print(f"  {name:<52} {ms / 1e3:5.2f} s  {ms / 1e3 / medians['gemm']:5.2f} x gemm")
        if max(load_before[0], report["load_average"][3]) > 1.5:  # the 1-minute averages, before and after
            print("warning: the machine was busy (load average above 1.5); wall-clock ratios are unreliable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
