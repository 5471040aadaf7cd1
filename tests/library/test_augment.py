"""Each augmentation has the property that defines it (regbook.augment); the Cutout block is in
test_layers_cutout.py."""

import numpy
import pytest
from mxnet import np as mnp
from mxnet import npx

import regbook  # noqa: F401  (compat shims before MXNet)
from regbook import augment

npx.set_np()


def batch(shape=(5, 3, 12, 10), seed=0):
    return mnp.array(numpy.random.default_rng(seed).random(shape).astype(numpy.float32))


def as_numpy(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else numpy.asarray(x)


def close(a, b, tol=1e-5):
    return float(numpy.abs(as_numpy(a) - as_numpy(b)).max()) <= tol


# --- Cutout (the function; regbook.layers.Cutout wraps it) --------------------------------------------


def test_cutout_zeroes_exactly_a_square_clipped_at_the_borders():
    X = mnp.ones((200, 2, 9, 11))
    size = 4
    rng = numpy.random.default_rng(3)
    Y = as_numpy(augment.cutout(X, size, rng))
    # replay the generator to know each centre and the expected clipped area
    replay = numpy.random.default_rng(3)
    cy, cx = replay.integers(0, 9, size=200), replay.integers(0, 11, size=200)
    top, left = cy - size // 2, cx - size // 2
    rows = numpy.minimum(top + size, 9) - numpy.maximum(top, 0)
    cols = numpy.minimum(left + size, 11) - numpy.maximum(left, 0)
    zeros = (Y == 0).sum(axis=(2, 3))
    assert (zeros[:, 0] == rows * cols).all() and (zeros[:, 1] == zeros[:, 0]).all()
    assert (rows * cols == size * size).any() and (rows * cols < size * size).any()  # both cases occurred
    for i in range(200):  # the zeros form one axis-aligned rectangle containing the centre
        ys, xs = numpy.nonzero(Y[i, 0] == 0)
        assert (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1) == len(ys)
        assert ys.min() <= cy[i] <= ys.max() and xs.min() <= cx[i] <= xs.max()


def test_cutout_keeps_other_pixels_and_does_not_modify_input():
    X = batch()
    before = as_numpy(X).copy()
    Y = as_numpy(augment.cutout(X, 5, numpy.random.default_rng(0)))
    kept = Y != 0
    assert close(Y[kept], before[kept], 0) and close(as_numpy(X), before, 0)
    assert isinstance(augment.cutout(X, 5), mnp.ndarray)


def test_cutout_centre_is_uniform_over_the_image():
    mask = augment.cutout_mask((20000, 1, 6, 6), 1, numpy.random.default_rng(1))
    counts = (mask[:, 0] == 0).sum(axis=0)  # a 1x1 square: where each centre fell
    assert counts.sum() == 20000
    assert abs(counts.mean() - 20000 / 36) < 1e-9 and counts.min() > 0.8 * 20000 / 36


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4"])
def test_cutout_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="size"):
        augment.cutout(batch(), bad)
    with pytest.raises(ValueError, match="size"):
        augment.cutout_mask((2, 1, 5, 5), bad)


def test_cutout_rejects_unbatched_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        augment.cutout(mnp.ones((8, 8)), 2)


# --- Flips -----------------------------------------------------------------------------------------


def test_flip_twice_is_identity_and_flip_reverses_columns():
    X = batch()
    assert close(augment.hflip(augment.hflip(X)), X, 0)
    assert close(augment.vflip(augment.vflip(X)), X, 0)
    assert close(as_numpy(augment.hflip(X))[..., 0], as_numpy(X)[..., -1], 0)
    assert not close(augment.hflip(X), X)


def test_vertical_flip_is_rotation_by_180_then_horizontal_flip():
    X = batch()
    assert close(augment.vflip(X), augment.hflip(augment.rotate180(X)), 0)
    square = batch((3, 2, 9, 9))
    assert close(augment.rotate(square, 180), augment.rotate180(square))


def test_random_hflip_flips_each_image_or_leaves_it():
    X = batch((400, 1, 4, 5))
    Y = as_numpy(augment.random_hflip(X, p=0.5, rng=numpy.random.default_rng(0)))
    original, mirrored = as_numpy(X), as_numpy(augment.hflip(X))
    flipped = numpy.array([close(y, mirrored[i], 0) for i, y in enumerate(Y)])
    kept = numpy.array([close(y, original[i], 0) for i, y in enumerate(Y)])
    assert (flipped ^ kept).all() and 150 < flipped.sum() < 250
    assert close(augment.random_hflip(X, p=0.0), X, 0)
    assert close(augment.random_vflip(X, p=1.0), augment.vflip(X), 0)
    with pytest.raises(ValueError, match="probability"):
        augment.random_hflip(X, p=1.5)


