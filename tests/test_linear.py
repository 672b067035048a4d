"""Tests of mlnotes.linear against trusted references: numpy.linalg.lstsq, numpy.linalg.pinv,
NIST StRD certified values, finite differences and exact constructions."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlnotes import gmm, nn
from mlnotes.calculus import gradient_check, relative_error
from mlnotes.datasets import NIST_STRD_MODELS, load_longley, load_nist_strd
from mlnotes.linear import (
    COND_LIMIT,
    DivergenceError,
    GradientDescentResult,
    IllConditionedWarning,
    LeastSquaresResult,
    RankDeficientWarning,
    add_intercept,
    cost,
    gradient,
    gradient_descent,
    ill_conditioned_problem,
    least_squares,
    normal_equation,
    ridge,
)

EPS = np.finfo(np.float64).eps


def lre(estimate: np.ndarray, certified: np.ndarray) -> float:
    """Smallest log relative error over the coefficients (NIST's accuracy measure)."""
    err = np.abs(estimate - certified) / np.where(certified == 0, 1.0, np.abs(certified))
    return float(np.min(-np.log10(np.maximum(err, 1e-16))))


# --- add_intercept -------------------------------------------------------------------


def test_add_intercept() -> None:
    X = np.arange(6.0).reshape(3, 2)
    out = add_intercept(X)
    np.testing.assert_array_equal(out, [[1, 0, 1], [1, 2, 3], [1, 4, 5]])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(X, np.arange(6.0).reshape(3, 2))  # input untouched


@pytest.mark.parametrize(
    ("X", "msg"),
    [
        (np.arange(3.0), "must be 2-D"),
        (np.empty((0, 2)), "empty"),
        (np.array([[1.0, np.nan]]), "NaN or infinite"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_add_intercept_bad_input(X: np.ndarray, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        add_intercept(X)


# --- normal_equation: agreement with references ------------------------------------


@pytest.mark.parametrize("m", [None, 3])
def test_matches_lstsq_well_conditioned(m: int | None) -> None:
    rng = np.random.default_rng(1)
    X = add_intercept(rng.standard_normal((200, 5)))
    y = rng.standard_normal(200 if m is None else (200, m))
    info = least_squares(X, y)
    theta = info.theta
    assert info.method == "cholesky" and info.rank == 6
    assert info.cond_estimate < 100
    np.testing.assert_array_equal(normal_equation(X, y), theta)  # the same solver
    expected = np.linalg.lstsq(X, y, rcond=None)[0]
    assert theta.shape == expected.shape
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-13)
    # the SVD path gives the same answer
    np.testing.assert_allclose(
        normal_equation(X, y, method="svd"), expected, rtol=1e-12, atol=1e-13
    )


def test_badly_scaled_columns_stay_on_cholesky() -> None:
    """Column equilibration removes conditioning that is only due to units."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 4)) * np.array([1e-6, 1.0, 1e4, 1e8])
    y = rng.standard_normal(100)
    info = least_squares(X, y)
    theta = info.theta
    assert info.method == "cholesky"
    scale = np.array([1e-6, 1.0, 1e4, 1e8])
    reference = np.linalg.lstsq(X / scale, y, rcond=None)[0] / scale
    np.testing.assert_allclose(theta, reference, rtol=1e-10)
    # numpy's default cut-off treats the 1e-6 column as noise: silently wrong
    wrong = np.linalg.lstsq(X, y, rcond=None)[0]
    assert abs(wrong[0] - reference[0]) > 0.5 * abs(reference[0])


def test_longley_lre_at_least_9() -> None:
    """The issue's accuracy target: every Longley coefficient to 9 significant digits."""
    ds = load_longley()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # method="auto" falls back quietly: no warning
        info = least_squares(add_intercept(ds.X), ds.y)
    assert lre(info.theta, ds.coef) >= 9.0
    # it got there by noticing that the normal equations would lose too many digits
    assert info.method == "svd" and info.cond_estimate > COND_LIMIT and info.rank == 7


def test_longley_normal_equations_alone_lose_digits() -> None:
    """What the fallback protects against: forced Cholesky is measurably worse."""
    ds = load_longley()
    with pytest.warns(IllConditionedWarning):
        forced = normal_equation(ds.design, ds.y, method="cholesky")
    naive = np.linalg.inv(ds.design.T @ ds.design) @ (ds.design.T @ ds.y)
    assert lre(forced, ds.coef) < 9.0
    assert lre(naive, ds.coef) < 9.0


# Realistic bounds: measured LREs (OpenBLAS, numpy 2.4) minus about half a digit.
# Wampler4/5 have residuals as large as the signal and cond(X) ~ 5e6 after scaling,
# so a backward-stable method in double precision cannot reach 9 digits; Filip
# (degree-10 polynomial) is the hardest: 8.1 digits measured, lstsq gets none.
NIST_MIN_LRE = {
    "Norris": 11.0,
    "Pontius": 10.5,
    "NoInt1": 14.0,
    "NoInt2": 14.0,
    "Filip": 7.5,
    "Longley": 10.0,
    "Wampler1": 8.5,
    "Wampler2": 11.5,
    "Wampler3": 9.0,
    "Wampler4": 7.3,
    "Wampler5": 5.3,
}


@pytest.mark.parametrize("name", sorted(NIST_STRD_MODELS))
def test_nist_strd(name: str) -> None:
    ds = load_nist_strd(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of them is rank deficient: no warning
        theta = normal_equation(ds.design, ds.y)
    assert lre(theta, ds.coef) >= NIST_MIN_LRE[name]


def test_filip_where_lstsq_fails() -> None:
    """On Filip, numpy.linalg.lstsq's default cut-off discards a direction: 0 digits."""
    ds = load_nist_strd("Filip")
    assert lre(np.linalg.lstsq(ds.design, ds.y)[0], ds.coef) < 1.0
    assert lre(normal_equation(ds.design, ds.y), ds.coef) >= 7.5


def test_ill_conditioned_tall() -> None:
    X, y, theta = ill_conditioned_problem(4000, 12, 1e10, seed=0)
    info = least_squares(X, y)
    assert info.method == "svd" and info.rank == 12
    assert relative_error(info.theta, theta) <= 1e-6


def test_forced_cholesky_raises_when_not_positive_definite() -> None:
    X = np.ones((5, 2))
    with pytest.raises(np.linalg.LinAlgError, match="linearly dependent"):
        normal_equation(X, np.arange(5.0), method="cholesky")


# --- rank deficiency: minimum-norm solution and a warning ---------------------------


@pytest.mark.parametrize(
    "make_X",
    [
        lambda rng: np.column_stack([np.ones(30), np.arange(30.0), 2 * np.arange(30.0) - 3]),
        lambda rng: np.column_stack([rng.standard_normal(30), np.zeros(30)]),
        lambda rng: rng.standard_normal((4, 7)),  # n < d
    ],
    ids=["collinear", "zero-column", "n<d"],
)
def test_rank_deficient_min_norm_with_warning(make_X) -> None:
    rng = np.random.default_rng(3)
    X = make_X(rng)
    y = rng.standard_normal(X.shape[0])
    with pytest.warns(RankDeficientWarning, match="linearly dependent"):
        info = least_squares(X, y)
    assert info.method == "svd" and info.rank < X.shape[1]
    np.testing.assert_allclose(info.theta, np.linalg.pinv(X) @ y, rtol=1e-9, atol=1e-10)


def test_rank_deficient_warning_is_a_userwarning() -> None:
    assert issubclass(RankDeficientWarning, UserWarning)


# --- properties -----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(8, 30), st.integers(1, 5)),
        elements=st.floats(-100, 100, allow_subnormal=False),
    ),
    st.integers(0, 2**32 - 1),
)
def test_residual_orthogonal_to_columns(X: np.ndarray, seed: int) -> None:
    """X^T (y - X theta) = 0: the residual is orthogonal to every column of X."""
    y = np.random.default_rng(seed).standard_normal(X.shape[0]) * 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        try:
            theta = normal_equation(X, y)
        except ValueError as err:
            # Only allowed when the exact solution is beyond float64: check it in
            # scaled form, theta_j = (solution for X_j / m_j) / m_j.
            assert "overflows" in str(err)
            m = np.max(np.abs(X), axis=0)
            m = np.where(m > 0, m, 1.0)
            ts = np.linalg.lstsq(X / m, y, rcond=None)[0]
            assert np.max(np.log10(np.abs(ts) + 1e-300) - np.log10(m)) > 307
            return
    r = y - X @ theta
    scale = np.linalg.norm(X) * (np.linalg.norm(r) + np.linalg.norm(y)) + 1.0
    # 1e-7, not eps: hypothesis finds nearly rank-deficient X (e.g. columns of 1e-6 next
    # to columns of 12) whose kept singular values give cond(X) ~ 1e7.
    assert np.max(np.abs(X.T @ r)) <= 1e-7 * scale


def test_tiny_and_huge_columns_are_solved_without_underflow():
    # Squares of 1e-160 underflow to 0 and of 1e160 overflow: X^T X cannot be formed
    # directly, yet the solution (about 1e160 and 1e-160) is representable.
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((40, 3))
    theta_z = np.array([1.5, -2.0, 0.25])
    y = Z @ theta_z
    scales = np.array([1e-160, 1.0, 1e160])
    theta = normal_equation(Z * scales, y)
    np.testing.assert_allclose(theta * scales, theta_z, rtol=1e-12)


def test_unrepresentable_solution_is_an_error_not_inf():
    X = np.full((8, 1), np.finfo(np.float64).tiny)  # 2.2e-308
    y = np.full(8, 10.0)  # the solution, 10 / 2.2e-308, exceeds float64
    with pytest.raises(ValueError, match="overflows"):
        normal_equation(X, y)


# --- least_squares: the diagnostics, the default cut-off, the warnings ------------------


def test_least_squares_result() -> None:
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    res = least_squares(X, y)
    assert isinstance(res, LeastSquaresResult)
    assert res.method == "cholesky" and res.rank == 4 and isinstance(res.rank, int)
    # normal_equation is least_squares without the diagnostics
    np.testing.assert_array_equal(res.theta, normal_equation(X, y))
    svd = least_squares(X, y, method="svd")
    assert svd.method == "svd" and svd.rank == 4
    np.testing.assert_allclose(svd.theta, np.linalg.lstsq(X, y)[0], rtol=1e-12)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.rank = 3  # type: ignore[misc]


@pytest.mark.parametrize(("n", "d"), [(12, 12), (20, 10)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_rcond_keeps_full_rank_where_lstsq_does(n: int, d: int, seed: int) -> None:
    """Small n: the default cut-off is never looser than lstsq's max(n, d) * eps.

    The old default, 10 * d * eps, exceeded lstsq's when n < 10 d and silently dropped
    the direction of the smallest singular value (1e-14 here): theta then loses its
    component along it, a relative error of 1 / sqrt(d).
    """
    X, y, theta = ill_conditioned_problem(n, d, 1e14, seed=seed)
    lstsq_rank = np.linalg.lstsq(X, y, rcond=None)[2]
    assert lstsq_rank == d  # the premise: the reference keeps every direction
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # full rank: no RankDeficientWarning
        res = least_squares(X, y)
    assert res.method == "svd" and res.rank == d
    # kept, the error is about cond * eps = 0.02 at worst; dropped, it is 1 / sqrt(d)
    assert relative_error(res.theta, theta) < 0.02
    # the check can tell: the old, looser cut-off truncates this very problem
    with pytest.warns(RankDeficientWarning):
        loose = least_squares(X, y, rcond=10 * d * EPS)
    assert loose.rank == d - 1
    assert relative_error(loose.theta, theta) == pytest.approx(1 / np.sqrt(d), rel=1e-3)


def test_default_rcond_keeps_a_direction_lstsq_silently_drops() -> None:
    """Tall X: lstsq's max(n, d) * eps = 8.9e-13 discards the 1e-13 direction; ours,
    10 * d * eps = 2.7e-14, keeps it (chapter 2, "A solver that is wrong without warning")."""
    X, y, theta = ill_conditioned_problem(4000, 12, 1e13, seed=0)
    wrong, _, lstsq_rank, _ = np.linalg.lstsq(X, y, rcond=None)
    assert lstsq_rank == 11 and relative_error(wrong, theta) > 0.28
    res = least_squares(X, y)
    assert res.rank == 12
    assert relative_error(res.theta, theta) < 1e-3  # cond * eps = 2e-3


def test_forced_cholesky_on_longley_warns_ill_conditioned() -> None:
    ds = load_longley()
    X = add_intercept(ds.X)
    with pytest.warns(IllConditionedWarning, match="COND_LIMIT") as record:
        res = least_squares(X, ds.y, method="cholesky")
    assert len(record) == 1
    assert record[0].filename == __file__  # it points at the caller's line
    assert res.method == "cholesky" and res.cond_estimate > COND_LIMIT and res.rank == 7
    # the estimate is within a small factor of cond((X D)^T (X D)), D normalising columns
    Xn = X / np.linalg.norm(X, axis=0)
    assert 0.1 < res.cond_estimate / np.linalg.cond(Xn.T @ Xn) < 10
    # and the warning is deserved: fewer than the 9 digits that method="auto" gets
    assert lre(res.theta, ds.coef) < 9.0
    assert issubclass(IllConditionedWarning, UserWarning)


def test_forced_cholesky_below_cond_limit_does_not_warn() -> None:
    rng = np.random.default_rng(9)
    X = add_intercept(rng.standard_normal((100, 4)))
    y = rng.standard_normal(100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = least_squares(X, y, method="cholesky")
    assert res.cond_estimate <= COND_LIMIT
    np.testing.assert_allclose(res.theta, np.linalg.lstsq(X, y)[0], rtol=1e-12)


# --- ill_conditioned_problem ------------------------------------------------------------


@pytest.mark.parametrize(("n", "d", "cond"), [(30, 8, 1e6), (200, 5, 1e12), (6, 6, 1e3)])
def test_ill_conditioned_problem_has_the_prescribed_spectrum(n: int, d: int, cond: float) -> None:
    X, y, theta = ill_conditioned_problem(n, d, cond, seed=3)
    assert X.shape == (n, d) and y.shape == (n,) and theta.shape == (d,)
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    wanted = np.logspace(0.0, -np.log10(cond), d)
    # singular values carry an absolute error of a few eps (s_max = 1), so the smallest
    # are checked relative to cond * eps
    np.testing.assert_allclose(s, wanted, rtol=1e-12, atol=1e-14)
    assert np.linalg.cond(X) == pytest.approx(cond, rel=1e3 * cond * EPS)
    np.testing.assert_array_equal(X @ theta, y)  # consistent: y = X theta exactly
    # equal weight on every right singular vector
    np.testing.assert_allclose(np.abs(Vt @ theta), np.ones(d), rtol=1e-6)


def test_ill_conditioned_problem_seeds() -> None:
    a = ill_conditioned_problem(20, 4, 1e8, seed=11)
    b = ill_conditioned_problem(20, 4, 1e8, seed=11)
    c = ill_conditioned_problem(20, 4, 1e8, seed=np.random.default_rng(11))
    d = ill_conditioned_problem(20, 4, 1e8, seed=12)
    for u, v, w in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(u, w)  # a Generator is the same stream as its seed
    assert not np.array_equal(a[0], d[0])


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((5, 6, 1e3), {}, "d must be"),  # d > n
        ((0, 1, 1e3), {}, "n must be"),
        ((5, 2, 0.5), {}, "cond must"),
        ((5, 2, float("nan")), {}, "cond must"),
        ((5.0, 2, 1e3), {}, "n must be an integer"),
        ((5, 2, 1e3), {"seed": -1}, "seed"),
    ],
)
def test_ill_conditioned_problem_bad_input(args, kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ill_conditioned_problem(*args, **kwargs)


# --- input validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "y", "msg"),
    [
        (np.ones((3, 2)), np.ones(4), "3 rows"),
        (np.ones(3), np.ones(3), "must be 2-D"),
        (np.ones((3, 2)), np.ones((3, 1, 1)), r"shape \(n,\) or \(n, m\)"),
        (np.ones((3, 2)), np.array([1.0, np.inf, 2.0]), "NaN or infinite"),
        (np.array([[1.0, np.nan]] * 3), np.ones(3), "NaN or infinite"),
        (np.empty((0, 2)), np.empty(0), "empty"),
        (np.ones((3, 2)), np.array([1 + 1j, 2, 3]), "real"),
    ],
)
def test_normal_equation_bad_input(X, y, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        normal_equation(X, y)


def test_normal_equation_bad_options() -> None:
    X, y = np.eye(3), np.ones(3)
    with pytest.raises(ValueError, match="method must be"):
        normal_equation(X, y, method="qr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rcond"):
        normal_equation(X, y, rcond=-1.0)
    for rcond in (1.0, float("nan"), "1e-10", True):
        with pytest.raises(ValueError, match="rcond"):
            least_squares(X, y, rcond=rcond)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method must be"):
        least_squares(X, y, method=None)  # type: ignore[arg-type]


# --- cost and gradient -----------------------------------------------------------------


def test_cost_and_gradient() -> None:
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    theta = rng.standard_normal(3)
    assert cost(theta, X, y) == pytest.approx(0.5 * np.sum((X @ theta - y) ** 2))
    assert gradient_check(lambda t: cost(t, X, y), lambda t: gradient(t, X, y), theta) < 1e-8
    np.testing.assert_allclose(gradient(theta, X, y), X.T @ X @ theta - X.T @ y, atol=1e-12)
    # the gradient vanishes at the least-squares solution
    assert np.max(np.abs(gradient(normal_equation(X, y), X, y))) < 1e-12
    with pytest.raises(ValueError, match="theta must have shape"):
        cost(np.ones(4), X, y)


def test_cost_and_gradient_overflow_is_an_error_not_inf() -> None:
    X, y, theta = np.full((3, 2), 1e100), np.zeros(3), np.ones(2)
    # below overflow: exact values (2e100 residuals, 1.5 * 4e200 cost)
    assert cost(theta, X, y) == pytest.approx(6e200, rel=1e-15)
    np.testing.assert_allclose(gradient(theta, X, y), [6e200, 6e200], rtol=1e-15)
    X = np.full((3, 2), 1e200)
    with pytest.raises(ValueError, match="cost overflows"):
        cost(theta, X, y)
    with pytest.raises(ValueError, match="gradient overflows"):
        gradient(theta, X, y)


# --- gradient descent ---------------------------------------------------------------------


def _small_problem():
    rng = np.random.default_rng(5)
    X = add_intercept(rng.standard_normal((50, 3)))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.standard_normal(50)
    lam_max = np.linalg.eigvalsh(X.T @ X / 50)[-1]
    return X, y, lam_max


def test_batch_gd_converges_to_normal_equation() -> None:
    X, y, lam_max = _small_problem()
    res = gradient_descent(X, y, learning_rate=1.0 / lam_max, n_epochs=2000)
    assert isinstance(res, GradientDescentResult)
    np.testing.assert_allclose(res.theta, normal_equation(X, y), rtol=1e-8, atol=1e-10)
    assert res.params is res.theta
    assert res.n_iter == 2000 and not res.converged
    assert res.history.shape == (2001,)
    # history is the mean cost J / n, from the start (theta0 = 0) to the end
    assert res.history[0] == pytest.approx(cost(np.zeros(4), X, y) / 50, rel=1e-14)
    assert res.history[-1] == pytest.approx(cost(res.theta, X, y) / 50, rel=1e-12)
    assert np.all(np.diff(res.history) <= 1e-15)  # monotone for alpha <= 1/lam_max


@pytest.mark.parametrize("tol", [1e-6, 1e-10])
def test_gd_tol_stops_at_the_first_small_step(tol: float) -> None:
    """tol stops at the first epoch that moves theta by at most tol * ||theta||."""
    X, y, lam_max = _small_problem()
    alpha = 1.0 / lam_max
    res = gradient_descent(X, y, alpha, n_epochs=5000, tol=tol)
    assert res.converged and 2 < res.n_iter < 5000
    assert res.history.shape == (res.n_iter + 1,)

    def iterate(k: int) -> np.ndarray:  # theta after k full-batch epochs, tol=0
        return gradient_descent(X, y, alpha, n_epochs=k).theta

    last, before, earlier = iterate(res.n_iter), iterate(res.n_iter - 1), iterate(res.n_iter - 2)
    np.testing.assert_array_equal(res.theta, last)
    assert np.linalg.norm(last - before) <= tol * np.linalg.norm(last)
    assert np.linalg.norm(before - earlier) > tol * np.linalg.norm(before)  # not later
    # GD contracts the error by rho = 1 - alpha lam_min per epoch, so the distance to the
    # optimum is at most rho / (1 - rho) times the last step (rho is about 0.5 here)
    lam = np.linalg.eigvalsh(X.T @ X / 50)
    rho = 1.0 - alpha * lam[0]
    bound = rho / (1.0 - rho) * np.linalg.norm(last - before) / np.linalg.norm(last)
    assert relative_error(res.theta, normal_equation(X, y)) <= 1.01 * bound + 1e-14


def test_gd_tol_zero_runs_every_epoch() -> None:
    X, y, lam_max = _small_problem()
    res = gradient_descent(X, y, 1.0 / lam_max, n_epochs=300)  # long past convergence
    assert res.n_iter == 300 and not res.converged and res.history.shape == (301,)


def test_gd_does_not_modify_theta0() -> None:
    X, y, lam_max = _small_problem()
    theta0 = np.array([1.0, 1.0, 1.0, 1.0])
    res = gradient_descent(X, y, 1.0 / lam_max, n_epochs=5, theta0=theta0)
    np.testing.assert_array_equal(theta0, np.ones(4))
    assert res.history[0] == pytest.approx(cost(theta0, X, y) / 50, rel=1e-14)


def test_minibatch_gd_seeded_and_close() -> None:
    X, y, _ = _small_problem()
    a = gradient_descent(X, y, 0.05, n_epochs=300, batch_size=10, seed=7)
    b = gradient_descent(X, y, 0.05, n_epochs=300, batch_size=10, seed=7)
    c = gradient_descent(X, y, 0.05, n_epochs=300, batch_size=10, seed=np.random.default_rng(7))
    d = gradient_descent(X, y, 0.05, n_epochs=300, batch_size=10, seed=8)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.theta, c.theta)  # a Generator is the stream of its seed
    np.testing.assert_array_equal(a.history, c.history)
    assert not np.array_equal(a.theta, d.theta)
    np.testing.assert_allclose(a.theta, normal_equation(X, y), atol=0.05)


def test_minibatch_gd_unseeded_draws_fresh_orders() -> None:
    # seed=None (the default, no longer 0): two runs shuffle differently
    X, y, _ = _small_problem()
    a = gradient_descent(X, y, 0.05, n_epochs=3, batch_size=10)
    b = gradient_descent(X, y, 0.05, n_epochs=3, batch_size=10)
    assert not np.array_equal(a.theta, b.theta)


def test_learning_rate_stability_bound() -> None:
    """Full-batch GD is stable below 2 / lambda_max(X^T X / n) and diverges above it."""
    X, y, lam_max = _small_problem()
    ok = gradient_descent(X, y, 1.9 / lam_max, n_epochs=3000)
    np.testing.assert_allclose(ok.theta, normal_equation(X, y), rtol=1e-6)
    with pytest.raises(DivergenceError, match="diverged"):
        gradient_descent(X, y, 2.1 / lam_max, n_epochs=100_000)


def test_divergence_error_carries_the_step_and_the_history() -> None:
    X, y, lam_max = _small_problem()
    with pytest.raises(DivergenceError, match=r"after epoch \d+") as info:
        gradient_descent(X, y, 2.1 / lam_max, n_epochs=100_000)
    err = info.value
    assert isinstance(err, ValueError)
    assert DivergenceError is nn.DivergenceError  # one class for every fitter
    assert f"{2 / lam_max:.4g}" in str(err)  # the message gives the stability bound
    assert err.history.shape == (err.step + 1,)  # the start, then one cost per epoch
    assert np.all(np.isfinite(err.history[:-1])) and not np.isfinite(err.history[-1])
    assert err.history[0] == pytest.approx(cost(np.zeros(4), X, y) / 50, rel=1e-14)
    # past the bound the error grows by |1 - alpha lam_max| = 1.1 per epoch, so the
    # cost by 1.21: the recorded history shows it
    tail = err.history[-200:-1]
    np.testing.assert_allclose(tail[1:] / tail[:-1], (2.1 - 1) ** 2, rtol=1e-6)


def test_gd_cost_overflow_at_theta0_is_an_error() -> None:
    X, y, _ = _small_problem()
    with pytest.raises(ValueError, match="overflows"):
        gradient_descent(X, y, 0.1, theta0=np.full(4, 1e300))


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0.0,), {}, "learning_rate"),
        ((float("nan"),), {}, "learning_rate"),
        (("0.1",), {}, "learning_rate"),
        ((0.1, 0), {}, "n_epochs"),
        ((0.1, True), {}, "n_epochs"),
        ((0.1, 10.0), {}, "n_epochs"),
        ((0.1,), {"batch_size": 51}, "batch_size"),
        ((0.1,), {"batch_size": 2.5}, "batch_size"),
        ((0.1,), {"tol": -1.0}, "tol"),
        ((0.1,), {"tol": float("nan")}, "tol"),
        ((0.1,), {"seed": -1}, "seed"),
        ((0.1,), {"seed": "0"}, "seed"),
        ((0.1,), {"theta0": np.zeros(3)}, "theta0"),
    ],
)
def test_gradient_descent_bad_hyperparameters(args, kwargs, match: str) -> None:
    X, y, _ = _small_problem()
    with pytest.raises(ValueError, match=match):
        gradient_descent(X, y, *args, **kwargs)


