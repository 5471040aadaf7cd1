"""A training engine that runs the book's networks at the speed of their matrix products.

The chapters' loop (``autograd.record``, ``backward``, ``trainer.step``; :func:`regbook.training.train_epoch`) is
what readers read. MXNet 1.9.1's element-wise CPU kernels are slow (an SSE-only build: ``sgd_update`` about 4.6
times NumPy's ``a -= c * b``, ``npx.dropout`` about 7 times a NumPy mask, about 19 µs of fixed cost per operator
call), while its matrix products go through oneDNN and are fast. :class:`Engine` trains the same network with the
same statistics and keeps the slow kernels out of the way:

* every dropout layer of the network becomes a multiplication by a mask inside one hybridized graph
  (``static_alloc``, ``static_shape``); the mask is drawn afresh at every step from a NumPy generator (16-bit
  random integers compared with a threshold, inverted scaling ``1 / (1 - p)``) straight into the memory of the
  graph's input array (zero copy);
* every weight and every gradient is a view into one flat buffer, updated in one pass (BLAS ``saxpy`` for SGD,
  NumPy for momentum and Adam);
* the loss sum and the number of correct predictions are accumulated inside the graph and read once per epoch;
* a :class:`regbook.data.ArrayBatches` is gathered with NumPy into the graph's input array, in the very order
  its own iterator would give (same generator, same permutation).

Zero-copy buffers are only safe when MXNet runs every operator synchronously, as the NaiveEngine does (which
:mod:`regbook.compat` selects unless the reader chose another): under a threaded engine the next mask could be
written while the previous step still reads it. There :class:`Engine` waits for MXNet after every step (correct,
slower), or raises :class:`ThreadedEngineError` if asked to (``threaded="raise"``).

Usage (what :func:`regbook.training.fit` would call instead of its plain loop)::

    engine = Engine(net, loss, lr=0.5)                  # or Engine.from_trainer(net, loss, trainer)
    train_loss, train_acc = engine.train_epoch(train_iter)

The engine shares the network's parameters (their memory), so ``net(X)`` and
:func:`regbook.training.evaluate_accuracy` see the trained weights (``param.set_data`` writes into that memory;
``net.initialize(force_reinit=True)`` would replace it: make a new engine after it). Layers supported:
``nn.HybridSequential`` (nested too) of ``Dense``, ``Conv2D``, pooling, ``Flatten``, ``Activation``, ``Dropout``
and other stateless hybrid layers; float32 parameters on the CPU.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

import numpy

from regbook import compat as _compat  # noqa: F401  (imports MXNet with the book's settings)

ENGINE_TYPE = os.environ.get("MXNET_ENGINE_TYPE", "ThreadedEnginePerDevice")
"""The MXNet engine of this process: read when :mod:`regbook.compat` imported MXNet, which fixes it for good."""

MASK_BITS = 16
"""Random bits per dropout-mask element: the keep probability is a multiple of 2**-16, so its rounding bias is at
most 2**-17 (7.6e-6); 8 bits would give up to 2e-3 (p = 0.2: 0.8008 instead of 0.8)."""

OPTIMIZERS = ("sgd", "adam")


class ThreadedEngineError(RuntimeError):
    """The engine's zero-copy buffers need MXNet's NaiveEngine (``MXNET_ENGINE_TYPE=NaiveEngine``)."""


# ---------------------------------------------------------------------------------------------------------------
# Memory shared between MXNet and NumPy
# ---------------------------------------------------------------------------------------------------------------


def numpy_view(array) -> numpy.ndarray:
    """A NumPy array on the memory of the (CPU, contiguous) MXNet array ``array``: no copy, writes go through.

    The caller keeps ``array`` alive as long as the view is used, and must not write while MXNet may still read
    (under a threaded engine: call ``npx.waitall()`` first).
    """
    from mxnet.base import _LIB, check_call

    array.wait_to_read()
    pointer = ctypes.c_void_p()
    check_call(_LIB.MXNDArrayGetData(array.handle, ctypes.byref(pointer)))
    dtype = numpy.dtype(array.dtype)
    size = int(numpy.prod(array.shape, dtype=numpy.int64))
    if size == 0:
        return numpy.empty(array.shape, dtype)
    raw = (ctypes.c_char * (size * dtype.itemsize)).from_address(pointer.value)
    return numpy.frombuffer(raw, dtype=dtype).reshape(array.shape)


# ---------------------------------------------------------------------------------------------------------------
# Dropout masks
# ---------------------------------------------------------------------------------------------------------------


def mask_threshold(p: float) -> int:
    """The integer threshold: an element is kept when its 16-bit random integer is ``>=`` this."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    return int(round(p * (1 << MASK_BITS)))


