"""Data augmentation on batches of images: the transforms Gluon lacks, written once.

Every function takes a batch ``X`` of shape (N, C, H, W) -- an ``mxnet.np`` array (a plain NumPy array
works too and gives one back) -- and returns a *new* array of the same kind; the input is never changed.
Randomness comes from a ``numpy.random.Generator`` passed as ``rng``; without one a fresh generator is
seeded from NumPy's global state, so ``regbook.seeding.set_seed`` makes every call reproducible.

The data-augmentation chapter (``notebooks/augmentation.ipynb``) shows each transform on photographs and
on Fashion-MNIST; the dropout-family chapter uses :func:`cutout` through the :class:`regbook.layers.Cutout` block.
"""

from __future__ import annotations

import numbers

import numpy

from regbook import compat as _compat  # noqa: F401

# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------


def _generator(rng: numpy.random.Generator | None) -> numpy.random.Generator:
    """``rng`` itself, or a new generator seeded from NumPy's global state (which ``set_seed`` seeds)."""
    if rng is None:
        return numpy.random.default_rng(numpy.random.randint(0, 2**31 - 1))
    if not isinstance(rng, numpy.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)) or None, "
                         f"got {type(rng).__name__}")
    return rng


def _check_batch(X, name: str = "X") -> tuple[int, int, int, int]:
    """The shape (N, C, H, W) of ``X``, or a ValueError that says what shape is expected."""
    shape = tuple(getattr(X, "shape", ()))
    if len(shape) != 4:
        raise ValueError(f"{name} must be a batch of images of shape (N, C, H, W), got shape {shape}; "
                         "add a batch axis with X[None] or a channel axis with X[:, None]")
    return shape  # type: ignore[return-value]


def _like(values: numpy.ndarray, X):
    """``values`` (plain NumPy) as an array of the same kind, dtype and device as ``X``."""
    if isinstance(X, numpy.ndarray):
        return values.astype(X.dtype, copy=False)
    from mxnet import np as mnp

    return mnp.array(values, dtype=X.dtype, ctx=X.ctx)


def check_size(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------------------------------
# Cutout (DeVries & Taylor 2017)
# ----------------------------------------------------------------------------------------------------


def cutout_mask(shape: tuple[int, int, int, int], size: int,
                rng: numpy.random.Generator | None = None) -> numpy.ndarray:
    """A float32 mask of shape (N, 1, H, W): 0 inside one size×size square per image, 1 elsewhere.

    The square's centre is uniform over the H×W pixels; the square is clipped at the borders, so near an
    edge fewer than size² pixels are zeroed (DeVries & Taylor 2017 draw it this way, so that on average
    less of the border is hidden). Rows ``cy - size//2 ... cy - size//2 + size - 1`` are covered.
    """
    n, _, height, width = shape
    size = check_size(size, "size")
    rng = _generator(rng)
    cy = rng.integers(0, height, size=n)
    cx = rng.integers(0, width, size=n)
    top, left = cy - size // 2, cx - size // 2
    rows, cols = numpy.arange(height), numpy.arange(width)
    in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + size)  # (N, H)
    in_cols = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + size)  # (N, W)
    hidden = in_rows[:, :, None] & in_cols[:, None, :]
    return (~hidden).astype(numpy.float32)[:, None]


def cutout(X, size: int, rng: numpy.random.Generator | None = None):
    """Cutout: a copy of ``X`` (N, C, H, W) with one size×size square per image set to zero in every channel.

    The centre of each square is uniform over the image and the square is clipped at the borders
    (DeVries & Taylor 2017). Works under ``autograd.record()``: gradients flow through the kept pixels.
    """
    shape = _check_batch(X)
    mask = cutout_mask(shape, size, rng)
    return X * _like(mask, X)


# ----------------------------------------------------------------------------------------------------
# Flips
# ----------------------------------------------------------------------------------------------------


def hflip(X):
    """Mirror every image left to right (reverse the width axis)."""
    _check_batch(X)
    return X[:, :, :, ::-1].copy()