def test_gradient_descent_bad_data() -> None:
    X, y, _ = _small_problem()
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        gradient_descent(X, np.ones((50, 2)), 0.1)
    with pytest.raises(ValueError, match="rows"):
        gradient_descent(X, y[:10], 0.1)


# --- the contract shared by the three fitters ----------------------------------------------


def test_the_three_fitters_share_params_n_iter_converged_history() -> None:
    """gradient_descent, nn.train and gmm.fit_gmm name what they share alike: params,
    n_iter (iterations run), converged, and history (the objective, from the start)."""
    X, y, lam_max = _small_problem()
    gd = gradient_descent(X, y, 1.0 / lam_max, n_epochs=30)
    p0 = nn.init_params([4, 5, 1], seed=0)
    net = nn.train(p0, X, y[:, None], learning_rate=0.01, batch_size=10, n_iter=30, seed=0)
    init = gmm.init_mixture(X[:, 1:], 2, seed=0)
    mix = gmm.fit_gmm(X[:, 1:], 2, init=init, max_iter=30, tol=0)
    for res in (gd, net, mix):
        assert res.n_iter == 30 and isinstance(res.n_iter, int)
        assert res.converged is False
        assert isinstance(res.history, np.ndarray) and res.history.ndim == 1
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.n_iter = 0
    # params are the fitted parameters, and history[0] is the objective at the start
    np.testing.assert_array_equal(gd.params, gd.theta)
    assert gd.history[0] == pytest.approx(cost(np.zeros(4), X, y) / 50, rel=1e-14)
    assert gd.history[-1] == pytest.approx(cost(gd.params, X, y) / 50, rel=1e-12)
    assert net.history[0] == pytest.approx(nn.loss(nn.forward(p0, X)[0], y[:, None]), rel=1e-14)
    assert net.history[-1] == pytest.approx(
        nn.loss(nn.forward(net.params, X)[0], y[:, None]), rel=1e-14
    )
    assert mix.history[0] == pytest.approx(gmm.log_likelihood(X[:, 1:], *init), rel=1e-14)
    assert mix.log_likelihood == pytest.approx(
        gmm.log_likelihood(X[:, 1:], *mix.params), rel=1e-14
    )