def test_hflip_matches_gluon():
    from mxnet.gluon.data.vision import transforms

    X = batch((1, 3, 6, 8))  # even width: MXNet 1.9.1 leaves the middle column of odd widths unset
    hwc = mnp.array(as_numpy(X)[0].transpose(1, 2, 0))
    flipped = npx.image.flip_left_right(hwc)  # the op behind transforms.RandomFlipLeftRight
    assert close(as_numpy(flipped).transpose(2, 0, 1), as_numpy(augment.hflip(X))[0], 0)
    assert isinstance(transforms.RandomFlipLeftRight()(hwc), mnp.ndarray)


# --- Geometry --------------------------------------------------------------------------------------


def test_rotation_by_90_is_a_quarter_turn_and_rotations_compose():
    X = batch((3, 2, 8, 8))
    assert close(augment.rotate(X, 90), numpy.rot90(as_numpy(X), 1, axes=(2, 3)))
    assert close(augment.rotate(X, -90), numpy.rot90(as_numpy(X), -1, axes=(2, 3)))
    assert close(augment.rotate(augment.rotate(X, 90), 90), augment.rotate(X, 180))
    assert close(augment.rotate(X, 0), X)


def test_rotation_keeps_a_centred_disc():
    n = 33
    yy, xx = numpy.mgrid[:n, :n] - (n - 1) / 2
    disc = (numpy.hypot(yy, xx) < 10).astype(numpy.float32)[None, None]
    for angle in (17.0, 45.0, 123.0):
        turned = as_numpy(augment.rotate(mnp.array(disc), angle))
        inner, outer = numpy.hypot(yy, xx) < 8.5, numpy.hypot(yy, xx) > 11.5
        assert close(turned[0, 0][inner], 1.0) and close(turned[0, 0][outer], 0.0)


def test_translation_shifts_whole_pixels_and_fills_zeros():
    X = batch()
    Y = as_numpy(augment.translate(X, 3, -2))
    expected = numpy.zeros_like(Y)
    expected[:, :, :-2, 3:] = as_numpy(X)[:, :, 2:, :-3]
    assert close(Y, expected)
    per_image = as_numpy(augment.translate(X[:2], [1, 0], [0, 1]))
    assert close(per_image[0, :, :, 1:], as_numpy(X)[0, :, :, :-1]) and close(per_image[1, :, 0], 0)


def test_scaling_by_two_magnifies_the_centre():
    # a linear ramp: zooming by 2 about the centre halves its slope
    ramp = numpy.tile(numpy.arange(9, dtype=numpy.float32), (9, 1))[None, None]
    zoomed = as_numpy(augment.scale(mnp.array(ramp), 2.0))[0, 0]
    assert close(zoomed, 4 + (ramp[0, 0] - 4) / 2)
    shrunk = as_numpy(augment.scale(mnp.ones((1, 1, 9, 9)), 0.5))[0, 0]
    assert close(shrunk[2:7, 2:7], 1.0) and close(shrunk[0], 0.0)
    with pytest.raises(ValueError, match="positive"):
        augment.scale(mnp.ones((1, 1, 4, 4)), 0.0)


def test_random_geometry_draws_within_ranges():
    X = batch((50, 1, 16, 16))
    assert augment.random_rotate(X, 30, numpy.random.default_rng(0)).shape == X.shape
    shifted = as_numpy(augment.random_translate(mnp.ones((50, 1, 16, 16)), 3, numpy.random.default_rng(0)))
    zero_cols = (shifted[:, 0, 8] == 0).sum(axis=1)
    assert zero_cols.max() <= 3 and zero_cols.max() > 0
    grown = augment.random_scale(mnp.ones((50, 1, 16, 16)), 1.0, 1.5, numpy.random.default_rng(0))
    assert close(grown, 1.0)  # zooming in never reveals the outside


# --- Crops -----------------------------------------------------------------------------------------


def test_crop_has_requested_size_and_is_a_window_of_the_input():
    X = batch((6, 2, 10, 12))
    assert augment.crop(X, 1, 2, 4, 5).shape == (6, 2, 4, 5)
    assert close(augment.crop(X, 1, 2, 4, 5), as_numpy(X)[:, :, 1:5, 2:7], 0)
    with pytest.raises(ValueError, match="does not fit"):
        augment.crop(X, 8, 0, 4, 4)


