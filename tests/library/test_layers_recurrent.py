"""The defining property of each dropout placement of :class:`regbook.layers.DropoutLSTM`, on tiny inputs."""

import numpy
import pytest

import regbook.notebook
from regbook import layers
from regbook.seeding import set_seed

regbook.notebook.setup(0)
layers.use_one_omp_thread()

from mxnet import autograd, np  # noqa: E402  (after setup switched MXNet to its NumPy interface)

DROPPING = [m for m in layers.METHODS if m != "none"]


def make_layer(method, rate=0.5, hidden=8, inputs=5, seed=0, **kwargs):
    set_seed(seed)
    layer = layers.DropoutLSTM(hidden, inputs, method, 0.0 if method == "none" else rate, **kwargs)
    layer.initialize()
    return layer


def random_inputs(batch=16, steps=6, features=5, seed=1):
    return np.array(numpy.random.default_rng(seed).normal(size=(batch, steps, features)).astype("float32"))


def run_recorded(layer, x, begin_state=None, training=True):
    layer.record = layers.StepRecord()
    with autograd.record(train_mode=training):
        out, (h, c) = layer(x, begin_state)
    return out.asnumpy(), h.asnumpy(), c.asnumpy(), layer.record


# --- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, "half", None])
def test_invalid_rates_are_rejected(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        layers.DropoutLSTM(4, 3, "variational", rate)
    if rate is not None:  # input_rate=None means "the same as rate"
        with pytest.raises(ValueError, match="input_rate"):
            layers.DropoutLSTM(4, 3, "variational", 0.2, input_rate=rate)


def test_the_rate_check_is_the_one_of_regbook_layers():
    assert layers.check_rate(0.3, "rate", allow_one=False) == 0.3
    with pytest.raises(ValueError, match=r"rate is a drop probability and must be a number in \[0, 1\)"):
        layers.check_rate(1.0, "rate", allow_one=False)


def test_unknown_method_and_misplaced_options_are_rejected():
    with pytest.raises(ValueError, match="choose one of"):
        layers.DropoutLSTM(4, 3, "zoneout", 0.2)
    with pytest.raises(ValueError, match="choose one of"):
        layers.check_method("zoneout")
    assert layers.check_method("rnndrop") == "rnndrop"
    with pytest.raises(ValueError, match="input_rate only applies"):
        layers.DropoutLSTM(4, 3, "recurrent", 0.2, input_rate=0.1)
    with pytest.raises(ValueError, match="rate=0"):
        layers.DropoutLSTM(4, 3, "none", 0.2)
    with pytest.raises(ValueError, match="positive"):
        layers.DropoutLSTM(0, 3, "none")
    layer = make_layer("none")
    with pytest.raises(ValueError, match="expected inputs of shape"):
        layer(np.zeros((2, 3, 4)))


# --- inference: every method is the plain LSTM ------------------------------------------------------------

@pytest.mark.parametrize("method", DROPPING)
def test_identity_at_inference_and_random_in_training(method):
    x = random_inputs()
    plain = make_layer("none")
    dropped = make_layer(method, rate=0.5)  # same seed: same initial weights
    expected = plain(x)[0].asnumpy()
    numpy.testing.assert_allclose(dropped(x)[0].asnumpy(), expected, rtol=1e-5, atol=1e-6)
    dropped.hybridize()
    numpy.testing.assert_allclose(dropped(x)[0].asnumpy(), expected, rtol=1e-5, atol=1e-6)
    with autograd.record():  # training mode: the masks must change something
        trained_output = dropped(x)[0].asnumpy()
    assert numpy.abs(trained_output - expected).max() > 1e-2


def test_matches_gluon_lstm_cell_and_its_variational_dropout_at_inference():
    import mxnet as mx
    from mxnet.gluon import rnn
    from mxnet.gluon.contrib.rnn import VariationalDropoutCell

    x = random_inputs(batch=3, steps=4, features=5)
    with mx.util.np_array(False), mx.util.np_shape(False):
        cell = VariationalDropoutCell(rnn.LSTMCell(8, input_size=5), drop_inputs=0.3, drop_states=0.3)
        cell.initialize(mx.init.Normal(0.5))
        reference, _ = cell.unroll(4, mx.nd.array(x.asnumpy()), layout="NTC", merge_outputs=True)
    layer = make_layer("variational", rate=0.3, inputs=5)
    layers.copy_from_gluon_cell(layer, cell.base_cell)
    numpy.testing.assert_allclose(layer(x)[0].asnumpy(), reference.asnumpy(), rtol=1e-4, atol=1e-5)


def test_forget_gate_bias_starts_open():
    layer = make_layer("none", hidden=4, forget_bias=1.0)
    bias = layer.bias.data().asnumpy()
    numpy.testing.assert_array_equal(bias[4:8], 1.0)
    numpy.testing.assert_array_equal(numpy.delete(bias, range(4, 8)), 0.0)


# --- masks: per sequence or per step ----------------------------------------------------------------------

def zero_input_gradients(method, input_rate):
    layer = make_layer(method, rate=0.3, input_rate=input_rate)
    x = random_inputs(batch=32)
    x.attach_grad()
    with autograd.record():
        total = layer(x)[0].sum()
    total.backward()
    return x.grad.asnumpy() == 0  # (batch, time, features): where the input was dropped


def test_variational_input_mask_is_the_same_at_every_step():
    dropped = zero_input_gradients("variational", 0.5)
    assert 0.3 < dropped.mean() < 0.7
    assert (dropped == dropped[:, :1, :]).all()


def test_io_input_mask_is_fresh_at_every_step():
    dropped = zero_input_gradients("io", 0.5)
    assert 0.3 < dropped.mean() < 0.7
    assert (dropped != dropped[:, :1, :]).any(axis=(0, 2))[1:].all()


@pytest.mark.parametrize(("method", "site", "per_sequence"), [
    ("variational", "hidden", True), ("rnndrop", "cell", True),
    ("naive", "cell", False), ("recurrent", "update", False),
])
def test_recorded_masks_per_sequence_or_per_step(method, site, per_sequence):
    p = 0.4
    layer = make_layer(method, rate=p, hidden=64)
    *_, record = run_recorded(layer, random_inputs(batch=64))
    masks = [m.asnumpy() for m in record.masks[site]]
    assert len(masks) == 6
    assert numpy.mean([(m == 0).mean() for m in masks]) == pytest.approx(p, abs=0.05)
    same = [numpy.array_equal(masks[0], m) for m in masks[1:]]
    assert all(same) if per_sequence else not any(same)


def test_rnndrop_mask_is_zero_one_on_the_cell_and_scaled_on_the_output():
    layer = make_layer("rnndrop", rate=0.25, hidden=32)
    out, _, _, record = run_recorded(layer, random_inputs(batch=32))
    mask = record.masks["cell"][0].asnumpy()
    assert set(numpy.unique(mask)) == {0.0, 1.0}
    for cell in record.cells:
        assert (cell.asnumpy()[mask == 0] == 0).all()
    assert (out[:, :, :][numpy.broadcast_to(mask[:, None, :], out.shape) == 0] == 0).all()


# --- what happens to the memory ---------------------------------------------------------------------------

def remember(method, rate=0.5, steps=8, seed=0):
    """c_T / c_0 of a cell whose forget gate is open and input gate shut (a perfect memory)."""
    layer = make_layer(method, rate=rate, hidden=64, seed=seed)
    layers.make_perfect_memory(layer)
    x = random_inputs(batch=64, steps=steps)
    c0 = np.array(numpy.random.default_rng(2).uniform(1, 2, size=(64, 64)).astype("float32"))
    _, _, c, _ = run_recorded(layer, x, (np.zeros_like(c0), c0))
    return c / c0.asnumpy()


@pytest.mark.parametrize("method", ["recurrent", "variational", "io"])
def test_cell_state_untouched_by_methods_that_do_not_drop_it(method):
    numpy.testing.assert_allclose(remember(method), 1.0, rtol=1e-5)


def test_naive_dropout_wipes_the_memory_step_after_step():
    p, steps = 0.5, 4
    ratio = remember("naive", p, steps)
    survived = ratio != 0
    assert survived.mean() == pytest.approx((1 - p) ** steps, abs=0.04)
    numpy.testing.assert_allclose(ratio[survived], (1 - p) ** -steps, rtol=1e-4)


def test_rnndrop_keeps_the_surviving_memory_intact():
    p = 0.5
    ratio = remember("rnndrop", p, steps=8)
    assert set(numpy.unique(ratio.round(5))) == {0.0, 1.0}
    assert (ratio == 0).mean() == pytest.approx(p, abs=0.05)


def test_recurrent_dropout_drops_the_update_only():
    layer = make_layer("recurrent", rate=0.5, hidden=32)
    layers.set_gate_biases(layer, input_gate=30.0, forget_gate=-30.0, update=0.5, output_gate=10.0)  # c_t = g_t
    _, _, _, record = run_recorded(layer, random_inputs(batch=32))
    for cell, mask in zip(record.cells, record.masks["update"], strict=True):
        numpy.testing.assert_allclose(cell.asnumpy(), numpy.tanh(0.5) * mask.asnumpy(), rtol=1e-5, atol=1e-6)


def test_record_is_refused_when_hybridized():
    layer = make_layer("naive")
    layer.hybridize()
    layer.record = layers.StepRecord()
    with pytest.raises(ValueError, match="hybridize"):
        layer(random_inputs())
