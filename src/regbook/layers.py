"""Every dropout block of the book, as Gluon blocks, each with the training and inference behaviour of its paper.

=====================  ==========================================  =============================  ===========
block                  paper                                       inference (prediction) mode    hybridizes
=====================  ==========================================  =============================  ===========
``StandardDropout``    Hinton et al. 2012                          scale by the keep prob. 1 - p  yes
``DropConnectDense``   Wan et al. 2013                             mean, or Gaussian sampling     yes
``Standout``           Ba & Frey 2013                              scale by keep prob. pi(x)      yes
``GaussianDropout``    Srivastava et al. 2014, Sect. 10            identity                       yes
``MaxPoolDropout``     Wu & Gu 2015                                prob. weighted pooling         yes
``SpatialDropout``     Tompson et al. 2015                         scale by 1 - p                 yes
``MaxDrop``            Park & Kwak 2016                            scale the maxima by 1 - p      yes
``Cutout``             DeVries & Taylor 2017 (``regbook.augment``)  identity                       no
``DropoutLSTM``        six placements in an LSTM layer (below)     identity (plain LSTM)          yes
=====================  ==========================================  =============================  ===========

Conventions. ``p`` is always the *drop* probability (the papers often write the keep probability
1 - p); a rate outside [0, 1] raises ``ValueError``. "Training mode" means ``autograd.is_training()``
(inside ``autograd.record()`` or ``autograd.train_mode()``).

Hybridization. A Python ``if autograd.is_training():`` inside ``hybrid_forward`` is evaluated once, when
the graph is traced, and frozen into it. The blocks here therefore read the mode *at run time*: either
through MXNet's dropout operator (which is the identity in inference mode, so ``(1 - p) * dropout(x)``
is ``m * x`` while training and ``(1 - p) * x`` when predicting), or through :func:`training_flag`, a
0/1 value computed by that operator, which selects between the two behaviours inside a graph.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy

from regbook import compat as _compat  # noqa: F401  (before MXNet)

# isort: split
from mxnet import autograd, gluon, init
from mxnet import ndarray as _nd_module
from mxnet.gluon import nn

from regbook.augment import check_size, cutout

__all__ = [
    "check_rate", "training_flag", "StandardDropout", "DropConnectDense", "Standout",
    "GaussianDropout", "MaxPoolDropout", "SpatialDropout", "MaxDrop", "Cutout",
    "METHODS", "DropoutLSTM", "LSTMBias", "StepRecord", "make_perfect_memory", "set_gate_biases",
    "copy_from_gluon_cell", "use_one_omp_thread",
]  # fmt: skip

ACTIVATIONS = ("relu", "sigmoid", "tanh", None)


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------


def check_rate(p, name: str = "p", allow_one: bool = True) -> float:
    """``p`` as a float if it is a drop probability in [0, 1] (or [0, 1) with ``allow_one=False``)."""
    upper = "1]" if allow_one else "1)"
    ok = isinstance(p, numbers.Real) and not isinstance(p, bool) and not math.isnan(p)
    if not ok or not (0 <= p <= 1) or (p == 1 and not allow_one):
        raise ValueError(f"{name} is a drop probability and must be a number in [0, {upper}, got {p!r}; "
                         f"for example {name}=0.5 drops half of the units")
    return float(p)


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def _activate(F, x, activation):
    if activation is None:
        return x
    if activation == "relu":
        return F.npx.relu(x)
    if activation == "sigmoid":
        return F.npx.sigmoid(x)
    return F.np.tanh(x)


def _imperative(F) -> bool:
    """True when ``hybrid_forward`` runs eagerly (``F`` is the ndarray module), False while tracing."""
    return F is _nd_module


def training_flag(F):
    """A one-element array: 1.0 in training mode, 0.0 in inference mode, decided when the graph *runs*.

    MXNet's dropout operator with p = 0.5 maps a one to 0 or 2 while training and leaves it at 1 when
    predicting, so ``(dropout(1) - 1) ** 2`` is exactly 1 or 0. Unlike ``autograd.is_training()`` it is not
    frozen into a hybridized graph.
    """
    return (F.npx.dropout(F.np.ones((1,)), p=0.5) - 1.0) ** 2


def _select(F, train, test):
    """``train()`` in training mode, ``test()`` in inference mode; inside a traced graph both are built."""
    if _imperative(F):
        return train() if autograd.is_training() else test()
    flag = training_flag(F)
    return flag * train() + (1.0 - flag) * test()


def _bernoulli_keep(F, x, p: float, axes=()):
    """``m * x`` with m ~ Bernoulli(1 - p) (no rescaling) while training, ``(1 - p) * x`` when predicting.

    ``axes`` are the axes along which one mask value is shared (``(2, 3)``: one per feature map).
    """
    p32 = float(numpy.float32(p))  # MXNet's operator takes p as float32: 1e-320 is 0, 1 - 1e-9 is 1
    if p32 == 0:
        return x
    if p32 >= 1:
        return F.np.zeros_like(x)
    return (1.0 - p) * F.npx.dropout(x, p=p32, axes=axes)


# ----------------------------------------------------------------------------------------------------
# Standard and inverted dropout
# ----------------------------------------------------------------------------------------------------


class StandardDropout(nn.HybridBlock):
    """Dropout as first published (Hinton et al. 2012): zero each unit with probability ``p`` while training,
    *no* rescaling; at prediction time keep every unit and multiply by the keep probability ``1 - p``.

    The expected training output equals the inference output, ``E[m * x] = (1 - p) x``. It is the same
    model as inverted dropout with the weights of the next layer scaled by ``1 - p``.
    """

    def __init__(self, p: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.p = check_rate(p)

    def hybrid_forward(self, F, x):
        return _bernoulli_keep(F, x, self.p)

    def __repr__(self) -> str:
        return f"StandardDropout(p={self.p})"


# ----------------------------------------------------------------------------------------------------
# DropConnect and Standout: dense layers with the noise built in
# ----------------------------------------------------------------------------------------------------


class _DenseBase(nn.HybridBlock):
    def __init__(self, units: int, in_units: int, activation, **kwargs):
        super().__init__(**kwargs)
        for value, name in ((units, "units"), (in_units, "in_units")):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.units, self.in_units = int(units), int(in_units)
        self.activation = _check_activation(activation)
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(self.units, self.in_units))
            self.bias = self.params.get("bias", shape=(self.units,), init="zeros")


class DropConnectDense(_DenseBase):
    """A dense layer with DropConnect (Wan et al. 2013): the Bernoulli mask is on the *weights* (and bias),
    ``r = a((M * W) x + m_b * b)``, with ``M`` kept with probability ``1 - p`` and no rescaling.

    Masks. ``per_example=True`` (the paper's choice; it reports that one mask per mini-batch does not
    regularize enough) draws a separate weight mask for every example of the batch, which costs memory and
    time proportional to ``batch * units * in_units``. ``per_example=False`` draws one mask per batch,
    shared by every example (as cheap as a plain dense layer).

    Inference. ``inference="mean"`` uses the mean weights, ``a((1 - p)(W x + b))``, like standard dropout.
    ``inference="gaussian"`` is the paper's moment matching: each pre-activation ``u`` of the masked layer
    is a sum of many independent terms, so it is approximately normal with mean ``(1 - p)(W x + b)`` and
    variance ``p (1 - p) ((W * W)(x * x) + b * b)``; the output is ``E[a(u)]`` estimated from
    ``num_samples`` draws. For a linear layer (``activation=None``) both give the same expectation.
    """

    def __init__(self, units: int, in_units: int, p: float = 0.5, activation: str | None = "relu",
                 per_example: bool = True, inference: str = "mean", num_samples: int = 100, **kwargs):
        super().__init__(units, in_units, activation, **kwargs)
        self.p = check_rate(p)
        if inference not in ("mean", "gaussian"):
            raise ValueError(f"inference must be 'mean' or 'gaussian', got {inference!r}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        self.per_example, self.inference, self.num_samples = bool(per_example), inference, int(num_samples)

    def _masked_preactivation(self, F, x, weight, bias):
        p = self.p
        if not self.per_example:
            w = _bernoulli_keep(F, weight, p)
            b = _bernoulli_keep(F, bias, p)
            return F.npx.fully_connected(x, w, b, num_hidden=self.units, flatten=False)
        ones = F.np.expand_dims(F.np.ones_like(F.np.sum(x, axis=1)), -1)  # (batch, 1)
        w = _bernoulli_keep(F, F.np.expand_dims(ones, -1) * F.np.expand_dims(weight, 0), p)  # (B, out, in)
        b = _bernoulli_keep(F, ones * bias, p)  # (B, out)
        return F.np.squeeze(F.npx.batch_dot(w, F.np.expand_dims(x, -1)), -1) + b

    def _mean_preactivation(self, F, x, weight, bias):
        return (1.0 - self.p) * F.npx.fully_connected(x, weight, bias, num_hidden=self.units, flatten=False)

    def _gaussian_output(self, F, x, weight, bias):
        p, q = self.p, 1.0 - self.p
        mean = self._mean_preactivation(F, x, weight, bias)
        var = p * q * F.npx.fully_connected(x * x, weight * weight, bias * bias, num_hidden=self.units,
                                             flatten=False)
        draws = F.np.ones((self.num_samples, 1, 1)) * F.np.expand_dims(mean, 0)  # (Z, B, out)
        noise = F.np.random.normal(F.np.zeros_like(draws), 1.0)
        samples = _activate(F, draws + F.np.expand_dims(F.np.sqrt(var), 0) * noise, self.activation)
        return F.np.mean(samples, axis=0)

    def hybrid_forward(self, F, x, weight, bias):
        act = self.activation
        if _imperative(F) and not autograd.is_training():  # eager prediction: skip the per-example masks
            if self.inference == "gaussian":
                return self._gaussian_output(F, x, weight, bias)
            return _activate(F, self._mean_preactivation(F, x, weight, bias), act)
        # traced, or training: the dropout operator itself turns into the mean in inference mode
        trained = _activate(F, self._masked_preactivation(F, x, weight, bias), act)
        if self.inference == "gaussian":
            flag = training_flag(F)
            return flag * trained + (1.0 - flag) * self._gaussian_output(F, x, weight, bias)
        return trained

    def __repr__(self) -> str:
        return (f"DropConnectDense({self.in_units} -> {self.units}, p={self.p}, activation={self.activation}, "
                f"per_example={self.per_example}, inference={self.inference!r})")


class Standout(_DenseBase):
    """A dense layer with standout, or adaptive dropout (Ba & Frey 2013).

    A belief network computes each unit's *keep* probability from the same input, sharing the layer's
    weights: with ``s = W x + b``, ``pi = sigmoid(alpha * s + beta)`` (the paper observed that a separately
    learned belief network ends up close to such an affine function of ``W`` and then ties them).
    Training: ``m ~ Bernoulli(pi)`` per unit and example, output ``m * a(s)``. Prediction: the
    expectation, ``pi * a(s)``. With ``alpha > 0`` strongly driven units are kept more often; with
    ``alpha = 0`` it is standard dropout with keep probability ``sigmoid(beta)``.
    The mask is a sample, so no gradient flows through ``pi`` (the weights learn through ``a(s)``).
    """

    def __init__(self, units: int, in_units: int, alpha: float = 1.0, beta: float = 0.0,
                 activation: str | None = "relu", **kwargs):
        super().__init__(units, in_units, activation, **kwargs)
        for value, name in ((alpha, "alpha"), (beta, "beta")):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        self.alpha, self.beta = float(alpha), float(beta)

    def keep_probability(self, x):
        """``pi(x)``, the keep probability of each unit for each example of ``x`` (an ``mxnet.np`` array)."""
        from mxnet import npx

        s = npx.fully_connected(x, self.weight.data(), self.bias.data(), num_hidden=self.units, flatten=False)
        return npx.sigmoid(self.alpha * s + self.beta)

    def hybrid_forward(self, F, x, weight, bias):
        s = F.npx.fully_connected(x, weight, bias, num_hidden=self.units, flatten=False)
        keep = F.npx.sigmoid(self.alpha * s + self.beta)

        def sampled_mask():
            uniform = F.np.random.uniform(F.np.zeros_like(keep), 1.0)
            return (uniform < keep).astype("float32")

        return _select(F, sampled_mask, lambda: keep) * _activate(F, s, self.activation)

    def __repr__(self) -> str:
        return (f"Standout({self.in_units} -> {self.units}, alpha={self.alpha}, beta={self.beta}, "
                f"activation={self.activation})")


# ----------------------------------------------------------------------------------------------------
# Gaussian dropout
# ----------------------------------------------------------------------------------------------------


class GaussianDropout(nn.HybridBlock):
    """Gaussian (multiplicative) dropout (Srivastava et al. 2014, Section 10): while training multiply each
    unit by ``1 + sigma * eps``, ``eps ~ N(0, 1)``, with ``sigma**2 = p / (1 - p)``; identity when predicting.

    The noise has mean 1 and the variance of inverted dropout's mask ``m / (1 - p)``, so both perturb a
    layer by the same first two moments. Fast dropout (Wang & Manning 2013) integrates this Gaussian
    analytically instead of sampling it; variational dropout (Kingma et al. 2015) learns ``sigma`` per
    unit or weight; concrete dropout (Gal et al. 2017) keeps Bernoulli masks but learns ``p`` through a
    continuous relaxation.
    """

    def __init__(self, p: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.p = check_rate(p, allow_one=False)
        self.sigma = math.sqrt(self.p / (1.0 - self.p))

    def hybrid_forward(self, F, x):
        if self.p == 0:
            return x
        if _imperative(F):
            if not autograd.is_training():
                return x
            return x * (1.0 + self.sigma * F.np.random.normal(F.np.zeros_like(x), 1.0))
        flag = training_flag(F)
        return x * (1.0 + flag * self.sigma * F.np.random.normal(F.np.zeros_like(x), 1.0))

    def __repr__(self) -> str:
        return f"GaussianDropout(p={self.p}, sigma={self.sigma:.3f})"


# ----------------------------------------------------------------------------------------------------
# Convolutional variants
# ----------------------------------------------------------------------------------------------------


def _windows(F, x, k: int) -> list:
    """The k*k strided views of ``x`` (N, C, H, W): element ``i*k + j`` of every k×k pooling window."""
    return [x[:, :, i::k, j::k] for i in range(k) for j in range(k)]


def _check_4d(x, k: int = 1, name: str = "block") -> None:
    shape = getattr(x, "shape", None)
    if shape is None:
        return
    if len(shape) != 4:
        raise ValueError(f"{name} expects feature maps of shape (N, C, H, W), got shape {shape}")
    if k > 1 and (shape[2] % k or shape[3] % k):
        raise ValueError(f"{name} needs H and W divisible by pool_size={k}, got {shape[2]}x{shape[3]}; "
                         "crop or pad the feature maps first")


class MaxPoolDropout(nn.HybridBlock):
    """Max-pooling dropout (Wu & Gu 2015): drop units *before* k×k max pooling (stride k).

    Training: ``max(m * a)`` over each window, ``m ~ Bernoulli(1 - p)``, no rescaling; the pooled unit is
    then the i-th smallest activation of its window with probability ``q * p**(n - i)`` (q = 1 - p, n = k*k),
    i.e. a draw from a multinomial over the window. Prediction, ``inference="weighted"`` (the paper's
    probabilistic weighted pooling): ``sum_i q * p**(n - i) * a_(i)``, exactly the expectation of the
    training output for non-negative activations (e.g. after ReLU). ``inference="scaled"``: ``q * max(a)``,
    the rule of standard dropout, which the paper shows to be a worse approximation.
    """

    def __init__(self, p: float = 0.5, pool_size: int = 2, inference: str = "weighted", **kwargs):
        super().__init__(**kwargs)
        self.p = check_rate(p)
        if isinstance(pool_size, bool) or not isinstance(pool_size, numbers.Integral) or pool_size < 1:
            raise ValueError(f"pool_size must be a positive integer, got {pool_size!r}")
        if inference not in ("weighted", "scaled"):
            raise ValueError(f"inference must be 'weighted' or 'scaled', got {inference!r}")
        self.pool_size, self.inference = int(pool_size), inference

    def _pool(self, F, x):
        k = self.pool_size
        return F.npx.pooling(x, kernel=(k, k), stride=(k, k), pool_type="max")

    def weighted_pooling(self, F, x):
        """Probabilistic weighted pooling: ``sum_i q * p**(n - i) * a_(i)`` over each window's sorted activations."""
        p, q = self.p, 1.0 - self.p
        values = _windows(F, x, self.pool_size)
        n = len(values)
        for sweep in range(n):  # odd-even transposition sort: ascending after n sweeps of compare-swaps
            for i in range(sweep % 2, n - 1, 2):
                low, high = F.np.minimum(values[i], values[i + 1]), F.np.maximum(values[i], values[i + 1])
                values[i], values[i + 1] = low, high
        out = q * values[n - 1]
        for i in range(n - 1):
            weight = q * p ** (n - 1 - i)
            if weight:
                out = out + weight * values[i]
        return out

    def hybrid_forward(self, F, x):
        if _imperative(F):
            _check_4d(x, self.pool_size, "MaxPoolDropout")
        trained = self._pool(F, _bernoulli_keep(F, x, self.p))  # q * max(a) in inference mode
        if self.inference == "scaled":
            return trained
        if _imperative(F):
            return trained if autograd.is_training() else self.weighted_pooling(F, x)
        flag = training_flag(F)
        return flag * trained + (1.0 - flag) * self.weighted_pooling(F, x)

    def __repr__(self) -> str:
        return f"MaxPoolDropout(p={self.p}, pool_size={self.pool_size}, inference={self.inference!r})"


