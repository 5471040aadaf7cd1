"""regbook.engine: the same training as the textbook loop, with the same dropout statistics, only faster."""

import json
import os
import subprocess
import sys
import textwrap

import numpy
import pytest
from mxnet import autograd, gluon, init, np, npx
from mxnet.gluon import nn

from regbook import data, engine, training
from regbook.seeding import set_seed

npx.set_np()  # (also when this file runs on its own)

LOSS = gluon.loss.SoftmaxCrossEntropyLoss()


def problem(n=1000, features=6, classes=3, seed=0):
    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(numpy.float32)
    y = (X[:, :classes].argmax(axis=1)).astype(numpy.int32)
    return X, y


def mlp(drop=0.0, hidden=8, classes=3, features=6, seed=0):
    """A Dense-ReLU-(Dropout)-Dense net with weights from NumPy (the same for every MXNet engine)."""
    net = nn.HybridSequential()
    net.add(nn.Dense(hidden, activation="relu", in_units=features))
    if drop:
        net.add(nn.Dropout(drop))
    net.add(nn.Dense(classes, in_units=hidden))
    net.initialize()
    rng = numpy.random.default_rng(seed)
    for param in net.collect_params().values():
        param.set_data(np.array(rng.normal(0, 0.5, param.shape).astype(numpy.float32)))
    net.hybridize()
    return net


def weights(net):
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def assert_same_weights(net_a, net_b, tol=1e-6):
    for a, b in zip(weights(net_a), weights(net_b)):
        numpy.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def reference_step(net, X, y, trainer, layers=None, mask=None):
    """The textbook step; with ``layers``/``mask``: the dropout layer replaced by a multiplication by ``mask``."""
    with autograd.record():
        if layers is None:
            out = net(X)
        else:
            out = layers[1](layers[0](X) * mask)
        batch_loss = LOSS(out, y)
    batch_loss.backward()
    trainer.step(len(y))
    return float(batch_loss.sum())


# ---------------------------------------------------------------------------------------------------------------
# One step equals the reference step
# ---------------------------------------------------------------------------------------------------------------


def test_one_step_equals_a_reference_sgd_step_without_dropout():
    X, y = problem(32)
    X, y = np.array(X), np.array(y)
    net_a, net_b = mlp(), mlp()
    run = engine.Engine(net_a, LOSS, lr=0.3)
    loss_sum, correct = run.step(X, y)
    trainer = gluon.Trainer(net_b.collect_params(), "sgd", {"learning_rate": 0.3})
    out = net_b(X)
    expected_correct = float(training.accuracy_count(out, y))
    expected_loss = reference_step(net_b, X, y, trainer)
    assert loss_sum == pytest.approx(expected_loss, rel=1e-6)
    assert correct == expected_correct
    assert_same_weights(net_a, net_b)
    assert not numpy.allclose(weights(net_a)[0], weights(mlp())[0])  # the step did move the weights


def test_one_step_with_a_fixed_mask_equals_the_reference_step():
    X, y = problem(32)
    X, y = np.array(X), np.array(y)
    mask = (numpy.random.default_rng(1).random((32, 8)) >= 0.5).astype(numpy.float32) * 2
    net_a, net_b = mlp(drop=0.5), mlp(drop=0.5)
    run = engine.Engine(net_a, LOSS, lr=0.3)
    run.samplers[0].draw = lambda out: numpy.copyto(out, mask)
    loss_sum, _ = run.step(X, y)
    trainer = gluon.Trainer(net_b.collect_params(), "sgd", {"learning_rate": 0.3})
    layers = [layer for layer in net_b._children.values() if not isinstance(layer, nn.Dropout)]
    expected = reference_step(net_b, X, y, trainer, layers=layers, mask=np.array(mask))
    assert loss_sum == pytest.approx(expected, rel=1e-6)
    assert_same_weights(net_a, net_b)