def vflip(X):
    """Mirror every image top to bottom (reverse the height axis): :func:`rotate180` then :func:`hflip`."""
    _check_batch(X)
    return X[:, :, ::-1, :].copy()


def rotate180(X):
    """Turn every image by 180 degrees (reverse both spatial axes), exactly, without interpolation."""
    _check_batch(X)
    return X[:, :, ::-1, ::-1].copy()


def _per_image(value, n: int, name: str) -> numpy.ndarray:
    """A scalar or a length-``n`` sequence as a float64 vector of length ``n``."""
    values = numpy.broadcast_to(numpy.asarray(value, dtype=numpy.float64), (n,)) if numpy.ndim(value) == 0 \
        else numpy.asarray(value, dtype=numpy.float64)
    if values.shape != (n,):
        raise ValueError(f"{name} must be a number or one value per image ({n}), got shape {values.shape}")
    if not numpy.all(numpy.isfinite(values)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return values


def _check_probability(p: float, name: str = "p") -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def _as_numpy(X) -> numpy.ndarray:
    """The values of ``X`` as a plain NumPy array (no copy when ``X`` already is one)."""
    return X if isinstance(X, numpy.ndarray) else X.asnumpy()


def _flip_some(X, flags: numpy.ndarray, axis: int):
    """A copy of ``X`` with the images where ``flags`` is True reversed along ``axis`` (2: rows, 3: columns).

    Done in plain NumPy on the host: two vectorised copies, instead of a dozen small MXNet operators.
    """
    values = _as_numpy(X)
    out = values.copy()
    out[flags] = numpy.flip(values[flags], axis=axis)
    return _like(out, X)


def random_hflip(X, p: float = 0.5, rng: numpy.random.Generator | None = None):
    """Mirror each image left to right independently with probability ``p`` (the most common augmentation)."""
    n = _check_batch(X)[0]
    flags = _generator(rng).random(n) < _check_probability(p)
    return _flip_some(X, flags, axis=3)


def random_vflip(X, p: float = 0.5, rng: numpy.random.Generator | None = None):
    """Mirror each image top to bottom independently with probability ``p``."""
    n = _check_batch(X)[0]
    flags = _generator(rng).random(n) < _check_probability(p)
    return _flip_some(X, flags, axis=2)


# ----------------------------------------------------------------------------------------------------
# Geometry: one affine warp, then rotation, translation, scaling and crops as special cases
# ----------------------------------------------------------------------------------------------------


def affine(X, matrices):
    """Warp every image by its own affine map, sampling bilinearly; pixels from outside become 0.

    ``matrices`` has shape (N, 2, 3) (or (2, 3) for all images) and is written in *pixel* coordinates
    measured from the image centre, (x to the right, y down): the output pixel at ``(x, y)`` takes the
    input value at ``A @ (x, y) + t`` where ``[A | t] = matrices[i]``. MXNet's ``GridGenerator`` and
    ``BilinearSampler`` do the sampling in one batched call.
    """
    import mxnet as mx

    n, _, height, width = _check_batch(X)
    matrices = numpy.asarray(matrices, dtype=numpy.float64)
    if matrices.shape == (2, 3):
        matrices = numpy.broadcast_to(matrices, (n, 2, 3))
    if matrices.shape != (n, 2, 3):
        raise ValueError(f"matrices must have shape (N, 2, 3) or (2, 3), got {matrices.shape}")
    # MXNet's grid runs from -1 to 1 between the centres of the first and last pixels.
    half = numpy.array([max(width - 1, 1) / 2.0, max(height - 1, 1) / 2.0])
    linear = matrices[:, :, :2] * half[None, None, :] / half[None, :, None]
    shift = matrices[:, :, 2] / half[None, :]
    theta = numpy.concatenate([linear, shift[:, :, None]], axis=2).reshape(n, 6).astype(numpy.float32)
    data = mx.nd.array(X, dtype="float32") if isinstance(X, numpy.ndarray) else X.as_nd_ndarray()
    grid = mx.nd.GridGenerator(mx.nd.array(theta, ctx=data.context), transform_type="affine",
                               target_shape=(height, width))
    out = mx.nd.BilinearSampler(data.astype("float32"), grid)
    if isinstance(X, numpy.ndarray):
        return out.asnumpy().astype(X.dtype)
    return out.as_np_ndarray().astype(X.dtype)


def rotate(X, degrees):
    """Rotate every image counter-clockwise (as displayed) by ``degrees`` about its centre; corners become 0.

    ``degrees`` is a number or one angle per image. ``rotate(X, 90)`` equals a quarter turn of the array.
    """
    n = _check_batch(X)[0]
    radians = numpy.deg2rad(_per_image(degrees, n, "degrees"))
    cos, sin = numpy.cos(radians), numpy.sin(radians)
    # Output (x, y) reads input R(-angle) (x, y); with y pointing down a counter-clockwise turn on screen
    # maps the input point (x, y) to (x cos + y sin, -x sin + y cos).
    matrices = numpy.zeros((n, 2, 3))
    matrices[:, 0, 0], matrices[:, 0, 1] = cos, -sin
    matrices[:, 1, 0], matrices[:, 1, 1] = sin, cos
    return affine(X, matrices)


def translate(X, dx, dy):
    """Shift every image ``dx`` pixels right and ``dy`` pixels down (numbers or one per image); fill 0."""
    n = _check_batch(X)[0]
    matrices = numpy.zeros((n, 2, 3))
    matrices[:, 0, 0] = matrices[:, 1, 1] = 1.0
    matrices[:, 0, 2] = -_per_image(dx, n, "dx")
    matrices[:, 1, 2] = -_per_image(dy, n, "dy")
    return affine(X, matrices)


def scale(X, factor):
    """Zoom every image about its centre by ``factor`` (> 1 enlarges, < 1 shrinks and pads with 0)."""
    n = _check_batch(X)[0]
    factor = _per_image(factor, n, "factor")
    if numpy.any(factor <= 0):
        raise ValueError(f"factor must be positive, got {factor.min()}")
    matrices = numpy.zeros((n, 2, 3))
    matrices[:, 0, 0] = matrices[:, 1, 1] = 1.0 / factor
    return affine(X, matrices)


def random_rotate(X, max_degrees: float, rng: numpy.random.Generator | None = None):
    """Rotate each image by an angle drawn uniformly from [-max_degrees, max_degrees]."""
    n = _check_batch(X)[0]
    if max_degrees < 0:
        raise ValueError(f"max_degrees must be >= 0, got {max_degrees}")
    return rotate(X, _generator(rng).uniform(-max_degrees, max_degrees, size=n))


def random_translate(X, max_shift: int, rng: numpy.random.Generator | None = None):
    """Shift each image by whole pixels drawn uniformly from -max_shift ... max_shift in x and in y."""
    n = _check_batch(X)[0]
    max_shift = check_size(max_shift, "max_shift", low=0)
    rng = _generator(rng)
    dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, n))
    return translate(X, dx, dy)


