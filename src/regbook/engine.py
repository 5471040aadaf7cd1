"""A training engine that runs the book's networks at the speed of their matrix products.

The chapters' loop (``autograd.record``, ``backward``, ``trainer.step``; :func:`regbook.training.train_epoch`) is
what readers read. MXNet 1.9.1's element-wise CPU kernels are slow (an SSE-only build: ``sgd_update`` about 4.6
times NumPy's ``a -= c * b``, ``npx.dropout`` about 7 times a NumPy mask, about 19 µs of fixed cost per operator
call), while its matrix products go through oneDNN and are fast. :class:`Engine` trains the same network with the
same statistics and keeps the slow kernels out of the way:

* the network's layers are traced once into one graph and bound with MXNet's executor (``Symbol.bind``) to
  fixed input arrays and to the engine's buffers: a step is one ``forward(is_train=True)`` and one
  ``backward``, with no autograd recording;
* every dropout layer of the network becomes a multiplication by a mask inside that graph; the mask is drawn
  afresh at every step from a NumPy generator (16-bit random integers compared with a threshold, inverted
  scaling ``1 / (1 - p)``) straight into the memory of the graph's input array (zero copy);
* every weight and every gradient lives in one flat buffer, updated in one pass (BLAS ``saxpy`` for SGD,
  NumPy for momentum and Adam);
* Gluon's default softmax cross-entropy, its gradient and the number of correct predictions are computed by
  NumPy from the graph's output (a 256 x 10 array), which spares a dozen small MXNet operators per step; any
  other loss runs inside the graph, as Gluon computes it;
* a :class:`regbook.data.ArrayBatches` is gathered with NumPy into the graph's input array, in the very order
  its own iterator would give (same generator, same permutation); images that are bytes divided by 255 are
  gathered as bytes (a quarter of the memory to read) and divided into the very same floats.

Zero-copy buffers are only safe when MXNet runs every operator synchronously, as the NaiveEngine does (which
:mod:`regbook.compat` selects unless the reader chose another): under a threaded engine the next mask could be
written while the previous step still reads it. There :class:`Engine` waits for MXNet after every step (correct,
slower), or raises :class:`ThreadedEngineError` if asked to (``threaded="raise"``).

Usage (what :func:`regbook.training.fit` would call instead of its plain loop)::

    engine = Engine(net, loss, lr=0.5)                  # or Engine.from_trainer(net, loss, trainer)
    train_loss, train_acc = engine.train_epoch(train_iter)

During an epoch the engine trains its flat buffer; at the end of :meth:`Engine.train_epoch` it copies the
weights into the network's parameters (:meth:`Engine.detach`), so ``net(X)`` and
:func:`regbook.training.evaluate_accuracy` see the trained weights, and a ``param.set_data`` between epochs is
taken into the next one, as is a re-initialisation. Layers supported:
``nn.HybridSequential`` (nested too) of ``Dense``, ``Conv2D``, pooling, ``Flatten``, ``Activation``, ``Dropout``
and other stateless hybrid layers; float32 parameters on the CPU.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Iterable

import numpy

from regbook import compat as _compat  # noqa: F401  (imports MXNet with the book's settings)

ENGINE_TYPE = os.environ.get("MXNET_ENGINE_TYPE", "ThreadedEnginePerDevice")
"""The MXNet engine of this process: read when :mod:`regbook.compat` imported MXNet, which fixes it for good."""

MASK_BITS = 16
"""Random bits per dropout-mask element: the keep probability is a multiple of 2**-16, so its rounding bias is at
most 2**-17 (7.6e-6); 8 bits would give up to 2e-3 (p = 0.2: 0.8008 instead of 0.8)."""

OPTIMIZERS = ("sgd", "adam")

PHASES = ("data", "masks", "graph", "update")
"""Where :attr:`Engine.phase_seconds` puts a step's CPU time: gathering the minibatch, drawing the dropout
masks, the graph (forward, loss and backward, matrix products included) and the optimizer's update."""


class ThreadedEngineError(RuntimeError):
    """The engine's zero-copy buffers need MXNet's NaiveEngine (``MXNET_ENGINE_TYPE=NaiveEngine``)."""


# ---------------------------------------------------------------------------------------------------------------
# Memory shared between MXNet and NumPy
# ---------------------------------------------------------------------------------------------------------------