# --- one pass over X: the blocked Gram product and the deferred finiteness check ------


def test_gram_blocked_matches_numpy() -> None:
    """The blocked syrk + gemv pass gives X^T X (symmetric) and X^T y, for y (n,) and (n, m)."""
    from mlnotes.linear import _gram

    rng = np.random.default_rng(30)
    X = rng.standard_normal((6000, 200))  # 4 blocks of rows or more: the blocked path
    for y in (rng.standard_normal(6000), rng.standard_normal((6000, 3))):
        G, b = _gram(X, y)
        np.testing.assert_allclose(G, X.T @ X, rtol=1e-12, atol=1e-10)
        np.testing.assert_array_equal(G, G.T)
        np.testing.assert_allclose(b, X.T @ y, rtol=1e-12, atol=1e-10)
    Xf = np.asfortranarray(X)  # not C-ordered: the plain path, same result
    G, b = _gram(Xf, y)
    np.testing.assert_allclose(G, X.T @ X, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(30, 4), (6000, 200)])
def test_nonfinite_X_is_found_on_the_gram_diagonal(bad: float, shape) -> None:
    """X is not scanned for NaN/inf before X^T X is formed; the error is the same."""
    rng = np.random.default_rng(31)
    X, y = rng.standard_normal(shape), rng.standard_normal(shape[0])
    X[shape[0] // 2, 1] = bad
    for solve in (normal_equation, least_squares, lambda X, y: ridge(X, y, 1.0)):
        with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite"):
            solve(X, y)
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite"):
        normal_equation(X, y, method="svd")  # no X^T X on this path: checked first


def test_huge_finite_columns_are_not_mistaken_for_inf() -> None:
    """A column whose squares overflow makes the Gram diagonal inf, but X is finite."""
    rng = np.random.default_rng(32)
    X, theta = rng.standard_normal((50, 3)), np.array([1.0, -2.0, 0.5])
    X[:, 1] *= 1e300
    theta[1] *= 1e-300
    y = X @ theta
    np.testing.assert_allclose(normal_equation(X, y), theta, rtol=1e-12)


# --- ridge -------------------------------------------------------------------------------


def _ridge_reference(X, y, alpha, intercept=False):
    """The augmented least-squares problem min |[X; sqrt(alpha D)] theta - [y; 0]|."""
    d = X.shape[1]
    pen = np.full(d, float(alpha))
    if intercept:
        pen[0] = 0.0
    A = np.vstack([X, np.diag(np.sqrt(pen))])
    rhs = np.concatenate([y, np.zeros((d, *y.shape[1:]))])
    return np.linalg.lstsq(A, rhs, rcond=None)[0]


@pytest.mark.parametrize("alpha", [1e-6, 0.1, 1.0, 1e3, 1e8])
@pytest.mark.parametrize("m", [None, 3])
def test_ridge_matches_augmented_lstsq(alpha: float, m: int | None) -> None:
    rng = np.random.default_rng(33)
    X = rng.standard_normal((80, 6)) * np.array([1, 10, 0.1, 1, 5, 0.5])
    y = rng.standard_normal(80 if m is None else (80, m))
    ref = _ridge_reference(X, y, alpha)
    np.testing.assert_allclose(ridge(X, y, alpha), ref, rtol=1e-10, atol=1e-14)
    Xi = add_intercept(X)
    ref_i = _ridge_reference(Xi, y, alpha, intercept=True)
    got_i = ridge(Xi, y, alpha, intercept=True)
    np.testing.assert_allclose(got_i, ref_i, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.01, 1.0, 50.0])
