"""The dropout family as Gluon blocks, each with the training and inference behaviour of its paper.

=====================  ==========================================  =============================  ===========
block                  paper                                       inference (prediction) mode    hybridizes
=====================  ==========================================  =============================  ===========
``StandardDropout``    Hinton et al. 2012                          scale by the keep prob. 1 - p  yes
``InvertedDropout``    (the dropout chapter's ``dropout_layer``)   identity                       no
``DropConnectDense``   Wan et al. 2013                             mean, or Gaussian sampling     yes
``Standout``           Ba & Frey 2013                              scale by keep prob. pi(x)      yes
``GaussianDropout``    Srivastava et al. 2014, Sect. 10            identity                       yes
``MaxPoolDropout``     Wu & Gu 2015                                prob. weighted pooling         yes
``SpatialDropout``     Tompson et al. 2015                         scale by 1 - p                 yes
``MaxDrop``            Park & Kwak 2016                            scale the maxima by 1 - p      yes
``Cutout``             DeVries & Taylor 2017 (``regbook.augment``)  identity                       no
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

from mxnet import autograd  # noqa: E402
from mxnet import ndarray as _nd_module  # noqa: E402
from mxnet.gluon import nn  # noqa: E402

from regbook import compat as _compat  # noqa: F401
from regbook.augment import Cutout, cutout  # noqa: F401  (re-exported: Cutout belongs to the family)

__all__ = [
    "check_rate", "training_flag", "StandardDropout", "InvertedDropout", "DropConnectDense", "Standout",
    "GaussianDropout", "MaxPoolDropout", "SpatialDropout", "MaxDrop", "Cutout", "cutout",
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
    if p == 0:
        return x
    if p == 1:
        return F.np.zeros_like(x)
    return (1.0 - p) * F.npx.dropout(x, p=p, axes=axes)


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


class InvertedDropout(nn.Block):
    """Inverted dropout: while training, the dropout chapter's ``dropout_layer(X, p)`` (zero with probability
    ``p``, divide the survivors by ``1 - p``); identity at prediction time.

    It calls the function taught in the dropout chapter (``regbook.nb.dropout.dropout_layer``) rather than
    re-implementing it; it is a plain ``Block`` because that function draws its mask eagerly. The same
    maths, hybridizable, is Gluon's ``nn.Dropout(p)``.
    """

    def __init__(self, p: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.p = check_rate(p)

    def forward(self, x):
        if not autograd.is_training():
            return x
        from regbook.nb.dropout import dropout_layer  # exported from notebooks/dropout.ipynb

        return dropout_layer(x, self.p)

    def __repr__(self) -> str:
        return f"InvertedDropout(p={self.p})"


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
