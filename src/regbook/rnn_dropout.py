"""Dropout in recurrent networks: one scratch LSTM layer, six places to put the dropout masks.

:class:`DropoutLSTM` is a single LSTM layer (Hochreiter & Schmidhuber 1997) written with MXNet's NumPy
operators, so that every mask is visible. ``method`` chooses where dropout goes:

=========== ======================================================================== =================
method      where the mask is applied                                                sampled
=========== ======================================================================== =================
none        nowhere                                                                  --
io          inputs x_t and outputs h_t, never the recurrence (Zaremba et al. 2014)  every time step
naive       the cell state c_t that is carried to the next step                      every time step
rnndrop     the cell state c_t (Moon et al. 2015)                                    once per sequence
recurrent   the cell update g_t only; c_t itself is never dropped (Semeniuta et al.) every time step
variational inputs x_t and recurrent input h_{t-1} (Gal & Ghahramani 2016; Keras'    once per sequence
            ``dropout`` and ``recurrent_dropout``)
=========== ======================================================================== =================

All masks are *inverted* (kept values are divided by the keep probability), so nothing changes at
inference, where the layer is the plain LSTM. The one exception is ``rnndrop``: its mask on ``c`` is 0/1,
because a per-sequence mask applied at every step would otherwise scale the surviving memory by
``(1 - p) ** -T``; the compensation ``1 / (1 - p)`` is applied once, to the hidden output ``h``.

The module also loads the sunspot series that ships with statsmodels and cuts it into forecasting windows,
and trains a small forecaster; the chapter ``notebooks/rnn_dropout.ipynb`` uses all of it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy
from mxnet import gluon, init  # regbook/__init__ has already run regbook.compat

from regbook import compat as _compat  # noqa: F401
from regbook.plotting import LivePlot

METHODS: dict[str, str] = {
    "none": "no dropout",
    "io": "inputs and outputs only, fresh mask every step (Zaremba et al. 2014)",
    "naive": "cell state, fresh mask every step",
    "rnndrop": "cell state, one mask per sequence (RNNDrop, Moon et al. 2015)",
    "recurrent": "cell update g only, fresh mask every step (Semeniuta et al. 2016)",
    "variational": "inputs and hidden state, one mask per sequence (Gal & Ghahramani 2016)",
}
"""The dropout placements :class:`DropoutLSTM` knows, with a one-line description each."""

INPUT_METHODS = ("io", "variational")
"""The methods that also drop the layer's inputs (with ``input_rate``)."""


def use_one_omp_thread() -> None:
    """Run MXNet's operators on one OpenMP thread (process-wide).

    The matrices of a small recurrent layer (batch 32, hidden 32) are far too small to split between
    threads; on a busy 2-core machine two OpenMP threads made one training step 20-50 times slower
    than one thread (measured while writing the chapter, load average ~10).
    """
    import ctypes

    import mxnet

    mxnet.base.check_call(mxnet.base._LIB.MXSetNumOMPThreads(ctypes.c_int(1)))


def check_rate(rate: float, name: str = "rate") -> float:
    """``rate`` as a float if it is a valid drop probability in [0, 1); otherwise a ValueError."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {rate!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (a drop probability; 1 drops everything), got {rate!r}")
    return value


def check_method(method: str) -> str:
    """``method`` if it names a dropout placement of :data:`METHODS`; otherwise a ValueError listing them."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return method


class LSTMBias(init.Initializer):
    """Zero biases except ``forget_bias`` on the forget gate, which starts open (Keras' unit_forget_bias)."""

    def __init__(self, hidden_size: int, forget_bias: float = 1.0):
        super().__init__(hidden_size=int(hidden_size), forget_bias=float(forget_bias))
        self.hidden_size, self.forget_bias = int(hidden_size), float(forget_bias)

    def _init_weight(self, name, arr):
        arr[:] = 0
        arr[self.hidden_size:2 * self.hidden_size] = self.forget_bias