def test_ridge_matches_scikit_learn(alpha: float) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    data = load_diabetes()
    X, y = data.data, data.target
    sk = Ridge(alpha=alpha, fit_intercept=False, solver="svd").fit(X, y)
    np.testing.assert_allclose(ridge(X, y, alpha), sk.coef_, rtol=1e-9)
    # fit_intercept=True centres the data, which is the unpenalised intercept of D
    sk = Ridge(alpha=alpha, fit_intercept=True, solver="svd").fit(X, y)
    theta = ridge(add_intercept(X), y, alpha, intercept=True)
    np.testing.assert_allclose(theta, np.r_[sk.intercept_, sk.coef_], rtol=1e-9)


def test_ridge_exact_rational_case() -> None:
    """(X^T X + alpha D) theta = X^T y solved exactly by sympy on a tiny problem."""
    import sympy as sp

    Xq = sp.Matrix([[1, sp.Rational(1, 2), 2], [1, -1, sp.Rational(1, 3)],
                    [1, 3, -1], [1, sp.Rational(1, 4), 5]])
    yq = sp.Matrix([1, sp.Rational(-2, 7), 3, sp.Rational(1, 5)])
    a = sp.Rational(3, 10)
    X, y = np.array(Xq.tolist(), dtype=float), np.array(yq.tolist(), dtype=float).ravel()
    for intercept in (False, True):
        D = sp.eye(3)
        if intercept:
            D[0, 0] = 0
        exact = (Xq.T * Xq + a * D).LUsolve(Xq.T * yq)
        want = np.array(exact.tolist(), dtype=float).ravel()
        np.testing.assert_allclose(ridge(X, y, 0.3, intercept=intercept), want, rtol=1e-14)