def random_scale(X, low: float, high: float, rng: numpy.random.Generator | None = None):
    """Zoom each image about its centre by a factor drawn uniformly from [low, high]."""
    n = _check_batch(X)[0]
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got low={low}, high={high}")
    return scale(X, _generator(rng).uniform(low, high, size=n))


def crop(X, top: int, left: int, height: int, width: int):
    """The window of ``height``×``width`` pixels starting at row ``top``, column ``left`` of every image."""
    _, _, full_height, full_width = _check_batch(X)
    height, width = check_size(height, "height"), check_size(width, "width")
    top, left = check_size(top, "top", low=0), check_size(left, "left", low=0)
    if top + height > full_height or left + width > full_width:
        raise ValueError(f"the window rows {top}..{top + height - 1}, columns {left}..{left + width - 1} "
                         f"does not fit in {full_height}×{full_width} images; pick a smaller window")
    return X[:, :, top:top + height, left:left + width].copy()


def random_crop(X, size: int, padding: int = 0, rng: numpy.random.Generator | None = None):
    """A random ``size``×``size`` window of each image after padding it with ``padding`` zeros on each side.

    Each image gets its own window, with its top-left corner uniform over the positions where it fits.
    ``random_crop(X, 28, padding=2)`` on 28×28 images is the usual "pad and crop" (a random shift of up
    to 2 pixels).
    """
    n, _, height, width = _check_batch(X)
    size, padding = check_size(size, "size"), check_size(padding, "padding", low=0)
    if size > min(height, width) + 2 * padding:
        raise ValueError(f"size {size} is larger than the padded image ({height + 2 * padding}×"
                         f"{width + 2 * padding}); lower size or raise padding")
    rng = _generator(rng)
    top = rng.integers(0, height + 2 * padding - size + 1, size=n)  # in the padded image
    left = rng.integers(0, width + 2 * padding - size + 1, size=n)
    # Whole-pixel windows need no interpolation: pad once, then gather one window per image (plain NumPy,
    # a few milliseconds for a thousand 28x28 images).
    values = _as_numpy(X)
    padded = numpy.pad(values, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else values
    windows = numpy.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(2, 3))
    return _like(numpy.ascontiguousarray(windows[numpy.arange(n), :, top, left]), X)


