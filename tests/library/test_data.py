"""regbook.data: verification, atomic downloads and clear errors, on small synthetic idx files."""

import gzip
import http.server
import shutil
import threading
from pathlib import Path

import numpy
import pytest

from regbook import data


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = Path(self.server.root) / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.server.truncate else body)


@pytest.fixture
def server(tiny_fashion):
    """An HTTP server on 127.0.0.1 serving the tiny files; ``server.truncate = True`` cuts bodies in half."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.root = tiny_fashion["source"]
    httpd.truncate = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()


def test_real_files_verify_when_present():
    rows = data.report()
    if not any(row["path"] for row in rows):
        pytest.skip("Fashion-MNIST is not installed on this machine")
    assert all(row["ok"] for row in rows), rows


def test_parse_idx_round_trip(tiny_fashion):
    spec = tiny_fashion["files"]["train_images"]
    content = data.read_verified(tiny_fashion["source"] / spec.filename, spec)
    numpy.testing.assert_array_equal(data.parse_idx(content), tiny_fashion["arrays"]["train_images"])


def test_found_files_load_with_shapes(tiny_fashion):
    shutil.copytree(tiny_fashion["source"], tiny_fashion["home"])
    x_train, y_train, x_test, y_test = data.load_fashion_mnist_arrays()
    assert x_train.shape == (12, 28, 28) and y_test.shape == (5,)
    numpy.testing.assert_array_equal(y_train, tiny_fashion["arrays"]["train_labels"])


@pytest.mark.parametrize("numpy_semantics", [True, False])
def test_d2l_style_loaders_work_with_and_without_npx_set_np(tiny_fashion, numpy_semantics):
    from mxnet import npx

    shutil.copytree(tiny_fashion["source"], tiny_fashion["home"])
    was_np = npx.is_np_array()
    (npx.set_np if numpy_semantics else npx.reset_np)()
    try:
        train_loader, test_loader = data.load_data_fashion_mnist(5, resize=14)
        X, y = next(iter(train_loader))
        X_test, _ = next(iter(test_loader))
    finally:
        (npx.set_np if was_np else npx.reset_np)()
    assert X.shape == (5, 1, 14, 14) and X.dtype == numpy.float32 and y.dtype == numpy.int32
    pixels = X.asnumpy()
    assert 0 <= pixels.min() and pixels.max() <= 1 and X_test.shape == (5, 1, 14, 14)
    assert len(train_loader) == 3 and len(test_loader) == 1  # 12 and 5 images in batches of 5


def test_truncated_file_names_file_and_fix(tiny_fashion):
    spec = tiny_fashion["files"]["train_images"]
    path = tiny_fashion["source"] / spec.filename
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(data.DataError) as err:
        data.read_verified(path, spec)
    message = str(err.value)
    assert str(path) in message and "truncated" in message and "regbook data --download" in message


def test_corrupted_content_reports_checksum(tiny_fashion):
    spec = tiny_fashion["files"]["train_labels"]
    path = tiny_fashion["source"] / spec.filename
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] ^= 0xFF  # same length, one byte flipped
    path.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(data.DataError, match="corrupted.*SHA-256"):
        data.read_verified(path, spec)


def test_recompressed_file_still_verifies(tiny_fashion):
    """Debian recompresses the .gz files: a different .gz with the same content must pass."""
    spec = tiny_fashion["files"]["test_labels"]
    path = tiny_fashion["source"] / spec.filename
    original = path.read_bytes()
    path.write_bytes(gzip.compress(gzip.decompress(original), compresslevel=1, mtime=12345))
    assert path.read_bytes() != original
    data.read_verified(path, spec)


def test_missing_without_download_lists_places(tiny_fashion):
    with pytest.raises(data.DataError) as err:
        data.fashion_mnist_files(download_missing=False)
    assert "not found" in str(err.value) and "dataset-fashion-mnist" in str(err.value)


def test_download_is_verified_and_atomic(server, tiny_fashion, monkeypatch):
    monkeypatch.setenv("REGBOOK_FASHION_MNIST_URL", server.url)
    paths = data.fashion_mnist_files(download_missing=True, progress=False)
    assert {p.parent for p in paths.values()} == {tiny_fashion["home"]}
    assert not list(tiny_fashion["home"].glob("*.part"))
    assert data.load_fashion_mnist_arrays()[0].shape == (12, 28, 28)


def test_download_failing_midway_leaves_nothing(server, tiny_fashion, monkeypatch):
    server.truncate = True
    spec = tiny_fashion["files"]["train_images"]
    with pytest.raises(data.DataError, match="stopped after"):
        data.download(spec, tiny_fashion["home"], base_url=server.url, progress=False)
    assert not tiny_fashion["home"].exists(), "the folder the download made is removed again"


def test_download_of_wrong_content_leaves_nothing(server, tiny_fashion):
    spec = tiny_fashion["files"]["train_images"]
    (tiny_fashion["source"] / spec.filename).write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"x" * 50))
    with pytest.raises(data.DataError):
        data.download(spec, tiny_fashion["home"], base_url=server.url, progress=False)
    assert not tiny_fashion["home"].exists(), "the folder the download made is removed again"


def test_download_404_is_a_clear_error(server, tiny_fashion):
    missing = data.IdxFile("no-such-file", "0" * 64, (1,))
    with pytest.raises(data.DataError, match="could not download.*Nothing was written"):
        data.download(missing, tiny_fashion["home"], base_url=server.url, progress=False)
    assert not tiny_fashion["home"].exists(), "the folder the download made is removed again"


def test_labels_to_text():
    assert data.get_fashion_mnist_labels([0, 9, 5]) == ["t-shirt", "ankle boot", "sandal"]


def test_array_batches_cover_every_example_once():
    from mxnet import np

    features = numpy.arange(10, dtype=numpy.float32)[:, None]
    batches = data.ArrayBatches(features, numpy.arange(10), batch_size=4, shuffle=True, seed=1)
    assert len(batches) == 3
    seen = numpy.concatenate([y.asnumpy() for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10))
    first, second = ([y.asnumpy().tolist() for _, y in batches] for _ in range(2))
    assert first != second, "each epoch draws a new order"
    for X, y in batches:
        assert isinstance(X, np.ndarray) and (X[:, 0].asnumpy() == y.asnumpy()).all()
    # The order is the seeded NumPy permutation, epoch after epoch: recorded notebook outputs depend on it.
    rng, seeded = numpy.random.default_rng(1), data.ArrayBatches(features, numpy.arange(10), 4, True, 1)
    for _ in range(2):
        order = rng.permutation(10)
        assert [y.asnumpy().tolist() for _, y in seeded] == [order[:4].tolist(), order[4:8].tolist(),
                                                             order[8:].tolist()]
    with pytest.raises(ValueError, match="batch_size"):
        data.ArrayBatches(features, numpy.arange(10), batch_size=0)
    with pytest.raises(ValueError, match="differ in length"):
        data.ArrayBatches(features, numpy.arange(9), batch_size=2)


def test_a_failed_download_removes_the_folders_it_made(server, tiny_fashion, tmp_path):
    missing = data.IdxFile("no-such-file", "0" * 64, (1,))
    target = tmp_path / "new" / "deeper" / "fashion-mnist"
    with pytest.raises(data.DataError, match="could not download"):
        data.download(missing, target, base_url=server.url, progress=False)
    assert not (tmp_path / "new").exists()


def test_a_download_that_does_not_verify_names_no_deleted_file(server, tiny_fashion):
    spec = tiny_fashion["files"]["train_images"]
    (tiny_fashion["source"] / spec.filename).write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"x" * 50))
    with pytest.raises(data.DataError) as caught:
        data.download(spec, tiny_fashion["home"], base_url=server.url, progress=False)
    message = str(caught.value)
    assert "does not verify" in message and "nothing was written" in message
    assert ".part" not in message and "delete that file" not in message


def test_an_unwritable_data_folder_is_a_data_error_with_advice(tiny_fashion, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    spec = tiny_fashion["files"]["train_images"]
    with pytest.raises(data.DataError, match=r"cannot write into .*REGBOOK_DATA"):
        data.download(spec, blocker / "fashion-mnist", base_url="http://127.0.0.1:9/", progress=False)


def test_a_full_disk_is_not_called_offline(tiny_fashion, tmp_path, monkeypatch):
    import errno
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    spec = tiny_fashion["files"]["train_images"]
    with pytest.raises(data.DataError) as caught:
        data.download(spec, tmp_path / "fm", base_url="http://127.0.0.1:9/", progress=False)
    assert "full" in str(caught.value) and "Offline" not in str(caught.value)
    assert not (tmp_path / "fm").exists()


@pytest.mark.parametrize("limit", [-5, 0, 60_001, 2.5, True])
def test_a_training_limit_outside_the_data_is_refused(limit):
    with pytest.raises(ValueError, match="limit_train"):
        data.fashion_mnist_arrays_mx(limit_train=limit)


def test_write_atomically_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "record.json"
    data.write_atomically(path, "old")

    class Unprintable:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        data.write_atomically(path, Unprintable())
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["record.json"]
    data.write_atomically(path, "new")
    assert path.read_text() == "new"