@pytest.mark.parametrize("make_X", [
    lambda z: np.column_stack([z[:, 0], z[:, 0], z[:, 1]]),  # a duplicated column
    lambda z: z[:4].repeat(2, axis=1)[:, :7],  # n = 4 < d = 7
])
def test_ridge_rank_deficient_is_unique_and_warning_free(make_X) -> None:
    rng = np.random.default_rng(34)
    X = make_X(rng.standard_normal((30, 4)))
    y = rng.standard_normal(X.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RankDeficientWarning: the solution is unique
        theta = ridge(X, y, 0.5)
    np.testing.assert_allclose(theta, _ridge_reference(X, y, 0.5), rtol=1e-10)
    # it is the minimiser: the gradient X^T (X theta - y) + alpha theta vanishes
    g = X.T @ (X @ theta - y) + 0.5 * theta
    assert np.linalg.norm(g) <= 1e-12 * np.linalg.norm(X.T @ y)


def test_ridge_tends_to_the_minimum_norm_solution() -> None:
    """As alpha -> 0 on rank-deficient X, ridge -> X^+ y, at a rate proportional to alpha."""
    rng = np.random.default_rng(35)
    z = rng.standard_normal((40, 2))
    X = np.column_stack([np.ones(40), z[:, 0], 2 * z[:, 0] - 1, z[:, 1]])  # rank 3
    y = rng.standard_normal(40)
    plus = np.linalg.pinv(X) @ y
    # (much smaller alphas meet rounding: X is singular only to rounding, and the
    # ridge solution amplifies that by |X| / alpha)
    gaps = [np.linalg.norm(ridge(X, y, a) - plus) for a in (1e-1, 1e-2, 1e-3, 1e-4)]
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3]
    np.testing.assert_allclose(np.array(gaps[1:]) / gaps[:-1], 0.1, rtol=0.05)