def random_resized_crop(X, area: tuple[float, float] = (0.25, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3),
                        rng: numpy.random.Generator | None = None):
    """Crop a random rectangle covering a fraction in ``area`` of each image, stretch it back to full size.

    The aspect ratio (width / height) is drawn log-uniformly from ``ratio`` and the rectangle is clipped to
    fit; this is the Inception-style crop of Gluon's ``RandomResizedCrop``, batched, with bilinear resizing.
    """
    n, _, height, width = _check_batch(X)
    if not 0 < area[0] <= area[1] <= 1:
        raise ValueError(f"area must satisfy 0 < low <= high <= 1, got {area}")
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"ratio must satisfy 0 < low <= high, got {ratio}")
    rng = _generator(rng)
    fraction = rng.uniform(area[0], area[1], size=n)
    aspect = numpy.exp(rng.uniform(numpy.log(ratio[0]), numpy.log(ratio[1]), size=n))
    crop_w = numpy.clip(numpy.sqrt(fraction * aspect) * width, 1, width)
    crop_h = numpy.clip(numpy.sqrt(fraction / aspect) * height, 1, height)
    centre_x = rng.uniform(-(width - crop_w) / 2, (width - crop_w) / 2)
    centre_y = rng.uniform(-(height - crop_h) / 2, (height - crop_h) / 2)
    # The centres of the outer output pixels land on the centres of the outer pixels of the crop.
    matrices = numpy.zeros((n, 2, 3))
    matrices[:, 0, 0] = (crop_w - 1) / max(width - 1, 1)
    matrices[:, 1, 1] = (crop_h - 1) / max(height - 1, 1)
    matrices[:, 0, 2], matrices[:, 1, 2] = centre_x, centre_y
    return affine(X, matrices)


