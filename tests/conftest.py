"""Shared fixtures: small synthetic idx files standing in for Fashion-MNIST."""

import gzip
import hashlib
import struct

import numpy
import pytest

from regbook import data


def idx_bytes(array: numpy.ndarray) -> bytes:
    """The idx encoding of a uint8 array (magic 0x0000 08 ndim, big-endian dims, data)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(numpy.uint8).tobytes()


@pytest.fixture
def tiny_fashion(tmp_path, monkeypatch):
    """Four tiny idx files (gzip) in tmp_path/source, and data.FILES patched to expect exactly them."""
    rng = numpy.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (12, 28, 28)),
        "train_labels": rng.integers(0, 10, (12,)),
        "test_images": rng.integers(0, 256, (5, 28, 28)),
        "test_labels": rng.integers(0, 10, (5,)),
    }
    source = tmp_path / "source"
    source.mkdir()
    files = {}
    for key, array in arrays.items():
        spec = data.FILES[key]
        content = idx_bytes(array)
        files[key] = data.IdxFile(spec.name, hashlib.sha256(content).hexdigest(), array.shape)
        with gzip.open(source / spec.filename, "wb") as handle:
            handle.write(content)
    monkeypatch.setattr(data, "FILES", files)
    monkeypatch.setenv("REGBOOK_DATA", str(tmp_path / "home"))
    monkeypatch.setattr(data, "search_dirs", lambda: [tmp_path / "home" / "fashion-mnist"])
    data.load_fashion_mnist_arrays.cache_clear()
    yield {"source": source, "arrays": arrays, "files": files, "home": tmp_path / "home" / "fashion-mnist"}
    data.load_fashion_mnist_arrays.cache_clear()