@dataclass
class StepRecord:
    """What one forward pass did, step by step: the masks applied and the cell states."""

    masks: dict[str, list] = field(default_factory=dict)  # site -> one mask per time step
    cells: list = field(default_factory=list)  # c_1 ... c_T

    def add_mask(self, site: str, mask) -> None:
        self.masks.setdefault(site, []).append(mask)


class DropoutLSTM(gluon.HybridBlock):
    """One LSTM layer over ``(batch, time, features)`` with dropout placed according to ``method``.

    ``layer(x, begin_state=None)`` returns ``(outputs, (h_T, c_T))`` with ``outputs`` of shape
    ``(batch, time, hidden)``. Gates are ordered input, forget, update, output, as in ``gluon.rnn.LSTMCell``.
    Set ``layer.record = StepRecord()`` before a call (not hybridized) to keep every step's masks and cells.
    The layer can be hybridized (much faster); the masks are then drawn inside the compiled graph.
    """

    def __init__(self, hidden_size: int, input_size: int, method: str = "none", rate: float = 0.0,
                 input_rate: float | None = None, forget_bias: float = 1.0):
        super().__init__()
        if int(hidden_size) < 1 or int(input_size) < 1:
            raise ValueError(f"hidden_size and input_size must be positive, got {hidden_size}, {input_size}")
        self.method = check_method(method)
        self.rate = check_rate(rate)
        if method == "none" and self.rate > 0:
            raise ValueError("method 'none' takes rate=0; pick a method to use dropout")
        if input_rate is not None and method not in INPUT_METHODS:
            raise ValueError(f"input_rate only applies to the methods {INPUT_METHODS}, not {method!r}; "
                             "leave it None")
        self.input_rate = self.rate if input_rate is None else check_rate(input_rate, "input_rate")
        self.hidden_size, self.input_size = int(hidden_size), int(input_size)
        H = self.hidden_size
        self.i2h_weight = self.params.get("i2h_weight", shape=(4 * H, self.input_size), init=init.Xavier())
        self.h2h_weight = self.params.get("h2h_weight", shape=(4 * H, H), init=init.Orthogonal())
        self.bias = self.params.get("bias", shape=(4 * H,), init=LSTMBias(H, forget_bias))
        self.record: StepRecord | None = None
        self._steps: int | None = None

    def __repr__(self) -> str:
        return (f"DropoutLSTM(hidden={self.hidden_size}, input={self.input_size}, method={self.method!r}, "
                f"rate={self.rate}, input_rate={self.input_rate})")

    def forward(self, x, begin_state=None):
        from mxnet import np

        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"expected inputs of shape (batch, time, {self.input_size}), got {x.shape}")
        if self._steps != x.shape[1]:  # the unrolled graph depends on the number of steps
            self._steps = x.shape[1]
            if self._active:
                self._clear_cached_op()
        if self.record is not None and self._active:
            raise ValueError("record needs an imperative layer: call layer.hybridize(False) first")
        if begin_state is None:
            zeros = np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype)
            begin_state = (zeros, zeros)
        outputs, h, c = super().forward(x, *begin_state)
        return outputs, (h, c)

    def hybrid_forward(self, F, x, h, c, i2h_weight, h2h_weight, bias):
        np, npx = F.np, F.npx
        p, q, method, rec = self.rate, self.input_rate, self.method, self.record

        def mask_like(a, rate):  # 0 or 1/(1-rate) while training, all ones at inference
            return npx.dropout(np.ones_like(a), p=rate)

        # masks drawn once per sequence
        if method in INPUT_METHODS and q > 0:
            # io: a separate mask for every step; variational: one (batch, 1, features) mask for all steps
            input_mask = mask_like(x if method == "io" else np.sum(x, axis=1, keepdims=True), q)
            x = x * input_mask
        hidden_mask = mask_like(h, p) if method == "variational" and p > 0 else None
        unit_mask = mask_like(h, p) if method == "rnndrop" and p > 0 else None
        # the input part of all four gates, for every step at once: (batch, time, 4 * hidden) ...
        H4 = 4 * self.hidden_size
        x_gates = npx.fully_connected(x, i2h_weight, bias, num_hidden=H4, flatten=False)
        # ... laid out as (batch, time * 4 * hidden) so that splitting it gives one (batch, 4 * hidden) per step
        x_gates = np.split(x_gates.reshape(-1, self._steps * H4), self._steps, axis=1)
        W_h = h2h_weight.T  # transposed once, not at every step
        outputs = []
        for x_gates_t in x_gates:
            h_in = h * hidden_mask if hidden_mask is not None else h
            gates = x_gates_t + np.dot(h_in, W_h)
            i, f, g, o = np.split(gates, 4, axis=1)
            i, f, o, g = npx.sigmoid(i), npx.sigmoid(f), npx.sigmoid(o), np.tanh(g)
            if method == "recurrent" and p > 0:
                update_mask = mask_like(g, p)  # a fresh mask every step, on the update only
                g = g * update_mask
            c = f * c + i * g
            if method == "naive" and p > 0:
                cell_mask = mask_like(c, p)  # a fresh mask every step, on the memory itself
                c = c * cell_mask
            if unit_mask is not None:
                cell_mask = np.sign(unit_mask)  # RNNDrop: 0/1 on c (idempotent), 1/(1-p) once on h
                c = c * cell_mask
            h = o * np.tanh(c)
            if unit_mask is not None:
                h = h * unit_mask
            outputs.append(h)
            if rec is not None:
                rec.cells.append(c)
                if method in INPUT_METHODS and q > 0:
                    rec.add_mask("input", input_mask[:, min(len(rec.cells), input_mask.shape[1]) - 1])
                if hidden_mask is not None:
                    rec.add_mask("hidden", hidden_mask)
                if method == "recurrent" and p > 0:
                    rec.add_mask("update", update_mask)
                if method in ("naive", "rnndrop") and p > 0:
                    rec.add_mask("cell", cell_mask)
        out = np.stack(outputs, axis=1)
        if method == "io" and p > 0:  # the outputs, on their way to the next layer: a fresh mask per step
            out = out * mask_like(out, p)
        return out, h, c