def data_pointer(array) -> int:
    """The address of the first element of the (CPU) MXNet array ``array``."""
    from mxnet.base import _LIB, check_call

    pointer = ctypes.c_void_p()
    check_call(_LIB.MXNDArrayGetData(array.handle, ctypes.byref(pointer)))
    return pointer.value or 0


def numpy_view(array) -> numpy.ndarray:
    """A NumPy array on the memory of the (CPU, contiguous) MXNet array ``array``: no copy, writes go through.

    The caller keeps ``array`` alive as long as the view is used, and must not write while MXNet may still read
    (under a threaded engine: call ``npx.waitall()`` first).
    """
    array.wait_to_read()
    dtype = numpy.dtype(array.dtype)
    size = int(numpy.prod(array.shape, dtype=numpy.int64))
    if size == 0:
        return numpy.empty(array.shape, dtype)
    raw = (ctypes.c_char * (size * dtype.itemsize)).from_address(data_pointer(array))
    return numpy.frombuffer(raw, dtype=dtype).reshape(array.shape)


_BYTE_IMAGES: list[tuple[object, numpy.ndarray | None]] = []
"""(features, their bytes or None) for the last few datasets :func:`byte_images` looked at."""


def byte_images(features, values: numpy.ndarray) -> numpy.ndarray | None:
    """The float32 ``values`` (a NumPy view of the MXNet array ``features``) as ``uint8`` when every value is
    exactly a byte divided by 255, as the book's images are; else None.

    Gathering a shuffled minibatch reads four times less memory from the bytes, and dividing them by 255 gives
    back the very same floats (checked here, once per dataset: the answer is kept for the last few datasets).
    """
    for known, answer in _BYTE_IMAGES:
        if known is features:
            return answer
    answer = _as_bytes(values)
    _BYTE_IMAGES.insert(0, (features, answer))
    del _BYTE_IMAGES[4:]
    return answer


def _as_bytes(values: numpy.ndarray, chunk: int = 4096) -> numpy.ndarray | None:
    if values.dtype != numpy.float32 or values.ndim < 2 or values.size == 0:
        return None
    rows = values.reshape(len(values), -1)
    out = numpy.empty(rows.shape, numpy.uint8)
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        scaled = numpy.rint(part * numpy.float32(255))
        if scaled.min() < 0 or scaled.max() > 255:
            return None
        out[start:start + chunk] = scaled
        back = numpy.divide(out[start:start + chunk], numpy.float32(255), dtype=numpy.float32)
        if not numpy.array_equal(back, part):
            return None
    return out.reshape(values.shape)


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


def softmax_cross_entropy_head(logits: numpy.ndarray, labels: numpy.ndarray, grad_out: numpy.ndarray,
                               rows: numpy.ndarray | None = None) -> tuple[float, int]:
    """Gluon's softmax cross-entropy of a batch, with NumPy: returns its sum over the batch and the number of
    correct predictions, and writes the gradient of that sum with respect to ``logits`` (the softmax minus the
    one-hot labels) into ``grad_out``. ``logits`` is (batch, classes); ``labels`` holds class indices;
    ``rows`` may pass ``numpy.arange(batch)`` in. Called at every step: ufuncs, not their slower wrappers."""
    if rows is None:
        rows = numpy.arange(len(labels))
    log_probs = logits - numpy.maximum.reduce(logits, axis=1, keepdims=True)
    numpy.exp(log_probs, out=grad_out)
    log_probs -= numpy.log(numpy.add.reduce(grad_out, axis=1, keepdims=True))  # log-softmax, as Gluon's loss
    loss_sum = -float(numpy.add.reduce(log_probs[rows, labels], dtype=numpy.float64))
    numpy.exp(log_probs, out=grad_out)
    grad_out[rows, labels] -= 1.0
    correct = int(numpy.count_nonzero(logits.argmax(axis=1) == labels))
    return loss_sum, correct


