"""regbook.data.load_football: the book's goalkeeper dataset and the course's .mat format."""

from __future__ import annotations

import hashlib
import importlib.util
import re

import numpy
import pytest

from regbook import data as regbook_data


@pytest.fixture(scope="module")
def data():
    return regbook_data.load_football()


def test_book_dataset_shapes_and_labels(data):
    train_X, train_Y, test_X, test_Y = data
    assert train_X.shape == (2, 200) and train_Y.shape == (1, 200)
    assert test_X.shape == (2, 200) and test_Y.shape == (1, 200)
    for Y in (train_Y, test_Y):
        assert set(numpy.unique(Y)) == {0, 1}
        assert 0.3 < Y.mean() < 0.7
    assert numpy.all(numpy.abs(train_X[0] + 0.2) <= 0.6) and numpy.all(numpy.abs(train_X[1]) <= 0.6)


def test_dataset_files_match_their_checksums_and_script(data):
    readme = (regbook_data.FOOTBALL_DIR / "README.md").read_text(encoding="utf-8")
    for name in ("train.csv", "test.csv"):
        digest = hashlib.sha256((regbook_data.FOOTBALL_DIR / name).read_bytes()).hexdigest()
        assert re.search(rf"{digest}\s+{name}", readme), f"README.md does not list the SHA-256 of {name}"
    spec = importlib.util.spec_from_file_location("make_dataset", regbook_data.FOOTBALL_DIR / "make_dataset.py")
    make_dataset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_dataset)
    rng = numpy.random.default_rng(make_dataset.SEED)
    for X, Y, n in ((data[0], data[1], make_dataset.N_TRAIN), (data[2], data[3], make_dataset.N_TEST)):
        points, labels = make_dataset.sample(n, rng)
        numpy.testing.assert_array_equal(points.T, X)
        numpy.testing.assert_array_equal(labels[None, :], Y)


def write_mat(path, m=30, m_val=20, seed=0, **override):
    """A small goalkeeper .mat file (examples as rows, as the course's data.mat); returns its content."""
    import scipy.io

    rng = numpy.random.default_rng(seed)
    content = {"X": rng.normal(size=(m, 2)), "y": rng.integers(0, 2, size=(m, 1)).astype(numpy.uint8),
               "Xval": rng.normal(size=(m_val, 2)), "yval": rng.integers(0, 2, size=(m_val, 1))}
    content.update(override)
    content = {key: value for key, value in content.items() if value is not None}
    scipy.io.savemat(path, content)
    return content


def test_load_football_round_trips_a_mat_file(tmp_path):
    path = tmp_path / "data.mat"
    content = write_mat(path)
    train_X, train_Y, test_X, test_Y = regbook_data.load_football(path)
    assert train_X.shape == (2, 30) and train_Y.shape == (1, 30)
    assert test_X.shape == (2, 20) and test_Y.shape == (1, 20)
    numpy.testing.assert_array_equal(train_X, content["X"].T)
    numpy.testing.assert_array_equal(train_Y, content["y"].T)
    numpy.testing.assert_array_equal(test_X, content["Xval"].T)
    numpy.testing.assert_array_equal(test_Y, content["yval"].T)
    assert train_Y.dtype.kind == "i"  # uint8 labels would wrap around in A - Y
    regbook_data.load_football(str(path))  # a str works too
    assert regbook_data.MAT_KEYS == ("X", "y", "Xval", "yval")


@pytest.mark.parametrize("override, message", [
    ({"yval": None}, "missing yval"),
    ({"X": None, "y": None}, "missing X, y"),
    ({"X": numpy.zeros((30, 3))}, r"X must be \(m, 2\)"),
    ({"y": numpy.zeros((29, 1))}, "y must hold one label per row of X"),
    ({"yval": numpy.zeros((20, 2))}, "yval must hold one label per row"),
    ({"y": numpy.full((30, 1), 2)}, "only 0/1 labels"),
    ({"Xval": numpy.full((20, 2), numpy.nan)}, "must be finite"),
])
def test_bad_mat_files_give_clear_errors(tmp_path, override, message):
    path = tmp_path / "bad.mat"
    write_mat(path, **override)
    with pytest.raises(ValueError, match=message):
        regbook_data.load_football(path)


def test_wrong_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        regbook_data.load_football(tmp_path / "absent.mat")
    (tmp_path / "data.csv").write_text("x1,x2,label\n")
    with pytest.raises(ValueError, match="expected a MATLAB .mat file"):
        regbook_data.load_football(tmp_path / "data.csv")
    (tmp_path / "junk.mat").write_bytes(b"not a matlab file at all" * 10)
    with pytest.raises(ValueError, match="cannot read it as a MATLAB .mat file"):
        regbook_data.load_football(tmp_path / "junk.mat")