class SpatialDropout(nn.HybridBlock):
    """Spatial dropout (Tompson et al. 2015): drop whole feature maps. One Bernoulli(1 - p) value per example
    and channel multiplies the entire H×W map while training; at prediction time every map is kept and
    scaled by ``1 - p`` (the paper's Torch layer followed standard, not inverted, dropout).

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels removes
    little information; dropping a whole channel cannot be undone by looking at the neighbours.
    """

    def __init__(self, p: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.p = check_rate(p)

    def hybrid_forward(self, F, x):
        if _imperative(F):
            _check_4d(x, name="SpatialDropout")
        return _bernoulli_keep(F, x, self.p, axes=(2, 3))

    def __repr__(self) -> str:
        return f"SpatialDropout(p={self.p})"


class MaxDrop(nn.HybridBlock):
    """Max-drop (Park & Kwak 2016): instead of random units, drop the *most active* one.

    ``mode="feature"``: in each feature map (per example and channel) the unit holding the maximum is zeroed
    with probability ``p``; ``mode="channel"``: at each pixel, the channel holding the maximum across
    channels is. Every other unit passes unchanged, so far fewer units are touched than by dropout at the
    same ``p``. Prediction: the maxima are scaled by ``1 - p``, the expectation of the training output.
    (Our reading of the paper's rule "selectively drop the activations which have high values across the
    feature map or across the channels"; ties for the maximum are all treated as maxima.)
    """

    def __init__(self, p: float = 0.5, mode: str = "feature", **kwargs):
        super().__init__(**kwargs)
        self.p = check_rate(p)
        if mode not in ("feature", "channel"):
            raise ValueError(f"mode must be 'feature' (max over each H×W map) or 'channel' (max over channels "
                             f"at each pixel), got {mode!r}")
        self.mode = mode

    def hybrid_forward(self, F, x):
        if _imperative(F):
            _check_4d(x, name="MaxDrop")
        axes = (2, 3) if self.mode == "feature" else (1,)
        peak = F.np.max(x, axis=axes, keepdims=True)
        is_max = (x == peak).astype("float32")
        keep = _bernoulli_keep(F, F.np.ones_like(peak), self.p)  # {0, 1} training, 1 - p predicting
        return x * (1.0 - is_max * (1.0 - keep))

    def __repr__(self) -> str:
        return f"MaxDrop(p={self.p}, mode={self.mode!r})"


# ----------------------------------------------------------------------------------------------------
# Cutout: dropout on the input image
# ----------------------------------------------------------------------------------------------------


class Cutout(nn.Block):
    """A Gluon block that applies :func:`cutout` while training (``autograd.is_training()``), else identity.

    ``net.add(Cutout(8))`` hides one 8×8 square of every input image in each training forward pass;
    at prediction time the images pass unchanged.
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = check_size(size, "Cutout size")

    def forward(self, X):
        if autograd.is_training():
            return cutout(X, self.size)
        return X

    def __repr__(self) -> str:
        return f"Cutout(size={self.size})"


# ----------------------------------------------------------------------------------------------------
# Dropout in a recurrent layer
# ----------------------------------------------------------------------------------------------------

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
"""

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
        self.rate = check_rate(rate, "rate", allow_one=False)
        if method == "none" and self.rate > 0:
            raise ValueError("method 'none' takes rate=0; pick a method to use dropout")
        if input_rate is not None and method not in INPUT_METHODS:
            raise ValueError(f"input_rate only applies to the methods {INPUT_METHODS}, not {method!r}; "
                             "leave it None")
        self.input_rate = self.rate if input_rate is None else check_rate(input_rate, "input_rate", allow_one=False)
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


