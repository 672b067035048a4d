"""Tests of the NIST StRD loaders in mlnotes.datasets.

The strongest check of the shipped files is independent of any floating-point solver:
solve each least-squares problem exactly, in rational arithmetic, from the decimal
strings in the CSV files, and compare with NIST's certified values (given to 15
significant digits). A mistyped data value or certified value would fail it.
"""

from __future__ import annotations

from fractions import Fraction
from importlib import resources

import numpy as np
import pytest

from mlnotes import datasets
from mlnotes.datasets import NIST_STRD_MODELS, load_longley, load_nist_strd

SIZES = {  # (n, number of certified parameters), from the NIST pages
    "Norris": (36, 2),
    "Pontius": (40, 3),
    "NoInt1": (11, 1),
    "NoInt2": (3, 1),
    "Filip": (82, 11),
    "Longley": (16, 7),
    "Wampler1": (21, 6),
    "Wampler2": (21, 6),
    "Wampler3": (21, 6),
    "Wampler4": (21, 6),
    "Wampler5": (21, 6),
}


def _rows(filename: str) -> list[list[str]]:
    text = resources.files("mlnotes").joinpath("data", filename).read_text(encoding="utf-8")
    return [line.split(",") for line in text.strip().splitlines()[1:]]


@pytest.mark.parametrize("name", sorted(NIST_STRD_MODELS))
def test_shapes_and_design(name: str) -> None:
    ds = load_nist_strd(name)
    n, p = SIZES[name]
    assert ds.name == name
    assert ds.y.shape == (n,)
    assert ds.design.shape == (n, p)
    assert ds.coef.shape == ds.coef_sd.shape == (p,)
    assert np.all(ds.coef_sd >= 0)
    if ds.intercept:
        np.testing.assert_array_equal(ds.design[:, 0], 1.0)
        np.testing.assert_array_equal(ds.design[:, 1:], ds.X)
    else:
        assert ds.design is ds.X


def _exact_least_squares(X: list[list[Fraction]], y: list[Fraction]):
    """Exact beta, residual variance s2 and diag((X^T X)^-1), by Gauss-Jordan on rationals."""
    n, p = len(X), len(X[0])
    G = [
        [sum((X[i][a] * X[i][b] for i in range(n)), Fraction(0)) for b in range(p)]
        for a in range(p)
    ]
    c = [sum((X[i][a] * y[i] for i in range(n)), Fraction(0)) for a in range(p)]
    A = [G[a] + [c[a]] + [Fraction(int(a == b)) for b in range(p)] for a in range(p)]
    for k in range(p):
        piv = next(r for r in range(k, p) if A[r][k] != 0)
        A[k], A[piv] = A[piv], A[k]
        inv = 1 / A[k][k]
        A[k] = [v * inv for v in A[k]]
        for r in range(p):
            if r != k and A[r][k] != 0:
                f = A[r][k]
                A[r] = [vr - f * vk for vr, vk in zip(A[r], A[k], strict=True)]
    beta = [A[a][p] for a in range(p)]
    ginv_diag = [A[a][p + 1 + a] for a in range(p)]
    resid = [y[i] - sum((X[i][a] * beta[a] for a in range(p)), Fraction(0)) for i in range(n)]
    s2 = sum((r * r for r in resid), Fraction(0)) / (n - p)
    return beta, s2, ginv_diag


@pytest.mark.parametrize("name", sorted(NIST_STRD_MODELS))
def test_certified_values_reproduced_exactly(name: str) -> None:
    """Exact rational least squares from the decimal data gives the certified values."""
    degree, intercept, _ = NIST_STRD_MODELS[name]
    rows = _rows(f"nist_{name.lower()}.csv")
    y = [Fraction(r[0]) for r in rows]
    if degree is None:
        X = [[Fraction(v) for v in r[1:]] for r in rows]
    else:
        X = [[Fraction(r[1]) ** k for k in range(1, degree + 1)] for r in rows]
    if intercept:
        X = [[Fraction(1), *r] for r in X]
    beta, s2, ginv_diag = _exact_least_squares(X, y)
    cert = load_nist_strd(name)
    exact_beta = np.array([float(b) for b in beta])
    exact_sd = np.sqrt([float(s2 * g) for g in ginv_diag])
    # NIST certifies 15 significant digits; allow rounding in the last one or two.
    np.testing.assert_allclose(exact_beta, cert.coef, rtol=1e-13, atol=0)
    np.testing.assert_allclose(exact_sd, cert.coef_sd, rtol=1e-13, atol=0)


def test_longley_values() -> None:
    ds = load_longley()
    assert ds.X.shape == (16, 6)
    # first and last rows of NIST's Longley.dat (y, x1..x6)
    np.testing.assert_array_equal(ds.X[0], [83, 234289, 2356, 1590, 107608, 1947])
    np.testing.assert_array_equal(ds.X[-1], [116.9, 554894, 4007, 2827, 130081, 1962])
    assert ds.y[0] == 60323 and ds.y[-1] == 70551
    assert ds.coef[0] == -3482258.63459582 and ds.coef[-1] == 1829.15146461355
    assert ds.coef_sd[-1] == 455.478499142212
    same = load_nist_strd("longley")  # case-insensitive
    np.testing.assert_array_equal(same.X, ds.X)


def test_polynomial_columns_are_powers() -> None:
    ds = load_nist_strd("Filip")
    x = ds.X[:, 0]
    for k in range(2, 11):
        np.testing.assert_array_equal(ds.X[:, k - 1], x**k)


@pytest.mark.parametrize("bad", ["Longly", "", "nist_longley", 3, None])
def test_unknown_name(bad: object) -> None:
    with pytest.raises(ValueError, match="name must be one of the shipped NIST StRD data sets"):
        load_nist_strd(bad)  # type: ignore[arg-type]


def test_exported() -> None:
    for name in ("load_longley", "load_nist_strd", "NISTDataset", "NIST_STRD_MODELS"):
        assert name in datasets.__all__
