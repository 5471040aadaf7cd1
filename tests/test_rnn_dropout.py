"""The defining property of each dropout placement in :mod:`regbook.rnn_dropout`, on tiny inputs."""

import numpy
import pytest

import regbook.notebook
from regbook import rnn_dropout as rd

regbook.notebook.setup(0)
rd.use_one_omp_thread()

from mxnet import autograd, np  # noqa: E402  (after setup switched MXNet to its NumPy interface)

DROPPING = [m for m in rd.METHODS if m != "none"]


def make_layer(method, rate=0.5, hidden=8, inputs=5, seed=0, **kwargs):
    regbook.seeding.set_seed(seed)
    layer = rd.DropoutLSTM(hidden, inputs, method, 0.0 if method == "none" else rate, **kwargs)
    layer.initialize()
    return layer


def random_inputs(batch=16, steps=6, features=5, seed=1):
    return np.array(numpy.random.default_rng(seed).normal(size=(batch, steps, features)).astype("float32"))


def run_recorded(layer, x, begin_state=None, training=True):
    layer.record = rd.StepRecord()
    with autograd.record(train_mode=training):
        out, (h, c) = layer(x, begin_state)
    return out.asnumpy(), h.asnumpy(), c.asnumpy(), layer.record


# --- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, "half", None])
def test_invalid_rates_are_rejected(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        rd.DropoutLSTM(4, 3, "variational", rate)
    if rate is not None:  # input_rate=None means "the same as rate"
        with pytest.raises(ValueError, match="input_rate"):
            rd.DropoutLSTM(4, 3, "variational", 0.2, input_rate=rate)


def test_unknown_method_and_misplaced_options_are_rejected():
    with pytest.raises(ValueError, match="choose one of"):
        rd.DropoutLSTM(4, 3, "zoneout", 0.2)
    with pytest.raises(ValueError, match="input_rate only applies"):
        rd.DropoutLSTM(4, 3, "recurrent", 0.2, input_rate=0.1)
    with pytest.raises(ValueError, match="rate=0"):
        rd.DropoutLSTM(4, 3, "none", 0.2)
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
    rd.copy_from_gluon_cell(layer, cell.base_cell)
    numpy.testing.assert_allclose(layer(x)[0].asnumpy(), reference.asnumpy(), rtol=1e-4, atol=1e-5)


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
    rd.make_perfect_memory(layer)
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
    rd.set_gate_biases(layer, input_gate=30.0, forget_gate=-30.0, update=0.5, output_gate=10.0)  # c_t = g_t
    _, _, _, record = run_recorded(layer, random_inputs(batch=32))
    for cell, mask in zip(record.cells, record.masks["update"], strict=True):
        numpy.testing.assert_allclose(cell.asnumpy(), numpy.tanh(0.5) * mask.asnumpy(), rtol=1e-5, atol=1e-6)


def test_record_is_refused_when_hybridized():
    layer = make_layer("naive")
    layer.hybridize()
    layer.record = rd.StepRecord()
    with pytest.raises(ValueError, match="hybridize"):
        layer(random_inputs())


# --- data and training ------------------------------------------------------------------------------------

def test_sunspot_file_checksum_is_verified(monkeypatch):
    assert rd.sunspots_file().name == "sunspots.csv"
    monkeypatch.setattr(rd, "SUNSPOTS_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        rd.sunspots()


def test_sunspot_windows_are_consecutive_and_split_by_year():
    data = rd.sunspot_windows(window=10, val_from=1950)
    years, counts = rd.sunspots()
    assert len(years) == 309 and years[0] == 1700
    assert data.X_train.shape[1:] == (10, 1)
    assert len(data.y_train) + len(data.y_val) == 309 - 10
    assert data.years_val[0] == 1950 and len(data.y_val) == 2008 - 1950 + 1
    numpy.testing.assert_allclose(data.X_train[1:, -1, 0], data.y_train[:-1])
    numpy.testing.assert_allclose(data.unscale(data.y_val), counts[years >= 1950], rtol=1e-4, atol=1e-3)
    assert abs(data.y_train.mean()) < 0.1


@pytest.mark.parametrize(("kwargs", "match"), [({"window": 0}, "window"), ({"val_from": 1700}, "val_from"),
                                               ({"val_from": 2050}, "val_from")])
def test_sunspot_windows_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rd.sunspot_windows(**kwargs)


def test_fit_forecaster_learns_something():
    data = rd.sunspot_windows(window=6)
    regbook.seeding.set_seed(0)
    net = rd.make_forecaster("variational", 0.2, hidden_size=8, input_rate=0.0)
    net.initialize()
    net.hybridize()
    result = rd.fit_forecaster(net, data, epochs=6, batch_size=64, lr=0.02, progress=False)
    assert len(result.val_loss) == len(result.train_loss) == 6
    assert result.train_loss[-1] < 0.6 * result.train_loss[0]
    assert result.val_loss[-1] < 0.8  # variance of the standardised series is about 1
    with pytest.raises(ValueError, match="positive"):
        rd.fit_forecaster(net, data, epochs=0)