def keep_probability(p: float) -> float:
    """The exact probability that :class:`MaskSampler` keeps an element (``1 - p`` up to 2**-17)."""
    return 1.0 - mask_threshold(p) / (1 << MASK_BITS)


class MaskSampler:
    """Inverted-dropout masks: each element ``1 / (1 - p)`` with probability ``1 - p`` (to 2**-17), else 0.

    ``draw(out)`` fills the float32 array ``out`` with a fresh mask: independent random integers from
    ``bit_generator`` (``MASK_BITS`` per element), compared with :func:`mask_threshold`. Every draw consumes new
    random numbers, so the masks of consecutive steps are independent.
    """

    def __init__(self, p: float, bit_generator: numpy.random.BitGenerator):
        self.p, self.threshold = float(p), mask_threshold(p)
        self.scale = numpy.float32(1.0 / (1.0 - p))
        self.bit_generator = bit_generator
        self._kept: numpy.ndarray | None = None

    def draw(self, out: numpy.ndarray) -> numpy.ndarray:
        size = out.size
        words = -(-size * MASK_BITS // 64)
        bits = self.bit_generator.random_raw(words).view(numpy.uint16)[:size].reshape(out.shape)
        if self._kept is None or self._kept.shape != out.shape:
            self._kept = numpy.empty(out.shape, dtype=bool)
        numpy.greater_equal(bits, self.threshold, out=self._kept)
        numpy.multiply(self._kept, self.scale, out=out)
        return out


# ---------------------------------------------------------------------------------------------------------------
# The network as one graph: forward, loss, statistics
# ---------------------------------------------------------------------------------------------------------------


def _layers(block) -> list:
    """The layers of a (nested) Sequential, in order."""
    from mxnet.gluon import nn

    if isinstance(block, (nn.HybridSequential, nn.Sequential)):
        return [layer for child in block._children.values() for layer in _layers(child)]
    return [block]


def is_plain_softmax_cross_entropy(loss) -> bool:
    """Whether ``loss`` is Gluon's default ``SoftmaxCrossEntropyLoss`` (sparse labels, logits, last axis, no weight)."""
    from mxnet.gluon import loss as gloss

    return (type(loss) is gloss.SoftmaxCrossEntropyLoss and loss._sparse_label and not loss._from_logits
            and loss._axis == -1 and loss._weight is None and loss._batch_axis == 0)


def _make_graph(layers, loss, mask_broadcast):
    """A HybridBlock ``(X, y, totals, *masks) -> totals + [loss sum, correct count]``: the training step's graph.

    ``layers`` holds Gluon blocks and, where the network had a dropout layer, ``None`` (multiply by the next
    mask; ``mask_broadcast[k]`` when the mask is shared along some axes). The loss sum carries the gradient; the
    correct count is cut off from it. Gluon's default softmax cross-entropy becomes MXNet's fused
    ``softmax_cross_entropy`` (one operator, forward and backward, instead of seven).
    """
    from mxnet.gluon import HybridBlock

    fused_loss = is_plain_softmax_cross_entropy(loss)

    class StepGraph(HybridBlock):
        def __init__(self):
            super().__init__()
            self._plan = []
            with self.name_scope():
                for i, layer in enumerate(layers):
                    if layer is not None:
                        self.register_child(layer, f"layer{i}")
                    self._plan.append(layer)
                self.register_child(loss, "loss")
            self._loss = loss

        def hybrid_forward(self, F, X, y, totals, *masks):
            h, k = X, 0
            for layer in self._plan:
                if layer is not None:
                    h = layer(h)
                    continue
                if mask_broadcast[k]:
                    h = h * masks[k]
                else:  # the same-shape product: a simpler backward than mxnet.np's broadcasting one
                    h = F.elemwise_mul(h.as_nd_ndarray(), masks[k].as_nd_ndarray()).as_np_ndarray()
                k += 1
            logits, labels = h.as_nd_ndarray(), F.cast(y.as_nd_ndarray(), "float32")
            if fused_loss:
                loss_sum = F.softmax_cross_entropy(logits, labels)
            else:
                loss_sum = F.sum(self._loss(h, y).as_nd_ndarray()).reshape((1,))
            correct = F.BlockGrad(F.sum(F.argmax(logits, axis=1) == labels)).reshape((1,))
            return totals + F.concat(loss_sum, correct, dim=0).as_np_ndarray()

    return StepGraph()


class _Slot:
    """The graph and the zero-copy input arrays for one batch size."""

    def __init__(self, engine: Engine, batch_size: int, x_shape, x_dtype, y_dtype):
        from mxnet import np as mnp

        self.batch_size = batch_size
        self.X = mnp.zeros((batch_size,) + tuple(x_shape), dtype=x_dtype)
        self.y = mnp.zeros((batch_size,), dtype=y_dtype)
        self.x_view, self.y_view = numpy_view(self.X), numpy_view(self.y)
        self.masks = [mnp.zeros(engine._mask_shape(k, batch_size)) for k in range(len(engine.samplers))]
        self.mask_views = [numpy_view(mask) for mask in self.masks]
        self.graph = _make_graph(engine._plan, engine.loss, [bool(axes) for axes in engine._mask_axes])
        self.graph.hybridize(static_alloc=True, static_shape=True)
        self._call = None

    def run(self, X, y, totals):
        """Forward (recorded) and backward of one batch; returns the new totals."""
        from mxnet import autograd

        with autograd.record():
            if self._call is None:
                out = self.graph(X, y, totals, *self.masks)
                cached = getattr(self.graph, "_cached_op", None)
                args = getattr(self.graph, "_cached_op_args", None)
                if cached is not None and args is not None:  # later calls skip Gluon's argument handling
                    positions = [(p, None) if is_arg else (None, p.data()) for is_arg, p in args]
                    self._call = (cached, positions)
            else:
                cached, positions = self._call
                inputs = (X, y, totals, *self.masks)
                out = cached(*[value if index is None else inputs[index] for index, value in positions])
        out.backward(self._head(out))
        return out

    def _head(self, out):
        if not hasattr(self, "_head_grad"):
            from mxnet import np as mnp

            self._head_grad = mnp.array([1.0, 0.0], dtype=out.dtype)
        return self._head_grad


# ---------------------------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------------------------


class Engine:
    """Train ``net`` (a Gluon ``HybridSequential``) with ``loss`` and SGD or Adam, fast; see the module's doc.

    ``lr``, ``momentum`` and ``wd`` mean what they mean to Gluon's ``sgd`` (and ``adam``: ``beta1``, ``beta2``,
    ``epsilon``); ``lr_scheduler`` (an ``mxnet.lr_scheduler`` object) gives the learning rate of update ``t``
    (1, 2, ...) instead of ``lr``, as in Gluon. Every step divides the summed gradient by the batch's length, as
    ``trainer.step(len(y))``.
    ``seed`` seeds the dropout masks (default: drawn from NumPy's global generator, which
    :func:`regbook.seeding.set_seed` seeds). ``threaded`` says what to do under a threaded MXNet engine:
    ``"sync"`` (wait for MXNet after every step) or ``"raise"``.
    """

    def __init__(self, net, loss, lr: float = 0.1, optimizer: str = "sgd", momentum: float = 0.0, wd: float = 0.0,
                 beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8, lr_scheduler=None,
                 seed: int | None = None, threaded: str = "sync"):
        from mxnet import npx
        from mxnet.gluon import nn

        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if threaded not in ("sync", "raise"):
            raise ValueError(f"threaded must be 'sync' or 'raise', got {threaded!r}")
        self.sync = ENGINE_TYPE != "NaiveEngine"
        if self.sync and threaded == "raise":
            raise ThreadedEngineError(
                f"regbook.engine writes dropout masks and minibatches into memory MXNet reads, which is only safe "
                f"with MXNET_ENGINE_TYPE=NaiveEngine (this process runs {ENGINE_TYPE}, where the loss turns NaN). "
                "Unset MXNET_ENGINE_TYPE (regbook selects NaiveEngine) or pass threaded='sync'.")
        if not npx.is_np_array():
            raise RuntimeError("regbook.engine needs MXNet's NumPy mode: call npx.set_np() first")
        self.net, self.loss = net, loss
        self.lr, self.optimizer, self.momentum, self.wd = float(lr), optimizer, float(momentum), float(wd)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.lr_scheduler = lr_scheduler
        if seed is None:
            seed = int(numpy.random.randint(0, 2**63 - 1, dtype=numpy.int64))
        self.bit_generator = numpy.random.SFC64(seed)
        self._plan, self.samplers, self._mask_axes = [], [], []
        for layer in _layers(net):
            if isinstance(layer, nn.Dropout):
                if layer._rate > 0:
                    self._plan.append(None)
                    self.samplers.append(MaskSampler(layer._rate, self.bit_generator))
                    self._mask_axes.append(tuple(layer._axes or ()))
            elif isinstance(layer, nn.BatchNorm):
                raise NotImplementedError("regbook.engine does not handle BatchNorm (running statistics)")
            else:
                self._plan.append(layer)
        self._slots: dict[int, _Slot] = {}
        self._mask_shapes: list[tuple] | None = None
        self._params = None
        self.num_updates = 0

    @classmethod
    def from_trainer(cls, net, loss, trainer, **kwargs) -> Engine:
        """An engine with the optimizer and hyperparameters of a Gluon ``trainer`` (``sgd`` or ``adam``)."""
        opt = trainer._optimizer
        name = type(opt).__name__.lower()
        options = dict(lr=trainer.learning_rate, optimizer=name, wd=opt.wd)
        if name == "sgd":
            options["momentum"] = opt.momentum
        elif name == "adam":
            options.update(beta1=opt.beta1, beta2=opt.beta2, epsilon=opt.epsilon)
        if opt.clip_gradient is not None or opt.rescale_grad != 1.0:
            raise NotImplementedError("regbook.engine does not take over gradient clipping or rescale_grad")
        options["lr_scheduler"] = opt.lr_scheduler
        return cls(net, loss, **(options | kwargs))

    # -- set-up, on the first batch ----------------------------------------------------------------------------

    def _mask_shape(self, k: int, batch_size: int) -> tuple:
        shape = (batch_size,) + self._mask_shapes[k][1:]
        return tuple(1 if axis in self._mask_axes[k] else n for axis, n in enumerate(shape))

    def _setup(self, X):
        """Finish deferred initialisation, find the masks' shapes, move the parameters into flat buffers."""
        from mxnet import autograd
        from mxnet import np as mnp

        shapes, h = [], X
        with autograd.predict_mode():
            for layer in self._plan:
                if layer is None:
                    shapes.append(tuple(h.shape))
                else:
                    h = layer(h)
        self._mask_shapes = shapes
        params = [p for p in self.net.collect_params().values() if p.grad_req != "null"]
        for p in params:
            if p.dtype not in (numpy.float32, "float32"):
                raise TypeError(f"regbook.engine trains float32 parameters only; {p.name} is {p.dtype}")
        sizes = [int(numpy.prod(p.shape)) for p in params]
        total = sum(sizes)
        self.weights_mx, self.grads_mx = mnp.zeros(total).as_nd_ndarray(), mnp.zeros(total).as_nd_ndarray()
        self.weights, self.grads = numpy_view(self.weights_mx), numpy_view(self.grads_mx)
        offset = 0
        for p, size in zip(params, sizes):
            data = self.weights_mx[offset:offset + size].reshape(p.shape).as_np_ndarray()
            grad = self.grads_mx[offset:offset + size].reshape(p.shape).as_np_ndarray()
            self.weights[offset:offset + size] = p.data().asnumpy().ravel()
            p._data, p._grad = [data], [grad]
            autograd.mark_variables([data], [grad], p.grad_req)
            offset += size
        self._params = params
        if self.momentum or self.optimizer == "adam":
            self.state1 = numpy.zeros(total, numpy.float32)
        if self.optimizer == "adam":
            self.state2 = numpy.zeros(total, numpy.float32)
        self._scratch = numpy.empty(total, numpy.float32)
        from scipy.linalg import blas

        self._saxpy = blas.saxpy

    def _slot(self, X, y) -> _Slot:
        batch_size = len(y)
        slot = self._slots.get(batch_size)
        if slot is None:
            if self._params is None:
                self._setup(X)
            slot = self._slots[batch_size] = _Slot(self, batch_size, X.shape[1:], X.dtype, y.dtype)
        return slot

    # -- one step ----------------------------------------------------------------------------------------------

    def _draw_masks(self, slot: _Slot) -> None:
        for sampler, view in zip(self.samplers, slot.mask_views):
            sampler.draw(view)

    def _update(self, batch_size: int) -> None:
        """One optimizer step on the flat buffers; the gradient is the batch's sum, divided by ``batch_size``."""
        w, g = self.weights, self.grads
        self.num_updates += 1
        lr, rescale = self.lr if self.lr_scheduler is None else self.lr_scheduler(self.num_updates), 1.0 / batch_size
        if self.optimizer == "sgd" and not self.momentum and not self.wd:
            self._saxpy(g, w, a=-lr * rescale)  # w -= lr * g / batch_size, in place, one pass
            return
        grad = numpy.multiply(g, numpy.float32(rescale), out=self._scratch)
        if self.wd:
            grad += numpy.float32(self.wd) * w
        if self.optimizer == "sgd":  # Gluon's sgd_mom_update: v = momentum * v - lr * grad; w += v
            v = self.state1
            v *= numpy.float32(self.momentum)
            v -= numpy.float32(lr) * grad
            w += v
            return
        m, v, t = self.state1, self.state2, self.num_updates  # Gluon's Adam (bias correction folded into lr)
        m *= numpy.float32(self.beta1)
        m += numpy.float32(1 - self.beta1) * grad
        v *= numpy.float32(self.beta2)
        v += numpy.float32(1 - self.beta2) * grad * grad
        lr_t = lr * (1 - self.beta2**t) ** 0.5 / (1 - self.beta1**t)
        numpy.sqrt(v, out=self._scratch)
        self._scratch += numpy.float32(self.epsilon)
        numpy.divide(m, self._scratch, out=self._scratch)
        self._scratch *= numpy.float32(lr_t)
        w -= self._scratch

    def _step(self, slot: _Slot, X, y, totals):
        from mxnet import npx

        self._draw_masks(slot)
        totals = slot.run(X, y, totals)
        if self.sync:
            npx.waitall()
        self._update(slot.batch_size)
        return totals

    def step(self, X, y) -> tuple[float, float]:
        """One training step on the minibatch ``(X, y)``; returns its ``(loss sum, correct count)``."""
        from mxnet import np as mnp

        slot = self._slot(X, y)
        totals = self._step(slot, X, y, mnp.zeros(2))
        loss_sum, correct = totals.asnumpy().tolist()
        return loss_sum, correct

    # -- one epoch ---------------------------------------------------------------------------------------------

    def train_epoch(self, batches: Iterable) -> tuple[float, float]:
        """One pass over ``batches`` of ``(X, y)``; returns ``(mean loss, train accuracy)``.

        The contract of :func:`regbook.training.train_epoch`. A :class:`regbook.data.ArrayBatches` is gathered
        with NumPy (same order as its iterator); any other iterable is used as it is.
        """
        from regbook.data import ArrayBatches

        if isinstance(batches, ArrayBatches):
            pairs = self._gathered(batches)
        else:
            pairs = iter(batches)
        from mxnet import np as mnp

        totals_by_slot: dict[int, object] = {}
        count = 0
        for X, y in pairs:
            slot = self._slot(X, y) if not isinstance(X, _Slot) else X
            if isinstance(X, _Slot):
                X, y = slot.X, slot.y
            totals = totals_by_slot.get(slot.batch_size)
            if totals is None:
                totals = mnp.zeros(2)
            totals_by_slot[slot.batch_size] = self._step(slot, X, y, totals)
            count += slot.batch_size
        loss_sum = correct = 0.0
        for totals in totals_by_slot.values():
            values = totals.asnumpy()
            loss_sum, correct = loss_sum + float(values[0]), correct + float(values[1])
        return loss_sum / max(count, 1), correct / max(count, 1)

    def _gathered(self, batches):
        """Yield ``(slot, None)`` after gathering each minibatch of ``batches`` into the slot's input arrays."""
        features, labels = batches.features, batches.labels
        cache = getattr(self, "_views", None)
        if cache is None or cache[0] is not features or cache[1] is not labels:
            self._views = cache = (features, labels, numpy_view(features), numpy_view(labels))
        x_all, y_all = cache[2], cache[3]
        n = len(y_all)
        order = batches.rng.permutation(n) if batches.shuffle else None
        for start in range(0, len(batches) * batches.batch_size, batches.batch_size):
            stop = min(start + batches.batch_size, n)
            size = stop - start
            slot = self._slots.get(size)
            if slot is None:
                slot = self._slot(features[start:stop], labels[start:stop])
            if order is None:
                slot.x_view[...] = x_all[start:stop]
                slot.y_view[...] = y_all[start:stop]
            else:
                index = order[start:stop]
                numpy.take(x_all, index, axis=0, out=slot.x_view)
                numpy.take(y_all, index, axis=0, out=slot.y_view)
            yield slot, None

    @property
    def masks(self) -> list[numpy.ndarray]:
        """The masks of the last step of the full-size batches (NumPy views: copy them to keep them)."""
        slot = max(self._slots.values(), key=lambda s: s.batch_size)
        return slot.mask_views