def test_random_crop_has_requested_size_and_comes_from_the_padded_image():
    X = batch((40, 2, 10, 10))
    padded = numpy.pad(as_numpy(X), ((0, 0), (0, 0), (2, 2), (2, 2)))
    Y = as_numpy(augment.random_crop(X, 7, padding=2, rng=numpy.random.default_rng(0)))
    assert Y.shape == (40, 2, 7, 7)
    corners = set()
    for i in range(40):
        matches = [(t, left) for t in range(8) for left in range(8)
                   if close(padded[i, :, t:t + 7, left:left + 7], Y[i], 0)]  # exact: no interpolation
        assert matches, f"image {i} is not a window of its padded image"
        corners.add(matches[0])
    assert len(corners) > 10  # windows really vary
    with pytest.raises(ValueError, match="larger than the padded image"):
        augment.random_crop(X, 15, padding=2)


def test_random_resized_crop_keeps_the_size_and_stays_inside():
    X = mnp.ones((30, 3, 12, 16))
    Y = augment.random_resized_crop(X, area=(0.3, 0.6), rng=numpy.random.default_rng(0))
    assert Y.shape == X.shape and close(Y, 1.0)  # the crop never leaves the image
    with pytest.raises(ValueError, match="area"):
        augment.random_resized_crop(X, area=(0.5, 1.5))


# --- Photometric -----------------------------------------------------------------------------------


def test_brightness_scales_pixels_and_clips():
    X = batch() * 0.5
    assert close(augment.adjust_brightness(X, 1.5), as_numpy(X) * 1.5)
    assert float(augment.adjust_brightness(X, 3.0).max()) <= 1.0


def test_contrast_keeps_the_mean_grey_and_scales_deviations():
    X = batch() * 0.4 + 0.3
    Y = augment.adjust_contrast(X, 0.5)
    mean_x = as_numpy(augment.grey_level(X)).mean(axis=(1, 2, 3))
    mean_y = as_numpy(augment.grey_level(Y)).mean(axis=(1, 2, 3))
    assert close(mean_x, mean_y)
    dev_x = as_numpy(X) - mean_x[:, None, None, None]
    dev_y = as_numpy(Y) - mean_y[:, None, None, None]
    assert close(dev_y, 0.5 * dev_x)


def test_saturation_zero_is_grey_and_keeps_the_grey_level():
    X = batch()
    grey = as_numpy(augment.adjust_saturation(X, 0.0))
    assert close(grey[:, 0], grey[:, 1]) and close(grey[:, 1], grey[:, 2])
    assert close(grey[:, :1], augment.grey_level(X))
    assert close(augment.adjust_saturation(X, 1.0), X)


def test_color_jitter_factors_stay_in_range():
    X = mnp.full((500, 1, 2, 2), 0.5)
    Y = as_numpy(augment.color_jitter(X, brightness=0.2, rng=numpy.random.default_rng(0)))[:, 0, 0, 0]
    factors = Y / 0.5
    assert factors.min() >= 0.8 - 1e-6 and factors.max() <= 1.2 + 1e-6
    assert factors.min() < 0.82 and factors.max() > 1.18  # the whole range is used
    assert close(augment.color_jitter(X), X, 0)
    with pytest.raises(ValueError, match="brightness"):
        augment.color_jitter(X, brightness=1.5)


def test_noise_has_the_requested_variance_and_zero_mean():
    X = mnp.full((20, 3, 32, 32), 0.5)
    noise = as_numpy(augment.gaussian_noise(X, 0.1, numpy.random.default_rng(0))) - 0.5
    assert abs(noise.var() - 0.01) < 0.0005 and abs(noise.mean()) < 0.002
    assert float(augment.gaussian_noise(X, 2.0, clip=True).max()) <= 1.0
    with pytest.raises(ValueError, match="std"):
        augment.gaussian_noise(X, -1.0)


def test_same_generator_seed_same_result_and_numpy_input_stays_numpy():
    X = batch()
    a = augment.random_crop(X, 8, rng=numpy.random.default_rng(5))
    b = augment.random_crop(X, 8, rng=numpy.random.default_rng(5))
    assert close(a, b, 0)
    plain = augment.random_rotate(as_numpy(X), 20, numpy.random.default_rng(0))
    assert isinstance(plain, numpy.ndarray) and plain.dtype == numpy.float32
    with pytest.raises(ValueError, match="Generator"):
        augment.cutout(X, 2, rng=3)


def test_rotate_matches_mxnet_imrotate():
    import mxnet as mx

    X = batch((2, 3, 9, 9))
    for angle in (30.0, 90.0, -45.0):
        reference = mx.image.imrotate(X.as_nd_ndarray(), angle).as_np_ndarray()
        assert close(augment.rotate(X, angle), reference, 1e-4)