def _make_graph(layers, loss, mask_broadcast, loss_in_numpy: bool):
    """The training step's graph, a HybridBlock.

    ``layers`` holds Gluon blocks and, where the network had a dropout layer, ``None`` (multiply by the next
    mask; ``mask_broadcast[k]`` when the mask is shared along some axes). With ``loss_in_numpy`` (Gluon's
    default softmax cross-entropy) the graph is ``(X, *masks) -> logits``, and the loss, its gradient and the
    correct count are NumPy's (:func:`softmax_cross_entropy_head`): a dozen small MXNet operators fewer per
    step. Otherwise it is ``(X, y, *masks) -> [loss sum, correct count]``, the loss as Gluon computes it; the
    loss sum carries the gradient, the correct count is cut off from it.
    """
    from mxnet.gluon import HybridBlock

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

        def network(self, F, X, masks):
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
            return h

        def hybrid_forward(self, F, X, *inputs):
            if loss_in_numpy:
                return self.network(F, X, inputs)
            y, *masks = inputs
            h = self.network(F, X, masks)
            logits, labels = h.as_nd_ndarray(), F.cast(y.as_nd_ndarray(), "float32")
            loss_sum = F.sum(self._loss(h, y).as_nd_ndarray()).reshape((1,))
            correct = F.BlockGrad(F.sum(F.argmax(logits, axis=1) == labels)).reshape((1,))
            return F.concat(loss_sum, correct, dim=0).as_np_ndarray()

    return StepGraph()


class _Slot:
    """The graph for one batch size, bound once to the engine's buffers, its input arrays and running totals.

    The graph is traced once (in training mode) and bound with MXNet's executor (``Symbol.bind``) to the
    minibatch and mask arrays and to the engine's flat buffers of weights and gradients: a step is then one
    ``forward(is_train=True)`` and one ``backward``, with no autograd recording (measured: about a tenth of the
    graph's time less than a hybridized block under ``autograd.record``, with the same results).
    """

    def __init__(self, engine: Engine, batch_size: int, x_shape, x_dtype, y_dtype):
        import mxnet as mx
        from mxnet import autograd
        from mxnet import np as mnp

        self.batch_size, self.sync = batch_size, engine.sync
        self.X = mnp.zeros((batch_size,) + tuple(x_shape), dtype=x_dtype)
        self.y = mnp.zeros((batch_size,), dtype=y_dtype)
        self.x_view, self.y_view = numpy_view(self.X), numpy_view(self.y)
        self.x_bytes: numpy.ndarray | None = None  # the minibatch's pixels as bytes (see byte_images)
        self.masks = [mnp.zeros(engine._mask_shape(k, batch_size)) for k in range(len(engine.samplers))]
        self.mask_views = [numpy_view(mask) for mask in self.masks]
        self.loss_in_numpy = is_plain_softmax_cross_entropy(engine.loss)
        graph = _make_graph(engine._plan, engine.loss, [bool(axes) for axes in engine._mask_axes],
                            self.loss_in_numpy)
        inputs = (self.X, *self.masks) if self.loss_in_numpy else (self.X, self.y, *self.masks)
        with autograd.train_mode():  # branches a layer decides while tracing take their training side
            symbol_inputs, out = graph._get_graph(*inputs)
        symbol = out.as_nd_ndarray()
        arrays = {s.name: array.as_nd_ndarray() for s, array in zip(symbol_inputs, inputs)}
        args, grads, reqs = {}, {}, {}
        for name in symbol.list_arguments():
            if name in arrays:
                args[name], reqs[name] = arrays[name], "null"
            elif name in engine._param_views:
                args[name], grads[name], reqs[name] = engine._param_views[name]
            else:  # a parameter that is not trained (grad_req "null"): read where it is
                args[name], reqs[name] = engine._frozen[name].data().as_nd_ndarray(), "null"
        aux = {name: engine._frozen[name].data().as_nd_ndarray() for name in symbol.list_auxiliary_states()}
        self.executor = symbol.bind(mx.cpu(), args=args, args_grad=grads, grad_req=reqs, aux_states=aux)
        self.graph = graph  # keeps the traced blocks alive
        self._output_view = self._output_pointer = None
        if self.loss_in_numpy:
            self._head = self._rows = None  # made on the first step, when the logits' shape is known
        else:
            self._head = mnp.array([1.0, 0.0]).as_nd_ndarray()  # d(loss sum) = 1, the count has no gradient
        self._head_view = None
        self.reset()

    def reset(self) -> None:
        """Start the totals afresh."""
        self.loss_sum, self.correct = 0.0, 0.0

    def totals(self) -> tuple[float, float]:
        """The loss sum and the correct count since :meth:`reset`."""
        return self.loss_sum, self.correct

    def _output(self) -> numpy.ndarray:
        out = self.executor.outputs[0]
        if self.sync:
            out.wait_to_read()
        pointer = data_pointer(out)
        if pointer != self._output_pointer:  # the executor keeps its output where it was: view it once
            self._output_view, self._output_pointer = numpy_view(out), pointer
        return self._output_view

    def load(self, X, y) -> None:
        """Copy a minibatch that is not already in the slot's input arrays into them."""
        if X is not self.X:
            self.x_view[...] = X.asnumpy() if self.sync else numpy_view(X)
        if y is not self.y:
            self.y_view[...] = y.asnumpy() if self.sync else numpy_view(y)

    def run(self) -> None:
        """Forward and backward of the minibatch in the input arrays; adds its loss and correct count to the
        totals, and leaves the gradients in the engine's flat buffer."""
        self.executor.forward(is_train=True)
        out = self._output()
        if not self.loss_in_numpy:
            loss_sum, correct = out.tolist()
            self.executor.backward(out_grads=[self._head])
        else:
            if self._head is None:
                from mxnet import nd

                self._head = nd.zeros(out.shape, dtype=out.dtype)
                self._head_view, self._rows = numpy_view(self._head), numpy.arange(self.batch_size)
            labels = self.y_view
            if labels.dtype.kind not in "iu":
                labels = labels.astype(numpy.intp)
            loss_sum, correct = softmax_cross_entropy_head(out, labels, self._head_view, self._rows)
            self.executor.backward(out_grads=[self._head])
        self.loss_sum += loss_sum
        self.correct += correct


