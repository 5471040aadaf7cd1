"""The sunspot series of :mod:`regbook.data`: checksum, forecasting windows, bad arguments."""

import numpy
import pytest

from regbook import data


def test_sunspot_file_checksum_is_verified(monkeypatch):
    assert data.sunspots_file().name == "sunspots.csv"
    monkeypatch.setattr(data, "SUNSPOTS_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        data.sunspots()


def test_sunspot_windows_are_consecutive_and_split_by_year():
    windows = data.sunspot_windows(window=10, val_from=1950)
    assert isinstance(windows, data.SeriesWindows)
    years, counts = data.sunspots()
    assert len(years) == 309 and years[0] == 1700
    assert windows.X_train.shape[1:] == (10, 1)
    assert len(windows.y_train) + len(windows.y_val) == 309 - 10
    assert windows.years_val[0] == 1950 and len(windows.y_val) == 2008 - 1950 + 1
    numpy.testing.assert_allclose(windows.X_train[1:, -1, 0], windows.y_train[:-1])
    numpy.testing.assert_allclose(windows.unscale(windows.y_val), counts[years >= 1950], rtol=1e-4, atol=1e-3)
    assert abs(windows.y_train.mean()) < 0.1


@pytest.mark.parametrize(("kwargs", "match"), [({"window": 0}, "window"), ({"val_from": 1700}, "val_from"),
                                               ({"val_from": 2050}, "val_from")])
def test_sunspot_windows_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.sunspot_windows(**kwargs)