def test_ridge_alpha_zero_is_the_normal_equation() -> None:
    rng = np.random.default_rng(36)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    np.testing.assert_array_equal(ridge(X, y, 0.0), normal_equation(X, y))
    np.testing.assert_array_equal(ridge(X, y, 0), normal_equation(X, y))
    Xd = np.column_stack([X, X[:, 0] + X[:, 1]])
    with pytest.warns(RankDeficientWarning) as rec:
        theta = ridge(Xd, y, 0.0)
    assert rec[0].filename == __file__  # the warning points at the caller
    np.testing.assert_allclose(theta, np.linalg.pinv(Xd) @ y, rtol=1e-10)


def test_ridge_alpha_below_rounding_level_warns() -> None:
    X = np.column_stack([np.arange(5.0), np.arange(5.0), np.ones(5)])
    y = np.array([1.0, 0.0, 2.0, 1.0, 3.0])
    with pytest.warns(RankDeficientWarning, match="alpha = 1e-40 is too small") as rec:
        theta = ridge(X, y, 1e-40)
    assert rec[0].filename == __file__
    # still a least-squares solution (the penalty is below rounding level)
    assert np.linalg.norm(X.T @ (X @ theta - y)) <= 1e-12 * np.linalg.norm(X.T @ y)


def test_ridge_ill_conditioned_takes_the_orthogonal_path() -> None:
    """cond(A)^2 beyond COND_LIMIT: the SVD of the augmented matrix, not Cholesky."""
    from mlnotes.linear import _ridge

    X, y, _ = ill_conditioned_problem(300, 8, 1e9, seed=37)
    alpha = 1e-14
    res = _ridge(X, y, alpha, False)
    assert res.method == "svd" and res.cond_estimate > COND_LIMIT and res.rank == 8
    np.testing.assert_allclose(res.theta, _ridge_reference(X, y, alpha), rtol=1e-7)
    np.testing.assert_array_equal(ridge(X, y, alpha), res.theta)
    well = _ridge(X, y, 1e-2, False)  # a larger penalty conditions it: Cholesky
    assert well.method == "cholesky" and well.cond_estimate <= COND_LIMIT