# ---------------------------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------------------------


class Engine:
    """Train ``net`` (a Gluon ``HybridSequential``) with ``loss`` and SGD or Adam, fast; see the module's doc.

    ``phase_seconds`` adds up the CPU seconds of every step by :data:`PHASES` (set its values to 0 to restart).

    ``lr``, ``momentum`` and ``wd`` mean what they mean to Gluon's ``sgd`` (and ``adam``: ``beta1``, ``beta2``,
    ``epsilon``), and so does a parameter's ``wd_mult`` (an ``lr_mult`` other than 1 is refused);
    ``lr_scheduler`` (an ``mxnet.lr_scheduler`` object) gives the learning rate of update ``t``
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
        self.phase_seconds = dict.fromkeys(PHASES, 0.0)

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
        """Finish deferred initialisation, find the masks' shapes, copy the parameters into flat buffers."""
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
        everything = list(self.net.collect_params().values())
        params = [p for p in everything if p.grad_req != "null"]
        self._frozen = {p.name: p for p in everything if p.grad_req == "null"}
        for p in params:
            if p.dtype not in (numpy.float32, "float32"):
                raise TypeError(f"regbook.engine trains float32 parameters only; {p.name} is {p.dtype}")
            if p.grad_req != "write":
                raise NotImplementedError(f"regbook.engine does not take over grad_req={p.grad_req!r} ({p.name})")
        sizes = [int(numpy.prod(p.shape)) for p in params]
        total = sum(sizes)
        self.weights_mx, self.grads_mx = mnp.zeros(total).as_nd_ndarray(), mnp.zeros(total).as_nd_ndarray()
        self.weights, self.grads = numpy_view(self.weights_mx), numpy_view(self.grads_mx)
        offset, self._views_of_params, self._param_views = 0, [], {}
        for p, size in zip(params, sizes):
            data = self.weights_mx[offset:offset + size].reshape(p.shape)
            grad = self.grads_mx[offset:offset + size].reshape(p.shape)
            self.weights[offset:offset + size] = p.data().asnumpy().ravel()
            self._views_of_params.append((slice(offset, offset + size), data, grad))
            self._param_views[p.name] = (data, grad, "write")
            offset += size
        self._params, self._detached = params, False
        for p in params:
            if p.lr_mult != 1.0:
                raise NotImplementedError(f"regbook.engine does not take over lr_mult ({p.name}: {p.lr_mult})")
        self.wd_mult = None  # per element, where some parameter has wd_mult != 1 (e.g. 0 for the biases)
        if self.wd and any(p.wd_mult != 1.0 for p in params):
            self.wd_mult = numpy.concatenate([numpy.full(size, p.wd_mult, numpy.float32)
                                              for p, size in zip(params, sizes)])
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
            decay = numpy.float32(self.wd) * w
            if self.wd_mult is not None:
                decay *= self.wd_mult
            grad += decay
        if self.optimizer == "sgd" and not self.momentum:  # Gluon's sgd_update: w -= lr * grad
            grad *= numpy.float32(lr)
            w -= grad
            return
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

    def _step(self, slot: _Slot) -> None:
        from mxnet import npx

        phases, clock = self.phase_seconds, time.process_time
        start = clock()
        self._draw_masks(slot)
        masks_done = clock()
        slot.run()
        if self.sync:
            npx.waitall()
        graph_done = clock()
        self._update(slot.batch_size)
        end = clock()
        phases["masks"] += masks_done - start
        phases["graph"] += graph_done - masks_done
        phases["update"] += end - graph_done

    def detach(self) -> None:
        """Copy the trained weights from the engine's flat buffer into the network's parameters.

        :meth:`train_epoch` does this at its end (and :meth:`step` after its step), so ``net(X)`` predicts
        with the trained weights. The next step copies the network's weights back in, so a ``set_data`` or a
        re-initialisation in between is kept. The copy is MXNet's, whatever layout oneDNN gave a weight array
        when it predicted (a convolution's weights, for example).
        """
        if self._params is None or self._detached:
            return
        for p, (_, data, _) in zip(self._params, self._views_of_params):
            p.data()[:] = data.as_np_ndarray()
        self._detached = True

    def _attach(self) -> None:
        """Copy the network's weights into the flat buffer, if they may have changed since :meth:`detach`."""
        if self._params is None or not self._detached:
            return
        for p, (part, _, _) in zip(self._params, self._views_of_params):
            self.weights[part] = p.data().asnumpy().ravel()
        self._detached = False

    def step(self, X, y) -> tuple[float, float]:
        """One training step on the minibatch ``(X, y)``; returns its ``(loss sum, correct count)``."""
        self._attach()
        slot = self._slot(X, y)
        slot.reset()
        slot.load(X, y)
        self._step(slot)
        self.detach()
        return slot.totals()

    # -- one epoch ---------------------------------------------------------------------------------------------

    def train_epoch(self, batches: Iterable, *, detach: bool = True) -> tuple[float, float]:
        """One pass over ``batches`` of ``(X, y)``; returns ``(mean loss, train accuracy)``.

        The contract of :func:`regbook.training.train_epoch`. A :class:`regbook.data.ArrayBatches` is gathered
        with NumPy (same order as its iterator); any other iterable's minibatches are copied in. With
        ``detach=False`` the network's parameters keep their old values until :meth:`detach` (saves a copy of
        the weights per epoch when nothing predicts between epochs).
        """
        from regbook.data import ArrayBatches

        pairs = self._gathered(batches) if isinstance(batches, ArrayBatches) else iter(batches)
        self._attach()
        for slot in self._slots.values():
            slot.reset()
        count = 0
        clock = time.process_time
        while True:
            start = clock()
            X, y = next(pairs, (None, None))
            self.phase_seconds["data"] += clock() - start
            if X is None:
                break
            if isinstance(X, _Slot):
                slot = X
            else:
                slot = self._slot(X, y)
                slot.load(X, y)
            self._step(slot)
            count += slot.batch_size
        loss_sum = correct = 0.0
        for slot in self._slots.values():
            slot_loss, slot_correct = slot.totals()
            loss_sum, correct = loss_sum + slot_loss, correct + slot_correct
        if detach:
            self.detach()
        return loss_sum / max(count, 1), correct / max(count, 1)

    def _gathered(self, batches):
        """Yield ``(slot, None)`` after gathering each minibatch of ``batches`` into the slot's input arrays."""
        features, labels = batches.features, batches.labels
        cache = getattr(self, "_views", None)
        if cache is None or cache[0] is not features or cache[1] is not labels:
            x_all = numpy_view(features)
            self._views = cache = (features, labels, x_all, numpy_view(labels),
                                   byte_images(features, x_all) if batches.shuffle else None)
        x_all, y_all, x_bytes = cache[2], cache[3], cache[4]
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
                yield slot, None
                continue
            index = order[start:stop]
            if x_bytes is None:
                numpy.take(x_all, index, axis=0, out=slot.x_view)
            else:  # a quarter of the memory to read, then exactly the floats the dataset holds
                if slot.x_bytes is None:
                    slot.x_bytes = numpy.empty(slot.x_view.shape, numpy.uint8)
                numpy.take(x_bytes, index, axis=0, out=slot.x_bytes)
                numpy.divide(slot.x_bytes, numpy.float32(255), out=slot.x_view, dtype=numpy.float32)
            numpy.take(y_all, index, axis=0, out=slot.y_view)
            yield slot, None

    @property
    def masks(self) -> list[numpy.ndarray]:
        """The masks of the last step of the full-size batches (NumPy views: copy them to keep them)."""
        slot = max(self._slots.values(), key=lambda s: s.batch_size)
        return slot.mask_views