def make_perfect_memory(layer: DropoutLSTM, scale: float = 30.0) -> None:
    """Turn ``layer`` into an ideal memory: no weights, forget gate open, input gate shut, output gate open.

    Without dropout such a cell keeps its initial state forever (``c_t = c_0``), which makes it a clean
    probe of what a dropout method does to the memory.
    """
    set_gate_biases(layer, input_gate=-scale, forget_gate=scale, update=0.0, output_gate=scale)


def set_gate_biases(layer: DropoutLSTM, input_gate: float, forget_gate: float, update: float,
                    output_gate: float) -> None:
    """Zero all weights of ``layer`` and give every unit the same four gate pre-activations."""
    from mxnet import np

    H = layer.hidden_size
    layer.i2h_weight.set_data(np.zeros(layer.i2h_weight.shape))
    layer.h2h_weight.set_data(np.zeros(layer.h2h_weight.shape))
    values = (input_gate, forget_gate, update, output_gate)
    layer.bias.set_data(np.array(numpy.repeat(numpy.asarray(values, dtype="float32"), H)))


def copy_from_gluon_cell(layer: DropoutLSTM, cell) -> None:
    """Copy the weights of a legacy ``gluon.rnn.LSTMCell`` into ``layer`` (biases summed)."""
    from mxnet import np

    params = {name.split("_", 1)[-1] if "_" in name else name: p for name, p in cell.collect_params().items()}
    weights = {key: np.array(p.data().asnumpy()) for key, p in params.items()}
    layer.i2h_weight.set_data(weights["i2h_weight"])
    layer.h2h_weight.set_data(weights["h2h_weight"])
    layer.bias.set_data(weights["i2h_bias"] + weights["h2h_bias"])


# --- the sunspot series ---------------------------------------------------------------------------------

