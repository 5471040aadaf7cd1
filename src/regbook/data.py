"""Fashion-MNIST, offline first.

Where the files are looked for, in this order (the first place that has a file wins):

1. ``$REGBOOK_DATA/fashion-mnist/`` (or ``$REGBOOK_DATA/`` itself),
2. ``data/fashion-mnist/`` in the book's repository,
3. ``/usr/share/datasets/fashion-mnist/`` (Debian package ``dataset-fashion-mnist``),
4. ``~/.mxnet/datasets/fashion-mnist/`` (MXNet's own cache).

Only when a file is in none of them is it downloaded (into the first writable data directory, with a
progress bar). Every file is verified by the SHA-256 of its *decompressed* content, because Debian
recompresses the ``.gz`` files, so their compressed checksums differ from the official ones while the
content is the same. Downloads go to a temporary file that is renamed only after verification, so a
half-written file never exists under the final name.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import numbers
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy

from regbook import compat as _compat  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""The official mirror; ``$REGBOOK_FASHION_MNIST_URL`` overrides it."""

TEXT_LABELS = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip


@dataclass(frozen=True)
class IdxFile:
    """One of the four Fashion-MNIST files and what its decompressed content must be."""

    name: str
    sha256: str  # of the decompressed bytes
    shape: tuple[int, ...]

    @property
    def filename(self) -> str:
        return self.name + ".gz"

    @property
    def nbytes(self) -> int:
        header = 4 + 4 * len(self.shape)
        return header + int(numpy.prod(self.shape))


FILES = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        (60000, 28, 28),
    ),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        (60000,),
    ),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        (10000, 28, 28),
    ),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        (10000,),
    ),
}

FIX_HINT = (
    "To fix it: delete that file and run `python -m regbook data --download`, "
    "or install the Debian package with `sudo apt-get install dataset-fashion-mnist`, "
    "or point $REGBOOK_DATA at a directory that holds the four official .gz files."
)


class DataError(RuntimeError):
    """A dataset file is missing, truncated or corrupted; the message says which and how to fix it."""


def write_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``: a reader sees the old
    file or the whole new one, never a half-written file; on any failure the old file stays."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_count(value, name: str, at_most: int | None = None) -> int:
    """``value`` as an int if it is a whole number from 1 to ``at_most``; else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    if at_most is not None and value > at_most:
        raise ValueError(f"{name} must be at most {at_most:,} (the size of the data), got {value:,}")
    return int(value)


# ----------------------------------------------------------------------------------------------------
# Where to look, and reading one verified file
# ----------------------------------------------------------------------------------------------------


def search_dirs() -> list[Path]:
    """The directories searched for Fashion-MNIST, in order."""
    dirs = []
    env = os.environ.get("REGBOOK_DATA")
    if env:
        dirs += [Path(env) / "fashion-mnist", Path(env)]
    dirs += [
        REPO_ROOT / "data" / "fashion-mnist",
        Path("/usr/share/datasets/fashion-mnist"),
        Path.home() / ".mxnet" / "datasets" / "fashion-mnist",
    ]
    return dirs


def download_dir() -> Path:
    """Where a download goes: ``$REGBOOK_DATA/fashion-mnist`` or the repository's ``data/fashion-mnist``."""
    env = os.environ.get("REGBOOK_DATA")
    if env:
        return Path(env) / "fashion-mnist"
    if (REPO_ROOT / "data").is_dir():
        return REPO_ROOT / "data" / "fashion-mnist"
    return Path.home() / ".cache" / "regbook" / "fashion-mnist"


def locate(spec: IdxFile, dirs: list[Path] | None = None) -> Path | None:
    """The first existing copy of ``spec`` in ``dirs`` (default :func:`search_dirs`), or ``None``."""
    for directory in dirs if dirs is not None else search_dirs():
        path = directory / spec.filename
        if path.is_file():
            return path
    return None


def read_verified(path: Path, spec: IdxFile) -> bytes:
    """Decompress ``path`` and check size, idx header and SHA-256; raise :class:`DataError` if any fails."""
    try:
        with gzip.open(path, "rb") as handle:
            content = handle.read()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"{path} cannot be decompressed ({exc}): the file is truncated or is not gzip data. "
            f"Expected the gzip-compressed idx file {spec.name} ({spec.nbytes:,} bytes decompressed). "
            + FIX_HINT
        ) from exc
    if len(content) != spec.nbytes:
        raise DataError(
            f"{path} decompresses to {len(content):,} bytes, expected {spec.nbytes:,} "
            f"(an idx file of shape {spec.shape}): it is truncated or is another file. " + FIX_HINT
        )
    digest = hashlib.sha256(content).hexdigest()
    if digest != spec.sha256:
        raise DataError(
            f"{path} is corrupted: the SHA-256 of its decompressed content is {digest}, "
            f"expected {spec.sha256}. " + FIX_HINT
        )
    return content