# ---------------------------------------------------------------------------------------------------------------
# Measuring: the bare matrix products of an epoch, and where an epoch's time goes
# ---------------------------------------------------------------------------------------------------------------


def mlp_gemm_seconds(sizes, batch_size: int, num_batches: int) -> tuple[float, float]:
    """Wall and CPU seconds of the forward and backward matrix products of an MLP with layer ``sizes`` over
    ``num_batches`` minibatches, through oneDNN (``npx.fully_connected``, what ``nn.Dense`` calls).

    Per batch and layer: one forward product, one for the weight gradient and, above the first layer, one for
    the input gradient. Every operand is prepared once, already transposed: only the products are timed.
    """
    import time

    from mxnet import np as mnp
    from mxnet import npx

    def fc(a, b):
        return npx.fully_connected(a, b, no_bias=True, num_hidden=b.shape[0], flatten=False)

    pairs = list(zip(sizes[:-1], sizes[1:]))
    X, XT = (mnp.random.uniform(size=shape) for shape in ((batch_size, sizes[0]), (sizes[0], batch_size)))
    W = [mnp.random.normal(0, 0.01, (b, a)) for a, b in pairs]  # (out, in), as Dense stores them
    WT = [w.T.copy() for w in W]
    HT = [mnp.random.uniform(size=(s, batch_size)) for s in sizes[1:]]
    GT = [mnp.random.uniform(size=(s, batch_size)) for s in sizes[1:]]
    npx.waitall()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(num_batches):
        h = X
        for w in W:
            h = fc(h, w)
        g = h
        for k in range(len(W) - 1, -1, -1):
            fc(GT[k], HT[k - 1] if k else XT)  # the weight gradient Gᵀ H
            if k:
                g = fc(g, WT[k])  # the input gradient G W
    npx.waitall()
    return time.perf_counter() - start, time.process_time() - cpu_start