@dataclass
class SeriesWindows:
    """Sliding windows of a standardised series: ``X[k]`` are ``window`` values, ``y[k]`` the next one."""

    X_train: numpy.ndarray
    y_train: numpy.ndarray
    X_val: numpy.ndarray
    y_val: numpy.ndarray
    years_val: numpy.ndarray
    mean: float
    std: float

    def unscale(self, values):
        """Back from standardised square roots to sunspot numbers."""
        return numpy.square(numpy.asarray(values) * self.std + self.mean)


SUNSPOTS_SHA256 = "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b"
"""SHA-256 of ``statsmodels/datasets/sunspots/sunspots.csv`` as shipped in statsmodels 0.14.6."""


def sunspots_file():
    """Path of the sunspot CSV inside the installed statsmodels, after checking its SHA-256."""
    import hashlib
    from pathlib import Path

    from statsmodels.datasets import sunspots as module

    path = Path(module.__file__).with_name("sunspots.csv")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SUNSPOTS_SHA256:
        raise ValueError(f"{path} has SHA-256 {digest}, not the {SUNSPOTS_SHA256} of statsmodels 0.14.6; "
                         "install the pinned statsmodels (pip install -r requirements.txt)")
    return path


def sunspots() -> tuple[numpy.ndarray, numpy.ndarray]:
    """``(years, yearly sunspot numbers)`` 1700-2008 from the copy bundled with statsmodels (offline)."""
    from statsmodels.api import datasets

    sunspots_file()
    frame = datasets.sunspots.load_pandas().data
    return frame["YEAR"].to_numpy(dtype=int), frame["SUNACTIVITY"].to_numpy(dtype="float32")


def sunspot_windows(window: int = 16, val_from: int = 1920) -> SeriesWindows:
    """One-step-ahead windows of the sunspot series; targets from year ``val_from`` on are validation.

    The series is square-rooted (which evens out the tall and short cycles) and standardised with the mean
    and standard deviation of the training years only.
    """
    if int(window) < 1:
        raise ValueError(f"window must be a positive number of years, got {window}")
    years, counts = sunspots()
    if not years[0] + window < val_from <= years[-1]:
        raise ValueError(f"val_from must lie between {years[0] + window + 1} and {years[-1]}, got {val_from}")
    series = numpy.sqrt(counts)
    train_part = series[years < val_from]
    mean, std = float(train_part.mean()), float(train_part.std())
    z = ((series - mean) / std).astype("float32")
    X = numpy.stack([z[k:k + window] for k in range(len(z) - window)])[:, :, None]
    y = z[window:]
    target_years = years[window:]
    is_val = target_years >= val_from
    return SeriesWindows(X[~is_val], y[~is_val], X[is_val], y[is_val], target_years[is_val], mean, std)


def make_forecaster(method: str, rate: float, hidden_size: int = 32, input_rate: float | None = None):
    """An LSTM layer with the chosen dropout and a linear head on the last hidden state."""
    from mxnet.gluon import nn

    class Forecaster(gluon.Block):
        def __init__(self):
            super().__init__()
            self.lstm = DropoutLSTM(hidden_size, 1, method, rate, input_rate)
            self.head = nn.Dense(1, in_units=hidden_size)

        def forward(self, x):
            outputs, _ = self.lstm(x)
            return self.head(outputs[:, -1]).reshape(-1)

    return Forecaster()