def test_any_gluon_loss_and_a_mask_shared_along_an_axis():
    """A loss other than the default cross-entropy runs as Gluon computes it; ``Dropout(axes=...)`` gets a mask
    of size 1 along those axes, broadcast."""
    X, y = problem(32)
    X, y = np.array(X), np.array(y)
    loss = gluon.loss.SoftmaxCrossEntropyLoss(weight=2.0)
    net_a, net_b = mlp(), mlp()
    first, last = net_a._children.values()
    shared = nn.HybridSequential()
    shared.add(first, nn.Dropout(0.5, axes=(1,)), last)
    run = engine.Engine(shared, loss, lr=0.3)
    mask = numpy.array([[2.0]] * 16 + [[0.0]] * 16, dtype=numpy.float32)  # whole examples dropped
    run.samplers[0].draw = lambda out: numpy.copyto(out, mask)
    loss_sum, _ = run.step(X, y)
    assert run.masks[0].shape == (32, 1)
    trainer = gluon.Trainer(net_b.collect_params(), "sgd", {"learning_rate": 0.3})
    first, last = net_b._children.values()
    with autograd.record():
        batch_loss = loss(last(first(X) * np.array(mask)), y)
    batch_loss.backward()
    trainer.step(32)
    assert loss_sum == pytest.approx(float(batch_loss.sum()), rel=1e-6)
    assert_same_weights(shared, net_b)


@pytest.mark.parametrize("optimizer, options", [("sgd", {"momentum": 0.9, "wd": 1e-3}),
                                                ("adam", {"wd": 1e-3}), ("adam", {})])
def test_momentum_and_adam_follow_gluons_optimizers(optimizer, options):
    X, y = problem(96)
    X, y = np.array(X), np.array(y)
    net_a, net_b = mlp(), mlp()
    trainer = gluon.Trainer(net_b.collect_params(), optimizer, dict(learning_rate=0.05, **options))
    run = engine.Engine.from_trainer(net_a, LOSS, trainer)
    for start in (0, 32, 64, 0, 32):
        run.step(X[start:start + 32], y[start:start + 32])
        reference_step(net_b, X[start:start + 32], y[start:start + 32], trainer)
    assert_same_weights(net_a, net_b, tol=1e-5)


def test_a_learning_rate_schedule_is_taken_over_from_the_trainer():
    import mxnet as mx

    X, y = problem(64)
    X, y = np.array(X), np.array(y)
    net_a, net_b = mlp(), mlp()
    trainers = [gluon.Trainer(net.collect_params(), "adam", {
        "learning_rate": 0.1, "lr_scheduler": mx.lr_scheduler.CosineScheduler(6, base_lr=0.1, final_lr=0.001)})
        for net in (net_a, net_b)]
    run = engine.Engine.from_trainer(net_a, LOSS, trainers[0])
    for _ in range(6):
        run.step(X, y)
        reference_step(net_b, X, y, trainers[1])
    assert_same_weights(net_a, net_b, tol=1e-5)


def side_by_side(net_a, net_b, batches_a, batches_b, lr: float, epochs: int = 2):
    """Epoch by epoch: ``net_a`` trained by the engine, ``net_b`` by the textbook loop (SGD at ``lr``); yields
    both ``(loss, accuracy)`` pairs after each epoch."""
    run = engine.Engine(net_a, LOSS, lr=lr)
    trainer = gluon.Trainer(net_b.collect_params(), "sgd", {"learning_rate": lr})
    for _ in range(epochs):
        yield run.train_epoch(batches_a), training.train_epoch(net_b, batches_b, LOSS, trainer.step)


def test_an_epoch_of_array_batches_equals_the_textbook_epoch_without_dropout():
    """Same order (same generator), the smaller last batch divided by its own length, the same statistics."""
    X, y = problem(1000)
    net_a, net_b = mlp(), mlp()
    batches_a, batches_b = (data.ArrayBatches(X, y, 64, shuffle=True, seed=3) for _ in range(2))  # last batch: 40
    for (loss_a, acc_a), (loss_b, acc_b) in side_by_side(net_a, net_b, batches_a, batches_b, lr=0.2):
        assert loss_a == pytest.approx(loss_b, rel=1e-5)
        assert acc_a == pytest.approx(acc_b, abs=1.5e-3)  # (a near-tie may flip one prediction)
    assert_same_weights(net_a, net_b, tol=1e-5)
    # the network itself sees the trained weights (shared memory), in inference mode too
    assert training.evaluate_accuracy(net_a, batches_a) == pytest.approx(
        training.evaluate_accuracy(net_b, batches_b), abs=1.5e-3)


def cnn(X, conv_layers, initializer, seed):
    """A hybridized CNN: ``conv_layers``, then Flatten and a 2-way Dense; initialized on ``X[:2]``."""
    set_seed(seed)
    net = nn.HybridSequential()
    net.add(*conv_layers, nn.Flatten(), nn.Dense(2))
    net.initialize(initializer)
    net.hybridize()
    net(np.array(X[:2]))
    return net