OPERATOR_GROUPS = {
    "matrix products": ("FullyConnected", "_backward_FullyConnected", "Convolution", "_backward_Convolution"),
    "dropout": ("Dropout", "_backward_Dropout", "elemwise_mul", "_backward_mul", "_npi_multiply",
                "_backward_npi_broadcast_mul"),
    "optimizer": ("sgd_update", "multi_sgd_update", "sgd_mom_update", "multi_sgd_mom_update", "adam_update",
                  "multi_adam_update"),
    "data": ("_npi_take", "take", "gather_nd", "_npi_advanced_indexing", "slice"),
}
"""MXNet operators by what they do in a training step, for :func:`profile_epoch`."""


def profile_epoch(run_epoch) -> tuple[float, dict[str, float]]:
    """Run ``run_epoch()`` under MXNet's profiler; return its wall seconds and the seconds of each group of
    :data:`OPERATOR_GROUPS`, of the static graph's bulk segments (several operators profiled as one), of
    other operators, and the rest (Python, NumPy and dispatch). The profiler slows every operator a little:
    read the split as proportions."""
    import json
    import time

    import mxnet as mx
    from mxnet import npx

    mx.profiler.set_config(profile_all=True, aggregate_stats=True, filename=os.devnull)
    mx.profiler.set_state("run")
    start = time.perf_counter()
    run_epoch()
    npx.waitall()
    seconds = time.perf_counter() - start
    mx.profiler.set_state("stop")
    operators = json.loads(mx.profiler.dumps(format="json", reset=True))["Time"]["operator"]
    bulk, other, rest = "bulk segments", "other operators", "Python, NumPy and dispatch"
    groups = dict.fromkeys([*OPERATOR_GROUPS, bulk, other], 0.0)
    for op, stats in operators.items():
        names = set(op.split(","))  # a static graph runs operators in bulk segments, profiled together
        group = next((name for name, ops in OPERATOR_GROUPS.items() if names <= set(ops)),
                     bulk if len(names) > 1 else other)
        groups[group] += stats["Total"] / 1e3
    groups[rest] = max(0.0, seconds - sum(groups.values()))
    return seconds, groups