@dataclass
class FitResult:
    """Per-epoch training and validation loss (MSE on the standardised scale) of one run."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    model: object = None  # the trained network (set by compare_methods)

    @property
    def sec_per_epoch(self) -> float:
        return sum(self.seconds) / max(len(self.seconds), 1)


def fit_forecaster(net, data: SeriesWindows, epochs: int = 60, batch_size: int = 32, lr: float = 0.01,
                   seed: int = 0, plot: LivePlot | None = None, label: str = "",
                   progress: bool = True) -> FitResult:
    """Train ``net`` with Adam on ``data``'s training windows; record train/validation MSE every epoch.

    Minibatches are reshuffled every epoch with a NumPy generator seeded by ``seed``; the validation loss
    is computed in inference mode (dropout off).
    """
    from mxnet import autograd, np
    from tqdm.std import tqdm

    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs}, {batch_size}")
    rng = numpy.random.default_rng(seed)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    loss = gluon.loss.L2Loss()
    X_val, y_val = np.array(data.X_val), np.array(data.y_val)
    result = FitResult()
    n = len(data.y_train)
    bar = tqdm(range(epochs), desc=label or "training", unit="epoch", disable=not progress, file=sys.stderr,
               leave=False, dynamic_ncols=True)
    for epoch in bar:
        start = time.perf_counter()
        order = rng.permutation(n)
        total = 0.0
        for first in range(0, n, batch_size):
            idx = order[first:first + batch_size]
            X, y = np.array(data.X_train[idx]), np.array(data.y_train[idx])
            with autograd.record():
                batch_loss = loss(net(X), y)
            batch_loss.backward()
            trainer.step(len(idx))
            total = total + batch_loss.sum()  # stays on the engine: read once per epoch, below
        result.seconds.append(time.perf_counter() - start)
        result.train_loss.append(float(total) * 2 / n)  # L2Loss is half the squared error
        result.val_loss.append(float(((net(X_val) - y_val) ** 2).mean()))
        bar.set_postfix(train=f"{result.train_loss[-1]:.3f}", val=f"{result.val_loss[-1]:.3f}")
        if plot is not None:
            plot.add(epoch + 1, {f"{label} train": result.train_loss[-1],
                                 f"{label} val": result.val_loss[-1]})
    bar.close()
    return result


def compare_methods(data: SeriesWindows, methods=tuple(METHODS), seeds: int = 3, epochs: int = 60,
                    rate: float = 0.25, hidden_size: int = 32, batch_size: int = 64, lr: float = 0.01,
                    progress: bool = True, on_method_done=None) -> dict[str, list[FitResult]]:
    """Train one forecaster per method and seed (0 .. seeds-1); return the runs of every method.

    ``rate`` is the drop probability of every method except ``none``; the inputs are never dropped
    (``input_rate=0``), because the series has one feature per step. ``on_method_done(method, runs)`` is
    called after the last seed of each method (the notebook redraws its curves there).
    """
    from tqdm.std import tqdm

    from regbook.seeding import set_seed

    if int(seeds) < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    for method in methods:
        check_method(method)
    check_rate(rate)
    runs: dict[str, list[FitResult]] = {}
    bar = tqdm(total=len(methods) * seeds, desc="runs", unit="run", disable=not progress, file=sys.stderr,
               leave=False, dynamic_ncols=True)
    for method in methods:
        for seed in range(seeds):
            set_seed(seed)
            net = make_forecaster(method, 0.0 if method == "none" else rate, hidden_size,
                                  input_rate=0.0 if method in INPUT_METHODS else None)
            net.initialize()
            net.hybridize()
            result = fit_forecaster(net, data, epochs, batch_size, lr, seed=seed, progress=False)
            result.model = net
            runs.setdefault(method, []).append(result)
            bar.set_postfix(method=method, val=f"{runs[method][-1].val_loss[-1]:.3f}")
            bar.update()
        if on_method_done is not None:
            on_method_done(method, runs[method])
    bar.close()
    return runs


def final_val_loss(run: FitResult, last: int = 5) -> float:
    """The validation loss at the end of training: the mean over the ``last`` epochs (smooths epoch noise)."""
    return float(numpy.mean(run.val_loss[-last:]))


def summarize(runs: dict[str, list[FitResult]], last: int = 5) -> list[dict]:
    """One row per method: val_loss_mean, val_loss_std (over seeds, ddof=1), seeds, sec_per_epoch."""
    rows = []
    for method, method_runs in runs.items():
        finals = [final_val_loss(run, last) for run in method_runs]
        rows.append({"variant": method, "val_loss_mean": float(numpy.mean(finals)),
                     "val_loss_std": float(numpy.std(finals, ddof=1)) if len(finals) > 1 else 0.0,
                     "seeds": len(finals),
                     "sec_per_epoch": float(numpy.mean([run.sec_per_epoch for run in method_runs]))})
    return rows