def test_ridge_scale_invariance_at_extreme_magnitudes() -> None:
    """ridge(c X, y, c^2 alpha) = ridge(X, y, alpha) / c, and y scales linearly."""
    rng = np.random.default_rng(38)
    X, y = rng.standard_normal((25, 3)), rng.standard_normal(25)
    theta = ridge(X, y, 0.7)
    for c in (1e-150, 1e150):
        np.testing.assert_allclose(ridge(c * X, y, c * c * 0.7) * c, theta, rtol=1e-12)
    for c in (1e-300, 1e300):
        np.testing.assert_allclose(ridge(X, c * y, 0.7) / c, theta, rtol=1e-12)


def test_ridge_does_not_modify_its_inputs() -> None:
    rng = np.random.default_rng(39)
    X, y = add_intercept(rng.standard_normal((20, 3))), rng.standard_normal(20)
    X0, y0 = X.copy(), y.copy()
    ridge(X, y, 1.0, intercept=True)
    ridge(X, y, 1e-30)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize(
    "alpha",
    [-1.0, -1e-300, np.nan, np.inf, -np.inf, "1.0", None, True, np.bool_(False), 1j,
     [1.0], np.array([1.0]), object()],
)
def test_ridge_bad_alpha(alpha) -> None:
    with pytest.raises(ValueError, match="alpha"):
        ridge(np.eye(3), np.ones(3), alpha)