def test_a_cnn_trains_as_the_textbook_loop_and_evaluates_between_epochs():
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(200, 1, 8, 8)).astype(numpy.float32)
    y = (X[:, 0, :4].sum(axis=(1, 2)) > 0).astype(numpy.int32)

    def build():
        return cnn(X, [nn.Conv2D(4, 3, activation="relu"), nn.MaxPool2D(2)], init.Normal(0.3), seed=5)

    net_a, net_b = build(), build()
    assert_same_weights(net_a, net_b)
    batches = data.ArrayBatches(X, y, 32)
    for (loss_a, _), (loss_b, _) in side_by_side(net_a, net_b, batches, batches, lr=0.1):
        assert loss_a == pytest.approx(loss_b, rel=1e-5)
        assert training.evaluate_accuracy(net_a, batches) == training.evaluate_accuracy(net_b, batches)
    assert_same_weights(net_a, net_b, tol=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# Dropout masks: the statistics of nn.Dropout
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_kept_fraction_of_ten_million_draws_is_within_five_standard_errors(p):
    n = 10**7
    sampler = engine.MaskSampler(p, numpy.random.SFC64(11))
    mask = sampler.draw(numpy.empty(n, numpy.float32))
    kept = numpy.count_nonzero(mask)
    assert abs(kept / n - (1 - p)) < 5 * (p * (1 - p) / n) ** 0.5
    assert set(numpy.unique(mask).tolist()) == {0.0, float(numpy.float32(1 / (1 - p)))}  # inverted scaling


@pytest.mark.parametrize("p", [0.2, 0.5, 0.1, 0.3, 1 / 3, 0.7, 0.9, 0.05])
def test_the_thresholds_rounding_bias_is_below_1e_5(p):
    assert abs(engine.keep_probability(p) - (1 - p)) < 1e-5


def test_bad_probabilities_are_refused():
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError):
            engine.mask_threshold(p)


def max_cross_correlation(a, b):
    """The largest |correlation| of ``a`` with any circular shift of ``b`` (FFT): 1 for a shifted copy."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    spectrum = numpy.fft.rfft(a) * numpy.conj(numpy.fft.rfft(b))
    return float(numpy.abs(numpy.fft.irfft(spectrum, n=a.size)).max() / (numpy.linalg.norm(a) * numpy.linalg.norm(b)))


def test_masks_of_consecutive_steps_are_independent_not_shifted_copies():
    X, y = problem(256, features=16, classes=4)
    X, y = np.array(X), np.array(y)
    run = engine.Engine(mlp(drop=0.5, hidden=256, classes=4, features=16), LOSS, lr=0.1, seed=7)
    masks = []
    for _ in range(3):
        run.step(X, y)
        masks.append(run.masks[0].copy())
    n = masks[0].size  # 65,536
    assert n == 256 * 256
    for first, second in zip(masks, masks[1:]):
        r = numpy.corrcoef(first.ravel(), second.ravel())[0, 1]
        assert abs(r) < 5 / n**0.5
        assert max_cross_correlation(first, second) < 0.05  # noise: about 0.02; a shifted copy: 1
    assert max_cross_correlation(masks[0], numpy.roll(masks[0], 12345)) > 0.99  # (the detector detects)


def test_the_seed_makes_masks_reproducible():
    X, y = problem(64)
    X, y = np.array(X), np.array(y)
    runs = [engine.Engine(mlp(drop=0.5), LOSS, lr=0.1, seed=4) for _ in range(2)]
    for run in runs:
        run.step(X, y)
    numpy.testing.assert_array_equal(runs[0].masks[0], runs[1].masks[0])


# ---------------------------------------------------------------------------------------------------------------
# Zero-copy buffers and MXNet's threaded engine
# ---------------------------------------------------------------------------------------------------------------

THREADED_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path[:0] = {paths!r}
    from test_engine import short_run
    from regbook import engine
    try:
        engine.Engine(None, None, threaded="raise")
        raised = None
    except engine.ThreadedEngineError as exc:
        raised = str(exc)
    print(json.dumps({{"engine": engine.ENGINE_TYPE, "raised": raised, "losses": short_run()}}))
""")


def short_run():
    """Two epochs with dropout and shuffling, from NumPy weights and a fixed mask seed: the same on any engine."""
    X, y = problem(1024, features=16, classes=4)
    batches = data.ArrayBatches(X, y, 128, shuffle=True, seed=1)
    run = engine.Engine(mlp(drop=0.5, hidden=64, classes=4, features=16), LOSS, lr=0.5, seed=2)
    return [run.train_epoch(batches)[0] for _ in range(2)]