def parse_idx(content: bytes) -> numpy.ndarray:
    """Turn the bytes of an idx file (unsigned bytes, big-endian header) into a NumPy array."""
    if len(content) < 4:
        raise DataError("an idx file needs at least a 4-byte header")
    zero, dtype_code, ndim = struct.unpack(">HBB", content[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"not an unsigned-byte idx file (magic bytes {content[:4]!r})")
    if len(content) < 4 + 4 * ndim:
        raise DataError(f"the idx header announces {ndim} dimensions but the file ends after {len(content)} bytes")
    shape = struct.unpack(">" + "I" * ndim, content[4 : 4 + 4 * ndim])
    data = numpy.frombuffer(content, dtype=numpy.uint8, offset=4 + 4 * ndim)
    if data.size != int(numpy.prod(shape)):
        raise DataError(f"idx header says shape {shape} but there are {data.size} values")
    return data.reshape(shape)


# ----------------------------------------------------------------------------------------------------
# Download: temporary file, verify, rename
# ----------------------------------------------------------------------------------------------------


def download(spec: IdxFile, target_dir: Path | None = None, base_url: str | None = None,
             progress: bool = True) -> Path:
    """Download ``spec`` into ``target_dir`` atomically; return the final path.

    The bytes go to a temporary file in the same directory; only after the decompressed content has
    been verified is it renamed to its final name. On any failure the temporary file is removed and a
    :class:`DataError` says what happened.
    """
    from tqdm.auto import tqdm

    target_dir = Path(target_dir) if target_dir is not None else download_dir()
    base_url = base_url or os.environ.get("REGBOOK_FASHION_MNIST_URL", FASHION_MNIST_URL)
    url = base_url.rstrip("/") + "/" + spec.filename
    final = target_dir / spec.filename
    created = _make_dirs(target_dir)
    try:
        handle, tmp_name = tempfile.mkstemp(prefix=spec.filename + ".", suffix=".part", dir=target_dir)
    except OSError as exc:
        _remove_empty(created)
        raise DataError(_write_problem(target_dir, exc)) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.filename, disable=not progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise DataError(
                    f"download of {url} stopped after {out.tell():,} of {total:,} bytes; nothing was written "
                    f"to {final}; check the network and run `python -m regbook data --download` again."
                )
        try:
            read_verified(tmp, spec)
        except DataError as exc:
            raise DataError(
                f"the file downloaded from {url} does not verify ({str(exc).split(': ', 1)[-1].split('. ')[0]}); "
                f"nothing was written to {final}. The mirror may serve another file: install the Debian "
                "package `dataset-fashion-mnist`, or copy the four official .gz files into "
                f"{target_dir} (or $REGBOOK_DATA)."
            ) from None
        os.replace(tmp, final)
    except (urllib.error.URLError, OSError, http.client.HTTPException, DataError) as exc:
        tmp.unlink(missing_ok=True)
        _remove_empty(created)
        if isinstance(exc, DataError):
            raise
        if isinstance(exc, OSError) and not isinstance(exc, urllib.error.URLError) and exc.errno is not None:
            raise DataError(_write_problem(target_dir, exc)) from exc
        raise DataError(
            f"could not download {url} ({exc}). Nothing was written to {final}. Offline? Install the "
            "Debian package `dataset-fashion-mnist`, or copy the four .gz files into "
            f"{target_dir} (or $REGBOOK_DATA), then try again."
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        _remove_empty(created)
        raise
    return final


def _make_dirs(target_dir: Path) -> list[Path]:
    """Create ``target_dir`` (and missing parents); return the folders created, deepest first."""
    missing = [d for d in (target_dir, *target_dir.parents) if not d.exists()]
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_empty(missing)
        raise DataError(_write_problem(target_dir, exc)) from exc
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed download created, if they are still empty (deepest first)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _write_problem(target_dir: Path, exc: OSError) -> str:
    """What to say when nothing can be written into ``target_dir``."""
    import errno

    if exc.errno == errno.ENOSPC:
        return (f"the disk holding {target_dir} is full ({exc.strerror}); nothing was written. Free some "
                "space, or set $REGBOOK_DATA to a folder on another disk, then try again.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot write into {target_dir} ({exc.strerror}); nothing was written. Set $REGBOOK_DATA to "
                "a folder you can write to, or install the Debian package `dataset-fashion-mnist`.")
    return (f"cannot write into {target_dir} ({exc.strerror or exc}); nothing was written. Set $REGBOOK_DATA to "
            "a folder you can write to.")


def fashion_mnist_files(download_missing: bool = True, progress: bool = True) -> dict[str, Path]:
    """Find (and, if allowed, download) the four files; each is verified. Returns key -> path."""
    found = {}
    for key, spec in FILES.items():
        path = locate(spec)
        if path is None:
            if not download_missing:
                raise DataError(
                    f"{spec.filename} was not found in any of: "
                    + ", ".join(str(d) for d in search_dirs())
                    + ". Run `python -m regbook data --download`, or `sudo apt-get install "
                    "dataset-fashion-mnist`, or set $REGBOOK_DATA to a directory that holds it."
                )
            path = download(spec, progress=progress)
        read_verified(path, spec)
        found[key] = path
    return found


@functools.lru_cache(maxsize=1)
def load_fashion_mnist_arrays() -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """``(train_images, train_labels, test_images, test_labels)`` as uint8 NumPy arrays (images N×28×28).

    Verified once per process and cached. Treat the arrays as read-only.
    """
    arrays = []
    for key, path in fashion_mnist_files().items():
        array = parse_idx(read_verified(path, FILES[key]))
        array.flags.writeable = False
        arrays.append(array)
    return tuple(arrays)  # type: ignore[return-value]


def get_fashion_mnist_labels(labels) -> list[str]:
    """Text labels for numeric Fashion-MNIST labels (any iterable of ints or an array)."""
    return [TEXT_LABELS[int(i)] for i in numpy.asarray(labels).reshape(-1)]


# ----------------------------------------------------------------------------------------------------
# Feeding a network
# ----------------------------------------------------------------------------------------------------


def load_data_fashion_mnist(batch_size: int, resize: int | None = None, num_workers: int = 0):
    """Train and test Gluon ``DataLoader`` s, the signature of d2l's function of the same name.

    Images come as float32 tensors of shape (batch, 1, H, W) scaled to [0, 1]; labels as int32.
    This is the general, transform-friendly path; for training loops prefer the faster
    :class:`ArrayBatches`.
    """
    from mxnet.gluon.data import ArrayDataset, DataLoader
    from mxnet.gluon.data.vision import transforms

    x_train, y_train, x_test, y_test = load_fashion_mnist_arrays()
    trans = [transforms.ToTensor()]
    if resize:
        trans.insert(0, transforms.Resize(resize))
    trans = transforms.Compose(trans)

    def dataset(x, y):
        import mxnet as mx
        from mxnet import npx

        # The arrays must match the mode the transforms run in: mxnet.np after npx.set_np(), legacy nd before.
        array = mx.np.array if npx.is_np_array() else mx.nd.array
        return ArrayDataset(array(x[..., None], dtype="uint8"), array(y, dtype="int32")).transform_first(trans)

    return (
        DataLoader(dataset(x_train, y_train), batch_size, shuffle=True, num_workers=num_workers),
        DataLoader(dataset(x_test, y_test), batch_size, shuffle=False, num_workers=num_workers),
    )


class ArrayBatches:
    """Mini-batches of an in-memory dataset, kept as MXNet arrays; fast enough for the chapters' loops.

    ``ArrayBatches(X, y, batch_size, shuffle=True, seed=0)`` iterates over ``(X_batch, y_batch)`` pairs of
    ``mxnet.np`` arrays. The whole dataset is copied into MXNet once; each epoch draws one permutation
    (from its own NumPy generator, so that the order is reproducible) and slices it, with no per-batch
    conversion from NumPy and no synchronisation.
    """

    def __init__(self, features, labels, batch_size: int, shuffle: bool = False, seed: int | None = 0,
                 drop_last: bool = False):
        from mxnet import np as mnp

        if len(features) != len(labels):
            raise ValueError(f"features and labels differ in length: {len(features)} vs {len(labels)}")
        check_count(batch_size, "batch_size")
        if len(labels) == 0:
            raise ValueError("ArrayBatches got no examples (features and labels are empty)")
        self.features = features if not isinstance(features, numpy.ndarray) else mnp.array(features)
        self.labels = labels if not isinstance(labels, numpy.ndarray) else mnp.array(labels)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.rng = numpy.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator:
        from mxnet import np as mnp

        n = len(self.labels)
        order = mnp.array(self.rng.permutation(n), dtype="int64") if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, n)
            if order is None:
                yield self.features[start:stop], self.labels[start:stop]
            else:  # gather one batch at a time: 2.5 times faster than permuting the whole dataset first
                batch = order[start:stop]
                yield mnp.take(self.features, batch, axis=0), mnp.take(self.labels, batch, axis=0)


def fashion_mnist_arrays_mx(flatten: bool = False, limit_train: int | None = None):
    """Fashion-MNIST as float32 ``mxnet.np`` arrays in [0, 1]: ``(X_train, y_train, X_test, y_test)``.

    Images are (N, 1, 28, 28), or (N, 784) with ``flatten=True``; labels int32. ``limit_train`` keeps the
    first that many training examples (for small-data experiments).
    """
    from mxnet import np as mnp

    x_train, y_train, x_test, y_test = load_fashion_mnist_arrays()
    if limit_train is not None:
        check_count(limit_train, "limit_train", len(y_train))
        x_train, y_train = x_train[:limit_train], y_train[:limit_train]
    shape = (-1, 784) if flatten else (-1, 1, 28, 28)

    def to_mx(x):
        return mnp.array(x.reshape(shape).astype(numpy.float32) / 255.0)

    return (to_mx(x_train), mnp.array(y_train.astype(numpy.int32)),
            to_mx(x_test), mnp.array(y_test.astype(numpy.int32)))


def fashion_mnist_batches(batch_size: int, flatten: bool = False, seed: int | None = 0,
                          limit_train: int | None = None) -> tuple[ArrayBatches, ArrayBatches]:
    """Fast train (shuffled) and test :class:`ArrayBatches` over Fashion-MNIST in memory."""
    x_train, y_train, x_test, y_test = fashion_mnist_arrays_mx(flatten=flatten, limit_train=limit_train)
    return (ArrayBatches(x_train, y_train, batch_size, shuffle=True, seed=seed),
            ArrayBatches(x_test, y_test, batch_size, shuffle=False))


def report() -> list[dict]:
    """For ``python -m regbook data``: where each file was found and whether its checksum holds."""
    rows = []
    for spec in FILES.values():
        path = locate(spec)
        row = {"file": spec.filename, "path": str(path) if path else None, "ok": False, "problem": None}
        if path is None:
            row["problem"] = "not found"
        else:
            try:
                read_verified(path, spec)
                row["ok"] = True
            except DataError as exc:
                row["problem"] = str(exc)
        rows.append(row)
    return rows


# --- the goalkeeper data set ---------------------------------------------------------------------------

FOOTBALL_DIR = REPO_ROOT / "data" / "football"
MAT_KEYS = ("X", "y", "Xval", "yval")

FootballArrays = tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]