def test_ridge_bad_intercept_and_data() -> None:
    X, y = np.eye(3), np.ones(3)
    for bad in ("yes", 1, None, np.array([True])):
        with pytest.raises(ValueError, match="intercept must be True or False"):
            ridge(X, y, 1.0, intercept=bad)
    with pytest.raises(ValueError, match="add_intercept"):
        ridge(X, y, 1.0, intercept=True)  # first column is not all ones
    Xn = add_intercept(X)
    Xn[1, 0] = np.nan  # a NaN in the ones column: reported as a NaN
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        ridge(Xn, y, 1.0, intercept=True)
    with pytest.raises(ValueError, match="3 rows"):
        ridge(X, np.ones(4), 1.0)
    with pytest.raises(ValueError, match=r"complex|real"):
        ridge(X.astype(complex), y, 1.0)


def test_ridge_orthogonal_path_with_intercept_and_several_targets() -> None:
    from mlnotes.linear import _ridge

    X, _, _ = ill_conditioned_problem(200, 6, 1e9, seed=40)
    Xi = add_intercept(X)
    Y = np.random.default_rng(41).standard_normal((200, 2))
    res = _ridge(Xi, Y, 1e-14, True)
    assert res.method == "svd" and res.theta.shape == (7, 2)
    ref = _ridge_reference(Xi, Y, 1e-14, intercept=True)
    np.testing.assert_allclose(res.theta, ref, rtol=1e-6, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 30), st.integers(1, 6)),
        elements=st.floats(-100, 100, allow_subnormal=False),
    ),
    st.floats(1e-3, 1e3),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_ridge_gradient_vanishes(X, alpha: float, intercept: bool, seed: int) -> None:
    """X^T (X theta - y) + alpha D theta = 0 at the ridge solution, for any X (n < d too)."""
    if intercept:
        X = add_intercept(X)
    y = np.random.default_rng(seed).standard_normal(X.shape[0]) * 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # alpha >= 1e-3 regularises every X here
        theta = ridge(X, y, alpha, intercept=intercept)
    pen = np.full(X.shape[1], alpha)
    if intercept:
        pen[0] = 0.0
    g = X.T @ (X @ theta - y) + pen * theta

    def norm(a):  # without underflow: hypothesis finds columns of 1e-183
        m = float(np.max(np.abs(a)))
        return m * float(np.linalg.norm(a / m)) if m > 0 else 0.0

    scale = (norm(X) ** 2 + alpha) * norm(theta) + norm(X) * norm(y)
    assert np.max(np.abs(g)) <= 1e-9 * scale


def test_gram_split_over_cores_matches_one_part(monkeypatch):
    """The one-pass Gram product sums ranges of rows, one per core
    (mlnotes._parallel); two ranges and one give the same solution to rounding."""
    import mlnotes.linear as linear_module

    rng = np.random.default_rng(11)
    n, d = 60_000, 50  # long enough for the blocked, split path
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    thetas, seen = {}, []
    real_sum = linear_module.sum_parts
    monkeypatch.setattr(linear_module, "sum_parts",
                        lambda fn, parts: seen.append(parts) or real_sum(fn, parts))
    for parts in (1, 2, 3):
        monkeypatch.setattr(linear_module, "n_parts", lambda n, m, p=parts: p)
        thetas[parts] = normal_equation(X, y)
    assert seen == [1, 2, 3]
    reference = np.linalg.lstsq(X, y, rcond=None)[0]
    for parts, theta in thetas.items():
        assert relative_error(theta, reference) < 1e-13, parts
    assert relative_error(thetas[2], thetas[1]) < 1e-14