# ----------------------------------------------------------------------------------------------------
# Photometric: brightness, contrast, saturation, noise (images as floats in [0, 1])
# ----------------------------------------------------------------------------------------------------

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601 weights of R, G, B in the grey level (the ones Gluon's colour transforms use)."""


def _factors(factor, X):
    n = _check_batch(X)[0]
    values = _per_image(factor, n, "factor")
    if numpy.any(values < 0):
        raise ValueError(f"factor must be >= 0, got {values.min()}")
    return _like(values.reshape(n, 1, 1, 1), X)


def grey_level(X):
    """Grey level of every pixel, shape (N, 1, H, W): BT.601 weighted sum for RGB, else the channel mean."""
    channels = _check_batch(X)[1]
    if channels == 3:
        weights = _like(numpy.array(LUMA_WEIGHTS).reshape(1, 3, 1, 1), X)
        return (X * weights).sum(axis=1, keepdims=True)
    return X.mean(axis=1, keepdims=True)


def _clip01(X):
    return X.clip(0.0, 1.0)


def adjust_brightness(X, factor):
    """Multiply every pixel by ``factor`` (a number or one per image), clipped to [0, 1]."""
    return _clip01(X * _factors(factor, X))


def adjust_contrast(X, factor):
    """Stretch each image away from (factor > 1) or towards (factor < 1) its mean grey level; clip to [0, 1].

    Before clipping the mean grey level is unchanged and every deviation from it is multiplied by ``factor``.
    """
    mean = grey_level(X).mean(axis=(1, 2, 3), keepdims=True)
    return _clip01(mean + _factors(factor, X) * (X - mean))


def adjust_saturation(X, factor):
    """Blend each pixel with its grey level: 0 gives a grey image, 1 the original, > 1 stronger colours."""
    grey = grey_level(X)
    return _clip01(grey + _factors(factor, X) * (X - grey))


def color_jitter(X, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 rng: numpy.random.Generator | None = None):
    """Random brightness, contrast and saturation, each factor uniform in [1 - s, 1 + s] per image.

    Applied in that order; a strength of 0 leaves that property unchanged. Gluon's ``RandomColorJitter``
    does the same (plus hue) on one image at a time.
    """
    n = _check_batch(X)[0]
    rng = _generator(rng)
    for name, strength in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if not 0 <= strength <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {strength}")
    out = X
    if brightness:
        out = adjust_brightness(out, rng.uniform(1 - brightness, 1 + brightness, size=n))
    if contrast:
        out = adjust_contrast(out, rng.uniform(1 - contrast, 1 + contrast, size=n))
    if saturation:
        out = adjust_saturation(out, rng.uniform(1 - saturation, 1 + saturation, size=n))
    return out if out is not X else X.copy()


def gaussian_noise(X, std: float, rng: numpy.random.Generator | None = None, clip: bool = False):
    """Add independent Gaussian noise of standard deviation ``std`` to every pixel (clip=True: to [0, 1])."""
    shape = _check_batch(X)
    if not std >= 0:
        raise ValueError(f"std must be >= 0, got {std}")
    noise = _generator(rng).normal(0.0, std, size=shape)
    out = X + _like(noise, X)
    return _clip01(out) if clip else out


# ----------------------------------------------------------------------------------------------------
# Online augmentation for a training loop
# ----------------------------------------------------------------------------------------------------


class AugmentedBatches:
    """Shuffled mini-batches whose images are freshly augmented in every epoch (online augmentation).

    ``AugmentedBatches(X, y, batch_size, augment, seed=0)`` behaves like :class:`regbook.data.ArrayBatches`
    with ``shuffle=True``, except that each pass first applies ``augment(X, rng)`` to the *whole* training
    set in one batched call (one new random transform per image and epoch) and then slices the result.
    With ``augment=None`` it is plain shuffled batching. Nothing augmented is kept between epochs.
    """

    def __init__(self, features, labels, batch_size: int, augment=None, seed: int | None = 0):
        from regbook.data import ArrayBatches

        self.base = ArrayBatches(features, labels, batch_size, shuffle=True, seed=seed)
        self.augment = augment
        self.rng = numpy.random.default_rng(None if seed is None else seed + 1)

    def __len__(self) -> int:
        return len(self.base)

    def __iter__(self):
        from regbook.data import ArrayBatches

        if self.augment is None:
            yield from self.base
            return
        features = self.augment(self.base.features, self.rng)
        view = ArrayBatches(features, self.base.labels, self.base.batch_size, shuffle=False)
        order = self.base.rng.permutation(len(self.base.labels))
        from mxnet import np as mnp

        index = mnp.array(order, dtype="int64")
        view.features, view.labels = features[index], self.base.labels[index]
        yield from view