def load_football(path: str | Path | None = None) -> FootballArrays:
    """``(train_X, train_Y, test_X, test_Y)`` shaped (2, m), (1, m), (2, m_test), (1, m_test).

    With no ``path``: the book's goalkeeper dataset (``data/football/*.csv``, made by
    ``data/football/make_dataset.py``). With a path to a MATLAB ``.mat`` file holding ``X``, ``y``,
    ``Xval``, ``yval`` with examples as rows (the format of the course's ``data.mat``): that file.
    """
    if path is None:
        return _read_csv(FOOTBALL_DIR / "train.csv") + _read_csv(FOOTBALL_DIR / "test.csv")
    path = Path(path)
    if path.suffix.lower() != ".mat":
        raise ValueError(f"{path}: expected a MATLAB .mat file holding X, y, Xval, yval "
                         "(or no path, for the book's own dataset)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; pass the path of the course's data.mat, "
                                "or no path for the book's own dataset")
    import scipy.io

    try:
        content = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for a damaged or non-MATLAB file
        raise ValueError(f"{path}: cannot read it as a MATLAB .mat file ({exc})") from exc
    missing = [key for key in MAT_KEYS if key not in content]
    if missing:
        found = sorted(key for key in content if not key.startswith("__"))
        raise ValueError(f"{path}: missing {', '.join(missing)}; a goalkeeper .mat file holds X, y "
                         f"(training set) and Xval, yval (test set), examples as rows; found {found}")
    return _as_columns(path, content["X"], content["y"], "X", "y") + _as_columns(
        path, content["Xval"], content["yval"], "Xval", "yval")


def _as_columns(path: Path, X, y, x_name: str, y_name: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Examples-as-rows arrays from a .mat file, checked, as (2, m) floats and (1, m) 0/1 ints."""
    X, y = numpy.asarray(X), numpy.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"{path}: {x_name} must be (m, 2), one 2-D position per row, got shape {X.shape}")
    if y.size != X.shape[0] or (y.ndim == 2 and 1 not in y.shape) or y.ndim > 2:
        raise ValueError(f"{path}: {y_name} must hold one label per row of {x_name} ({X.shape[0]}), "
                         f"as (m, 1) or (m,), got shape {y.shape}")
    X, Y = X.astype(float).T, y.reshape(1, -1)
    if not numpy.all(numpy.isfinite(X)) or not numpy.all((Y == 0) | (Y == 1)):
        raise ValueError(f"{path}: {x_name} must be finite and {y_name} must hold only 0/1 labels")
    return X, Y.astype(int)


def _read_csv(path: Path) -> tuple[numpy.ndarray, numpy.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python data/football/make_dataset.py`")
    table = numpy.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return table[:, :2].T.copy(), table[:, 2:].T.astype(int)


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