def test_under_a_threaded_engine_it_waits_or_raises_and_trains_as_under_the_naive_engine():
    assert engine.ENGINE_TYPE == "NaiveEngine"
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    script = THREADED_SCRIPT.format(paths=[here, os.path.join(root, "src")])
    env = dict(os.environ, MXNET_ENGINE_TYPE="ThreadedEnginePerDevice", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["engine"] == "ThreadedEnginePerDevice"
    assert report["raised"] and "NaiveEngine" in report["raised"]
    assert numpy.all(numpy.isfinite(report["losses"]))
    numpy.testing.assert_allclose(report["losses"], short_run(), rtol=1e-5)


def test_the_loss_is_gluons_even_for_confident_mistakes():
    """The reported loss is Gluon's softmax cross-entropy, also for examples it gets badly wrong (MXNet's fused
    ``softmax_cross_entropy`` operator caps each example's loss near 18.4), and so is the step."""
    X, y = problem(32)
    X, y = np.array(X * 40), np.array((y + 1) % 3)  # large logits, mostly wrong: losses of 50 and more
    net_a, net_b = mlp(), mlp()
    loss_sum, correct = engine.Engine(net_a, LOSS, lr=1e-3).step(X, y)
    trainer = gluon.Trainer(net_b.collect_params(), "sgd", {"learning_rate": 1e-3})
    expected_correct = float(training.accuracy_count(net_b(X), y))
    assert int((LOSS(net_b(X), y) > 20).sum()) >= 5  # the regime where the fused operator reports less
    expected = reference_step(net_b, X, y, trainer)
    assert loss_sum == pytest.approx(expected, rel=1e-6)
    assert correct == expected_correct
    assert_same_weights(net_a, net_b, tol=1e-5)


def test_softmax_cross_entropy_head_matches_the_formula():
    rng = numpy.random.default_rng(5)
    logits = rng.normal(0, 30, (64, 10)).astype(numpy.float32)
    labels = rng.integers(0, 10, 64)
    grad = numpy.empty_like(logits)
    loss_sum, correct = engine.softmax_cross_entropy_head(logits, labels, grad)
    z = logits.astype(numpy.float64)
    log_probs = z - z.max(axis=1, keepdims=True)
    log_probs -= numpy.log(numpy.exp(log_probs).sum(axis=1, keepdims=True))
    assert loss_sum == pytest.approx(-log_probs[numpy.arange(64), labels].sum(), rel=1e-6)
    assert correct == int((logits.argmax(axis=1) == labels).sum())
    expected = numpy.exp(log_probs)
    expected[numpy.arange(64), labels] -= 1
    numpy.testing.assert_allclose(grad, expected, atol=1e-6)


def test_images_stored_as_bytes_are_gathered_as_bytes_and_train_the_same():
    rng = numpy.random.default_rng(2)
    pixels = rng.integers(0, 256, (600, 6), dtype=numpy.uint8)
    X = pixels.astype(numpy.float32) / 255.0  # how regbook.data makes its images
    y = (X[:, :3].argmax(axis=1)).astype(numpy.int32)
    numpy.testing.assert_array_equal(engine.byte_images(object(), X), pixels)
    assert engine.byte_images(object(), X + numpy.float32(1e-3)) is None  # not bytes / 255
    assert engine.byte_images(object(), X - 0.5) is None  # negative
    assert engine.byte_images(object(), X.astype(numpy.float64)) is None
    net_a, net_b = mlp(), mlp()
    batches_a, batches_b = (data.ArrayBatches(X, y, 64, shuffle=True, seed=4) for _ in range(2))
    for (loss_a, _), (loss_b, _) in side_by_side(net_a, net_b, batches_a, batches_b, lr=0.2):
        assert loss_a == pytest.approx(loss_b, rel=1e-5)
    assert engine.byte_images(batches_a.features, None) is not None  # the engine did take the bytes
    assert_same_weights(net_a, net_b, tol=1e-5)


def test_numpy_view_shares_memory_with_the_mxnet_array():
    array = np.zeros((3, 4))
    view = engine.numpy_view(array)
    view[1, 2] = 5.0
    assert float(array[1, 2]) == 5.0
    array[0, 0] = 7.0
    assert view[0, 0] == 7.0


# ---------------------------------------------------------------------------------------------------------------
# The book's MLP on Fashion-MNIST: the same curves as the textbook loop, up to seed noise
# ---------------------------------------------------------------------------------------------------------------

SEEDS, EPOCHS, IMAGES, BATCH = (0, 1, 2, 3), 2, 4096, 64


def fashion_run(seed, use_engine):
    """The chapter's MLP (dropout 0.2/0.5) with Xavier weights (no slow start), on 4096 images; test on 5000."""
    from regbook.chapters.dropout import mlp_gluon

    set_seed(seed)
    train_iter, test_iter = data.fashion_mnist_batches(BATCH, flatten=True, seed=seed, limit_train=IMAGES)
    test_iter = data.ArrayBatches(test_iter.features[:5000], test_iter.labels[:5000], 500)
    net = mlp_gluon()
    net.initialize(init.Xavier(), force_reinit=True)
    if use_engine:
        run = engine.Engine(net, LOSS, lr=0.1)
        losses = [run.train_epoch(train_iter)[0] for _ in range(EPOCHS)]
    else:
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
        losses = [training.train_epoch(net, train_iter, LOSS, trainer.step)[0] for _ in range(EPOCHS)]
    return losses, training.evaluate_accuracy(net, test_iter)


def test_the_books_mlp_learns_as_with_the_textbook_loop():
    """Mean curves over 4 seeds: train loss per epoch within 0.04, test accuracy within 0.025.

    The two loops draw different dropout masks, so single runs differ by seed noise (here about 0.01 in loss
    and in accuracy); the tolerances are about four standard errors of the difference of the means.
    """
    try:
        data.fashion_mnist_files(download_missing=False)
    except data.DataError:
        pytest.skip("Fashion-MNIST is not installed")
    fast = [fashion_run(seed, True) for seed in SEEDS]
    plain = [fashion_run(seed, False) for seed in SEEDS]
    loss_fast, loss_plain = (numpy.mean([run[0] for run in runs], axis=0) for runs in (fast, plain))
    acc_fast, acc_plain = (numpy.mean([run[1] for run in runs]) for runs in (fast, plain))
    numpy.testing.assert_allclose(loss_fast, loss_plain, atol=0.04)
    assert loss_fast[-1] < loss_fast[0]
    assert abs(acc_fast - acc_plain) < 0.025
    assert acc_fast > 0.7


def test_a_parameters_wd_mult_is_honoured_and_lr_mult_refused():
    """Weight decay on the weights only (``wd_mult = 0`` on the biases), as Gluon's sgd does it."""
    X, y = problem(96)
    X, y = np.array(X), np.array(y)
    net_a, net_b = mlp(), mlp()
    for net in (net_a, net_b):
        net.collect_params(".*bias").setattr("wd_mult", 0.0)
    trainer = gluon.Trainer(net_b.collect_params(), "sgd", {"learning_rate": 0.05, "wd": 0.5})
    run = engine.Engine.from_trainer(net_a, LOSS, trainer)
    for start in (0, 32, 64):
        run.step(X[start:start + 32], y[start:start + 32])
        reference_step(net_b, X[start:start + 32], y[start:start + 32], trainer)
    assert_same_weights(net_a, net_b, tol=1e-5)
    net_c = mlp()
    net_c.collect_params(".*weight").setattr("lr_mult", 0.5)
    with pytest.raises(NotImplementedError, match="lr_mult"):
        engine.Engine(net_c, LOSS, lr=0.1).step(X[:8], y[:8])
    net_d = mlp()
    net_d.collect_params(".*bias").setattr("grad_req", "add")
    with pytest.raises(NotImplementedError, match="grad_req"):
        engine.Engine(net_d, LOSS, lr=0.1).step(X[:8], y[:8])


def test_a_cnn_predicts_between_epochs_and_keeps_training_the_same_weights():
    """oneDNN's convolution rewrites its weights in place when it predicts, and refuses views: the network
    gets its own copies at the end of each epoch, and the next epoch trains on from them."""
    rng = numpy.random.default_rng(1)
    X = rng.normal(size=(64, 1, 28, 28)).astype(numpy.float32)
    y = (X[:, 0, :14].sum(axis=(1, 2)) > 0).astype(numpy.int32)

    def build():
        return cnn(X, [nn.Conv2D(32, 3, activation="relu"), nn.MaxPool2D(2),
                       nn.Conv2D(64, 3, activation="relu")], init.Xavier(), seed=2)

    net_a, net_b = build(), build()
    batches = data.ArrayBatches(X, y, 16)
    for (loss_a, _), (loss_b, _) in side_by_side(net_a, net_b, batches, batches, lr=0.05, epochs=3):
        assert loss_a == pytest.approx(loss_b, rel=1e-4)
        assert training.evaluate_accuracy(net_a, batches) == training.evaluate_accuracy(net_b, batches)
    assert_same_weights(net_a, net_b, tol=1e-4)
