"""The Old Faithful CSV against R's published summaries of ``faithful``."""

import numpy as np

from mlnotes.datasets import load_faithful


def test_shape_and_names():
    X, names = load_faithful()
    assert X.shape == (272, 2)
    assert X.dtype == np.float64
    assert names == ["eruptions", "waiting"]


def test_summaries_match_r():
    # R: colMeans(faithful); sapply(faithful, sd); range(...)
    X, _ = load_faithful()
    # R prints 7 significant digits: each value must round to the printed one
    assert np.all(np.abs(X.mean(axis=0) - [3.487783, 70.89706]) <= [5e-7, 5e-6])
    assert np.all(np.abs(X.std(axis=0, ddof=1) - [1.141371, 13.59497]) <= [5e-7, 5e-6])
    np.testing.assert_array_equal(X.min(axis=0), [1.6, 43.0])
    np.testing.assert_array_equal(X.max(axis=0), [5.1, 96.0])
    np.testing.assert_allclose(np.median(X, axis=0), [4.0, 76.0])


def test_first_and_last_rows():
    # R: head(faithful, 3); tail(faithful, 1)
    X, _ = load_faithful()
    np.testing.assert_array_equal(X[:3], [[3.6, 79.0], [1.8, 54.0], [3.333, 74.0]])
    np.testing.assert_array_equal(X[-1], [4.467, 74.0])
    # the waiting times are whole minutes
    np.testing.assert_array_equal(X[:, 1], np.round(X[:, 1]))
